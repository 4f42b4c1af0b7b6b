// Authorization of gRPC peers by certificate: the node ID, role and cluster come from the TLS client
// certificate, which the handshake already verified against the swarm's root CA.
import { SwarmError } from '../api/errors.js';
import { type NodeCertificateInfo, type NodeRole, parseNodeCertificate } from '../ca/certificates.js';

/** Anything that can report its TLS peer: every kind of server call does. */
export interface PeerSource {
  getAuthContext(): { sslPeerCertificate?: { raw?: Buffer } } | null;
}

/**
 * The caller's identity, or null when it presented no certificate. grpc-js reports a certificate only
 * when the handshake verified it against the root, so an unverified one also yields null.
 */
export function peerIdentity(call: PeerSource): NodeCertificateInfo | null {
  const raw = call.getAuthContext()?.sslPeerCertificate?.raw;
  if (raw === undefined) return null;
  try {
    return parseNodeCertificate(raw);
  } catch (err) {
    throw new SwarmError(
      'PERMISSION_DENIED',
      'Permission denied: remote certificate is not a swarm node certificate',
      {
        cause: err,
      },
    );
  }
}

/** The caller's identity if it is a node of `clusterId` with one of `roles`; throws otherwise. */
export function authorizePeer(
  call: PeerSource,
  allowed: { roles: readonly NodeRole[]; clusterId: string },
): NodeCertificateInfo {
  const peer = peerIdentity(call);
  if (peer === null) throw new SwarmError('UNAUTHENTICATED', 'no client certificates in request');
  if (peer.clusterId !== allowed.clusterId) {
    throw new SwarmError(
      'PERMISSION_DENIED',
      'Permission denied: remote certificate not part of organization',
    );
  }
  if (!allowed.roles.includes(peer.role)) {
    throw new SwarmError('PERMISSION_DENIED', `Permission denied: unauthorized peer role: ${peer.role}`);
  }
  return peer;
}
