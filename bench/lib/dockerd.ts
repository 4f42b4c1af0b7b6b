// A private Docker daemon for side-by-side figures (bench/stack.ts, bench/services.ts): Debian's
// dockerd, when installed, in a network namespace of its own (`skt-bench-dk-<rand>`, a veth pair
// inside it gives swarm an address), with its own data root, exec root, pid file and socket under
// /tmp/skt-bench-dk-<rand>. Without a bridge and iptables by default; with `networking: 'default'`
// its docker0 bridge and iptables rules live inside that namespace, so nothing of the host's is
// touched either way. Stopped, unmounted and removed by the cleanup stack, even when the benchmark
// fails.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { run } from '../../src/lib/exec.js';
import type { Cleanup } from './cleanup.js';

export const DOCKERD = '/usr/sbin/dockerd';

export interface PrivateDockerd {
  /** The socket, for DOCKER_HOST=unix://… */
  socket: string;
  dir: string;
  netns: string;
}

async function pidAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Starts dockerd (undefined when it is not installed) and makes it a one-node swarm. */
export async function startPrivateDockerd(
  cleanup: Cleanup,
  opts: { networking?: 'none' | 'default' } = {},
): Promise<PrivateDockerd | undefined> {
  if (!existsSync(DOCKERD)) return undefined;
  const id = randomBytes(3).toString('hex');
  const netns = `skt-bench-dk-${id}`;
  const dir = `/tmp/skt-bench-dk-${id}`;
  mkdirSync(dir, { recursive: true });
  cleanup.defer('private dockerd dir', () => run('rm', ['-rf', dir], { okCodes: [0, 1] }));
  await run('ip', ['netns', 'add', netns]);
  cleanup.defer('private dockerd netns', () => run('ip', ['netns', 'del', netns], { okCodes: [0, 1, 255] }));
  await run('ip', ['-n', netns, '-batch', '-'], {
    input:
      'link set lo up\nlink add dk0 type veth peer name dk1\naddr add 10.231.0.1/24 dev dk0\nlink set dk0 up\nlink set dk1 up\n',
  });
  writeFileSync(`${dir}/daemon.json`, JSON.stringify({ 'deprecated-key-path': `${dir}/key.json` }));
  const socket = `${dir}/sock`;
  const child = spawn(
    'nsenter',
    [
      `--net=/run/netns/${netns}`,
      DOCKERD,
      '--data-root',
      `${dir}/root`,
      '--exec-root',
      `${dir}/exec`,
      '--pidfile',
      `${dir}/pid`,
      '-H',
      `unix://${socket}`,
      '--config-file',
      `${dir}/daemon.json`,
      ...(opts.networking === 'default' ? [] : ['--iptables=false', '--ip6tables=false', '--bridge=none']),
    ],
    { stdio: 'ignore', detached: false },
  );
  cleanup.defer('private dockerd', async () => {
    const pid = Number((await readFile(`${dir}/pid`, 'utf8').catch(() => '')).trim()) || child.pid;
    if (pid) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // gone
      }
      for (let i = 0; i < 60 && (await pidAlive(pid)); i++) await new Promise((r) => setTimeout(r, 500));
    }
    // Whatever dockerd left mounted under its dir (overlay layers, netns bind mounts), deepest first.
    const mounts = (await readFile('/proc/mounts', 'utf8'))
      .split('\n')
      .map((l) => l.split(' ')[1] ?? '')
      .filter((m) => m.startsWith(dir))
      .sort()
      .reverse();
    for (const m of mounts) await run('umount', ['-l', m], { okCodes: [0, 1, 32] });
  });
  for (let i = 0; i < 60 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 250));
  const env = { ...process.env, DOCKER_HOST: `unix://${socket}` };
  for (let i = 0; i < 40; i++) {
    const v = await run('docker', ['version', '--format', '{{.Server.Version}}'], { env, okCodes: [0, 1] });
    if (v.code === 0) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  await run('docker', ['swarm', 'init', '--advertise-addr', '10.231.0.1'], { env });
  return { socket, dir, netns };
}
