// A registry GET is sent once more when a pooled connection turns out closed (pure check).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isStaleConnection } from '../../src/executor/images/registry.js';

test('socket errors and resets of a kept-alive connection are stale; refusals and timeouts are not', () => {
  const failed = (cause: object) => Object.assign(new TypeError('fetch failed'), { cause });
  assert.equal(isStaleConnection(failed({ code: 'UND_ERR_SOCKET', message: 'other side closed' })), true);
  assert.equal(isStaleConnection(failed({ code: 'ECONNRESET' })), true);
  assert.equal(isStaleConnection(failed({ message: 'other side closed' })), true);
  assert.equal(isStaleConnection(failed({ code: 'ECONNREFUSED' })), false);
  assert.equal(isStaleConnection(new DOMException('timed out', 'TimeoutError')), false);
  assert.equal(isStaleConnection(undefined), false);
});
