// Specification of the CA's issuing decision: join by token gets a new node ID; renewal keeps the peer's.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { SwarmError } from '../../src/api/errors.js';
import { newId } from '../../src/api/ids.js';
import {
  createNodeCredentials,
  createNodeKeyAndCSR,
  createRootCA,
  type NodeCertificateInfo,
  parseNodeCertificate,
  type RootCA,
} from '../../src/ca/certificates.js';
import { createNodeIssuer } from '../../src/ca/issuer.js';
import { generateJoinToken } from '../../src/ca/tokens.js';

const clusterId = newId();
let root: RootCA;
let tokens: { worker: string; manager: string };
let csrPem: string;
let workerPeer: NodeCertificateInfo;

before(async () => {
  root = await createRootCA();
  tokens = { worker: generateJoinToken(root.certPem), manager: generateJoinToken(root.certPem) };
  ({ csrPem } = await createNodeKeyAndCSR());
  const worker = await createNodeCredentials(root, { nodeId: newId(), role: 'worker', clusterId });
  workerPeer = parseNodeCertificate(worker.certPem);
});

test('a join by token gets a new node ID with the role of the token', async () => {
  const issue = createNodeIssuer({ rootCA: root, clusterId, joinTokens: () => tokens });
  const issued = await issue({ csrPem, token: tokens.manager, peer: null });
  assert.equal(issued.joined, true);
  assert.equal(issued.role, 'manager');
  assert.deepEqual(
    (({ nodeId, role, clusterId }) => ({ nodeId, role, clusterId }))(parseNodeCertificate(issued.certPem)),
    { nodeId: issued.nodeId, role: 'manager', clusterId },
  );
});

test('a renewal keeps the node ID and takes the role the cluster now gives the node', async () => {
  const issue = createNodeIssuer({
    rootCA: root,
    clusterId,
    joinTokens: () => tokens,
    renewalRole: async () => 'manager',
    validityMs: () => 2 * 3600_000,
  });
  const issued = await issue({ csrPem, token: '', peer: workerPeer });
  assert.equal(issued.joined, false);
  assert.equal(issued.nodeId, workerPeer.nodeId);
  assert.equal(parseNodeCertificate(issued.certPem).role, 'manager', 'a promoted worker renews as a manager');
  const info = parseNodeCertificate(issued.certPem);
  assert.equal(
    info.notAfter.getTime() - info.notBefore.getTime(),
    3 * 3600_000,
    '2 h plus the 1 h backdating',
  );
});

test('no token and no certificate, a rotated-out token, or another cluster get nothing', async () => {
  let current = tokens;
  const issue = createNodeIssuer({ rootCA: root, clusterId, joinTokens: () => current });
  const rejected = (err: unknown) =>
    err instanceof SwarmError && err.message === 'A valid join token is necessary to join this cluster';
  await assert.rejects(issue({ csrPem, token: '', peer: null }), rejected);
  current = { worker: generateJoinToken(root.certPem), manager: generateJoinToken(root.certPem) };
  await assert.rejects(issue({ csrPem, token: tokens.worker, peer: null }), rejected);
  await assert.rejects(
    issue({ csrPem, token: '', peer: { ...workerPeer, clusterId: newId() } }),
    (err: unknown) => err instanceof SwarmError && err.code === 'PERMISSION_DENIED',
  );
});

test('a token past its TTL is refused naming the role to rotate; a fresh one, or one without a TTL, admits', async () => {
  const issuedAt = '2030-01-01T00:00:00.000Z';
  let now = new Date('2030-01-01T23:59:59.000Z');
  let policy: { JoinTokenTTL?: number; JoinTokensIssuedAt?: { Worker?: string; Manager?: string } } = {
    JoinTokenTTL: 24 * 3600e9,
    JoinTokensIssuedAt: { Worker: issuedAt, Manager: '2030-01-01T12:00:00.000Z' },
  };
  const issue = createNodeIssuer({
    rootCA: root,
    clusterId,
    joinTokens: () => ({ ...tokens, policy }),
    now: () => now,
  });
  assert.equal(
    (await issue({ csrPem, token: tokens.worker, peer: null })).role,
    'worker',
    'a second to spare',
  );
  now = new Date('2030-01-02T00:00:00.000Z');
  await assert.rejects(
    issue({ csrPem, token: tokens.worker, peer: null }),
    (err: unknown) =>
      err instanceof SwarmError &&
      err.code === 'INVALID_ARGUMENT' &&
      err.message ===
        'join token has expired: run "swarm join-token --rotate worker" on a manager for a new one',
  );
  assert.equal(
    (await issue({ csrPem, token: tokens.manager, peer: null })).role,
    'manager',
    'the manager token was made later and still admits',
  );
  now = new Date('2030-01-02T12:00:00.000Z');
  await assert.rejects(issue({ csrPem, token: tokens.manager, peer: null }), /--rotate manager"/);
  policy = { JoinTokenTTL: 0, JoinTokensIssuedAt: policy.JoinTokensIssuedAt };
  assert.equal(
    (await issue({ csrPem, token: tokens.worker, peer: null })).joined,
    true,
    'TTL 0: never expires',
  );
});

test('an expired join token does not stop a node renewing with its certificate', async () => {
  const issue = createNodeIssuer({
    rootCA: root,
    clusterId,
    joinTokens: () => ({
      ...tokens,
      policy: { JoinTokenTTL: 60e9, JoinTokensIssuedAt: { Worker: '2000-01-01T00:00:00.000Z' } },
    }),
  });
  await assert.rejects(issue({ csrPem, token: tokens.worker, peer: null }), /join token has expired/);
  const renewed = await issue({ csrPem, token: '', peer: workerPeer });
  assert.equal(renewed.nodeId, workerPeer.nodeId);
});
