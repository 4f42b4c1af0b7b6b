// Manager membership over gRPC (proto/membership.proto): a manager-token node asks a manager to enter
// the etcd cluster. Only a manager certificate may call it; the joiner is the certificate's node.
import type { ServiceDefinition } from '@grpc/proto-loader';
import { z } from 'zod';
import { authorizePeer } from './auth.js';
import { openClient, unaryCall } from './client.js';
import { loadServiceDefinition, methodOf } from './proto.js';
import { type RpcService, unaryHandler } from './server.js';
import { managerChannel, type NodeTLSIdentity } from './tls.js';

let definition: ServiceDefinition | undefined;
function membershipDefinition(): ServiceDefinition {
  definition ??= loadServiceDefinition('membership.proto', 'swarmkit.v1.RaftMembership');
  return definition;
}

export interface MemberJoin {
  memberId: string;
  initialCluster: string;
  clusterToken: string;
  etcdCA: { certPem: string; keyPem: string };
  dataKey: Buffer;
}

/** What a manager does for a joining manager (src/manager/remoteapi.ts). */
export interface MembershipBackend {
  join(nodeId: string, request: { peerURL: string; addr: string }): Promise<MemberJoin>;
}

const joinRequest = z.object({
  peerUrl: z.string().regex(/^https:\/\/[0-9.]+:\d{1,5}$/, 'peer URL must be https://ip:port'),
  addr: z.string().regex(/^[0-9.]+:\d{1,5}$/, 'address must be ip:port'),
});
const joinResponse = z.object({
  memberId: z.string().regex(/^\d+$/),
  initialCluster: z.string().min(1),
  clusterToken: z.string().min(1),
  etcdCaCert: z.instanceof(Buffer),
  etcdCaKey: z.instanceof(Buffer),
  dataKey: z.instanceof(Buffer).refine((b) => b.length === 32, 'a data key is 32 bytes'),
});

export function membershipService(o: { backend: MembershipBackend; clusterId: () => string }): RpcService {
  return {
    definition: membershipDefinition(),
    implementation: {
      Join: unaryHandler(joinRequest, async (req, call) => {
        const peer = authorizePeer(call, { roles: ['manager'], clusterId: o.clusterId() });
        const j = await o.backend.join(peer.nodeId, { peerURL: req.peerUrl, addr: req.addr });
        return {
          memberId: j.memberId,
          initialCluster: j.initialCluster,
          clusterToken: j.clusterToken,
          etcdCaCert: Buffer.from(j.etcdCA.certPem),
          etcdCaKey: Buffer.from(j.etcdCA.keyPem),
          dataKey: j.dataKey,
        };
      }),
    },
  };
}

/** Asks the manager at `address` to add this manager (its certificate says who) to the etcd cluster. */
export async function requestMemberJoin(
  address: string,
  identity: NodeTLSIdentity,
  request: { peerURL: string; addr: string },
): Promise<MemberJoin> {
  const client = openClient(address, managerChannel(identity));
  try {
    const r = await unaryCall(
      client,
      methodOf(membershipDefinition(), 'Join'),
      { peerUrl: request.peerURL, addr: request.addr },
      joinResponse,
      { timeoutMs: 35_000 },
    );
    return {
      memberId: r.memberId,
      initialCluster: r.initialCluster,
      clusterToken: r.clusterToken,
      etcdCA: { certPem: r.etcdCaCert.toString('utf8'), keyPem: r.etcdCaKey.toString('utf8') },
      dataKey: r.dataKey,
    };
  } finally {
    client.close();
  }
}
