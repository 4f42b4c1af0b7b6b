// Root CA rotation, the pure parts: the cross-signed chain, a node's TLSInfo, a given root's checks,
// a node's step (renew, trust the new root) and the leader's convergence and finish.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newId } from '../../src/api/ids.js';
import type { Cluster, Node } from '../../src/api/types.js';
import {
  checkGivenRootCA,
  createNodeCredentials,
  createRootCA,
  crossSignRoot,
  nodeTLSInfo,
  publicKeyOf,
  rootTLSInfo,
  verifyNodeCertificateSignature,
} from '../../src/ca/certificates.js';
import { rotationStep } from '../../src/ca/renewal.js';
import { checkRemoteRootCA } from '../../src/ca/tokens.js';
import { finishRotation, rotationConverged } from '../../src/manager/rootca.js';

const identity = () => ({ nodeId: newId(), role: 'worker' as const, clusterId: newId() });

test('a certificate of the new key chains to the old root through the cross-signed root, and to the new root directly', async () => {
  const oldRoot = await createRootCA();
  const newRoot = await createRootCA();
  const cross = await crossSignRoot(oldRoot, newRoot.certPem);
  const creds = await createNodeCredentials({ ...newRoot, chainPem: cross }, identity());
  assert.doesNotThrow(() => verifyNodeCertificateSignature(creds.certPem, oldRoot.certPem));
  assert.doesNotThrow(() => verifyNodeCertificateSignature(creds.certPem, newRoot.certPem));
  // Without the chain, the old root alone does not vouch for the new key.
  const leafOnly = await createNodeCredentials(newRoot, identity());
  assert.throws(() => verifyNodeCertificateSignature(leafOnly.certPem, oldRoot.certPem), /not signed/);
  // A chain that is not a CA signed by the root does not help an intruder either.
  const intruder = await createRootCA();
  const forged = await createNodeCredentials({ ...intruder, chainPem: newRoot.certPem }, identity());
  assert.throws(() => verifyNodeCertificateSignature(forged.certPem, oldRoot.certPem), /not signed/);
});

test("a node's TLSInfo names its issuer: the new root's key once renewed during a rotation", async () => {
  const oldRoot = await createRootCA();
  const newRoot = await createRootCA();
  const cross = await crossSignRoot(oldRoot, newRoot.certPem);
  const before = await createNodeCredentials(oldRoot, identity());
  const after = await createNodeCredentials({ ...newRoot, chainPem: cross }, identity());
  assert.deepEqual(
    nodeTLSInfo({ rootCertPem: oldRoot.certPem, certPem: before.certPem }),
    rootTLSInfo(oldRoot.certPem),
  );
  const info = nodeTLSInfo({ rootCertPem: oldRoot.certPem, certPem: after.certPem });
  assert.equal(info.TrustRoot, oldRoot.certPem);
  assert.equal(info.CertIssuerPublicKey, publicKeyOf(newRoot.certPem));
  // Same subject as Docker compares it (raw DER), both roots being CN=swarm-ca.
  assert.equal(info.CertIssuerSubject, rootTLSInfo(newRoot.certPem).CertIssuerSubject);
});

test('a given root CA is checked: its own key, P-256, valid a year, one certificate', async () => {
  const a = await createRootCA();
  const b = await createRootCA();
  assert.deepEqual(checkGivenRootCA(a.certPem, a.keyPem), a);
  assert.throws(() => checkGivenRootCA(a.certPem, b.keyPem), /does not match/);
  assert.throws(() => checkGivenRootCA(a.certPem + b.certPem, a.keyPem), /exactly one certificate/);
  assert.throws(() => checkGivenRootCA(a.certPem, 'not a key'), /invalid CA key/);
  const inTwentyYears = new Date(Date.now() + 20 * 365 * 24 * 3600_000);
  assert.throws(() => checkGivenRootCA(a.certPem, a.keyPem, inTwentyYears), /less than a year/);
});

test("a node's step: renew when another key signs, take the new root once it chains to it", () => {
  const current = { rootCertPem: 'OLD', issuerPublicKey: 'old-key' };
  assert.equal(
    rotationStep(current, undefined, () => true),
    'none',
  );
  assert.equal(
    rotationStep(current, { rootCA: 'OLD', issuerPublicKey: 'old-key' }, () => true),
    'none',
  );
  assert.equal(
    rotationStep(current, { rootCA: 'OLD', issuerPublicKey: 'new-key' }, () => false),
    'renew',
  );
  const renewed = { rootCertPem: 'OLD', issuerPublicKey: 'new-key' };
  assert.equal(
    rotationStep(renewed, { rootCA: 'NEW', issuerPublicKey: 'new-key' }, (r) => r === 'NEW'),
    'trust-root',
  );
  // A certificate that does not chain to the new root is renewed first.
  assert.equal(
    rotationStep(current, { rootCA: 'NEW', issuerPublicKey: 'new-key' }, () => false),
    'renew',
  );
});

test('the leader finishes once every node reports the new issuer: new root, new tokens, rotation gone', async () => {
  const oldRoot = await createRootCA();
  const newRoot = await createRootCA();
  const cross = await crossSignRoot(oldRoot, newRoot.certPem);
  const cluster = {
    TLSInfo: rootTLSInfo(oldRoot.certPem),
    RootRotationInProgress: true,
    RootRotation: { CACert: newRoot.certPem, CrossSignedCACert: cross },
    JoinTokens: { Worker: 'w', Manager: 'm' },
  } as unknown as Cluster;
  const node = (key: string) =>
    ({ Description: { TLSInfo: { CertIssuerPublicKey: key } } }) as unknown as Node;
  const newKey = publicKeyOf(newRoot.certPem);
  assert.equal(rotationConverged(cluster, [node(newKey), node(publicKeyOf(oldRoot.certPem))]), false);
  assert.equal(rotationConverged(cluster, [node(newKey), node(newKey)]), true);
  const now = new Date('2026-12-07T12:00:00Z');
  const done = finishRotation(cluster, now);
  assert.equal(done.RootRotation, undefined);
  assert.equal(done.RootRotationInProgress, false);
  assert.deepEqual(done.TLSInfo, rootTLSInfo(newRoot.certPem));
  assert.doesNotThrow(() => checkRemoteRootCA(done.JoinTokens.Worker, newRoot.certPem));
  assert.throws(() => checkRemoteRootCA(done.JoinTokens.Worker, oldRoot.certPem));
  assert.deepEqual(done.JoinTokensIssuedAt, { Worker: now.toISOString(), Manager: now.toISOString() });
});
