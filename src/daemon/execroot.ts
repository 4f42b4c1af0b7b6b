// The exec root: runtime state that is only true while the machine is up (OCI bundles, runc and
// conmon state, network attachments). It lives on tmpfs, as /run does on a systemd host: a reboot
// wipes it (no stale pid can be mistaken for a container), and it costs no disk inodes, which are
// a measurable part of starting a container on ext4 (ARCHITECTURE.md, "Speed"). A node outside any
// swarm, with no container left, unmounts it when it stops.
import { mkdir, readFile, statfs } from 'node:fs/promises';
import { parseMountinfo } from '../executor/runc/host.js';
import { run } from '../lib/exec.js';
import { createLogger } from '../lib/log.js';

const TMPFS_MAGIC = 0x01021994;
/** Bundles and state files are a few KiB a container; logs and writable layers stay on disk. */
const SIZE = '256m';
/** The mount's source name: how swarmd knows the tmpfs is its own. */
const SOURCE = 'swarmd-exec';
const log = createLogger({ component: 'daemon' });

/** Makes `dir` a tmpfs unless it already is one (a restarted swarmd finds its own mount). */
export async function ensureTmpfs(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if ((await statfs(dir)).type === TMPFS_MAGIC) return;
  await run('mount', ['-t', 'tmpfs', '-o', `mode=0700,size=${SIZE}`, SOURCE, dir]);
  log.info('exec root mounted on tmpfs', { dir, size: SIZE });
}

/** Whether `dir` is a tmpfs that ensureTmpfs mounted (its source is ours), not one found there. Pure. */
export function isOurTmpfs(mountinfo: string, dir: string): boolean {
  return parseMountinfo(mountinfo).some(
    (m) => m.mountPoint === dir && m.fsType === 'tmpfs' && m.source === SOURCE,
  );
}

/** Unmounts the exec root when swarmd mounted it (a node outside any swarm keeps nothing there). */
export async function releaseTmpfs(dir: string): Promise<void> {
  if (!isOurTmpfs(await readFile('/proc/self/mountinfo', 'utf8'), dir)) return;
  await run('umount', [dir]);
  log.info('exec root unmounted', { dir });
}
