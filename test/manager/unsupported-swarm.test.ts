// What this swarm refuses rather than stores and ignores (external CAs), and how
// a swarm update's CA fields decide a root rotation (start, cancel, nothing, or a clear error).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SwarmSpec } from '../../src/api/types.js';
import { createRootCA, rootTLSInfo } from '../../src/ca/certificates.js';
import { rootRotationRequest, unsupportedSwarmSpec } from '../../src/manager/controlapi/cluster.js';

const current: SwarmSpec = { Name: 'default', CAConfig: { NodeCertExpiry: 7_776_000e9, ForceRotate: 0 } };

test('autolock is no longer refused, at init and on update', () => {
  const on: SwarmSpec = { ...current, EncryptionConfig: { AutoLockManagers: true } };
  assert.equal(unsupportedSwarmSpec(on), undefined);
  assert.equal(unsupportedSwarmSpec(on, current), undefined);
});

test('external CAs are refused with what to do instead', () => {
  const next: SwarmSpec = {
    ...current,
    CAConfig: { ...current.CAConfig, ExternalCAs: [{ Protocol: 'cfssl', URL: 'https://ca.example' }] },
  };
  assert.match(
    unsupportedSwarmSpec(next, current)?.message ?? '',
    /^external CAs are not supported.*--ca-key/,
  );
});

test('everything else passes: the same spec, a new certificate expiry, a rotation, autolock left off', () => {
  assert.equal(unsupportedSwarmSpec(current, current), undefined);
  assert.equal(
    unsupportedSwarmSpec({ ...current, CAConfig: { NodeCertExpiry: 86_400e9 } }, current),
    undefined,
  );
  assert.equal(unsupportedSwarmSpec({ ...current, CAConfig: { ForceRotate: 1 } }, current), undefined);
  assert.equal(
    unsupportedSwarmSpec({ ...current, EncryptionConfig: { AutoLockManagers: false } }),
    undefined,
  );
});

test('root rotation: ForceRotate bumped makes a new root; the same spec does nothing', async () => {
  const root = await createRootCA();
  const cluster = { TLSInfo: rootTLSInfo(root.certPem) };
  assert.deepEqual(rootRotationRequest(current, current, cluster), { kind: 'none' });
  const bumped = { ...current, CAConfig: { ...current.CAConfig, ForceRotate: 1 } };
  assert.deepEqual(rootRotationRequest(bumped, current, cluster), { kind: 'generate' });
});

test('root rotation: a given root with its key starts one; the root in force cancels one under way', async () => {
  const root = await createRootCA();
  const next = await createRootCA();
  const idle = { TLSInfo: rootTLSInfo(root.certPem) };
  const given = { ...current, CAConfig: { SigningCACert: next.certPem, SigningCAKey: next.keyPem } };
  const r = rootRotationRequest(given, current, idle);
  assert.equal(r.kind, 'given');
  const rotating = { ...idle, RootRotation: { CACert: next.certPem, CrossSignedCACert: '' } };
  // The docker CLI sends the spec back with the certificate it gave and no key: nothing new.
  const again = { ...current, CAConfig: { SigningCACert: next.certPem } };
  assert.deepEqual(rootRotationRequest(again, current, rotating), { kind: 'none' });
  const back = { ...current, CAConfig: { SigningCACert: root.certPem } };
  assert.deepEqual(rootRotationRequest(back, current, rotating), { kind: 'cancel' });
  assert.deepEqual(rootRotationRequest(back, current, idle), { kind: 'none' });
});

test('root rotation: a certificate without its key, or a key alone, is a clear 400', async () => {
  const root = await createRootCA();
  const other = await createRootCA();
  const idle = { TLSInfo: rootTLSInfo(root.certPem) };
  assert.throws(
    () => rootRotationRequest({ ...current, CAConfig: { SigningCACert: other.certPem } }, current, idle),
    /needs its key \(--ca-key\)/,
  );
  assert.throws(
    () => rootRotationRequest({ ...current, CAConfig: { SigningCAKey: other.keyPem } }, current, idle),
    /needs its certificate \(--ca-cert\)/,
  );
});
