import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isId, newId, truncateId } from '../../src/api/ids.js';

test('new IDs are always 25 lowercase base36 characters and distinct', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 5000; i++) {
    const id = newId();
    assert.ok(isId(id), id);
    seen.add(id);
  }
  assert.equal(seen.size, 5000);
});

test('truncateId keeps the first 12 characters', () => {
  fc.assert(fc.property(fc.string({ minLength: 12 }), (s) => truncateId(s) === s.slice(0, 12)));
});
