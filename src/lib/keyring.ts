// Secret files at rest (a node's private keys, a manager's data key and etcd member keys) under
// autolock: while this process holds a key-encryption key (the swarm's unlock key), secret files are
// written wrapped with it (a PEM private key as encrypted PKCS#8, any other text sealed with
// AES-256-GCM) and reading a wrapped file needs it. Without autolock files stay plain, as Docker's.
// The KEK lives in this process's memory only: a restarted manager is locked until it is given again.
import { createPrivateKey } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { SwarmError } from '../api/errors.js';
import { isSealed, seal, unseal } from './sealed.js';

const ENCRYPTED_PEM = '-----BEGIN ENCRYPTED PRIVATE KEY-----';
const PRIVATE_PEM = /-----BEGIN ([A-Z]+ )?PRIVATE KEY-----/;

/** Docker's words when a locked manager is used. */
export const LOCKED_MESSAGE =
  'Swarm is encrypted and needs to be unlocked before it can be used. Please use "docker swarm unlock" to unlock it.';

let kek: Buffer | undefined;

/** Sets (autolock on, or unlocked) or clears (autolock off) the key files are wrapped with. */
export function setKeyEncryptionKey(key: Buffer | undefined): void {
  kek = key ? Buffer.from(key) : undefined;
}

export function keyEncryptionKey(): Buffer | undefined {
  return kek;
}

/** True when the text is a secret wrapped with a KEK (it cannot be used without one). */
export function isWrapped(text: string): boolean {
  return text.includes(ENCRYPTED_PEM) || isSealed(text.trim());
}

/** Wraps a secret with `key`: PEM private keys stay PEM (encrypted PKCS#8), other text is sealed. */
export function wrapSecret(text: string, key: Buffer): string {
  if (isWrapped(text)) throw new SwarmError('INTERNAL', 'secret is wrapped already');
  if (PRIVATE_PEM.test(text))
    return createPrivateKey(text)
      .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: key })
      .toString();
  return `${seal(key, text)}\n`;
}

/** The clear text of a wrapped secret; the wrong key is UNAUTHENTICATED, never garbage. */
export function unwrapSecret(text: string, key: Buffer): string {
  if (!isWrapped(text)) return text;
  try {
    if (text.includes(ENCRYPTED_PEM))
      return createPrivateKey({ key: text, passphrase: key })
        .export({ type: 'pkcs8', format: 'pem' })
        .toString();
    return unseal(key, text.trim());
  } catch {
    throw new SwarmError('UNAUTHENTICATED', 'swarm could not be unlocked: invalid key provided');
  }
}

/** Reads a secret file, unwrapping it with the KEK when it is wrapped (LOCKED without one). */
export async function readSecretFile(path: string): Promise<string> {
  const text = await readFile(path, 'utf8');
  if (!isWrapped(text)) return text;
  if (!kek) throw new SwarmError('NOT_MANAGER', LOCKED_MESSAGE);
  return unwrapSecret(text, kek);
}

/** The text a secret file should hold now: wrapped while a KEK is set. */
export function secretAtRest(text: string): string {
  return kek ? wrapSecret(text, kek) : text;
}

/** Writes a secret file 0600, wrapped while a KEK is set. */
export async function writeSecretFile(path: string, text: string): Promise<void> {
  await writeFile(path, secretAtRest(text), { mode: 0o600 });
  await chmod(path, 0o600); // writeFile keeps the mode of an existing file
}
