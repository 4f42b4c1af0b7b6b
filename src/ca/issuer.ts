// The CA's decision for one certificate request: who the requester is (new node by join token, or an
// existing node renewing with its current certificate) and what certificate it gets. No I/O.

import { SwarmError } from '../api/errors.js';
import { newId } from '../api/ids.js';
import { type NodeCertificateInfo, type NodeRole, type RootCA, signCSR } from './certificates.js';
import { JOIN_TOKEN_REJECTED, roleForToken } from './tokens.js';

export interface NodeIssuerConfig {
  rootCA: RootCA;
  clusterId: string;
  /** The current tokens (they rotate). */
  joinTokens: () => { worker: string; manager: string };
  /** Lifetime of issued certificates (the cluster's NodeCertExpiry); default 90 days. */
  validityMs?: () => number;
  /** The role a renewing node gets now (promotion/demotion changes it); default: the role it holds. */
  renewalRole?: (peer: NodeCertificateInfo) => Promise<NodeRole>;
  now?: () => Date;
}

export interface CertificateRequest {
  csrPem: string;
  /** Join token; empty when renewing. */
  token: string;
  /** The verified TLS peer, or null for a caller without a certificate. */
  peer: NodeCertificateInfo | null;
}

export interface IssuedCertificate {
  nodeId: string;
  role: NodeRole;
  certPem: string;
  /** True when the node ID is new (a join), false for a renewal. */
  joined: boolean;
}

/** Builds the CA's issue function. A peer certificate wins over a token, as in SwarmKit: it is a renewal. */
export function createNodeIssuer(
  config: NodeIssuerConfig,
): (request: CertificateRequest) => Promise<IssuedCertificate> {
  return async (request) => {
    const options = { validityMs: config.validityMs?.(), now: config.now?.() };
    if (request.peer !== null) {
      if (request.peer.clusterId !== config.clusterId) {
        throw new SwarmError(
          'PERMISSION_DENIED',
          'Permission denied: remote certificate not part of organization',
        );
      }
      const role = config.renewalRole ? await config.renewalRole(request.peer) : request.peer.role;
      const identity = { nodeId: request.peer.nodeId, role, clusterId: config.clusterId };
      return {
        ...identity,
        certPem: await signCSR(config.rootCA, request.csrPem, identity, options),
        joined: false,
      };
    }
    if (request.token === '') throw new SwarmError('INVALID_ARGUMENT', JOIN_TOKEN_REJECTED);
    const role = roleForToken(request.token, config.joinTokens());
    const identity = { nodeId: newId(), role, clusterId: config.clusterId };
    return {
      ...identity,
      certPem: await signCSR(config.rootCA, request.csrPem, identity, options),
      joined: true,
    };
  };
}
