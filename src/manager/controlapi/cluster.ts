// The cluster ("swarm") object of the control API: inspect with join tokens, update the spec with
// a version, rotate join tokens; refuse what this swarm cannot do yet.
import { failedPrecondition, invalidArgument, type SwarmError } from '../../api/errors.js';
import type { Cluster, SwarmSpec } from '../../api/types.js';
import { validateSwarmSpec } from '../../api/validate.js';
import { decodeCertificateBundle } from '../../ca/pem.js';
import { validateJoinTokenTTL } from '../../ca/tokens.js';
import { generateUnlockKey } from '../../ca/unlock-key.js';
import type { ControlStore } from './store.js';

export interface RotateOptions {
  rotateWorkerToken: boolean;
  rotateManagerToken: boolean;
  rotateManagerUnlockKey: boolean;
  /** A new join token TTL in ns (ours, outside the spec; 0: never expire); absent: unchanged. */
  joinTokenTTL?: number | undefined;
}

/**
 * What this swarm cannot do, refused before anything is written rather than stored and ignored:
 * external CAs (no signing endpoint is spoken). `_prev` is the spec in force (absent at init).
 */
export function unsupportedSwarmSpec(spec: SwarmSpec, _prev?: SwarmSpec): SwarmError | undefined {
  if ((spec.CAConfig?.ExternalCAs?.length ?? 0) > 0)
    return failedPrecondition(
      'external CAs are not supported by this swarm: rotate to a root CA whose key you give (--ca-cert with --ca-key) or let the swarm make one (--rotate alone)',
    );
  return undefined;
}

/** What a swarm update asks of the root CA (SwarmKit's ca_rotation.go decides the same way). */
export type RootRotationRequest =
  | { kind: 'none' }
  /** The desired root is the one in force: an unfinished rotation stops. */
  | { kind: 'cancel' }
  /** ForceRotate moved without a certificate: a new root is made. */
  | { kind: 'generate' }
  | { kind: 'given'; certPem: string; keyPem: string };

function sameCertificate(a: string, b: string): boolean {
  const der = (pem: string) =>
    decodeCertificateBundle(pem)
      .map((d) => d.toString('base64'))
      .join();
  try {
    return der(a) === der(b);
  } catch {
    return false;
  }
}

/**
 * Decides from the submitted spec, the spec in force and the cluster's CA state whether a root
 * rotation starts, stops or nothing happens. Pure; throws Docker-like errors for a half-given CA.
 */
export function rootRotationRequest(
  spec: SwarmSpec,
  prev: SwarmSpec,
  cluster: Pick<Cluster, 'TLSInfo' | 'RootRotation'>,
): RootRotationRequest {
  const cert = spec.CAConfig?.SigningCACert?.trim() ?? '';
  const key = spec.CAConfig?.SigningCAKey?.trim() ?? '';
  if (cert !== '') {
    if (sameCertificate(cert, cluster.TLSInfo.TrustRoot))
      return cluster.RootRotation ? { kind: 'cancel' } : { kind: 'none' };
    if (cluster.RootRotation && sameCertificate(cert, cluster.RootRotation.CACert)) return { kind: 'none' };
    if (key === '')
      throw invalidArgument(
        'the CA certificate needs its key (--ca-key): this swarm signs node certificates itself and speaks to no external CA',
      );
    return { kind: 'given', certPem: `${cert}\n`, keyPem: `${key}\n` };
  }
  if (key !== '') throw invalidArgument('the CA key needs its certificate (--ca-cert)');
  if ((spec.CAConfig?.ForceRotate ?? 0) !== (prev.CAConfig?.ForceRotate ?? 0)) return { kind: 'generate' };
  return { kind: 'none' };
}

export class ClusterApi {
  constructor(
    private readonly store: ControlStore,
    /** Makes a fresh join token for this cluster's root CA. */
    private readonly newJoinToken: () => string,
    private readonly now: () => Date = () => new Date(),
    private readonly managerKeys: {
      /** Starts a root rotation (keys made or checked, cross-signed, sealed); absent, rotation is refused. */
      rotator?: RootRotator;
      /** Seals and opens the unlock key with the cluster's data key; absent, autolock is refused. */
      unlockKeys?: { seal(key: string): string; open(sealed: string): string };
    } = {},
  ) {}

