// Test helper: runs a real swarmd process (bin/swarmd) with its own state dir and socket, and an
// Engine API client over that socket. Everything is removed in destroy().
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/daemon/ports.js';
import { mountsUnder } from '../../src/executor/runc/host.js';

const root = new URL('../../../', import.meta.url).pathname;

export { freePort };

export interface ApiResponse {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
  json<T = unknown>(): T;
}

export function apiCall(
  socket: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<ApiResponse> {
  const data =
    body === undefined
      ? undefined
      : typeof body === 'string' || Buffer.isBuffer(body)
        ? body
        : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath: socket,
        method,
        path,
        headers: { ...(data !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            body: text,
            headers: res.headers,
            json: <T>() => JSON.parse(text) as T,
          });
        });
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

export interface SwarmdProcess {
  /** The network namespace this swarmd runs in (its own "host"), e.g. skt-t-1a2b3c. */
  netns: string;
  /** Runs a command inside that namespace (only the network namespace: /sys and cgroups stay). */
  inNetns(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  stateDir: string;
  socket: string;
  listenPort: number;
  child: ChildProcess;
  logs: () => string;
  api(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse>;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL swarmd only (its etcd child keeps running until the next start kills it). */
  kill9(): Promise<void>;
  /** SIGKILL swarmd and its etcd (pid from <state>/etcd/etcd.pid) at once, as a power cut would. */
  kill9WithEtcd(): Promise<void>;
  /** The pid of swarmd's etcd if one is running (read from its pid file), else undefined. */
  etcdPid(): number | undefined;
  /** Starts swarmd again on the same state dir and socket. */
  restart(): Promise<void>;
  /** Stops everything and removes the state dir. */
  destroy(): Promise<void>;
}

export async function waitFor(
  cond: () => Promise<boolean> | boolean,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** A live process whose command line mentions `name` (guards against a recycled pid). */
export function isLiveProcess(pid: number, name: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(name);
  } catch {
    return false;
  }
}

export function readEtcdPid(stateDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(stateDir, 'etcd', 'etcd.pid'), 'utf8').trim());
    return pid > 0 && isLiveProcess(pid, 'etcd') ? pid : undefined;
  } catch {
    return undefined;
  }
}

export async function killAndWait(pid: number, name: string): Promise<void> {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  // A killed child of a dead parent is reaped by init; /proc/<pid> goes away (or turns zombie).
  await waitFor(
    () => {
      if (!isLiveProcess(pid, name)) return true;
      try {
        return /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
      } catch {
        return true;
      }
    },
    5_000,
    `${name} (pid ${pid}) to die`,
  );
}

