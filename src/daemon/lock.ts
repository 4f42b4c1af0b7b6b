// A manager's secret files under autolock: which they are, whether they are locked, and rewrapping
// them all when the unlock key changes (autolock turned on or off, key rotated). Each file is
// replaced atomically; the node key goes last, so a node key that opens with a key means every
// other file was written with it too (unless the crash came in between: see ARCHITECTURE.md).
import { readFile } from 'node:fs/promises';
import { certificatePaths, writeFileAtomic } from '../ca/store.js';
import { memberPaths } from '../etcd/supervisor.js';
import { memberTLSPaths } from '../etcd/tls.js';
import { isWrapped, unwrapSecret, wrapSecret } from '../lib/keyring.js';

/** Every secret file of a node's state dir, the node key last. */
export function secretFiles(stateDir: string): string[] {
  const etcd = memberTLSPaths(memberPaths(stateDir).tlsDir);
  const certs = certificatePaths(stateDir);
  return [etcd.caKey, etcd.serverKey, etcd.peerKey, etcd.clientKey, certs.dataKey, certs.nodeKey];
}

async function readIfThere(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** A manager whose node key is wrapped boots locked: nothing runs until `swarm unlock`. */
export async function nodeKeyLocked(stateDir: string): Promise<boolean> {
  const text = await readIfThere(certificatePaths(stateDir).nodeKey);
  return text !== undefined && isWrapped(text);
}

/** Checks that `key` opens the node key (the unlock attempt); throws Docker's invalid-key error otherwise. */
export async function checkUnlockKey(stateDir: string, key: Buffer): Promise<void> {
  const text = await readIfThere(certificatePaths(stateDir).nodeKey);
  if (text !== undefined) unwrapSecret(text, key);
}

/** Rewrites every secret file from `from` (undefined: clear) to `to` (undefined: clear). */
export async function rewrapSecrets(
  stateDir: string,
  from: Buffer | undefined,
  to: Buffer | undefined,
): Promise<void> {
  for (const path of secretFiles(stateDir)) {
    const text = await readIfThere(path);
    if (text === undefined) continue;
    let clear = text;
    if (isWrapped(text)) {
      if (!from) throw new Error(`${path} is wrapped and no unlock key is known`);
      clear = unwrapSecret(text, from);
    }
    const next = to ? wrapSecret(clear, to) : clear;
    if (next !== text) await writeFileAtomic(path, next, 0o600);
  }
}
