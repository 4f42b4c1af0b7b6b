// Values sealed for the store with the cluster's data key (AES-256-GCM): what etcd's data dir holds
// of a sealed value is ciphertext, never the clear text. The key is shared by the managers only
// (handed over with the etcd CA when a manager joins) and kept in each manager's state dir.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { SwarmError } from '../api/errors.js';

const PREFIX = 'sealed:v1:';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A fresh data key (swarm init). */
export function newDataKey(): Buffer {
  return randomBytes(KEY_BYTES);
}

export function checkDataKey(key: Buffer): Buffer {
  if (key.length !== KEY_BYTES)
    throw new SwarmError('INVALID_ARGUMENT', `a data key is ${KEY_BYTES} bytes, not ${key.length}`);
  return key;
}

export function isSealed(value: string): boolean {
  return value.startsWith(PREFIX);
}

export function seal(key: Buffer, plaintext: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', checkDataKey(key), iv);
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
}

/** The clear text of a sealed value; a wrong key or a damaged value is INTERNAL, never garbage. */
export function unseal(key: Buffer, sealed: string): string {
  if (!isSealed(sealed)) throw new SwarmError('INTERNAL', 'value is not sealed');
  const raw = Buffer.from(sealed.slice(PREFIX.length), 'base64');
  if (raw.length < IV_BYTES + TAG_BYTES) throw new SwarmError('INTERNAL', 'sealed value is truncated');
  try {
    const decipher = createDecipheriv('aes-256-gcm', checkDataKey(key), raw.subarray(0, IV_BYTES));
    decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString(
      'utf8',
    );
  } catch {
    throw new SwarmError(
      'INTERNAL',
      'sealed value does not open with this data key (wrong key or damaged value)',
    );
  }
}
