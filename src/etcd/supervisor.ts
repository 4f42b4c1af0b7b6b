// Supervises this manager's etcd member: spawns /usr/bin/etcd with a clean environment and full mTLS,
// waits for /health, restarts it with backoff when it dies, and never restarts a member that etcd
// removed from the cluster (its data dir must not rejoin: research/etcd.md "split brain").
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, open, readFile, rename, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { z } from 'zod';
import { failedPrecondition, unavailable } from '../api/errors.js';
import { readSecretFile } from '../lib/keyring.js';
import { createLogger } from '../lib/log.js';
import { type MemberTLSPaths, memberTLSPaths, PEER_CN } from './tls.js';

/** Where members put clear copies of their keys for etcd to read (a tmpfs); unset, etcd reads the state dir's. */
let runtimeKeyRoot: string | undefined;
export function setRuntimeKeyRoot(dir: string | undefined): void {
  runtimeKeyRoot = dir;
}

export const ETCD_BINARY = '/usr/bin/etcd';

const memberConfigSchema = z.object({
  /** etcd member name (swarmd uses the node ID). */
  name: z.string().min(1),
  /** The IP other managers reach our peer port on (127.0.0.1 in loopback tests). */
  peerIP: z.string().min(1),
  clientPort: z.number().int().min(1).max(65535),
  peerPort: z.number().int().min(1).max(65535),
  metricsPort: z.number().int().min(1).max(65535),
  /** `name=https://ip:port,...`, as etcd's --initial-cluster. */
  initialCluster: z.string().min(1),
  clusterState: z.enum(['new', 'existing']),
  clusterToken: z.string().min(1),
  /** Set once etcd reported this member permanently removed: the data dir must never start again. */
  removed: z.boolean().optional(),
  /**
   * Start once with etcd's --force-new-cluster (swarm init --force-new-cluster): a one-member
   * cluster from this member's data. Cleared once it answered healthy.
   */
  forceNewCluster: z.boolean().optional(),
});
export type MemberConfig = z.infer<typeof memberConfigSchema>;

export type MemberState = 'stopped' | 'starting' | 'running' | 'restarting' | 'removed';

/** Files of a member under `<stateDir>/etcd/`. */
export interface MemberPaths {
  dir: string;
  configFile: string;
  dataDir: string;
  tlsDir: string;
  logFile: string;
  pidFile: string;
  tls: MemberTLSPaths;
}

export function memberPaths(stateDir: string): MemberPaths {
  const dir = join(stateDir, 'etcd');
  const tlsDir = join(dir, 'tls');
  return {
    dir,
    configFile: join(dir, 'member.json'),
    dataDir: join(dir, 'data'),
    tlsDir,
    logFile: join(dir, 'etcd.log'),
    pidFile: join(dir, 'etcd.pid'),
    tls: memberTLSPaths(tlsDir),
  };
}

export function peerURL(ip: string, port: number): string {
  return `https://${ip.includes(':') ? `[${ip}]` : ip}:${port}`;
}

/** etcd's command line for a member (pure: the one place the flags are decided). */
export function etcdArgs(cfg: MemberConfig, paths: MemberPaths): string[] {
  const clientURL = `https://127.0.0.1:${cfg.clientPort}`;
  const peer = peerURL(cfg.peerIP, cfg.peerPort);
  return [
    `--name=${cfg.name}`,
    `--data-dir=${paths.dataDir}`,
    // Loopback only: the client port is the whole cluster state, swarmd is its only client.
    `--listen-client-urls=${clientURL}`,
    `--advertise-client-urls=${clientURL}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=${cfg.initialCluster}`,
    `--initial-cluster-state=${cfg.clusterState}`,
    `--initial-cluster-token=${cfg.clusterToken}`,
    `--listen-metrics-urls=http://127.0.0.1:${cfg.metricsPort}`,
    `--cert-file=${paths.tls.serverCert}`,
    `--key-file=${paths.tls.serverKey}`,
    `--trusted-ca-file=${paths.tls.caCert}`,
    '--client-cert-auth',
    `--peer-cert-file=${paths.tls.peerCert}`,
    `--peer-key-file=${paths.tls.peerKey}`,
    `--peer-trusted-ca-file=${paths.tls.caCert}`,
    '--peer-client-cert-auth',
    `--peer-cert-allowed-cn=${PEER_CN}`,
    // etcd keeps snapshot-count raft entries in memory: 10k instead of 100k is 120 MB instead of 324 MB.
    '--snapshot-count=10000',
    '--pre-vote',
    // Revision mode bounds history by count whatever the churn; a cache further behind re-lists.
    '--auto-compaction-mode=revision',
    '--auto-compaction-retention=10000',
    // Measured failover 1-2 s with these (research/etcd.md §4).
    '--heartbeat-interval=100',
    '--election-timeout=1000',
    '--logger=zap',
    '--log-outputs=stderr',
    ...(cfg.forceNewCluster ? ['--force-new-cluster'] : []),
  ];
}

