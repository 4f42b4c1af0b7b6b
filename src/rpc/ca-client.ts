// The CA over gRPC, client side: how a node joins (fetch and check the root, then get a certificate for its
// own key) and how it renews. Retrying is the caller's policy (SwarmKit: 5 attempts, 2 s apart).
import { z } from 'zod';
import { SwarmError } from '../api/errors.js';
import {
  createNodeKeyAndCSR,
  keyMatchesCertificate,
  type NodeCertificateInfo,
  parseRootCABundle,
  verifyNodeCertificate,
} from '../ca/certificates.js';
import { checkRemoteRootCA } from '../ca/tokens.js';
import { type Availability, caServiceDefinition } from './ca-service.js';
import { openClient, unaryCall } from './client.js';
import { methodOf } from './proto.js';
import { caChannel, managerChannel, type NodeTLSIdentity, unverifiedChannel } from './tls.js';

const rootResponse = z.object({ certificate: z.instanceof(Buffer) });
const issueResponse = z.object({ nodeId: z.string().min(1), certificate: z.instanceof(Buffer) });

export interface CallOptions {
  timeoutMs?: number;
}

/**
 * Fetches the root CA bundle from a manager without trusting it, then accepts it only if the join token's
 * digest names exactly that bundle ("remote CA does not match fingerprint. Expected: …" otherwise).
 */
export async function fetchRootCA(
  address: string,
  token: string,
  options: CallOptions = {},
): Promise<string> {
  const client = openClient(address, unverifiedChannel());
  try {
    const response = await unaryCall(
      client,
      methodOf(caServiceDefinition(), 'GetRootCACertificate'),
      {},
      rootResponse,
      options,
    );
    const pem = response.certificate.toString('utf8');
    checkRemoteRootCA(token, pem);
    parseRootCABundle(pem);
    return pem;
  } finally {
    client.close();
  }
}

/** Asks a manager (verified against `rootCertPem`, serving as swarm-ca) to sign `csrPem` for a join token. */
export async function requestNodeCertificate(
  address: string,
  rootCertPem: string,
  request: { csrPem: string; token: string; availability?: Availability },
  options: CallOptions = {},
): Promise<{ nodeId: string; certPem: string }> {
  const client = openClient(address, caChannel(rootCertPem));
  try {
    const response = await unaryCall(
      client,
      methodOf(caServiceDefinition(), 'IssueNodeCertificate'),
      {
        csr: Buffer.from(request.csrPem),
        token: request.token,
        availability: request.availability ?? 'active',
      },
      issueResponse,
      options,
    );
    return { nodeId: response.nodeId, certPem: response.certificate.toString('utf8') };
  } finally {
    client.close();
  }
}

export interface JoinedNode {
  rootCertPem: string;
  certPem: string;
  keyPem: string;
  info: NodeCertificateInfo;
}

/** The whole bootstrap of a joiner: root CA by digest, a fresh key, a certificate whose identity the CA chose. */
export async function joinSwarm(
  address: string,
  token: string,
  options: CallOptions & { availability?: Availability } = {},
): Promise<JoinedNode> {
  const rootCertPem = await fetchRootCA(address, token, options);
  const { keyPem, csrPem } = await createNodeKeyAndCSR();
  const issued = await requestNodeCertificate(
    address,
    rootCertPem,
    { csrPem, token, availability: options.availability },
    options,
  );
  const info = checkIssued(issued, rootCertPem, keyPem);
  return { rootCertPem, certPem: issued.certPem, keyPem, info };
}

/** Renews over mutual TLS with the node's current certificate; the caller stores it and updates `identity`. */
export async function renewNodeCertificate(
  address: string,
  identity: NodeTLSIdentity,
  options: CallOptions = {},
): Promise<{ certPem: string; keyPem: string; info: NodeCertificateInfo }> {
  const { keyPem, csrPem } = await createNodeKeyAndCSR();
  const client = openClient(address, managerChannel(identity));
  try {
    const response = await unaryCall(
      client,
      methodOf(caServiceDefinition(), 'IssueNodeCertificate'),
      { csr: Buffer.from(csrPem), token: '', availability: '' },
      issueResponse,
      options,
    );
    const issued = { nodeId: response.nodeId, certPem: response.certificate.toString('utf8') };
    return {
      certPem: issued.certPem,
      keyPem,
      info: checkIssued(issued, identity.material.rootCertPem, keyPem),
    };
  } finally {
    client.close();
  }
}

/** Never trust a certificate just because a manager sent it: it must chain to the root, name the node, certify our key. */
function checkIssued(
  issued: { nodeId: string; certPem: string },
  rootCertPem: string,
  keyPem: string,
): NodeCertificateInfo {
  const info = verifyNodeCertificate(issued.certPem, rootCertPem);
  if (info.nodeId !== issued.nodeId) {
    throw new SwarmError('INTERNAL', 'issued certificate does not carry the node ID the CA returned');
  }
  if (!keyMatchesCertificate(issued.certPem, keyPem)) {
    throw new SwarmError('INTERNAL', 'issued certificate does not certify this node key');
  }
  return info;
}
