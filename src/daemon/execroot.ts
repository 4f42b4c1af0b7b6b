// The exec root: runtime state that is only true while the machine is up (OCI bundles, runc and
// conmon state, network attachments). It lives on tmpfs, as /run does on a systemd host: a reboot
// wipes it (no stale pid can be mistaken for a container), and it costs no disk inodes, which are
// a measurable part of starting a container on ext4 (ARCHITECTURE.md, "Speed").
import { mkdir, statfs } from 'node:fs/promises';
import { run } from '../lib/exec.js';
import { createLogger } from '../lib/log.js';

const TMPFS_MAGIC = 0x01021994;
/** Bundles and state files are a few KiB a container; logs and writable layers stay on disk. */
const SIZE = '256m';
const log = createLogger({ component: 'daemon' });

/** Makes `dir` a tmpfs unless it already is one (a restarted swarmd finds its own mount). */
export async function ensureTmpfs(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if ((await statfs(dir)).type === TMPFS_MAGIC) return;
  await run('mount', ['-t', 'tmpfs', '-o', `mode=0700,size=${SIZE}`, 'swarmd-exec', dir]);
  log.info('exec root mounted on tmpfs', { dir, size: SIZE });
}
