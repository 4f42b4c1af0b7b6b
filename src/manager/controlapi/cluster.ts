// The cluster ("swarm") object of the control API: inspect with join tokens, update the spec with
// a version, rotate join tokens; refuse what this swarm cannot do yet.
import { failedPrecondition, type SwarmError } from '../../api/errors.js';
import type { Cluster, SwarmSpec } from '../../api/types.js';
import { validateSwarmSpec } from '../../api/validate.js';
import type { ControlStore } from './store.js';

export interface RotateOptions {
  rotateWorkerToken: boolean;
  rotateManagerToken: boolean;
  rotateManagerUnlockKey: boolean;
}

/**
 * What this swarm cannot do yet, refused before anything is written rather than stored and ignored:
 * autolock (keys are not encrypted at rest yet) and root CA rotation (a new or given root, an
 * external CA). `prev` is the spec in force (absent at init).
 */
export function unsupportedSwarmSpec(spec: SwarmSpec, prev?: SwarmSpec): SwarmError | undefined {
  if (spec.EncryptionConfig?.AutoLockManagers && !prev?.EncryptionConfig?.AutoLockManagers)
    return failedPrecondition(
      'autolock is not supported by this swarm yet: manager keys are not encrypted at rest; leave --autolock off',
    );
  const ca = spec.CAConfig;
  const rotate = (ca?.ForceRotate ?? 0) !== (prev?.CAConfig?.ForceRotate ?? 0);
  if (rotate || ca?.SigningCACert || ca?.SigningCAKey || (ca?.ExternalCAs?.length ?? 0) > 0)
    return failedPrecondition(
      'root CA rotation is not supported by this swarm yet: the root CA, signing certificate and external CAs cannot be changed',
    );
  return undefined;
}

export class ClusterApi {
  constructor(
    private readonly store: ControlStore,
    /** Makes a fresh join token for this cluster's root CA. */
    private readonly newJoinToken: () => string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  get(): Cluster {
    const [c] = this.store.list('cluster');
    if (!c) throw new Error('cluster object missing from the store');
    return c;
  }

  async update(version: number, body: unknown, rotate: RotateOptions): Promise<Cluster> {
    const spec = validateSwarmSpec(body);
    const c = this.get();
    const unsupported = unsupportedSwarmSpec(spec, c.Spec);
    if (unsupported) throw unsupported;
    const next: Cluster = {
      ...c,
      Version: { Index: version },
      UpdatedAt: this.now().toISOString(),
      Spec: spec,
      JoinTokens: {
        Worker: rotate.rotateWorkerToken ? this.newJoinToken() : c.JoinTokens.Worker,
        Manager: rotate.rotateManagerToken ? this.newJoinToken() : c.JoinTokens.Manager,
      },
    };
    return this.store.update('cluster', next);
  }
}