export async function startSwarmd(
  opts: {
    extraArgs?: string[];
    hostname?: string;
    /** Temp dir prefix, e.g. 'skt-acc-' (default 'skt-swarmd-'). */
    prefix?: string;
    /** Run in this existing network namespace, which the caller creates and deletes (default: a new one of our own). */
    netns?: string;
    /** --listen-addr (default 127.0.0.1 and a free port). */
    listenAddr?: string;
    /** --advertise-addr (default: none, swarmd chooses). */
    advertiseAddr?: string;
    /**
     * Write swarmd's output to <stateDir>/swarmd.log and start it in a session of its own, so that
     * it outlives this process (and a Ctrl-C of the terminal does not reach it).
     */
    detach?: boolean;
  } = {},
): Promise<SwarmdProcess> {
  const stateDir = mkdtempSync(join(tmpdir(), opts.prefix ?? 'skt-swarmd-'));
  // Each swarmd gets its own network namespace: its gateway bridge, veths and nftables tables live
  // there and go away with it. nsenter (not `ip netns exec`) keeps /sys and the cgroup mounts.
  const ownNetns = opts.netns === undefined;
  const netns = opts.netns ?? `skt-t-${randomBytes(3).toString('hex')}`;
  if (ownNetns) {
    execFileSync('ip', ['netns', 'add', netns]);
    execFileSync('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
  }
  const deleteOwnNetns = () => {
    if (!ownNetns) return;
    try {
      execFileSync('ip', ['netns', 'del', netns]);
    } catch {
      // already gone
    }
  };
  const socket = join(stateDir, 'swarmd.sock');
  const listenAddr = opts.listenAddr ?? `127.0.0.1:${await freePort()}`;
  const listenPort = Number(listenAddr.slice(listenAddr.lastIndexOf(':') + 1));
  const logFile = join(stateDir, 'swarmd.log');
  let out = '';
  const logs = opts.detach ? () => readLog(logFile) : () => out;
  let child!: ChildProcess;
  let launched = false;
  const launch = async () => {
    // A second swarmd on the same state dir would outlive every cleanup (only the last one is tracked).
    if (launched && child.exitCode === null && child.signalCode === null)
      throw new Error('swarmd is still running: stop() or kill9() it before restart()');
    launched = true;
    const logFd = opts.detach ? openSync(logFile, 'a') : undefined;
    child = spawn(
      'nsenter',
      [
        `--net=/run/netns/${netns}`,
        process.execPath,
        // e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile swarmd under a test or benchmark
        ...(process.env.SKT_SWARMD_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
        join(root, 'bin/swarmd'),
        '--state-dir',
        stateDir,
        '--listen-control-api',
        socket,
        '--listen-addr',
        listenAddr,
        ...(opts.advertiseAddr ? ['--advertise-addr', opts.advertiseAddr] : []),
        '--hostname',
        opts.hostname ?? 'node-1',
        ...(opts.extraArgs ?? []),
      ],
      logFd === undefined
        ? { stdio: ['ignore', 'pipe', 'pipe'] }
        : { stdio: ['ignore', logFd, logFd], detached: true },
    );
    if (logFd !== undefined) closeSync(logFd);
    child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr?.on('data', (b: Buffer) => (out += b.toString()));
    const c = child;
    await waitFor(
      async () => {
        if (c.exitCode !== null) throw new Error(`swarmd exited with ${c.exitCode}:\n${logs().slice(-3000)}`);
        if (!existsSync(socket)) return false;
        try {
          return (await apiCall(socket, 'GET', '/_ping')).status === 200;
        } catch {
          return false;
        }
      },
      20_000,
      'swarmd to answer /_ping',
    );
  };
  const exited = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
  try {
    await launch();
  } catch (e) {
    // A swarmd that never answered: leave nothing behind (process, etcd, netns, state dir).
    child.kill('SIGKILL');
    const etcd = readEtcdPid(stateDir);
    if (etcd !== undefined) await killAndWait(etcd, 'etcd');
    deleteOwnNetns();
    await removeStateDir(stateDir);
    throw e;
  }
  const p: SwarmdProcess = {
    netns,
    inNetns: (cmd, args) =>
      new Promise((resolve) => {
        execFile(
          'nsenter',
          [`--net=/run/netns/${netns}`, cmd, ...args],
          { timeout: 30_000 },
          (err, stdout, stderr) => {
            const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
            resolve({ code, stdout, stderr });
          },
        );
      }),
    stateDir,
    socket,
    listenPort,
    get child() {
      return child;
    },
    logs,
    api: (method, path, body, headers) => apiCall(socket, method, path, body, headers),
    async stop() {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited();
      clearTimeout(t);
    },
    async kill9() {
      child.kill('SIGKILL');
      await exited();
    },
    async kill9WithEtcd() {
      const etcd = readEtcdPid(stateDir);
      child.kill('SIGKILL');
      if (etcd !== undefined) await killAndWait(etcd, 'etcd');
      await exited();
    },
    etcdPid: () => readEtcdPid(stateDir),
    restart: launch,
    async destroy() {
      if (child.exitCode === null && child.signalCode === null) {
        await removeWorkload(socket);
        await p.stop();
      }
      // An etcd left by a kill -9 of swarmd: its pid file is in the state dir.
      const etcd = readEtcdPid(stateDir);
      if (etcd !== undefined) await killAndWait(etcd, 'etcd');
      deleteOwnNetns();
      await removeStateDir(stateDir);
    },
  };
  return p;
}

function readLog(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/**
 * Removes what a test left running on a swarmd (every service, when it is a manager) and waits until
 * its containers are gone, so no container, mount or cgroup outlives the test.
 */
export async function removeWorkload(socket: string): Promise<void> {
  try {
    const services = (await apiCall(socket, 'GET', '/services')).json<{ ID: string }[]>();
    if (Array.isArray(services))
      for (const s of services) await apiCall(socket, 'DELETE', `/services/${s.ID}`);
    await waitFor(
      async () => {
        const r = await apiCall(socket, 'GET', '/containers/json?all=1');
        return r.status !== 200 || r.json<unknown[]>().length === 0;
      },
      30_000,
      'containers to be removed',
    );
  } catch {
    // not in a swarm, or already gone
  }
}

/** Unmounts what swarmd mounted below its state dir (the exec root's tmpfs, any rootfs), then removes it. */
export async function removeStateDir(stateDir: string): Promise<void> {
  for (const m of await mountsUnder(stateDir)) {
    try {
      execFileSync('umount', ['-l', m], { stdio: 'ignore' });
    } catch {
      // already unmounted
    }
  }
  rmSync(stateDir, { recursive: true, force: true });
}
