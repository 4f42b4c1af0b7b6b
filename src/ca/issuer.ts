// The CA's decision for one certificate request: who the requester is (new node by join token, or an
// existing node renewing with its current certificate) and what certificate it gets; a join token past
// its expiry (the cluster's JoinTokenTTL, ours) admits nobody. No I/O; the clock is `now`.

import { SwarmError } from '../api/errors.js';
import { newId } from '../api/ids.js';
import { type NodeCertificateInfo, type NodeRole, type SigningCA, signCSR } from './certificates.js';
import {
  expiredJoinTokenMessage,
  JOIN_TOKEN_REJECTED,
  type JoinTokenPolicy,
  joinTokenExpiries,
  roleForToken,
} from './tokens.js';

export interface NodeIssuerConfig {
  rootCA: SigningCA;
  clusterId: string;
  /** The current tokens (they rotate) and the cluster's expiry policy for them. */
  joinTokens: () => CurrentJoinTokens;
  /** Lifetime of issued certificates (the cluster's NodeCertExpiry); default 90 days. */
  validityMs?: () => number;
  /** The role a renewing node gets now (promotion/demotion changes it); default: the role it holds. */
  renewalRole?: (peer: NodeCertificateInfo) => Promise<NodeRole>;
  now?: () => Date;
}

export interface CurrentJoinTokens {
  worker: string;
  manager: string;
  /** Absent: the tokens never expire. */
  policy?: JoinTokenPolicy | undefined;
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
    const tokens = config.joinTokens();
    const role = roleForToken(request.token, tokens);
    const expiresAt = joinTokenExpiries(tokens.policy ?? {})[role];
    // Written so that an unreadable expiry (NaN) refuses the token rather than admitting it for ever.
    if (expiresAt && !((options.now ?? new Date()).getTime() < expiresAt.getTime()))
      throw new SwarmError('INVALID_ARGUMENT', expiredJoinTokenMessage(role));
    const identity = { nodeId: newId(), role, clusterId: config.clusterId };
    return {
      ...identity,
      certPem: await signCSR(config.rootCA, request.csrPem, identity, options),
      joined: true,
    };
  };
}
