// Specification of a node's certificate renewal loop (src/daemon/renewal.ts) against a real CA and
// dispatcher over mutual TLS on 127.0.0.1: in its window a worker renews, keeps the renewed certificate
// on disk and in its live identity, and its open session goes on undisturbed; before the window nothing
// happens. The loop's clock is injected; TLS checks validity against the real one.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { newId } from '../../src/api/ids.js';
import {
  createNodeCredentials,
  createRootCA,
  type NodeCertificateInfo,
  parseNodeCertificate,
  type RootCA,
} from '../../src/ca/certificates.js';
import { createNodeIssuer } from '../../src/ca/issuer.js';
import { renewalTime } from '../../src/ca/renewal.js';
import { readNodeCertificates, writeNodeCertificates } from '../../src/ca/store.js';
import { generateJoinToken } from '../../src/ca/tokens.js';
import { startCertRenewal } from '../../src/daemon/renewal.js';
import { renewNodeCertificate } from '../../src/rpc/ca-client.js';
import { type CABackend, caService } from '../../src/rpc/ca-service.js';
import { RemoteSession } from '../../src/rpc/dispatcher-client.js';
import { dispatcherService } from '../../src/rpc/dispatcher-service.js';
import { type RunningRpcServer, startRpcServer } from '../../src/rpc/server.js';
import { NodeTLSIdentity, type NodeTLSMaterial, serverCredentials } from '../../src/rpc/tls.js';
import { waitFor } from '../helpers/swarmd.js';
import { description, FAKE_MANAGERS, FakeBackend } from '../rpc/fake-dispatcher.js';

const HOUR = 3600_000;
const MINUTE = 60_000;
const clusterId = newId();
const dispatcher = new FakeBackend();
/** Every request the CA answered: who asked (by certificate) and whether it was a join. */
const issued: { peer: NodeCertificateInfo | null; nodeId: string; joined: boolean }[] = [];
const stateDirs: string[] = [];
let root: RootCA;
let server: RunningRpcServer;
let address: string;

before(async () => {
  root = await createRootCA();
  const tokens = { worker: generateJoinToken(root.certPem), manager: generateJoinToken(root.certPem) };
  // The cluster's certificates last the default 90 days, so a renewed one is far from its own window.
  const issue = createNodeIssuer({ rootCA: root, clusterId, joinTokens: () => tokens });
  const ca: CABackend = {
    rootCACertificate: () => root.certPem,
    issueNodeCertificate: async (request) => {
      const answer = await issue(request);
      issued.push({ peer: request.peer, nodeId: answer.nodeId, joined: answer.joined });
      return answer;
    },
  };
  const manager = new NodeTLSIdentity({
    rootCertPem: root.certPem,
    ...(await createNodeCredentials(root, { nodeId: newId(), role: 'manager', clusterId })),
  });
  server = await startRpcServer('127.0.0.1:0', serverCredentials(manager), [
    caService(ca),
    dispatcherService({ backend: () => dispatcher, clusterId: () => clusterId }),
  ]);
  address = `127.0.0.1:${server.port}`;
});

