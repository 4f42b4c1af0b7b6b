// The CA over gRPC (proto/ca.proto), server side: transport and authentication only. Who gets which
// certificate is the backend's decision (src/ca/issuer.ts, wrapped by the manager to record the Node).
import type { ServiceDefinition } from '@grpc/proto-loader';
import { z } from 'zod';
import type { NodeCertificateInfo } from '../ca/certificates.js';
import { peerIdentity } from './auth.js';
import { loadServiceDefinition } from './proto.js';
import { type RpcService, unaryHandler } from './server.js';

export const CA_SERVICE = 'swarmkit.v1.CA';

let definition: ServiceDefinition | undefined;

/** The CA service definition, loaded once. */
export function caServiceDefinition(): ServiceDefinition {
  definition ??= loadServiceDefinition('ca.proto', CA_SERVICE);
  return definition;
}

export type Availability = 'active' | 'pause' | 'drain';

export interface IssueNodeCertificateRequest {
  csrPem: string;
  token: string;
  availability: Availability;
  /** The caller's verified certificate identity, or null for a joiner without one. */
  peer: NodeCertificateInfo | null;
}

export interface CABackend {
  /** The root CA bundle in PEM, exactly the bytes join tokens digest. */
  rootCACertificate(): string;
  issueNodeCertificate(request: IssueNodeCertificateRequest): Promise<{ nodeId: string; certPem: string }>;
}

const MAX_CSR_BYTES = 16 * 1024;

const issueRequestSchema = z.object({
  csr: z
    .instanceof(Buffer)
    .refine((b) => b.length > 0 && b.length <= MAX_CSR_BYTES, 'csr must be 1 byte to 16 KiB'),
  token: z.string().max(256),
  availability: z
    .enum(['', 'active', 'pause', 'drain'])
    .transform((a): Availability => (a === '' ? 'active' : a)),
});

export function caService(backend: CABackend): RpcService {
  return {
    definition: caServiceDefinition(),
    implementation: {
      GetRootCACertificate: unaryHandler(z.object({}), async () => ({
        certificate: Buffer.from(backend.rootCACertificate()),
      })),
      IssueNodeCertificate: unaryHandler(issueRequestSchema, async (request, call) => {
        const issued = await backend.issueNodeCertificate({
          csrPem: request.csr.toString('utf8'),
          token: request.token,
          availability: request.availability,
          peer: peerIdentity(call),
        });
        return { nodeId: issued.nodeId, certificate: Buffer.from(issued.certPem) };
      }),
    },
  };
}
