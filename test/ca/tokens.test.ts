// Specification of join tokens: Docker's SWMTKN-1 format, the CA digest a joiner checks, the role a token admits.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { before, test } from 'node:test';
import fc from 'fast-check';
import { SwarmError } from '../../src/api/errors.js';
import { createRootCA, type RootCA } from '../../src/ca/certificates.js';
import {
  caDigest,
  checkRemoteRootCA,
  generateJoinToken,
  parseJoinToken,
  roleForToken,
  verifyCADigest,
} from '../../src/ca/tokens.js';

const tokenFormat = /^SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}$/;
let root: RootCA;
let otherRoot: RootCA;

before(async () => {
  [root, otherRoot] = await Promise.all([createRootCA(), createRootCA()]);
});

function rejectsAs(message: string) {
  return (err: unknown) => {
    assert.ok(err instanceof SwarmError, String(err));
    assert.equal(err.code, 'INVALID_ARGUMENT');
    assert.equal(err.message, message);
    return true;
  };
}

test('a join token is SWMTKN-1, 50 base36 characters of CA digest, 25 of secret', () => {
  for (let i = 0; i < 200; i++) assert.match(generateJoinToken(root.certPem), tokenFormat);
});

test('the token digest is the SHA-256 of the root CA PEM, as SwarmKit computes it', () => {
  const parsed = parseJoinToken(generateJoinToken(root.certPem));
  assert.equal(parsed.version, 1);
  assert.equal(parsed.fips, false);
  assert.equal(parsed.caDigest, createHash('sha256').update(root.certPem).digest('hex'));
  assert.equal(parsed.caDigest, caDigest(root.certPem));
  assert.equal(
    caDigest(root.certPem.replaceAll('\n', '\r\n')),
    parsed.caDigest,
    'line endings do not matter',
  );
});

test('tokens for the same CA share the digest and never the secret', () => {
  const tokens = Array.from({ length: 500 }, () => generateJoinToken(root.certPem));
  assert.equal(new Set(tokens).size, tokens.length);
  assert.equal(new Set(tokens.map((t) => t.slice(0, 59))).size, 1);
});

test('verifyCADigest tells its own CA from another', () => {
  const token = generateJoinToken(root.certPem);
  assert.equal(verifyCADigest(token, root.certPem), true);
  assert.equal(verifyCADigest(token, otherRoot.certPem), false);
});

test('a joiner accepts exactly the CA its token names, not one with extra roots appended', () => {
  const token = generateJoinToken(root.certPem);
  checkRemoteRootCA(token, root.certPem);
  const expected = `remote CA does not match fingerprint. Expected: ${caDigest(root.certPem)}`;
  assert.throws(() => checkRemoteRootCA(token, otherRoot.certPem), rejectsAs(expected));
  assert.throws(() => checkRemoteRootCA(token, root.certPem + otherRoot.certPem), rejectsAs(expected));
  assert.throws(() => checkRemoteRootCA(token, 'not PEM'), rejectsAs(expected));
});

test('any digest and secret in range survive formatting and parsing', () => {
  fc.assert(
    fc.property(
      fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }),
      fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }),
      (d, s) => {
        const token = `SWMTKN-1-${d.toString(36).padStart(50, '0')}-${s.toString(36).padStart(25, '0')}`;
        const parsed = parseJoinToken(token);
        return parsed.caDigest === d.toString(16).padStart(64, '0') && parsed.secret === token.slice(-25);
      },
    ),
  );
});

test('the FIPS-aware v2 format parses with its flag', () => {
  const v1 = generateJoinToken(root.certPem);
  const rest = v1.slice('SWMTKN-1-'.length);
  assert.equal(parseJoinToken(`SWMTKN-2-1-${rest}`).fips, true);
  assert.equal(parseJoinToken(`SWMTKN-2-0-${rest}`).fips, false);
  assert.equal(parseJoinToken(`SWMTKN-2-0-${rest}`).caDigest, caDigest(root.certPem));
  assert.throws(() => parseJoinToken(`SWMTKN-2-2-${rest}`), rejectsAs('invalid join token'));
  assert.throws(() => parseJoinToken(`SWMTKN-2-${rest}`), rejectsAs('invalid join token'));
});

test('arbitrary strings are either well-formed tokens or "invalid join token"', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 120 }), (s) => {
      try {
        parseJoinToken(s);
        return tokenFormat.test(s) || /^SWMTKN-2-[01]-/.test(s);
      } catch (err) {
        return err instanceof SwarmError && err.message === 'invalid join token';
      }
    }),
  );
});

test('any single-character damage to a token makes it invalid', () => {
  const token = generateJoinToken(root.certPem);
  const damage = fc.oneof(
    fc.record({ kind: fc.constant('cut' as const), at: fc.integer({ min: 0, max: token.length - 1 }) }),
    fc.record({
      kind: fc.constant('replace' as const),
      at: fc.integer({ min: 0, max: token.length - 1 }),
      ch: fc.constantFrom('A', 'Z', '_', '.', ' ', '-', 'é'),
    }),
    fc.record({ kind: fc.constant('extend' as const), ch: fc.constantFrom('0', 'a', '-') }),
  );
  fc.assert(
    fc.property(damage, (d) => {
      const bad =
        d.kind === 'cut'
          ? token.slice(0, d.at) + token.slice(d.at + 1)
          : d.kind === 'replace'
            ? token.slice(0, d.at) + d.ch + token.slice(d.at + 1)
            : token + d.ch;
      if (bad === token) return true;
      assert.throws(() => parseJoinToken(bad), rejectsAs('invalid join token'));
      return true;
    }),
  );
});

test('a digest or secret beyond its bit width is invalid', () => {
  const z = 'z';
  assert.throws(
    () => parseJoinToken(`SWMTKN-1-${z.repeat(50)}-${'0'.repeat(25)}`),
    rejectsAs('invalid join token'),
  );
  assert.throws(
    () => parseJoinToken(`SWMTKN-1-${'0'.repeat(50)}-${z.repeat(25)}`),
    rejectsAs('invalid join token'),
  );
});

test('the manager token admits a manager, the worker token a worker, anything else nobody', () => {
  const tokens = { worker: generateJoinToken(root.certPem), manager: generateJoinToken(root.certPem) };
  assert.equal(roleForToken(tokens.manager, tokens), 'manager');
  assert.equal(roleForToken(tokens.worker, tokens), 'worker');
  const rejected = rejectsAs('A valid join token is necessary to join this cluster');
  assert.throws(() => roleForToken(generateJoinToken(root.certPem), tokens), rejected);
  assert.throws(() => roleForToken(tokens.worker.slice(0, -1), tokens), rejected);
  assert.throws(() => roleForToken('', { worker: '', manager: '' }), rejected);
});
