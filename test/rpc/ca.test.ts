// Specification of the CA over gRPC with mutual TLS, on 127.0.0.1 ephemeral ports: joining by token,
// the digest check, renewal by certificate, and who counts as an authenticated peer.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SwarmError } from '../../src/api/errors.js';
import { newId } from '../../src/api/ids.js';
import {
  createNodeCredentials,
  createRootCA,
  keyMatchesCertificate,
  type NodeCertificateInfo,
  type RootCA,
  verifyNodeCertificate,
} from '../../src/ca/certificates.js';
import { createNodeIssuer } from '../../src/ca/issuer.js';
import { caDigest, generateJoinToken } from '../../src/ca/tokens.js';
import {
  fetchRootCA,
  joinSwarm,
  renewNodeCertificate,
  requestNodeCertificate,
} from '../../src/rpc/ca-client.js';
import { type CABackend, caService, type IssueNodeCertificateRequest } from '../../src/rpc/ca-service.js';
import { type RunningRpcServer, startRpcServer } from '../../src/rpc/server.js';
import { NodeTLSIdentity, serverCredentials } from '../../src/rpc/tls.js';

const clusterId = newId();
let root: RootCA;
let otherRoot: RootCA;
let tokens: { worker: string; manager: string };
let server: RunningRpcServer;
let address: string;
const seen: IssueNodeCertificateRequest[] = [];

function failsWith(code: SwarmError['code'], message?: string | RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof SwarmError, `expected a SwarmError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (typeof message === 'string') assert.equal(err.message, message);
    else if (message) assert.match(err.message, message);
    return true;
  };
}

async function startCA(rootCA: RootCA, role: 'manager' | 'worker' = 'manager'): Promise<RunningRpcServer> {
  const self = await createNodeCredentials(rootCA, { nodeId: newId(), role, clusterId });
  const issue = createNodeIssuer({ rootCA, clusterId, joinTokens: () => tokens });
  const backend: CABackend = {
    rootCACertificate: () => rootCA.certPem,
    issueNodeCertificate: async (request) => {
      seen.push(request);
      return issue(request);
    },
  };
  const identity = new NodeTLSIdentity({ rootCertPem: rootCA.certPem, ...self });
  return startRpcServer('127.0.0.1:0', serverCredentials(identity), [caService(backend)]);
}

before(async () => {
  [root, otherRoot] = await Promise.all([createRootCA(), createRootCA()]);
  tokens = { worker: generateJoinToken(root.certPem), manager: generateJoinToken(root.certPem) };
  server = await startCA(root);
  address = `127.0.0.1:${server.port}`;
});

after(async () => {
  await server?.stop(500);
});

test('a worker joins with the worker token: new node ID, worker role, this cluster, its own key', async () => {
  const joined = await joinSwarm(address, tokens.worker);
  assert.equal(joined.rootCertPem, root.certPem);
  assert.equal(joined.info.role, 'worker');
  assert.equal(joined.info.clusterId, clusterId);
  assert.match(joined.info.nodeId, /^[0-9a-z]{25}$/);
  assert.equal(verifyNodeCertificate(joined.certPem, root.certPem).nodeId, joined.info.nodeId);
  assert.ok(keyMatchesCertificate(joined.certPem, joined.keyPem));
  assert.equal(seen.at(-1)?.peer, null, 'a joiner has no identity yet');
  assert.equal(seen.at(-1)?.availability, 'active');
});

test('the manager token makes a manager; every join gets a fresh node ID', async () => {
  const a = await joinSwarm(address, tokens.manager, { availability: 'drain' });
  const b = await joinSwarm(address, tokens.manager);
  assert.equal(a.info.role, 'manager');
  assert.notEqual(a.info.nodeId, b.info.nodeId);
  assert.equal(seen.at(-2)?.availability, 'drain');
});

test('a token for another CA stops the joiner before it sends anything else', async () => {
  const foreign = generateJoinToken(otherRoot.certPem);
  const before = seen.length;
  await assert.rejects(
    joinSwarm(address, foreign),
    failsWith(
      'INVALID_ARGUMENT',
      `remote CA does not match fingerprint. Expected: ${caDigest(otherRoot.certPem)}`,
    ),
  );
  assert.equal(seen.length, before, 'no certificate request reached the CA');
});

test('the right CA digest with a wrong secret is refused by the CA with SwarmKit wording', async () => {
  const guessed = generateJoinToken(root.certPem);
  assert.equal(await fetchRootCA(address, guessed), root.certPem, 'the digest part is right');
  await assert.rejects(
    joinSwarm(address, guessed),
    failsWith('INVALID_ARGUMENT', 'A valid join token is necessary to join this cluster'),
  );
});

test('a malformed request is refused before the CA sees it', async () => {
  await assert.rejects(
    requestNodeCertificate(address, root.certPem, { csrPem: '', token: tokens.worker }),
    failsWith('INVALID_ARGUMENT', /^invalid request/),
  );
  await assert.rejects(
    requestNodeCertificate(address, root.certPem, { csrPem: 'not a CSR', token: tokens.worker }),
    failsWith('INVALID_ARGUMENT', /^invalid CSR/),
  );
});

test('a node renews over mutual TLS: same node ID and role, new key, and the CA saw its certificate', async () => {
  const joined = await joinSwarm(address, tokens.worker);
  const identity = new NodeTLSIdentity(joined);
  const renewed = await renewNodeCertificate(address, identity);
  assert.equal(renewed.info.nodeId, joined.info.nodeId);
  assert.equal(renewed.info.role, 'worker');
  assert.notEqual(renewed.keyPem, joined.keyPem);
  const peer: NodeCertificateInfo | null | undefined = seen.at(-1)?.peer;
  assert.equal(peer?.nodeId, joined.info.nodeId);
  assert.equal(peer?.fingerprint, joined.info.fingerprint);
  // The renewed material takes over in place, and the next renewal presents it.
  identity.update({ rootCertPem: root.certPem, certPem: renewed.certPem, keyPem: renewed.keyPem });
  await renewNodeCertificate(address, identity);
  assert.equal(seen.at(-1)?.peer?.fingerprint, renewed.info.fingerprint);
});

test('a certificate from another root is no identity: the CA treats the caller as a joiner without a token', async () => {
  const intruder = await createNodeCredentials(otherRoot, { nodeId: newId(), role: 'manager', clusterId });
  // The intruder trusts the real root (so it accepts the server) but presents a foreign certificate.
  const identity = new NodeTLSIdentity({ rootCertPem: root.certPem, ...intruder });
  await assert.rejects(
    renewNodeCertificate(address, identity),
    failsWith('INVALID_ARGUMENT', 'A valid join token is necessary to join this cluster'),
  );
  assert.equal(seen.at(-1)?.peer, null);
});

test('a joiner refuses a CA server that does not chain to the root it fetched', async () => {
  await assert.rejects(
    requestNodeCertificate(
      address,
      otherRoot.certPem,
      { csrPem: 'x', token: tokens.worker },
      { timeoutMs: 3000 },
    ),
    failsWith('UNAVAILABLE', /self[- ]signed|unable to verify/i),
  );
});

test('a worker certificate cannot serve the CA: joiners require the swarm-ca name', async () => {
  const workerServer = await startCA(root, 'worker');
  try {
    await assert.rejects(
      joinSwarm(`127.0.0.1:${workerServer.port}`, tokens.worker, { timeoutMs: 3000 }),
      failsWith('UNAVAILABLE', /altnames|Hostname/),
    );
  } finally {
    await workerServer.stop(500);
  }
});
