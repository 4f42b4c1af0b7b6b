// Specification of join token expiry (ours, beyond Docker): a token admits nodes for the cluster's
// JoinTokenTTL after it was made; no TTL, or a token without an issue time, never expires.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { SwarmError } from '../../src/api/errors.js';
import {
  expiredJoinTokenMessage,
  joinTokenExpiries,
  tokenExpiry,
  validateJoinTokenTTL,
} from '../../src/ca/tokens.js';

const HOUR_NS = 3600e9;

test('a token expires its TTL after it was made', () => {
  assert.equal(
    tokenExpiry('2030-01-01T00:00:00.000Z', 24 * HOUR_NS)?.toISOString(),
    '2030-01-02T00:00:00.000Z',
  );
  assert.equal(tokenExpiry('2030-01-01T00:00:00.000Z', 90e9)?.toISOString(), '2030-01-01T00:01:30.000Z');
});

test('no TTL, a zero TTL or a token without an issue time never expires', () => {
  assert.equal(tokenExpiry('2030-01-01T00:00:00.000Z', undefined), undefined);
  assert.equal(tokenExpiry('2030-01-01T00:00:00.000Z', 0), undefined);
  assert.equal(tokenExpiry(undefined, 24 * HOUR_NS), undefined);
});

test('expiry is issue time plus TTL for any time and TTL, to the millisecond', () => {
  fc.assert(
    fc.property(
      fc.date({
        min: new Date('2000-01-01T00:00:00Z'),
        max: new Date('2100-01-01T00:00:00Z'),
        noInvalidDate: true,
      }),
      fc.integer({ min: 60, max: 10 * 365 * 24 * 3600 }),
      (issued, ttlSeconds) => {
        const expiry = tokenExpiry(issued.toISOString(), ttlSeconds * 1e9);
        assert.equal(expiry?.getTime(), issued.getTime() + ttlSeconds * 1000);
      },
    ),
  );
});

test("each role's token expires from its own issue time; a cluster from before TTLs never expires", () => {
  const ttl = { JoinTokenTTL: HOUR_NS };
  const expiries = joinTokenExpiries({
    ...ttl,
    JoinTokensIssuedAt: { Worker: '2030-01-01T00:00:00.000Z', Manager: '2030-01-01T05:00:00.000Z' },
  });
  assert.equal(expiries.worker?.toISOString(), '2030-01-01T01:00:00.000Z');
  assert.equal(expiries.manager?.toISOString(), '2030-01-01T06:00:00.000Z');
  assert.deepEqual(joinTokenExpiries(ttl), { worker: undefined, manager: undefined });
  assert.deepEqual(
    joinTokenExpiries({ ...ttl, JoinTokensIssuedAt: { Worker: '2030-01-01T00:00:00.000Z' } }).manager,
    undefined,
    'a manager token never rotated since the upgrade has no issue time',
  );
});

test('a TTL is 0 (never) or a whole number of nanoseconds of at least a minute', () => {
  assert.equal(validateJoinTokenTTL(0), 0);
  assert.equal(validateJoinTokenTTL(60e9), 60e9);
  assert.equal(validateJoinTokenTTL(24 * HOUR_NS), 24 * HOUR_NS);
  const refused = (message: RegExp) => (err: unknown) =>
    err instanceof SwarmError &&
    err.code === 'INVALID_ARGUMENT' &&
    err.httpStatus === 400 &&
    message.test(err.message);
  assert.throws(() => validateJoinTokenTTL(59e9), refused(/^join token TTL must be at least 1m0s$/));
  assert.throws(() => validateJoinTokenTTL(1), refused(/at least 1m0s/));
  for (const bad of [-1, -60e9, 1.5e9 + 0.5, Number.NaN, 1e300])
    assert.throws(() => validateJoinTokenTTL(bad), refused(/^invalid join token TTL/), String(bad));
});

test('the expired-token message names the role to rotate and nothing of the token', () => {
  assert.equal(
    expiredJoinTokenMessage('worker'),
    'join token has expired: run "swarm join-token --rotate worker" on a manager for a new one',
  );
  assert.match(expiredJoinTokenMessage('manager'), /--rotate manager"/);
});
