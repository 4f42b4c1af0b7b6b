// What this swarm refuses rather than stores and ignores: turning autolock on and root CA rotation
// (ForceRotate bumped, a signing CA given, external CAs); the spec as it stands stays updatable.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SwarmSpec } from '../../src/api/types.js';
import { unsupportedSwarmSpec } from '../../src/manager/controlapi/cluster.js';

const current: SwarmSpec = { Name: 'default', CAConfig: { NodeCertExpiry: 7_776_000e9, ForceRotate: 0 } };

test('turning autolock on is refused with a clear message, at init and on update', () => {
  const on: SwarmSpec = { ...current, EncryptionConfig: { AutoLockManagers: true } };
  assert.match(unsupportedSwarmSpec(on)?.message ?? '', /^autolock is not supported by this swarm yet/);
  assert.match(unsupportedSwarmSpec(on, current)?.message ?? '', /autolock/);
  assert.equal(unsupportedSwarmSpec(on, current)?.httpStatus, 400);
});

test('root CA rotation in any form is refused', () => {
  for (const ca of [
    { ForceRotate: 1 },
    { SigningCACert: 'PEM', SigningCAKey: 'PEM' },
    { ExternalCAs: [{ Protocol: 'cfssl', URL: 'https://ca.example' }] },
  ]) {
    const next: SwarmSpec = { ...current, CAConfig: { ...current.CAConfig, ...ca } };
    assert.match(unsupportedSwarmSpec(next, current)?.message ?? '', /^root CA rotation is not supported/);
  }
});

test('everything else passes: the same spec, a new certificate expiry, autolock left off', () => {
  assert.equal(unsupportedSwarmSpec(current, current), undefined);
  assert.equal(
    unsupportedSwarmSpec({ ...current, CAConfig: { NodeCertExpiry: 86_400e9 } }, current),
    undefined,
  );
  assert.equal(
    unsupportedSwarmSpec({ ...current, EncryptionConfig: { AutoLockManagers: false } }),
    undefined,
  );
});
