// Thin host-side helpers: the overlay rootfs mount, mount enumeration, cgroup v1 dirs, pid checks.
import { readdir, readFile, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../lib/exec.js';

export const CGROUP_ROOT = '/sys/fs/cgroup';

/**
 * Mounts the overlay rootfs at `target`. Layers are reached through `dir`'s `l/<n>` symlinks (n = 0
 * for the bottom layer), the writable layer is `dir`'s upper/ and work/, and every path in the mount
 * data is relative to `dir` (mount runs with cwd = dir), so the data stays far below the kernel's
 * one-page (4096 B) limit however long the layer paths are: ~5 bytes a layer.
 */
export async function mountOverlay(dir: string, target: string, layerCount: number): Promise<void> {
  const lower = Array.from({ length: layerCount }, (_, i) => `l/${layerCount - 1 - i}`).join(':');
  await run(
    'mount',
    ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=upper,workdir=work`, target],
    {
      cwd: dir,
    },
  );
}

/** Unmounts; a target that is not mounted is fine. */
export async function unmount(target: string): Promise<void> {
  await run('umount', [target], { okCodes: [0, 32] });
}

/** One line of /proc/self/mountinfo: the mount point (octal escapes decoded), type and source. */
export interface MountEntry {
  mountPoint: string;
  fsType: string;
  source: string;
}

/** The entries of a /proc/self/mountinfo text. Pure. */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const [mountPart, sourcePart] = line.split(' - ');
    const mp = mountPart?.split(' ')[4];
    if (!mp) continue;
    const [fsType = '', source = ''] = sourcePart?.split(' ') ?? [];
    const mountPoint = mp.replace(/\\([0-7]{3})/g, (_, o: string) =>
      String.fromCharCode(Number.parseInt(o, 8)),
    );
    out.push({ mountPoint, fsType, source });
  }
  return out;
}

/** Mount points at or below `prefix`, deepest first (so they can be unmounted in order). */
export async function mountsUnder(prefix: string): Promise<string[]> {
  const base = prefix.endsWith('/') ? prefix : `${prefix}/`;
  return parseMountinfo(await readFile('/proc/self/mountinfo', 'utf8'))
    .map((m) => m.mountPoint)
    .filter((path) => path === prefix || path.startsWith(base))
    .sort((a, b) => b.length - a.length);
}

/** Every mounted hierarchy: the v1 controllers, name=systemd, and the (controller-less) unified one. */
export async function cgroupHierarchies(): Promise<string[]> {
  const out: string[] = [];
  for (const name of await readdir(CGROUP_ROOT).catch(() => [])) {
    const p = join(CGROUP_ROOT, name);
    const st = await stat(p).catch(() => undefined);
    if (st?.isDirectory()) out.push(p);
  }
  return out;
}

/** rmdir a cgroup dir and its children, leaf first. A cgroup with tasks stays (EBUSY): that is wanted. */
export async function removeCgroupTree(dir: string): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => undefined);
  if (!entries) return;
  for (const e of entries) if (e.isDirectory()) await removeCgroupTree(join(dir, e.name));
  await rmdir(dir).catch(() => undefined);
}

/** Removes <hierarchy>/<parent>/<name> in every hierarchy (runc delete leaves parents behind). */
export async function removeCgroup(parent: string, name: string): Promise<void> {
  for (const h of await cgroupHierarchies()) await removeCgroupTree(join(h, parent, name));
}

/** Names of the cgroup dirs under <hierarchy>/<parent> in any hierarchy. */
export async function cgroupChildren(parent: string): Promise<Set<string>> {
  const out = new Set<string>();
  for (const h of await cgroupHierarchies()) {
    for (const e of await readdir(join(h, parent), { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) out.add(e.name);
    }
  }
  return out;
}

/** memory.oom_control's `oom_kill` counter for a container's memory cgroup (0 if unreadable). */
export async function oomKillCount(parent: string, name: string): Promise<number> {
  const text = await readFile(join(CGROUP_ROOT, 'memory', parent, name, 'memory.oom_control'), 'utf8').catch(
    () => '',
  );
  const m = /^oom_kill (\d+)$/m.exec(text);
  return m ? Number(m[1]) : 0;
}

export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function readPid(path: string): Promise<number> {
  const text = await readFile(path, 'utf8').catch(() => '');
  const n = Number.parseInt(text.trim(), 10);
  return Number.isFinite(n) ? n : 0;
}