  /** The unlock key ("SWMKEY-1-…") while autolock is on, else "" (GET /swarm/unlockkey). */
  unlockKey(): string {
    const sealed = this.get().UnlockKeySealed;
    if (!sealed) return '';
    if (!this.managerKeys.unlockKeys) throw failedPrecondition('this manager cannot read the unlock key');
    return this.managerKeys.unlockKeys.open(sealed);
  }

  /** The sealed unlock key after this update: made when autolock turns on or is rotated, gone when off. */
  private nextUnlockKey(spec: SwarmSpec, c: Cluster, rotate: boolean): string | undefined {
    if (spec.EncryptionConfig?.AutoLockManagers !== true) return undefined;
    if (c.UnlockKeySealed && !rotate) return c.UnlockKeySealed;
    if (!this.managerKeys.unlockKeys) throw failedPrecondition('this manager cannot turn autolock on');
    return this.managerKeys.unlockKeys.seal(generateUnlockKey());
  }

  get(): Cluster {
    const [c] = this.store.list('cluster');
    if (!c) throw new Error('cluster object missing from the store');
    return c;
  }

  /**
   * Writes the new spec, rotates the tokens asked for (a rotated token's expiry counts from now) and sets
   * the join token TTL when given; a TTL applies to the current tokens too, from when they were made.
   */
  async update(version: number, body: unknown, rotate: RotateOptions): Promise<Cluster> {
    const spec = validateSwarmSpec(body);
    const ttl = rotate.joinTokenTTL === undefined ? undefined : validateJoinTokenTTL(rotate.joinTokenTTL);
    const c = this.get();
    const unsupported = unsupportedSwarmSpec(spec, c.Spec);
    if (unsupported) throw unsupported;
    const rotation = await this.rootRotation(rootRotationRequest(spec, c.Spec, c), c);
    const now = this.now().toISOString();
    const { JoinTokenTTL: previousTTL, ...rest } = c;
    const joinTokenTTL = ttl ?? previousTTL;
    const next: Cluster = {
      ...rest,
      Version: { Index: version },
      UpdatedAt: now,
      // The key of a given root is never kept in the spec (SwarmKit redacts it too).
      Spec: withoutSigningKey(spec),
      ...rotation,
      UnlockKeySealed: this.nextUnlockKey(spec, c, rotate.rotateManagerUnlockKey),
      JoinTokens: {
        Worker: rotate.rotateWorkerToken ? this.newJoinToken() : c.JoinTokens.Worker,
        Manager: rotate.rotateManagerToken ? this.newJoinToken() : c.JoinTokens.Manager,
      },
      JoinTokensIssuedAt: {
        Worker: rotate.rotateWorkerToken ? now : c.JoinTokensIssuedAt?.Worker,
        Manager: rotate.rotateManagerToken ? now : c.JoinTokensIssuedAt?.Manager,
      },
      ...(joinTokenTTL ? { JoinTokenTTL: joinTokenTTL } : {}),
    };
    return this.store.update('cluster', next);
  }

  /** The cluster's rotation fields after this update: unchanged, cancelled, or a rotation begun. */
  private async rootRotation(
    request: RootRotationRequest,
    c: Cluster,
  ): Promise<Pick<Cluster, 'RootRotation' | 'RootRotationInProgress'>> {
    if (request.kind === 'none')
      return { RootRotation: c.RootRotation, RootRotationInProgress: c.RootRotationInProgress };
    if (request.kind === 'cancel') return { RootRotation: undefined, RootRotationInProgress: false };
    const rotator = this.managerKeys.rotator;
    if (!rotator) throw failedPrecondition('this manager cannot rotate the root CA');
    return { RootRotation: await rotator.begin(request), RootRotationInProgress: true };
  }
}

/** Starts a root rotation (src/manager/rootca.ts on a manager). */
export interface RootRotator {
  begin(
    request: Extract<RootRotationRequest, { kind: 'generate' | 'given' }>,
  ): Promise<NonNullable<Cluster['RootRotation']>>;
}

function withoutSigningKey(spec: SwarmSpec): SwarmSpec {
  if (spec.CAConfig?.SigningCAKey === undefined) return spec;
  const { SigningCAKey: _key, ...ca } = spec.CAConfig;
  return { ...spec, CAConfig: ca };
}
