// The cluster ("swarm") object of the control API: inspect with join tokens, update the spec with
// a version, rotate join tokens.
import type { Cluster } from '../../api/types.js';
import { validateSwarmSpec } from '../../api/validate.js';
import type { ControlStore } from './store.js';

export interface RotateOptions {
  rotateWorkerToken: boolean;
  rotateManagerToken: boolean;
  rotateManagerUnlockKey: boolean;
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
