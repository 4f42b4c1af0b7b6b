// End-to-end harness: one real swarmd in its own network namespace (test/helpers/swarmd.ts), a
// busybox docker archive to load, and runners for swarmctl, the two docker CLIs, curl inside the
// namespace and a continuous HTTP client there. Everything it makes lives under /tmp/skt-e2e-* and
// goes away in destroy(), which the tests call from their after hooks.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBusyboxDockerArchive } from '../helpers/images.js';
import { type SwarmdProcess, startSwarmd } from '../helpers/swarmd.js';

const root = new URL('../../../', import.meta.url).pathname;

export const CLIS = [
  { name: '20.10', bin: '/usr/bin/docker' },
  { name: '28.x', bin: '/usr/local/bin/docker' },
] as const;
export type DockerCli = (typeof CLIS)[number];

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The web service of the walkthroughs: busybox httpd serving "hello from <hostname>" (the container
 * ID's first 12 characters), after printing one log line so `service logs` has something to show.
 * The shell stays PID 1 and exits on SIGTERM (httpd as PID 1 would ignore it and every task stop
 * would wait the whole grace period).
 */
export const WEB_COMMAND = [
  'sh',
  '-c',
  'echo "serving as $(hostname)"; mkdir -p /www && echo "hello from $(hostname)" > /www/index.html; trap "exit 0" TERM; httpd -f -p 80 -h /www & wait',
];

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a value other than undefined; the last error goes in the message. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 20_000,
  intervalMs = 200,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`,
      );
    await sleep(intervalMs);
  }
}

function execRun(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      { env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    // stdin is a pipe, never a terminal: the CLIs print their plain (non-TTY) output.
    child.stdin?.end();
  });
}

/** The Engine API's task, as far as these tests read it. */
export interface ApiTask {
  ID: string;
  Slot?: number;
  DesiredState: string;
  Spec: { ContainerSpec?: { Env?: string[] } };
  Status: { State: string; ContainerStatus?: { ContainerID?: string } };
}

export interface ApiContainer {
  Id: string;
  Names: string[];
  State: string;
  Labels: Record<string, string>;
}

export interface E2E {
  swarmd: SwarmdProcess;
  /** Temp dir of this run (busybox archive, docker config). */
  dir: string;
  /** A `docker save` archive holding busybox:latest. */
  archive: string;
  swarmctl(args: string[], timeoutMs?: number): Promise<Run>;
  docker(cli: DockerCli, args: string[], timeoutMs?: number): Promise<Run>;
  /** curl http://<host>:<port>/ from inside swarmd's network namespace (2 s limit). */
  curl(host: string, port: number): Promise<Run>;
  /** IPv4 addresses of the namespace other than loopback (e.g. the gateway bridge's). */
  localAddresses(): Promise<string[]>;
  tasks(service: string): Promise<ApiTask[]>;
  containers(): Promise<ApiContainer[]>;
  destroy(): Promise<void>;
}

/** `extraArgs` go to swarmd; a function of the run's temp dir may place paths there. */
export async function startE2E(opts: { extraArgs?: (dir: string) => string[] } = {}): Promise<E2E> {
  const dir = mkdtempSync(join(tmpdir(), 'skt-e2e-'));
  let swarmd: SwarmdProcess;
  try {
    swarmd = await startSwarmd({
      hostname: 'node-1',
      prefix: 'skt-e2e-swarmd-',
      extraArgs: opts.extraArgs?.(dir) ?? [],
    });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: dir,
    DOCKER_CONFIG: dir,
    DOCKER_HOST: `unix://${swarmd.socket}`,
    DOCKER_CLI_HINTS: 'false',
  };
  const e2e: E2E = {
    swarmd,
    dir,
    archive: join(dir, 'busybox.tar'),
    swarmctl: (args, timeoutMs = 60_000) =>
      execRun(
        process.execPath,
        [join(root, 'bin/swarmctl'), '--socket', swarmd.socket, ...args],
        env,
        timeoutMs,
      ),
    docker: (cli, args, timeoutMs = 60_000) => execRun(cli.bin, args, env, timeoutMs),
    curl: (host, port) => swarmd.inNetns('curl', ['-s', '--max-time', '2', `http://${host}:${port}/`]),
    async localAddresses() {
      const r = await swarmd.inNetns('ip', ['-4', '-o', 'addr', 'show']);
      return [...r.stdout.matchAll(/inet (\d+\.\d+\.\d+\.\d+)\//g)]
        .map((m) => m[1] ?? '')
        .filter((a) => a !== '' && !a.startsWith('127.'));
    },
    async tasks(service) {
      const filters = encodeURIComponent(JSON.stringify({ service: [service] }));
      const r = await swarmd.api('GET', `/tasks?filters=${filters}`);
      if (r.status !== 200) throw new Error(`GET /tasks: ${r.status} ${r.body}`);
      return r.json<ApiTask[]>();
    },
    async containers() {
      const r = await swarmd.api('GET', '/containers/json?all=1');
      if (r.status !== 200) throw new Error(`GET /containers/json: ${r.status} ${r.body}`);
      return r.json<ApiContainer[]>();
    },
    async destroy() {
      try {
        if (swarmd.child.exitCode === null && swarmd.child.signalCode === null) {
          // Services first (so no agent restarts what we remove), then any container left over,
          // even those a faulty `swarm leave` left behind outside the swarm.
          const services = await swarmd.api('GET', '/services').catch(() => undefined);
          if (services?.status === 200) {
            for (const s of services.json<{ ID: string }[]>())
              await swarmd.api('DELETE', `/services/${s.ID}`);
            await waitFor(
              'service containers to go',
              async () => ((await e2e.containers()).length === 0 ? true : undefined),
              20_000,
            ).catch(() => undefined);
          }
          for (const c of await e2e.containers().catch(() => [])) {
            await swarmd.api('DELETE', `/containers/${c.Id}?force=1`).catch(() => undefined);
          }
        }
        await swarmd.destroy();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
  try {
    await buildBusyboxDockerArchive(e2e.archive, { tag: 'busybox:latest' });
  } catch (e) {
    await e2e.destroy();
    throw e;
  }
  return e2e;
}

/** One request's outcome as the continuous client saw it. */
export interface Probe {
  at: number;
  ok: boolean;
  /** The body (trimmed) on success, the error code or HTTP status otherwise. */
  text: string;
}

/**
 * A client inside the namespace sending GET http://<host>:<port>/ every `everyMs` (a new
 * connection each time) until stopped; stop() returns every outcome in order.
 */
export function startClientLoop(
  swarmd: SwarmdProcess,
  host: string,
  port: number,
  everyMs = 20,
): { stop(): Promise<Probe[]> } {
  const script = `
const http = require('node:http');
let stopping = false;
process.stdin.on('data', () => { stopping = true; });
process.stdin.on('end', () => { stopping = true; });
function once() {
  const at = Date.now();
  const req = http.get({ host: ${JSON.stringify(host)}, port: ${port}, path: '/', agent: false, timeout: 2000 }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (c) => { body += c; });
    res.on('end', () => done({ at, ok: res.statusCode === 200, text: res.statusCode === 200 ? body.trim() : 'HTTP ' + res.statusCode }));
    res.on('error', (e) => done({ at, ok: false, text: e.code || String(e) }));
  });
  req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
  req.on('error', (e) => done({ at, ok: false, text: e.code || String(e) }));
}
function done(p) {
  process.stdout.write(JSON.stringify(p) + '\\n');
  if (stopping) process.exit(0);
  setTimeout(once, ${everyMs});
}
once();
`;
  const child: ChildProcess = spawn(
    'nsenter',
    [`--net=/run/netns/${swarmd.netns}`, process.execPath, '-e', script],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    async stop() {
      child.stdin?.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
      if (err.trim() !== '') throw new Error(`client loop failed: ${err}`);
      return out
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Probe);
    },
  };
}
