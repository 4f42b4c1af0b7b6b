// A manager's remote API on the swarm port (2377): the CA (join and renewal) and the dispatcher
// (remote agents' sessions), over mutual TLS with this node's certificate. The CA's decision is
// src/ca/issuer.ts; this shell records a joining node in the store before its certificate leaves.
import { SwarmError } from '../api/errors.js';
import type { Node } from '../api/types.js';
import type { SigningCA } from '../ca/certificates.js';
import { createNodeIssuer } from '../ca/issuer.js';
import { readNodeCertificates } from '../ca/store.js';
import { createLogger } from '../lib/log.js';
import { type CABackend, caService } from '../rpc/ca-service.js';
import { type DispatcherBackend, dispatcherService } from '../rpc/dispatcher-service.js';
import type { LogBroker } from '../rpc/logbroker.js';
import { type MembershipBackend, membershipService } from '../rpc/membership.js';
import { type RunningRpcServer, startRpcServer } from '../rpc/server.js';
import { NodeTLSIdentity, serverCredentials } from '../rpc/tls.js';
import type { StoreCache } from '../store/cache.js';
import type { ClusterStore } from '../store/store.js';
import type { Tables } from './tables.js';

const log = createLogger({ component: 'remoteapi' });

export interface RemoteApiOptions {
  stateDir: string;
  listenAddr: string;
  clusterId: string;
  /** Who signs node certificates now (the root, or the new key during a root rotation). */
  signer: () => SigningCA | undefined;
  /** The root in force, as joiners fetch it (join tokens digest it). */
  rootCertPem: () => string;
  store: ClusterStore<Tables>;
  cache: StoreCache<Tables>;
  dispatcher: () => DispatcherBackend | undefined;
  /** The managers' remote API addresses, the leader's first. */
  managers: () => string[];
  logs: LogBroker;
  membership: MembershipBackend;
}

export interface RemoteApi {
  identity: NodeTLSIdentity;
  server: RunningRpcServer;
}

/** The CA as the manager serves it: tokens and expiry from the cluster object, nodes recorded. */
export function managerCABackend(
  o: Omit<RemoteApiOptions, 'stateDir' | 'listenAddr' | 'dispatcher' | 'managers' | 'logs' | 'membership'>,
): CABackend {
  const cluster = () => o.cache.list('cluster')[0];
  const tokens = () => {
    const c = cluster();
    return { worker: c?.JoinTokens?.Worker ?? '', manager: c?.JoinTokens?.Manager ?? '', policy: c };
  };
  const signer = () => {
    const ca = o.signer();
    if (!ca) throw new SwarmError('UNAVAILABLE', 'the certificate authority is not loaded yet');
    return ca;
  };
  return {
    rootCACertificate: () => {
      const root = o.rootCertPem();
      if (!root) throw new SwarmError('UNAVAILABLE', 'the certificate authority is not loaded yet');
      return root;
    },
    issueNodeCertificate: async (request) => {
      if (request.peer !== null) {
        const node = o.cache.get('node', request.peer.nodeId);
        if (!node) {
          throw new SwarmError('PERMISSION_DENIED', `node ${request.peer.nodeId} was removed from the swarm`);
        }
      }
      const issue = createNodeIssuer({
        rootCA: signer(),
        clusterId: o.clusterId,
        joinTokens: tokens,
        validityMs: () => (cluster()?.Spec.CAConfig?.NodeCertExpiry ?? 90 * 24 * 3600e9) / 1e6,
        renewalRole: async (peer) => o.cache.get('node', peer.nodeId)?.Spec.Role ?? peer.role,
      });
      const issued = await issue(request);
      if (issued.joined) {
        const node: Omit<Node, 'Version' | 'CreatedAt' | 'UpdatedAt'> = {
          ID: issued.nodeId,
          Spec: { Labels: {}, Role: issued.role, Availability: request.availability },
          Status: { State: 'unknown' },
        };
        const created = await o.store.create('node', node);
        await o.cache.waitForRevision(created.Version.Index).catch(() => undefined);
        log.info('node joined', { node: issued.nodeId, role: issued.role });
      }
      return { nodeId: issued.nodeId, certPem: issued.certPem };
    },
  };
}

/** Starts the CA and dispatcher services on `listenAddr` with this manager's node certificate. */
export async function startRemoteApi(o: RemoteApiOptions): Promise<RemoteApi> {
  const certs = await readNodeCertificates(o.stateDir);
  const identity = new NodeTLSIdentity(certs);
  const server = await startRpcServer(o.listenAddr, serverCredentials(identity), [
    caService(managerCABackend(o)),
    dispatcherService({ backend: o.dispatcher, clusterId: () => o.clusterId, managers: o.managers }),
    o.logs.service(() => o.clusterId),
    o.logs.logsService(() => o.clusterId),
    membershipService({ backend: o.membership, clusterId: () => o.clusterId }),
  ]);
  log.info('remote API listening', { addr: o.listenAddr, port: server.port });
  return { identity, server };
}
