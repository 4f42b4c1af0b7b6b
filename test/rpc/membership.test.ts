// Manager membership over gRPC with real mutual TLS: a manager's certificate asks to enter the etcd
// cluster as the node its certificate names; a worker's certificate is refused (PermissionDenied),
// and a malformed peer URL never reaches the backend.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SwarmError } from '../../src/api/errors.js';
import { newId } from '../../src/api/ids.js';
import { createNodeCredentials, createRootCA } from '../../src/ca/certificates.js';
import { type MemberJoin, membershipService, requestMemberJoin } from '../../src/rpc/membership.js';
import { type RunningRpcServer, startRpcServer } from '../../src/rpc/server.js';
import { NodeTLSIdentity, serverCredentials } from '../../src/rpc/tls.js';

const clusterId = newId();
const joinerId = newId();
const asked: { nodeId: string; peerURL: string; addr: string }[] = [];
const answer: MemberJoin = {
  memberId: '1234567890',
  initialCluster: 'a=https://10.0.0.1:2380,b=https://10.0.0.2:2380',
  clusterToken: clusterId,
  etcdCA: { certPem: 'CERT', keyPem: 'KEY' },
  dataKey: Buffer.alloc(32, 7),
};

let server: RunningRpcServer;
let address: string;
let joiner: NodeTLSIdentity;
let worker: NodeTLSIdentity;

before(async () => {
  const root = await createRootCA();
  const identity = async (nodeId: string, role: 'manager' | 'worker') =>
    new NodeTLSIdentity({
      rootCertPem: root.certPem,
      ...(await createNodeCredentials(root, { nodeId, role, clusterId })),
    });
  const serving = await identity(newId(), 'manager');
  joiner = await identity(joinerId, 'manager');
  worker = await identity(newId(), 'worker');
  const backend = {
    join: async (nodeId: string, req: { peerURL: string; addr: string }) => {
      asked.push({ nodeId, ...req });
      return answer;
    },
  };
  server = await startRpcServer('127.0.0.1:0', serverCredentials(serving), [
    membershipService({ backend, clusterId: () => clusterId }),
  ]);
  address = `127.0.0.1:${server.port}`;
});

after(async () => {
  await server?.stop(100);
});

test('a manager certificate joins as the node it names and gets what its etcd member needs', async () => {
  const got = await requestMemberJoin(address, joiner, {
    peerURL: 'https://10.0.0.2:2380',
    addr: '10.0.0.2:2377',
  });
  assert.deepEqual(got, answer);
  assert.deepEqual(asked, [{ nodeId: joinerId, peerURL: 'https://10.0.0.2:2380', addr: '10.0.0.2:2377' }]);
});

test('a worker certificate calling the manager-only Join is denied', async () => {
  await assert.rejects(
    requestMemberJoin(address, worker, { peerURL: 'https://10.0.0.3:2380', addr: '10.0.0.3:2377' }),
    (e: unknown) =>
      e instanceof SwarmError &&
      e.code === 'PERMISSION_DENIED' &&
      e.message === 'Permission denied: unauthorized peer role: worker',
  );
  assert.equal(asked.length, 1);
});

test('a malformed peer URL is refused before the backend sees it', async () => {
  await assert.rejects(
    requestMemberJoin(address, joiner, { peerURL: 'http://10.0.0.2:2380', addr: '10.0.0.2:2377' }),
    (e: unknown) => e instanceof SwarmError && e.code === 'INVALID_ARGUMENT' && /peer URL/.test(e.message),
  );
  assert.equal(asked.length, 1);
});
