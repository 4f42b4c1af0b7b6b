// Last-resort cleanup of a benchmark's runtime: whatever the runtime's own remove() could not take
// away (after a crash mid-run) — conmon processes, runc state, mounts, cgroup dirs — found by the
// benchmark's unique prefix and temp dir, never by a broad pattern.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../src/lib/exec.js';

export interface ScrubTarget {
  /** The benchmark's temp dir: mounts below it are ours. */
  dir: string;
  /** runc --root of the runtime. */
  runcRoot: string;
  /** Unique runc id prefix, e.g. skt-bench-1a2b3c-. */
  prefix: string;
  /** cgroup v1 parent dir name (unique to the benchmark). */
  cgroupParent: string;
}

export async function scrubRuntime(t: ScrubTarget): Promise<string[]> {
  const done: string[] = [];
  const list = await run('runc', ['--root', t.runcRoot, 'list', '-q'], { okCodes: [0, 1] });
  for (const id of list.stdout.split('\n').filter((l) => l.startsWith(t.prefix))) {
    await run('runc', ['--root', t.runcRoot, 'delete', '-f', id], { okCodes: [0, 1] });
    done.push(`runc ${id}`);
  }
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmd.startsWith('/usr/bin/conmon') && cmd.includes(t.prefix)) {
        process.kill(Number(entry), 'SIGKILL');
        done.push(`conmon ${entry}`);
      }
    } catch {
      // gone
    }
  }
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(`${t.dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) {
    await run('umount', ['-l', m], { okCodes: [0, 32] });
    done.push(`mount ${m}`);
  }
  for (const h of readdirSync('/sys/fs/cgroup')) {
    const parent = join('/sys/fs/cgroup', h, t.cgroupParent);
    let children: string[];
    try {
      children = readdirSync(parent, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch {
      continue;
    }
    for (const c of children) await run('rmdir', [join(parent, c)], { okCodes: [0, 1] });
    await run('rmdir', [parent], { okCodes: [0, 1] });
  }
  return done;
}
