// Runs a real swarmd for a benchmark inside the benchmark's own network namespace (nsenter --net,
// so the mount namespace stays the host's and container mounts remain visible), with a temp state
// dir, and takes it down with everything it started: services first (so the agent removes the
// containers), then swarmd and its etcd, then whatever a crash could have left.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../src/lib/exec.js';
import { apiCall } from '../../test/helpers/swarmd.js';
import type { Cleanup } from './cleanup.js';
import { scrubRuntime } from './containers.js';

const root = new URL('../../../', import.meta.url).pathname;

export interface BenchSwarmd {
  stateDir: string;
  socket: string;
  pid: number;
  logs(): string;
  /** Throws when swarmd has exited or its manager stepped down (a one-node swarm never gets it back). */
  check(): void;
}

/** The log line of a manager that lost leadership (src/store/election.ts logs every change). */
const LOST_LEADERSHIP = /"msg":"leadership changed"[^\n]*"isLeader":false/;

async function until(cond: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

/** The etcd that swarmd spawned (its pid file), if it still runs. */
function etcdPidOf(stateDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(stateDir, 'etcd', 'etcd.pid'), 'utf8').trim());
    return pid > 0 && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(stateDir) ? pid : undefined;
  } catch {
    return undefined;
  }
}

export async function startBenchSwarmd(
  cleanup: Cleanup,
  netns: string,
  extraArgs: readonly string[] = [],
): Promise<BenchSwarmd> {
  const stateDir = await mkdtemp('/tmp/skt-bench-svc-');
  cleanup.defer(`rm ${stateDir}`, () => rm(stateDir, { recursive: true, force: true }));
  // swarmd names its runc containers and cgroups after a hash of its state dir (src/daemon/daemon.ts).
  const tag = createHash('sha256').update(stateDir).digest('hex').slice(0, 6);
  cleanup.defer('scrub swarmd containers', async () => {
    const left = await scrubRuntime({
      dir: stateDir,
      runcRoot: join(stateDir, 'exec', 'runtime', 'runc'),
      prefix: `skt-${tag}-`,
      cgroupParent: `skt-${tag}`,
    });
    if (left.length > 0) console.error(`scrubbed ${left.length} swarmd leftovers (e.g. ${left[0]})`);
  });
  const socket = join(stateDir, 'swarmd.sock');
  let out = '';
  let lostLeadership = '';
  const child = spawn(
    'nsenter',
    [
      `--net=/run/netns/${netns}`,
      process.execPath,
      // SKT_BENCH_CPU_PROF=<dir>: swarmd writes a V8 CPU profile there when it stops.
      ...(process.env.SKT_BENCH_CPU_PROF
        ? ['--cpu-prof', `--cpu-prof-dir=${process.env.SKT_BENCH_CPU_PROF}`]
        : []),
      join(root, 'bin/swarmd'),
      '--state-dir',
      stateDir,
      '--listen-control-api',
      socket,
      '--listen-addr',
      '127.0.0.1:2377',
      '--hostname',
      'bench',
      ...extraArgs,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SWARMD_LOG_LEVEL: 'info' } },
  );
  const collect = (b: Buffer) => {
    const text = b.toString();
    if (!lostLeadership && LOST_LEADERSHIP.test(text))
      lostLeadership = LOST_LEADERSHIP.exec(text)?.[0] ?? 'x';
    out = (out + text).slice(-20_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  cleanup.defer('stop swarmd', async () => {
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited(child);
    clearTimeout(t);
    // A swarmd that had to be killed leaves its etcd running: its pid file names it.
    const etcd = etcdPidOf(stateDir);
    if (etcd !== undefined) process.kill(etcd, 'SIGKILL');
    // swarmd keeps its tmpfs exec root mounted across restarts; the benchmark is done with it.
    // Still busy (a container survived) → left for the scrub, which reports it.
    await run('umount', [join(stateDir, 'exec')], { okCodes: [0, 1, 32] });
  });
  await until(
    async () => {
      if (child.exitCode !== null)
        throw new Error(`swarmd exited with ${child.exitCode}:\n${out.slice(-3000)}`);
      if (!existsSync(socket)) return false;
      try {
        return (await apiCall(socket, 'GET', '/_ping')).status === 200;
      } catch {
        return false;
      }
    },
    30_000,
    'swarmd to answer /_ping',
  );
  const check = () => {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`swarmd exited (${child.exitCode ?? child.signalCode}):\n${out.slice(-2000)}`);
    }
    if (lostLeadership) {
      const why = out
        .split('\n')
        .filter((l) => /"level":"(warn|error)"/.test(l))
        .slice(-3)
        .join('\n');
      throw new Error(
        `swarmd's manager lost leadership and a one-node swarm cannot recover it; last warnings:\n${why}`,
      );
    }
  };
  return { stateDir, socket, pid: child.pid ?? 0, logs: () => out, check };
}
