// Test fixtures for the runc executor: a busybox layer built from /bin/busybox, an image resolver
// over it, a runtime in a temp state dir, and a census of everything a runtime may leave on the host.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { notFound } from '../../src/api/errors.js';
import { ContainerRuntime, type RuntimeOptions } from '../../src/executor/runc/runtime.js';
import type { ImageConfig, ImageResolver, ResolvedImage } from '../../src/executor/types.js';
import { setLogSink } from '../../src/lib/log.js';

setLogSink(() => undefined);

/** A busybox root filesystem layer (busybox-static + applet symlinks + passwd/group). */
export function buildBusyboxLayer(dir: string): string {
  for (const d of [
    'bin',
    'sbin',
    'usr/bin',
    'usr/sbin',
    'etc',
    'proc',
    'sys',
    'dev',
    'tmp',
    'run',
    'root',
    'home/app',
  ]) {
    mkdirSync(join(dir, d), { recursive: true });
  }
  copyFileSync('/bin/busybox', join(dir, 'bin/busybox'));
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  execFileSync('chroot', [dir, '/bin/busybox', '--install', '-s']);
  writeFileSync(
    join(dir, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n',
  );
  writeFileSync(join(dir, 'etc/group'), 'root:x:0:\napp:x:1000:\nextra:x:2000:app\n');
  chmodSync(join(dir, 'tmp'), 0o1777);
  return dir;
}

/** Images by name over prebuilt layer dirs (stands in for src/executor/images until it lands). */
export class StaticImages implements ImageResolver {
  constructor(private readonly images: Record<string, { layers: string[]; config?: ImageConfig }>) {}
  async resolve(ref: string): Promise<ResolvedImage> {
    const img = this.images[ref];
    if (!img) throw notFound(`No such image: ${ref}`);
    return {
      id: `sha256:${Buffer.from(ref).toString('hex').padEnd(64, '0').slice(0, 64)}`,
      config: img.config ?? {},
      layers: img.layers,
    };
  }
}

export interface Harness {
  dir: string;
  stateDir: string;
  prefix: string;
  layer: string;
  images: StaticImages;
  runtime: ContainerRuntime;
}

/** A fresh temp dir (/tmp/skt-exec-*), a busybox image "bb", and a runtime with a unique runc prefix. */
export async function makeHarness(
  extraImages: Record<string, { layers: string[]; config?: ImageConfig }> = {},
  options: Partial<RuntimeOptions> = {},
): Promise<Harness> {
  const dir = mkdtempSync('/tmp/skt-exec-');
  const layer = buildBusyboxLayer(join(dir, 'layers', 'busybox'));
  const images = new StaticImages({
    bb: { layers: [layer], config: { Env: ['FROM_IMAGE=1'], Cmd: ['sh'] } },
    ...extraImages,
  });
  const stateDir = join(dir, 'state');
  const prefix = `skt-test-${randomBytes(3).toString('hex')}-`;
  const runtime = new ContainerRuntime({ stateDir, images, namePrefix: prefix, ...options });
  await runtime.adopt();
  return { dir, stateDir, prefix, layer, images, runtime };
}

/** Ends a harness: the runtime stops watching, every container goes, then whatever is left is scrubbed. */
export async function destroyHarness(h: Harness): Promise<void> {
  h.runtime.close();
  for (const c of h.runtime.list()) await h.runtime.remove(c.Id, { force: true }).catch(() => undefined);
  scrub(h);
}

/** Everything of ours still on the host: mounts under the dir, cgroup dirs, conmon processes, runc state. */
export function census(h: { dir: string; prefix: string; stateDir: string }): {
  mounts: string[];
  cgroups: string[];
  conmons: number[];
  bundles: string[];
} {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(`${h.dir}/`));
  const cgroups: string[] = [];
  for (const hier of readdirSync('/sys/fs/cgroup')) {
    // The shared /skt parent must go too once nobody uses it (another suite may, concurrently).
    if (
      existsSync(join('/sys/fs/cgroup', hier, 'skt')) &&
      readdirSync(join('/sys/fs/cgroup', hier, 'skt'), { withFileTypes: true }).every((e) => !e.isDirectory())
    ) {
      cgroups.push(`${hier}/skt`);
    }
    try {
      for (const n of readdirSync(join('/sys/fs/cgroup', hier, 'skt')))
        if (n.startsWith(h.prefix)) cgroups.push(`${hier}/skt/${n}`);
    } catch {
      // hierarchy without an skt dir
    }
  }
  const conmons: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (cmd.startsWith('/usr/bin/conmon') && cmd.includes(h.prefix)) conmons.push(Number(p));
    } catch {
      // process went away
    }
  }
  const bundles: string[] = [];
  for (const d of [join(h.stateDir, 'containers'), join(h.stateDir, 'exec', 'bundles')]) {
    try {
      bundles.push(...readdirSync(d));
    } catch {
      // not created yet
    }
  }
  return { mounts, cgroups, conmons, bundles };
}

/** Last-resort cleanup for a failed test: kill our conmons and containers, unmount, rmdir cgroups, rm dir. */
export function scrub(h: { dir: string; prefix: string; stateDir: string }): void {
  const root = join(h.stateDir, 'exec', 'runc');
  try {
    const list: { id: string }[] =
      JSON.parse(execFileSync('runc', ['--root', root, 'list', '-f', 'json']).toString() || 'null') ?? [];
    for (const c of list) execFileSync('runc', ['--root', root, 'delete', '-f', c.id], { stdio: 'ignore' });
  } catch {
    // nothing to delete
  }
  const c = census(h);
  for (const pid of c.conmons) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  for (const m of c.mounts.sort((a, b) => b.length - a.length)) {
    try {
      execFileSync('umount', ['-l', m], { stdio: 'ignore' });
    } catch {
      // not mounted
    }
  }
  for (const cg of c.cgroups) {
    try {
      rmSync(join('/sys/fs/cgroup', cg), { recursive: false, force: true });
    } catch {
      try {
        execFileSync('rmdir', [join('/sys/fs/cgroup', cg)], { stdio: 'ignore' });
      } catch {
        // busy
      }
    }
  }
  rmSync(h.dir, { recursive: true, force: true });
}

/** Polls until `fn` is true (bounded). */
export async function until(
  fn: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
