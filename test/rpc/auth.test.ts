// Specification of peer authorization: identity from the verified TLS certificate, checked for cluster and role.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { before, test } from 'node:test';
import { SwarmError } from '../../src/api/errors.js';
import { newId } from '../../src/api/ids.js';
import { createNodeCredentials, createRootCA } from '../../src/ca/certificates.js';
import { decodePemBlocks } from '../../src/ca/pem.js';
import { authorizePeer, type PeerSource, peerIdentity } from '../../src/rpc/auth.js';
import { protoPath } from '../../src/rpc/proto.js';

const clusterId = newId();
const workerId = newId();
let workerCall: PeerSource;
let foreignCall: PeerSource;
const anonymousCall: PeerSource = { getAuthContext: () => ({}) };

function callPresenting(certPem: string): PeerSource {
  const raw = decodePemBlocks(certPem)[0]?.der;
  assert.ok(raw);
  return { getAuthContext: () => ({ sslPeerCertificate: { raw } }) };
}

function failsWith(code: SwarmError['code'], message: string) {
  return (err: unknown) => err instanceof SwarmError && err.code === code && err.message === message;
}

before(async () => {
  const root = await createRootCA();
  const worker = await createNodeCredentials(root, { nodeId: workerId, role: 'worker', clusterId });
  const foreign = await createNodeCredentials(root, { nodeId: newId(), role: 'manager', clusterId: newId() });
  workerCall = callPresenting(worker.certPem);
  foreignCall = callPresenting(foreign.certPem);
});

test('the peer identity is read from its certificate', () => {
  const peer = peerIdentity(workerCall);
  assert.equal(peer?.nodeId, workerId);
  assert.equal(peer?.role, 'worker');
  assert.equal(peer?.clusterId, clusterId);
  assert.equal(peerIdentity(anonymousCall), null);
});

test('a worker passes where workers are allowed and is denied where only managers are', () => {
  assert.equal(authorizePeer(workerCall, { roles: ['worker', 'manager'], clusterId }).nodeId, workerId);
  assert.throws(
    () => authorizePeer(workerCall, { roles: ['manager'], clusterId }),
    failsWith('PERMISSION_DENIED', 'Permission denied: unauthorized peer role: worker'),
  );
});

test('a node of another cluster, or a caller without a certificate, is refused', () => {
  assert.throws(
    () => authorizePeer(foreignCall, { roles: ['manager'], clusterId }),
    failsWith('PERMISSION_DENIED', 'Permission denied: remote certificate not part of organization'),
  );
  assert.throws(
    () => authorizePeer(anonymousCall, { roles: ['manager', 'worker'], clusterId }),
    failsWith('UNAUTHENTICATED', 'no client certificates in request'),
  );
});

test('proto files are found from the compiled tree', () => {
  assert.ok(existsSync(protoPath('ca.proto')));
  assert.throws(() => protoPath('nope.proto'), /not found/);
});