after(async () => {
  await server?.stop(100);
  await Promise.all(stateDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

/**
 * A worker holding a certificate of the shortest lifetime (1 h from issue, backdated 1 h), issued
 * `issuedAgoMs` ago by the real clock, stored in its state dir.
 */
async function shortLivedWorker(issuedAgoMs = 0): Promise<{
  stateDir: string;
  material: NodeTLSMaterial;
  info: NodeCertificateInfo;
  identity: NodeTLSIdentity;
}> {
  const stateDir = await mkdtemp(join(tmpdir(), 'skt-renewal-'));
  stateDirs.push(stateDir);
  const credentials = await createNodeCredentials(
    root,
    { nodeId: newId(), role: 'worker', clusterId },
    { validityMs: HOUR, now: new Date(Date.now() - issuedAgoMs) },
  );
  const material = { rootCertPem: root.certPem, ...credentials };
  await writeNodeCertificates(stateDir, material);
  return {
    stateDir,
    material,
    info: parseNodeCertificate(material.certPem),
    identity: new NodeTLSIdentity(material),
  };
}

test('in its renewal window a worker renews: same node and role, new key on disk and in the live identity, session undisturbed', async () => {
  const worker = await shortLivedWorker();
  const session = new RemoteSession({ managers: () => [address], identity: worker.identity });
  let renewal: { stop(): void } | undefined;
  const fresh = new RemoteSession({ managers: () => [address], identity: worker.identity });
  try {
    const { sessionId } = await session.register('', description);
    const asked = issued.length;
    // A minute after the latest point of the window (80 % of 2 h from notBefore), still before expiry.
    const pastWindow = renewalTime(worker.info, 1).getTime() + MINUTE;
    assert.ok(pastWindow < worker.info.notAfter.getTime());
    renewal = startCertRenewal({
      stateDir: worker.stateDir,
      identity: worker.identity,
      manager: () => address,
      now: () => pastWindow,
    });
    await waitFor(() => worker.identity.material.certPem !== worker.material.certPem, 5000, 'a renewal');

    const onDisk = await readNodeCertificates(worker.stateDir);
    assert.equal(onDisk.info.nodeId, worker.info.nodeId);
    assert.equal(onDisk.info.role, 'worker');
    assert.equal(onDisk.info.clusterId, clusterId);
    assert.notEqual(onDisk.info.serialNumber, worker.info.serialNumber);
    assert.notEqual(onDisk.keyPem, worker.material.keyPem);
    assert.equal(onDisk.rootCertPem, root.certPem);
    assert.deepEqual(worker.identity.material, {
      rootCertPem: onDisk.rootCertPem,
      certPem: onDisk.certPem,
      keyPem: onDisk.keyPem,
    });

    // One request, authenticated by the old certificate: a renewal, not a join.
    assert.equal(issued.length, asked + 1);
    assert.equal(issued.at(-1)?.joined, false);
    assert.equal(issued.at(-1)?.nodeId, worker.info.nodeId);
    assert.equal(issued.at(-1)?.peer?.fingerprint, worker.info.fingerprint);

    // The open session was not touched: same session ID, its stream intact, the manager saw no disconnect.
    assert.deepEqual(await session.heartbeat(sessionId), { periodMs: 5000, managers: FAKE_MANAGERS });
    assert.deepEqual(dispatcher.disconnects, []);

    // New connections present the renewed certificate: the manager accepts it and sees it.
    await fresh.register('', description);
    assert.equal(dispatcher.registered.at(-1)?.nodeId, worker.info.nodeId);
    await renewNodeCertificate(address, worker.identity);
    assert.equal(issued.at(-1)?.peer?.fingerprint, onDisk.info.fingerprint);
  } finally {
    renewal?.stop();
    fresh.close();
    session.close();
  }
});

test('before its renewal window (by the injected clock) nothing is renewed', async () => {
  // Issued 50 min ago: by the real clock it is 110 min into its 2 h, past the window; only the loop's clock says otherwise.
  const worker = await shortLivedWorker(50 * MINUTE);
  assert.ok(Date.now() > renewalTime(worker.info, 1).getTime());
  const asked = issued.length;
  // A minute before the earliest point of the window (50 % of the lifetime).
  const beforeWindow = renewalTime(worker.info, 0).getTime() - MINUTE;
  const renewal = startCertRenewal({
    stateDir: worker.stateDir,
    identity: worker.identity,
    manager: () => address,
    now: () => beforeWindow,
  });
  try {
    await new Promise((resolve) => setTimeout(resolve, 300));
  } finally {
    renewal.stop();
  }
  assert.equal(issued.length, asked, 'the CA was not asked');
  assert.deepEqual(worker.identity.material, worker.material);
  assert.equal((await readNodeCertificates(worker.stateDir)).certPem, worker.material.certPem);
});
