// Object IDs as SwarmKit makes them: 25 lowercase base36 characters (~129 random bits).
import { randomBytes } from 'node:crypto';

export const ID_LENGTH = 25;
const idPattern = /^[0-9a-z]{25}$/;

/** 17 random bytes with the top bit set, in base 36, leading character dropped: always 25 chars. */
export function newId(): string {
  const bytes = randomBytes(17);
  bytes[0] = (bytes[0] ?? 0) | 0x80;
  const n = BigInt(`0x${bytes.toString('hex')}`);
  return n.toString(36).slice(1).padStart(ID_LENGTH, '0').slice(-ID_LENGTH);
}

export function isId(s: string): boolean {
  return idPattern.test(s);
}

/** Docker's `TruncateID`: the first 12 characters. */
export function truncateId(id: string): string {
  return id.slice(0, 12);
}