const REMOVED_LINE = 'the member has been permanently removed from the cluster';
const LOG_ROTATE_BYTES = 32 * 1024 * 1024;
const LOG_TRUNCATE_BYTES = 64 * 1024 * 1024;
const HEALTHY_RESET_MS = 30_000;
const BACKOFF_MS = [100, 250, 500, 1000, 2000, 5000];

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (!isAlive(pid)) return true;
    await sleep(50);
  }
  return !isAlive(pid);
}

/** One GET of etcd's plain-http /health on the metrics listener. */
export function probeHealth(metricsPort: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port: metricsPort, path: '/health', timeout: timeoutMs },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve(res.statusCode === 200 && /"health"\s*:\s*"true"/.test(body)));
        res.on('error', () => resolve(false));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

export async function readMemberConfig(stateDir: string): Promise<MemberConfig | undefined> {
  const p = memberPaths(stateDir);
  let text: string;
  try {
    text = await readFile(p.configFile, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const parsed = memberConfigSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw failedPrecondition(`${p.configFile}: ${parsed.error.message}`);
  return parsed.data;
}

async function writeMemberConfig(stateDir: string, cfg: MemberConfig): Promise<void> {
  const p = memberPaths(stateDir);
  const tmp = `${p.configFile}.tmp`;
  await writeFile(tmp, `${JSON.stringify(cfg, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, p.configFile);
}

/**
 * This manager's etcd member. `create` persists a new config; `load` reads it back after a restart of
 * swarmd (even after kill -9 of both), so the same member starts again with state `existing`.
 */
export class EtcdMember {
  readonly paths: MemberPaths;
  private cfg: MemberConfig;
  private child: ChildProcess | undefined;
  private current: MemberState = 'stopped';
  private stopping = false;
  private listeners = new Set<(s: MemberState) => void>();
  private restartAttempt = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private logTimer: NodeJS.Timeout | undefined;
  private healthySince = 0;
  private readonly log;

  private constructor(
    readonly stateDir: string,
    cfg: MemberConfig,
  ) {
    this.paths = memberPaths(stateDir);
    this.cfg = cfg;
    this.log = createLogger({ component: 'etcd', member: cfg.name });
  }

  /** Persists a new member config (TLS files must already be in `<stateDir>/etcd/tls/`). */
  static async create(stateDir: string, cfg: MemberConfig): Promise<EtcdMember> {
    const valid = memberConfigSchema.parse(cfg);
    await writeMemberConfig(stateDir, valid);
    return new EtcdMember(stateDir, valid);
  }

  /** Marks the persisted member to start once as a one-member cluster from its data. */
  static async forceNewCluster(stateDir: string): Promise<void> {
    const cfg = await readMemberConfig(stateDir);
    if (!cfg) throw failedPrecondition(`no etcd member in ${stateDir}/etcd to rebuild a cluster from`);
    await writeMemberConfig(stateDir, {
      ...cfg,
      forceNewCluster: true,
      initialCluster: `${cfg.name}=${peerURL(cfg.peerIP, cfg.peerPort)}`,
    });
  }

  /** The member persisted in `<stateDir>/etcd/member.json`, or undefined if there is none. */
  static async load(stateDir: string): Promise<EtcdMember | undefined> {
    const cfg = await readMemberConfig(stateDir);
    return cfg && new EtcdMember(stateDir, cfg);
  }

  get config(): Readonly<MemberConfig> {
    return this.cfg;
  }
  get state(): MemberState {
    return this.current;
  }
  get pid(): number | undefined {
    return this.child?.pid;
  }
  /** The URL swarmd's client uses (DNS name, see createEtcdClient). */
  get clientURL(): string {
    return `https://localhost:${this.cfg.clientPort}`;
  }
  get peerURL(): string {
    return peerURL(this.cfg.peerIP, this.cfg.peerPort);
  }

  /** Subscribes to state changes; returns the unsubscribe function. */
  onStateChange(fn: (s: MemberState) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private setState(s: MemberState): void {
    if (s === this.current) return;
    this.current = s;
    this.log.info('etcd member state', { state: s });
    for (const fn of this.listeners) fn(s);
  }

  health(): Promise<boolean> {
    return probeHealth(this.cfg.metricsPort);
  }

  /**
   * Starts the member and resolves once /health answers true. Rejects if the member was removed from
   * the cluster, or if it is not healthy within `healthTimeoutMs` (it keeps being supervised then).
   */
  async start(opts: { healthTimeoutMs?: number } = {}): Promise<void> {
    if (this.cfg.removed) {
      this.setState('removed');
      throw failedPrecondition(
        `etcd member ${this.cfg.name} was removed from the cluster; its data dir must not be reused`,
      );
    }
    if (this.child) throw failedPrecondition('etcd member already started');
    this.stopping = false;
    await this.killLeftover();
    this.setState('starting');
    await this.spawnChild();
    this.logTimer = setInterval(() => void this.trimLog(), 60_000);
    this.logTimer.unref();
    await this.waitHealthy(opts.healthTimeoutMs ?? 30_000);
  }

  private async waitHealthy(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (this.current === 'removed') throw failedPrecondition(`etcd member ${this.cfg.name} was removed`);
      if (this.current === 'stopped') throw unavailable('etcd member stopped while starting');
      if (this.current === 'running') return;
      await sleep(100);
    }
    throw unavailable(
      `etcd member ${this.cfg.name} not healthy after ${timeoutMs} ms (see ${this.paths.logFile})`,
    );
  }

  /** Kills an etcd a previous swarmd left running on our data dir (its pid file names it). */
  private async killLeftover(): Promise<void> {
    let pid: number;
    try {
      pid = Number.parseInt(await readFile(this.paths.pidFile, 'utf8'), 10);
    } catch {
      return;
    }
    if (!Number.isInteger(pid) || pid <= 1 || !isAlive(pid)) return;
    let cmdline = '';
    try {
      cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ');
    } catch {
      return;
    }
    // The pid may have been reused by an unrelated process: only kill our own etcd.
    if (!cmdline.includes(ETCD_BINARY) || !cmdline.includes(`--data-dir=${this.paths.dataDir}`)) return;
    this.log.warn('killing etcd left over from a previous swarmd', { pid });
    process.kill(pid, 'SIGTERM');
    if (!(await waitGone(pid, 5000))) {
      process.kill(pid, 'SIGKILL');
      await waitGone(pid, 5000);
    }
  }

  private async rotateLog(): Promise<void> {
    try {
      if ((await stat(this.paths.logFile)).size > LOG_ROTATE_BYTES) {
        await rename(this.paths.logFile, `${this.paths.logFile}.1`);
      }
    } catch {
      // no log yet
    }
  }

  /** etcd appends with O_APPEND, so truncating in place while it runs is safe. */
  private async trimLog(): Promise<void> {
    try {
      if ((await stat(this.paths.logFile)).size > LOG_TRUNCATE_BYTES) await truncate(this.paths.logFile, 0);
    } catch {
      // ignore: logging must never take the member down
    }
  }

  private async spawnChild(): Promise<void> {
    await this.rotateLog();
    // etcd writes its log straight to the file (no pipe): it must outlive a swarmd killed with -9
    // without dying of SIGPIPE, and the next swarmd finds it through the pid file.
    const logHandle = await open(this.paths.logFile, 'a', 0o600);
    const logStart = (await logHandle.stat()).size;
    let child: ChildProcess;
    try {
      child = spawn(ETCD_BINARY, etcdArgs(this.cfg, await this.runtimePaths()), {
        env: { PATH: '/usr/bin:/bin' }, // etcd reads ETCD_* variables: never inherit them
        stdio: ['ignore', logHandle.fd, logHandle.fd],
      });
    } finally {
      await logHandle.close();
    }
    this.child = child;
    const pid = child.pid;
    if (pid !== undefined) await writeFile(this.paths.pidFile, `${pid}\n`, { mode: 0o600 });
    child.on('error', (err) => this.log.error('etcd spawn failed', { err }));
    child.on('exit', (code, signal) => void this.onExit(child, code, signal, logStart));
    void this.watchHealth(child);
  }

  /** Polls /health while this child lives: marks the member running, resets the backoff when stable. */
  private async watchHealth(child: ChildProcess): Promise<void> {
    while (this.child === child && !this.stopping) {
      const ok = await this.health();
      if (this.child !== child || this.stopping) return;
      if (ok) {
        if (this.current !== 'running') {
          this.healthySince = Date.now();
          this.setState('running');
          if (this.cfg.clusterState === 'new' || this.cfg.forceNewCluster) {
            // Bootstrapped (or rebuilt alone): from now on the data dir holds the cluster, any
            // restart joins `existing` as it is.
            const { forceNewCluster: _f, ...rest } = this.cfg;
            this.cfg = { ...rest, clusterState: 'existing' };
            await writeMemberConfig(this.stateDir, this.cfg);
          }
        } else if (Date.now() - this.healthySince > HEALTHY_RESET_MS) {
          this.restartAttempt = 0;
        }
      }
      await sleep(this.current === 'running' ? 1000 : 100);
    }
  }

  private async wasRemoved(logStart: number): Promise<boolean> {
    try {
      const fh = await open(this.paths.logFile, 'r');
      try {
        const size = (await fh.stat()).size;
        const from = Math.max(logStart > size ? 0 : logStart, size - 256 * 1024);
        const buf = Buffer.alloc(size - from);
        await fh.read(buf, 0, buf.length, from);
        return buf.toString('utf8').includes(REMOVED_LINE);
      } finally {
        await fh.close();
      }
    } catch {
      return false;
    }
  }

  private async onExit(
    child: ChildProcess,
    code: number | null,
    signal: NodeJS.Signals | null,
    logStart: number,
  ): Promise<void> {
    if (this.child !== child) return;
    this.child = undefined;
    await rm(this.paths.pidFile, { force: true });
    if (this.stopping) {
      this.setState('stopped');
      return;
    }
    if (code === 0 && (await this.wasRemoved(logStart))) {
      this.log.warn('etcd member was removed from the cluster; not restarting it', { code });
      this.cfg = { ...this.cfg, removed: true };
      await writeMemberConfig(this.stateDir, this.cfg);
      this.stopLogTimer();
      this.setState('removed');
      return;
    }
    this.scheduleRestart({ code, signal });
  }

  private scheduleRestart(why: Record<string, unknown>): void {
    const delay = BACKOFF_MS[Math.min(this.restartAttempt, BACKOFF_MS.length - 1)] ?? 5000;
    this.restartAttempt++;
    this.log.warn('etcd exited unexpectedly; restarting', { ...why, delayMs: delay });
    this.setState('restarting');
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopping) return;
      this.spawnChild().catch((err: unknown) => this.scheduleRestart({ err }));
    }, delay);
  }

  private stopLogTimer(): void {
    if (this.logTimer) clearInterval(this.logTimer);
    this.logTimer = undefined;
  }

  /**
   * The paths etcd is started with. With a runtime key dir set (swarmd's tmpfs), etcd reads its keys
   * from clear copies there: the state dir's may be wrapped with the unlock key (autolock), and etcd
   * reads its key files again on every new connection.
   */
  private async runtimePaths(): Promise<MemberPaths> {
    if (!runtimeKeyRoot) return this.paths;
    const dir = join(runtimeKeyRoot, this.cfg.name);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const serverKey = join(dir, 'server.key');
    const peerKey = join(dir, 'peer.key');
    await writeFile(serverKey, await readSecretFile(this.paths.tls.serverKey), { mode: 0o600 });
    await writeFile(peerKey, await readSecretFile(this.paths.tls.peerKey), { mode: 0o600 });
    return { ...this.paths, tls: { ...this.paths.tls, serverKey, peerKey } };
  }

  /** Kills an etcd a previous swarmd left running (a manager that boots locked must not take part). */
  async reapLeftover(): Promise<void> {
    if (!this.child) await this.killLeftover();
  }

  /** SIGTERM, then SIGKILL after `timeoutMs`. Resolves when no etcd process of ours is left. */
  async stop(timeoutMs = 10_000): Promise<void> {
    if (runtimeKeyRoot) await rm(join(runtimeKeyRoot, this.cfg.name), { recursive: true, force: true });
    this.stopping = true;
    this.stopLogTimer();
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    const child = this.child;
    if (!child || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) {
      this.child = undefined;
      if (this.current !== 'removed') this.setState('stopped');
      return;
    }
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((r) => {
      timer = setTimeout(() => r('timeout'), timeoutMs);
    });
    const outcome = await Promise.race([exited, timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      this.log.warn('etcd did not stop on SIGTERM; killing it', { pid: child.pid });
      child.kill('SIGKILL');
      await exited;
    }
    // onExit cleans up the pid file and state; wait for it.
    while (this.child === child) await sleep(10);
    await rm(this.paths.pidFile, { force: true });
    if (this.current !== 'stopped' && this.current !== 'removed') this.setState('stopped');
  }

  /** Marks this member removed (e.g. after a demotion swarmd initiated) so it never starts again. */
  async markRemoved(): Promise<void> {
    if (this.child) throw failedPrecondition('stop the etcd member before marking it removed');
    this.cfg = { ...this.cfg, removed: true };
    await writeMemberConfig(this.stateDir, this.cfg);
    this.setState('removed');
  }
}
