// Proves the certificates work in real TLS: Node's tls module, mutual authentication, on 127.0.0.1.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import tls from 'node:tls';
import { newId } from '../../src/api/ids.js';
import {
  createNodeCredentials,
  createRootCA,
  crossSignRoot,
  parseNodeCertificate,
} from '../../src/ca/certificates.js';

interface Outcome {
  ok: boolean;
  error?: string;
  serverSawPeer?: string;
}

/** Runs one handshake; resolves with whether the client got through and who the server saw. */
async function handshake(
  server: { key: string; cert: string; ca: string },
  client: { key: string; cert: string; ca: string; servername: string },
): Promise<Outcome> {
  let serverSawPeer: string | undefined;
  const srv = tls.createServer(
    { ...server, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' },
    (socket) => {
      serverSawPeer = parseNodeCertificate(socket.getPeerCertificate().raw).nodeId;
      socket.end('hello');
    },
  );
  srv.on('tlsClientError', () => {});
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  try {
    const address = srv.address();
    assert.ok(address !== null && typeof address === 'object');
    const { port } = address;
    return await new Promise<Outcome>((resolve) => {
      const socket = tls.connect({ host: '127.0.0.1', port, ...client, minVersion: 'TLSv1.2' });
      const timer = setTimeout(() => {
        socket.destroy();
        resolve({ ok: false, error: 'timeout' });
      }, 5000);
      let data = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        data += chunk;
      });
      socket.on('end', () => {
        clearTimeout(timer);
        resolve({ ok: data === 'hello', serverSawPeer, ...(data === 'hello' ? {} : { error: 'closed' }) });
      });
      socket.on('error', (err) => {
        clearTimeout(timer);
        resolve({ ok: false, error: err.message });
      });
    });
  } finally {
    srv.close();
  }
}

test('two nodes of one swarm complete mutual TLS, each seeing the other identity', async () => {
  const root = await createRootCA();
  const clusterId = newId();
  const managerId = newId();
  const workerId = newId();
  const manager = await createNodeCredentials(root, { nodeId: managerId, role: 'manager', clusterId });
  const worker = await createNodeCredentials(root, { nodeId: workerId, role: 'worker', clusterId });
  const outcome = await handshake(
    { key: manager.keyPem, cert: manager.certPem, ca: root.certPem },
    // The worker dials the manager by role name, which is how SwarmKit checks it is talking to a manager.
    { key: worker.keyPem, cert: worker.certPem, ca: root.certPem, servername: 'swarm-manager' },
  );
  assert.deepEqual(outcome, { ok: true, serverSawPeer: workerId });
});

test('a worker certificate cannot pass as a manager server', async () => {
  const root = await createRootCA();
  const clusterId = newId();
  const a = await createNodeCredentials(root, { nodeId: newId(), role: 'worker', clusterId });
  const b = await createNodeCredentials(root, { nodeId: newId(), role: 'worker', clusterId });
  const outcome = await handshake(
    { key: a.keyPem, cert: a.certPem, ca: root.certPem },
    { key: b.keyPem, cert: b.certPem, ca: root.certPem, servername: 'swarm-manager' },
  );
  assert.equal(outcome.ok, false);
  assert.match(outcome.error ?? '', /altnames|Hostname/i);
});

test('a client certificate from another root CA is rejected by the server', async () => {
  const root = await createRootCA();
  const intruderRoot = await createRootCA();
  const clusterId = newId();
  const manager = await createNodeCredentials(root, { nodeId: newId(), role: 'manager', clusterId });
  const intruder = await createNodeCredentials(intruderRoot, { nodeId: newId(), role: 'manager', clusterId });
  const outcome = await handshake(
    { key: manager.keyPem, cert: manager.certPem, ca: root.certPem },
    { key: intruder.keyPem, cert: intruder.certPem, ca: root.certPem, servername: 'swarm-manager' },
  );
  assert.equal(outcome.ok, false);
  assert.equal(outcome.serverSawPeer, undefined);
});

test('a server certificate from another root CA is rejected by the client', async () => {
  const root = await createRootCA();
  const intruderRoot = await createRootCA();
  const clusterId = newId();
  const worker = await createNodeCredentials(root, { nodeId: newId(), role: 'worker', clusterId });
  const impostor = await createNodeCredentials(intruderRoot, { nodeId: newId(), role: 'manager', clusterId });
  const outcome = await handshake(
    { key: impostor.keyPem, cert: impostor.certPem, ca: `${root.certPem}${intruderRoot.certPem}` },
    { key: worker.keyPem, cert: worker.certPem, ca: root.certPem, servername: 'swarm-manager' },
  );
  assert.equal(outcome.ok, false);
  assert.match(outcome.error ?? '', /self[- ]signed|unable to (get|verify)/i);
});

test('root rotation: a certificate from the new key with the cross-signed root passes both old and new trust', async () => {
  const oldRoot = await createRootCA();
  const newRoot = await createRootCA();
  const cross = await crossSignRoot(oldRoot, newRoot.certPem);
  const clusterId = newId();
  const signer = { ...newRoot, chainPem: cross };
  const rotated = await createNodeCredentials(signer, { nodeId: newId(), role: 'manager', clusterId });
  const stale = await createNodeCredentials(oldRoot, { nodeId: newId(), role: 'manager', clusterId });
  // Nodes still on the old root, one renewed and one not yet, talk to each other both ways.
  for (const [server, client] of [
    [rotated, stale],
    [stale, rotated],
  ] as const) {
    const outcome = await handshake(
      { key: server.keyPem, cert: server.certPem, ca: oldRoot.certPem },
      { key: client.keyPem, cert: client.certPem, ca: oldRoot.certPem, servername: 'swarm-manager' },
    );
    assert.equal(outcome.ok, true, outcome.error);
  }
  // Once the new root is in force: a node trusting only it accepts the rotated chain (same subject
  // name as the old root: the key identifiers pick the right issuer).
  const peer = await createNodeCredentials(signer, { nodeId: newId(), role: 'worker', clusterId });
  const outcome = await handshake(
    { key: rotated.keyPem, cert: rotated.certPem, ca: newRoot.certPem },
    { key: peer.keyPem, cert: peer.certPem, ca: newRoot.certPem, servername: 'swarm-manager' },
  );
  assert.equal(outcome.ok, true, outcome.error);
  // And a certificate of the old root alone is refused by the new trust.
  const refused = await handshake(
    { key: rotated.keyPem, cert: rotated.certPem, ca: newRoot.certPem },
    { key: stale.keyPem, cert: stale.certPem, ca: newRoot.certPem, servername: 'swarm-manager' },
  );
  assert.equal(refused.ok, false);
});
