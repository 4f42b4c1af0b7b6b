// Specification of autolock unlock keys: SWMKEY-1- plus 32 bytes in unpadded base64.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { SwarmError } from '../../src/api/errors.js';
import { formatUnlockKey, generateUnlockKey, parseUnlockKey } from '../../src/ca/unlock-key.js';

test('unlock keys are SWMKEY-1- and 43 base64 characters, all different', () => {
  const keys = Array.from({ length: 200 }, generateUnlockKey);
  for (const key of keys) assert.match(key, /^SWMKEY-1-[A-Za-z0-9+/]{43}$/);
  assert.equal(new Set(keys).size, keys.length);
});

test('any 32 bytes round-trip through the human-readable form', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) =>
      parseUnlockKey(formatUnlockKey(bytes)).equals(Buffer.from(bytes)),
    ),
  );
});

test('anything else is "invalid key string"', () => {
  const valid = generateUnlockKey();
  const samples = [
    '',
    valid.slice(0, -1),
    `${valid}A`,
    `${valid}=`,
    valid.replace('SWMKEY-1-', 'SWMKEY-2-'),
    valid.replace('SWMKEY-1-', ''),
    `${valid.slice(0, -1)}!`,
  ];
  fc.assert(
    fc.property(fc.oneof(fc.constantFrom(...samples), fc.string({ maxLength: 60 })), (s) => {
      assert.throws(
        () => parseUnlockKey(s),
        (err: unknown) => err instanceof SwarmError && err.message === 'invalid key string',
      );
    }),
  );
});
