// Specification of certificate renewal timing: a random moment between 50% and 80% of the lifetime.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { certificateExpired, renewalDue, renewalRandom, renewalTime } from '../../src/ca/renewal.js';

const DAY = 24 * 3600_000;
const notBefore = new Date('2030-01-01T00:00:00Z');
const ninetyDays = {
  notBefore,
  notAfter: new Date(notBefore.getTime() + 90 * DAY),
  fingerprint: 'ab'.repeat(32),
};
const at = (days: number) => new Date(notBefore.getTime() + days * DAY);

test('the window runs from 50% to 80% of the lifetime', () => {
  assert.deepEqual(renewalTime(ninetyDays, 0), at(45));
  assert.deepEqual(renewalTime(ninetyDays, 0.5), at(58.5));
  assert.ok(renewalTime(ninetyDays, 0.999999).getTime() <= at(72).getTime());
});

test('a certificate is never due before half its life and always due after 80%', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 3600, max: 20 * 365 * 86400 }),
      fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
      fc.double({ min: 0, max: 1.5, noNaN: true }),
      (lifetimeS, random, elapsed) => {
        const cert = {
          notBefore,
          notAfter: new Date(notBefore.getTime() + lifetimeS * 1000),
          fingerprint: '00',
        };
        const now = new Date(notBefore.getTime() + Math.floor(elapsed * lifetimeS * 1000));
        const due = renewalDue(cert, now, random);
        if (elapsed < 0.5) return !due;
        if (elapsed >= 0.8) return due;
        return due === now.getTime() >= renewalTime(cert, random).getTime();
      },
    ),
  );
});

test('once due, a certificate stays due as time passes', () => {
  fc.assert(
    fc.property(
      fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
      fc.nat(90),
      fc.nat(90),
      (r, a, b) => {
        const [early, late] = a <= b ? [a, b] : [b, a];
        return !renewalDue(ninetyDays, at(early), r) || renewalDue(ninetyDays, at(late), r);
      },
    ),
  );
});

test('by default each certificate gets its own fixed point in the window', () => {
  const points = Array.from({ length: 200 }, () => {
    const fingerprint = randomBytes(32).toString('hex');
    const r = renewalRandom(fingerprint);
    assert.ok(r >= 0 && r < 1, String(r));
    assert.equal(renewalRandom(fingerprint), r, 'the same certificate always gets the same point');
    return r;
  });
  assert.ok(Math.min(...points) < 0.2 && Math.max(...points) > 0.8, 'points spread over the window');
  assert.equal(renewalDue(ninetyDays, at(44)), false);
  assert.equal(renewalDue(ninetyDays, at(72)), true);
});

test('a certificate is expired only after notAfter', () => {
  assert.equal(certificateExpired(ninetyDays, at(90)), false);
  assert.equal(certificateExpired(ninetyDays, at(90.001)), true);
});
