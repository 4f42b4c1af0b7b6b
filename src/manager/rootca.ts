// The swarm's root CA on the managers: the root's key pair and, during a root rotation, the new
// root's with its cross-signed copy, each sealed with the cluster's data key under its own etcd key
// (the cluster object carries only the public half). Every manager loads them to sign; the leader
// finishes a rotation once every node holds a certificate from the new key (SwarmKit's
// ca/reconciler.go). The decisions are the pure functions at the top.
import type { Etcd3 } from 'etcd3';
import type { Cluster, Node } from '../api/types.js';
import {
  checkGivenRootCA,
  createRootCA,
  crossSignRoot,
  publicKeyOf,
  type RootCA,
  rootTLSInfo,
  type SigningCA,
} from '../ca/certificates.js';
import { generateJoinToken } from '../ca/tokens.js';
import { createLogger } from '../lib/log.js';
import { isSealed, seal, unseal } from '../lib/sealed.js';
import type { RootRotationRequest } from './controlapi/cluster.js';

const log = createLogger({ component: 'rootca' });

/** etcd key of the root CA's key pair: managers only (the etcd client port trusts only the etcd CA). */
export const ROOT_CA_KEY = '/swarm-ca/root';
/** etcd key of the key pair being rotated to, with its cross-signed certificate. */
export const ROOT_ROTATION_KEY = '/swarm-ca/rotation';

/** The new root of a rotation with its key and its certificate cross-signed by the old root. */
export interface RotationKeys extends RootCA {
  crossSignedPem: string;
}

/** True when a rotation is under way and every node's certificate comes from the new root's key. */
export function rotationConverged(cluster: Cluster, nodes: readonly Node[]): boolean {
  if (!cluster.RootRotation) return false;
  const key = publicKeyOf(cluster.RootRotation.CACert);
  return nodes.every((n) => n.Description?.TLSInfo?.CertIssuerPublicKey === key);
}

/** The cluster once its rotation finished: the new root in force, new join tokens (they digest the root). */
export function finishRotation(cluster: Cluster, now: Date): Cluster {
  const { RootRotation: rotation, ...rest } = cluster;
  if (!rotation) return cluster;
  const issuedAt = now.toISOString();
  return {
    ...rest,
    TLSInfo: rootTLSInfo(rotation.CACert),
    RootRotationInProgress: false,
    JoinTokens: { Worker: generateJoinToken(rotation.CACert), Manager: generateJoinToken(rotation.CACert) },
    // New tokens: a join token TTL counts from now.
    JoinTokensIssuedAt: { Worker: issuedAt, Manager: issuedAt },
  };
}

/** What a node should trust and who signs now: the heartbeat tells every node. */
export function desiredTrust(cluster: Cluster): { rootCA: string; issuerPublicKey: string } {
  return {
    rootCA: cluster.TLSInfo.TrustRoot,
    issuerPublicKey: cluster.RootRotation
      ? publicKeyOf(cluster.RootRotation.CACert)
      : cluster.TLSInfo.CertIssuerPublicKey,
  };
}

/** The manager's copy of the CA keys, read from etcd and sealed with the data key. */
export class RootCAKeys {
  root: RootCA | undefined;
  rotation: RotationKeys | undefined;
  private loading: Promise<void> = Promise.resolve();

  constructor(
    private readonly client: Etcd3,
    private readonly dataKey: () => Buffer | undefined,
  ) {}

  /**
   * Who signs node certificates now: the new key with its chain while the cluster object names that
   * rotation (keys written for an update that then failed are never used), else the root.
   */
  signer(cluster: Cluster | undefined): SigningCA | undefined {
    const r = this.rotation;
    if (r && cluster?.RootRotation?.CACert === r.certPem)
      return { certPem: r.certPem, keyPem: r.keyPem, chainPem: r.crossSignedPem };
    return this.root;
  }

  private async read<T>(key: string): Promise<T | undefined> {
    const value = await this.client.get(key).string();
    if (!value) return undefined;
    const dataKey = this.dataKey();
    // Sealed since data keys exist; a swarm made before them stored the root in clear.
    if (isSealed(value) && !dataKey) {
      log.error('no data key to open the root CA with: this manager cannot sign');
      return undefined;
    }
    return JSON.parse(isSealed(value) && dataKey ? unseal(dataKey, value) : value) as T;
  }

  private async write(key: string, value: unknown): Promise<void> {
    const dataKey = this.dataKey();
    if (!dataKey) throw new Error('no data key: the CA keys cannot be sealed');
    await this.client.put(key).value(seal(dataKey, JSON.stringify(value)));
  }

  /** Reads both key pairs again (after a change of the cluster's CA state); one read at a time. */
  load(): Promise<void> {
    this.loading = this.loading
      .catch(() => undefined)
      .then(async () => {
        this.root = (await this.read<RootCA>(ROOT_CA_KEY)) ?? this.root;
        this.rotation = await this.read<RotationKeys>(ROOT_ROTATION_KEY);
      });
    return this.loading;
  }

  /** Stores the root (swarm init, or resealing with a new data key). */
  async storeRoot(root: RootCA): Promise<void> {
    await this.write(ROOT_CA_KEY, root);
    this.root = root;
  }

  /**
   * Starts a rotation: the new root (made, or the operator's, checked) cross-signed by the root in
   * force, its keys sealed in etcd; returns what the cluster object shows of it.
   */
  async begin(
    request: Extract<RootRotationRequest, { kind: 'generate' | 'given' }>,
  ): Promise<NonNullable<Cluster['RootRotation']>> {
    const root = this.root;
    if (!root) throw new Error('the root CA is not loaded: this manager cannot rotate it');
    const next =
      request.kind === 'given' ? checkGivenRootCA(request.certPem, request.keyPem) : await createRootCA();
    const crossSignedPem = await crossSignRoot(root, next.certPem);
    await this.write(ROOT_ROTATION_KEY, { ...next, crossSignedPem } satisfies RotationKeys);
    this.rotation = { ...next, crossSignedPem };
    log.info('root CA rotation started', { given: request.kind === 'given' });
    return { CACert: next.certPem, CrossSignedCACert: crossSignedPem };
  }

  /** The rotation's key pair becomes the root's (before the cluster object says so). */
  async promoteRotation(expectedCertPem: string): Promise<void> {
    await this.load();
    const rotation = this.rotation;
    if (rotation?.certPem !== expectedCertPem)
      throw new Error('the sealed keys of the rotation are not the rotation the cluster names');
    await this.storeRoot({ certPem: rotation.certPem, keyPem: rotation.keyPem });
  }

  /** Drops the rotation's keys once the cluster object no longer names a rotation. */
  async dropRotation(): Promise<void> {
    await this.client.delete().key(ROOT_ROTATION_KEY);
    this.rotation = undefined;
  }
}
