// Secret files under autolock: wrapped with the unlock key while one is set, unreadable without it,
// the wrong key refused in Docker's words; rewrapping a state dir's files follows the key.
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { certificatePaths } from '../../src/ca/store.js';
import { checkUnlockKey, nodeKeyLocked, rewrapSecrets } from '../../src/daemon/lock.js';
import {
  isWrapped,
  readSecretFile,
  setKeyEncryptionKey,
  unwrapSecret,
  wrapSecret,
  writeSecretFile,
} from '../../src/lib/keyring.js';

const dir = mkdtempSync(join(tmpdir(), 'skt-keyring-'));
after(() => {
  setKeyEncryptionKey(undefined);
  rmSync(dir, { recursive: true, force: true });
});

const keyPem = () =>
  generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();

test('a private key and a data key wrap with the unlock key and open only with it', () => {
  const kek = randomBytes(32);
  const pem = keyPem();
  const wrapped = wrapSecret(pem, kek);
  assert.match(wrapped, /-----BEGIN ENCRYPTED PRIVATE KEY-----/);
  assert.ok(!wrapped.includes(pem.split('\n')[1] ?? 'x'));
  assert.equal(unwrapSecret(wrapped, kek), pem);
  assert.throws(
    () => unwrapSecret(wrapped, randomBytes(32)),
    /swarm could not be unlocked: invalid key provided/,
  );
  const data = `${randomBytes(32).toString('base64')}\n`;
  const sealed = wrapSecret(data, kek);
  assert.ok(isWrapped(sealed) && !sealed.includes(data.trim()));
  assert.equal(unwrapSecret(sealed, kek), data);
});

test('files are written wrapped while a key is set; reading one without it says the swarm is locked', async () => {
  const path = join(dir, 'one.key');
  const pem = keyPem();
  const kek = randomBytes(32);
  setKeyEncryptionKey(kek);
  await writeSecretFile(path, pem);
  assert.ok(isWrapped(readFileSync(path, 'utf8')));
  assert.equal(await readSecretFile(path), pem);
  setKeyEncryptionKey(undefined);
  await assert.rejects(readSecretFile(path), /Swarm is encrypted and needs to be unlocked/);
  await writeSecretFile(join(dir, 'plain.key'), pem);
  assert.equal(readFileSync(join(dir, 'plain.key'), 'utf8'), pem);
});

test("a state dir's secret files follow the key: wrapped, rewrapped, back in clear", async () => {
  const state = join(dir, 'state');
  const certs = certificatePaths(state);
  mkdirSync(certs.dir, { recursive: true });
  const nodeKey = keyPem();
  const data = `${randomBytes(32).toString('base64')}\n`;
  writeFileSync(certs.nodeKey, nodeKey);
  writeFileSync(certs.dataKey, data);
  assert.equal(await nodeKeyLocked(state), false);
  const k1 = randomBytes(32);
  const k2 = randomBytes(32);
  await rewrapSecrets(state, undefined, k1);
  assert.equal(await nodeKeyLocked(state), true);
  await checkUnlockKey(state, k1);
  await rewrapSecrets(state, k1, k2);
  await assert.rejects(checkUnlockKey(state, k1), /invalid key provided/);
  await checkUnlockKey(state, k2);
  await rewrapSecrets(state, k2, undefined);
  assert.equal(readFileSync(certs.nodeKey, 'utf8'), nodeKey);
  assert.equal(readFileSync(certs.dataKey, 'utf8'), data);
});
