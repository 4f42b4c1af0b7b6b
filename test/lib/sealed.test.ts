// Specification of sealed store values: AES-256-GCM under the cluster's data key; the clear text
// never shows in what is stored; a wrong key or any damage is an error, never garbage.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { SwarmError } from '../../src/api/errors.js';
import { isSealed, newDataKey, seal, unseal } from '../../src/lib/sealed.js';

const secret = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49\n-----END PRIVATE KEY-----\n';

test('a sealed value opens with its key and shows nothing of the clear text', () => {
  const key = newDataKey();
  const sealed = seal(key, secret);
  assert.ok(isSealed(sealed));
  assert.equal(sealed.includes('PRIVATE KEY'), false);
  assert.equal(unseal(key, sealed), secret);
  assert.notEqual(seal(key, secret), sealed, 'a fresh IV each time');
});

test('another key, a damaged value or a value that was never sealed is refused', () => {
  const key = newDataKey();
  const sealed = seal(key, secret);
  const refused = (e: unknown) => e instanceof SwarmError && e.code === 'INTERNAL';
  assert.throws(() => unseal(newDataKey(), sealed), refused);
  const flipped = `${sealed.slice(0, -4)}${sealed.at(-4) === 'A' ? 'B' : 'A'}${sealed.slice(-3)}`;
  assert.throws(() => unseal(key, flipped), refused);
  assert.throws(() => unseal(key, '{"certPem":"x"}'), refused);
  assert.throws(() => seal(Buffer.alloc(16), secret), /32 bytes/);
});

test('property: any text round-trips', () => {
  const key = newDataKey();
  fc.assert(fc.property(fc.string(), (s) => unseal(key, seal(key, s)) === s));
});
