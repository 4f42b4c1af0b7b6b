// Autolock unlock keys: "SWMKEY-1-" + unpadded base64 of a 32-byte key (SwarmKit's HumanReadableKey).
// Never log these: the key decrypts every manager's TLS key and data key.
import { randomBytes } from 'node:crypto';
import { invalidArgument } from '../api/errors.js';

export const UNLOCK_KEY_PREFIX = 'SWMKEY-1-';
export const UNLOCK_KEY_BYTES = 32;

const unlockKeyPattern = /^SWMKEY-1-[A-Za-z0-9+/]{43}$/;

/** The human-readable form of 32 key bytes, as `docker swarm unlock-key` prints it. */
export function formatUnlockKey(key: Uint8Array): string {
  if (key.length !== UNLOCK_KEY_BYTES) throw invalidArgument(`unlock keys are ${UNLOCK_KEY_BYTES} bytes`);
  return UNLOCK_KEY_PREFIX + Buffer.from(key).toString('base64').replace(/=+$/, '');
}

/** A fresh random unlock key in its human-readable form (52 characters). */
export function generateUnlockKey(): string {
  return formatUnlockKey(randomBytes(UNLOCK_KEY_BYTES));
}

/** The 32 key bytes of a human-readable unlock key; SwarmKit's "invalid key string" otherwise. */
export function parseUnlockKey(key: string): Buffer {
  if (!unlockKeyPattern.test(key)) throw invalidArgument('invalid key string');
  const bytes = Buffer.from(key.slice(UNLOCK_KEY_PREFIX.length), 'base64');
  // 43 characters carry 258 bits: only the encoding whose 2 spare bits are zero is the key's own.
  if (bytes.length !== UNLOCK_KEY_BYTES || formatUnlockKey(bytes) !== key)
    throw invalidArgument('invalid key string');
  return bytes;
}
