// "Cluster in a box": several hosts on one machine, each a network namespace running a real swarmd
// (startSwarmd), cabled to one bridge that lives in a separate "switch" namespace, so the machine's
// own firewall and interfaces never see their traffic. Used by tests, benchmarks and `make cluster`
// (cluster-cli.ts). Everything created is described by a ClusterRecord, and teardownCluster(record)
// removes it, from this process or another one.
import { spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { scrubRuntime } from '../../bench/lib/containers.js';
import type { Node, Cluster as SwarmCluster } from '../../src/api/types.js';
import { run } from '../../src/lib/exec.js';
import { NETNS_DIR, netnsPath, netnsPrefix, ownerTag } from '../../src/network/names.js';
import { buildBusyboxDockerArchive } from './images.js';
import {
  type ApiResponse,
  isLiveProcess,
  killAndWait,
  readEtcdPid,
  removeStateDir,
  removeWorkload,
  type SwarmdProcess,
  startSwarmd,
  waitFor,
} from './swarmd.js';

export const SWARM_PORT = 2377;

const hostRecordSchema = z.object({
  name: z.string(),
  role: z.enum(['manager', 'worker']),
  netns: z.string(),
  /** The host's bridge port in the switch namespace (the veth whose peer is the host's eth0). */
  port: z.string(),
  ip: z.string(),
  socket: z.string(),
  /** Empty until swarmd has started. */
  stateDir: z.string(),
  /** swarmd's pid, while it runs. */
  pid: z.number().int().positive().optional(),
});

/** What teardownCluster needs to remove a cluster, from any process (the CLI's state file). */
const clusterRecordSchema = z.object({
  id: z.string(),
  /** e.g. 10.77.42.0/24 */
  subnet: z.string(),
  switchNetns: z.string(),
  hosts: z.array(hostRecordSchema),
});

export type HostRecord = z.infer<typeof hostRecordSchema>;
export type ClusterRecord = z.infer<typeof clusterRecordSchema>;

export function parseClusterRecord(text: string): ClusterRecord {
  return clusterRecordSchema.parse(JSON.parse(text));
}

export interface ClusterHost {
  name: string;
  role: 'manager' | 'worker';
  netns: string;
  ip: string;
  socket: string;
  stateDir: string;
  swarmd: SwarmdProcess;
  api(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse>;
  logs(): string;
  /** Runs a command in this host's network namespace (nsenter --net: /sys and cgroups stay the machine's). */
  inNetns(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Whether a TCP connection from this host to ip:port is answered (accepted or refused) within timeoutMs. */
  canReach(ip: string, port?: number, timeoutMs?: number): Promise<boolean>;
  /** SIGKILL swarmd only (its etcd keeps running until the next start kills it). */
  kill9(): Promise<void>;
  /** SIGTERM swarmd and wait for it to exit. */
  stop(): Promise<void>;
  /** Starts swarmd again on the same state dir, socket and addresses. */
  restart(): Promise<void>;
  /** Drops every frame to and from this host at the switch, silently (no link-down event, no RST). */
  cutLink(): Promise<void>;
  restoreLink(): Promise<void>;
}

export interface Cluster {
  id: string;
  manager: ClusterHost;
  workers: ClusterHost[];
  /** The manager first, then the workers. */
  hosts: ClusterHost[];
  switchNetns: string;
  /** JoinTokens.Worker from the manager's GET /swarm. */
  workerToken(): Promise<string>;
  /**
   * POST /swarm/join on `host` with the manager as remote (the worker token, or the manager token
   * with role 'manager'), then waits until the manager lists it ready.
   */
  join(host: ClusterHost, opts?: { availability?: string; role?: 'manager' | 'worker' }): Promise<void>;
  /** What teardownCluster needs, as of now (swarmd pids change on restart). */
  record(): ClusterRecord;
  /**
   * Stops tracking the cluster for this process's exit cleanup and returns its record: the hosts keep
   * running after this process exits (`make cluster`), until teardownCluster(record).
   */
  disown(): ClusterRecord;
  /** Removes everything the cluster created, also after a failure; safe to call twice. */
  destroy(): Promise<void>;
}

export interface ClusterOptions {
  /** Default 2. */
  workers?: number;
  /** Default 'manager'; workers are worker-1, worker-2, … */
  managerHostname?: string;
  /** Extra swarmd flags for every host. */
  extraArgs?: string[];
  /** Join the workers to the manager's swarm (default true). */
  join?: boolean;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Polls `probe` every `everyMs` until it returns a value (a probe that throws counts as not yet):
 * what tests and benchmarks wait on as a user would, through the API.
 */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  everyMs = 100,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/**
 * Names carry a random 4-hex id (two clusters, or a leftover, never collide) and avoid the
 * `skt-<6 hex>-` form of swarmd's own container namespaces. Interface names stay within 15 chars.
 */
function newIdentity(): { id: string; subnet: string; switchNetns: string } {
  for (;;) {
    const id = randomBytes(2).toString('hex');
    const switchNetns = `sktc-${id}-sw`;
    if (!existsSync(netnsPath(switchNetns))) return { id, subnet: `10.77.${randomInt(1, 255)}`, switchNetns };
  }
}

function hostRecords(identity: { id: string; subnet: string }, opts: ClusterOptions): HostRecord[] {
  const names = [
    { name: opts.managerHostname ?? 'manager', role: 'manager' as const, short: 'm' },
    ...Array.from({ length: opts.workers ?? 2 }, (_, i) => ({
      name: `worker-${i + 1}`,
      role: 'worker' as const,
      short: `w${i + 1}`,
    })),
  ];
  return names.map((h, i) => ({
    name: h.name,
    role: h.role,
    netns: `sktc-${identity.id}-${h.short}`,
    port: `u-${identity.id}-${h.short}`,
    ip: `${identity.subnet}.${i + 1}`,
    socket: '',
    stateDir: '',
  }));
}

/** Runs `ip` commands in one namespace, one process. */
function ipBatch(netns: string, commands: string[]) {
  return run('ip', ['-n', netns, '-batch', '-'], { input: commands.join('\n') });
}

async function createSwitch(switchNetns: string): Promise<void> {
  await run('ip', ['netns', 'add', switchNetns]);
  await ipBatch(switchNetns, ['link set lo up', 'link add br0 type bridge', 'link set br0 up']);
}

async function cableHost(switchNetns: string, h: HostRecord): Promise<void> {
  await run('ip', ['netns', 'add', h.netns]);
  await ipBatch(switchNetns, [
    `link add ${h.port} type veth peer name eth0 netns ${h.netns}`,
    `link set ${h.port} master br0 up`,
  ]);
  await ipBatch(h.netns, [`addr add ${h.ip}/24 dev eth0`, 'link set eth0 up', 'link set lo up']);
}

function nft(switchNetns: string, args: string[], opts: { input?: string; okCodes?: number[] } = {}) {
  return run('nsenter', [`--net=${netnsPath(switchNetns)}`, 'nft', ...args], { timeoutMs: 30_000, ...opts });
}

/** Exits 0 when the connection is accepted or refused (the peer answered), 1 when nothing comes back. */
const PROBE = `const s = require('node:net').connect({ host: process.argv[1], port: Number(process.argv[2]) });
s.setTimeout(Number(process.argv[3]), () => process.exit(1));
s.on('connect', () => process.exit(0));
s.on('error', (e) => process.exit(e.code === 'ECONNREFUSED' ? 0 : 1));`;

function cutTable(h: Pick<HostRecord, 'port'>): string {
  return `skt_cut_${h.port.replaceAll('-', '_')}`;
}

function cutRules(h: Pick<HostRecord, 'port'>): string {
  return [
    `table bridge ${cutTable(h)} {`,
    '  chain forward {',
    '    type filter hook forward priority 0; policy accept;',
    `    iifname "${h.port}" drop`,
    `    oifname "${h.port}" drop`,
    '  }',
    '}',
    '',
  ].join('\n');
}

const live = new Map<string, () => ClusterRecord>();
let exitHooked = false;

/**
 * A test that crashes leaves nothing: on SIGINT/SIGTERM the live clusters are torn down before
 * exiting; on any other exit (an uncaught exception) a detached `cluster-cli down` does it, since
 * an exit handler cannot wait. The swarmds run detached (their own session, output to a file), so
 * they are still there to remove their containers.
 */
function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  const cli = new URL('./cluster-cli.js', import.meta.url).pathname;
  process.on('exit', () => {
    for (const record of live.values())
      spawn(process.execPath, [cli, 'down', '--record', JSON.stringify(record())], {
        detached: true,
        stdio: 'ignore',
      }).unref();
  });
  let stopping = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    const records = [...live.values()].map((r) => r());
    live.clear();
    void Promise.allSettled(records.map(teardownCluster)).then((results) => {
      for (const r of results)
        if (r.status === 'rejected') console.error(`cluster teardown: ${String(r.reason)}`);
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const workerCount = opts.workers ?? 2;
  // One /24 and interface names of at most 15 characters.
  if (!Number.isInteger(workerCount) || workerCount < 0 || workerCount > 99)
    throw new Error(`a cluster has 0 to 99 workers, not ${workerCount}`);
  const identity = newIdentity();
  const records = hostRecords(identity, opts);
  const swarmds = new Map<string, SwarmdProcess>();
  const record = (): ClusterRecord => ({
    id: identity.id,
    subnet: `${identity.subnet}.0/24`,
    switchNetns: identity.switchNetns,
    hosts: records.map((h) => {
      const s = swarmds.get(h.name);
      const running = s && s.child.exitCode === null && s.child.signalCode === null;
      return running && s.child.pid !== undefined ? { ...h, pid: s.child.pid } : h;
    }),
  });
  hookExit();
  live.set(identity.id, record);
  let destroyed: Promise<void> | undefined;
  const destroy = () => {
    // Tracked until done: a process that exits mid-teardown still leaves a cleaner behind.
    destroyed ??= teardownCluster(record()).finally(() => live.delete(identity.id));
    return destroyed;
  };

  try {
    await createSwitch(identity.switchNetns);
    for (const h of records) await cableHost(identity.switchNetns, h);
    const started = await Promise.allSettled(
      records.map(async (h) => {
        const s = await startSwarmd({
          netns: h.netns,
          listenAddr: `${h.ip}:${SWARM_PORT}`,
          advertiseAddr: h.ip,
          hostname: h.name,
          prefix: `skt-cluster-${identity.id}-${h.name}-`,
          detach: true,
          extraArgs: opts.extraArgs ?? [],
        });
        swarmds.set(h.name, s);
        h.socket = s.socket;
        h.stateDir = s.stateDir;
      }),
    );
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
  } catch (e) {
    await destroy();
    throw e;
  }

  const hosts = records.map((h): ClusterHost => {
    const s = swarmds.get(h.name);
    if (!s) throw new Error(`swarmd of ${h.name} did not start`);
    return {
      name: h.name,
      role: h.role,
      netns: h.netns,
      ip: h.ip,
      socket: s.socket,
      stateDir: s.stateDir,
      swarmd: s,
      api: s.api,
      logs: s.logs,
      inNetns: s.inNetns,
      canReach: async (ip, port = SWARM_PORT, timeoutMs = 1000) =>
        (await s.inNetns(process.execPath, ['-e', PROBE, ip, String(port), String(timeoutMs)])).code === 0,
      kill9: s.kill9,
      stop: s.stop,
      restart: s.restart,
      cutLink: async () => {
        await nft(identity.switchNetns, ['-f', '-'], { input: cutRules(h) });
      },
      restoreLink: async () => {
        await nft(identity.switchNetns, ['delete', 'table', 'bridge', cutTable(h)]);
      },
    };
  });
  const [manager, ...workers] = hosts;
  if (!manager) throw new Error('a cluster has a manager');

  const workerToken = async () => {
    const r = await manager.api('GET', '/swarm');
    if (r.status !== 200) throw new Error(`GET /swarm on ${manager.name}: ${r.status} ${r.body}`);
    return r.json<SwarmCluster>().JoinTokens.Worker;
  };
  const managerToken = async () => {
    const r = await manager.api('GET', '/swarm');
    if (r.status !== 200) throw new Error(`GET /swarm on ${manager.name}: ${r.status} ${r.body}`);
    return r.json<SwarmCluster>().JoinTokens.Manager;
  };
  const cluster: Cluster = {
    id: identity.id,
    manager,
    workers,
    hosts,
    switchNetns: identity.switchNetns,
    workerToken,
    async join(host, joinOpts = {}) {
      const addr = `${host.ip}:${SWARM_PORT}`;
      const r = await host.api('POST', '/swarm/join', {
        ListenAddr: addr,
        AdvertiseAddr: addr,
        RemoteAddrs: [`${manager.ip}:${SWARM_PORT}`],
        JoinToken: joinOpts.role === 'manager' ? await managerToken() : await workerToken(),
        Availability: joinOpts.availability ?? 'active',
      });
      if (r.status < 200 || r.status > 299)
        throw new Error(`POST /swarm/join on ${host.name}: ${r.status} ${r.body}`);
      await waitFor(
        async () => (await readyNodes(manager)).has(host.name),
        60_000,
        `${host.name} to be ready`,
      );
    },
    record,
    disown() {
      live.delete(identity.id);
      return record();
    },
    destroy,
  };

  try {
    const addr = `${manager.ip}:${SWARM_PORT}`;
    const init = await manager.api('POST', '/swarm/init', { ListenAddr: addr, AdvertiseAddr: addr });
    if (init.status !== 200)
      throw new Error(`POST /swarm/init on ${manager.name}: ${init.status} ${init.body}`);
    if (opts.join ?? true) {
      await Promise.all(workers.map((w) => cluster.join(w)));
      await waitFor(
        async () => (await readyNodes(manager)).size === hosts.length,
        60_000,
        'every node to be ready',
      );
    }
  } catch (e) {
    await destroy();
    throw e;
  }
  return cluster;
}

/** Hostnames of the nodes the manager lists as ready. */
async function readyNodes(manager: ClusterHost): Promise<Set<string>> {
  const r = await manager.api('GET', '/nodes');
  if (r.status !== 200) return new Set();
  return new Set(
    r
      .json<Node[]>()
      .filter((n) => n.Status.State === 'ready')
      .map((n) => n.Description?.Hostname ?? ''),
  );
}

/** SIGTERM, then SIGKILL after `graceMs`; returns once the process is gone. */
async function terminate(pid: number, name: string, graceMs: number): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const end = Date.now() + graceMs;
  while (Date.now() < end && isLiveProcess(pid, name)) await sleep(100);
  if (isLiveProcess(pid, name)) await killAndWait(pid, name);
}

/**
 * What a dead swarmd could not remove: its containers (runc, conmon, mounts, cgroups) and their
 * netns, found by the names swarmd derives from its state dir (src/daemon/daemon.ts).
 */
async function scrubHost(stateDir: string): Promise<void> {
  const tag = ownerTag(stateDir);
  await scrubRuntime({
    dir: stateDir,
    runcRoot: `${stateDir}/exec/runtime/runc`,
    prefix: `skt-${tag}-`,
    cgroupParent: `skt-${tag}`,
  });
  const prefix = netnsPrefix(ownerTag(`${stateDir}/exec/network`));
  const left = existsSync(NETNS_DIR) ? readdirSync(NETNS_DIR).filter((n) => n.startsWith(prefix)) : [];
  for (const n of left) await run('ip', ['netns', 'del', n], { okCodes: [0, 1] });
}

/**
 * Removes everything a cluster created, whatever state it is in: links restored (so workers hear
 * about removed services), services removed and containers waited for, swarmds and etcds stopped,
 * leftovers scrubbed, state dirs unmounted and removed, host and switch namespaces deleted.
 */
/** Loads a busybox image tagged `tag` (built in a temp dir, removed after) on each of `hosts`, through the API. */
export async function loadBusybox(hosts: readonly ClusterHost[], tag = 'busybox:latest'): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'skt-img-'));
  try {
    const archive = join(dir, 'busybox.tar');
    await buildBusyboxDockerArchive(archive, { tag });
    const tar = readFileSync(archive);
    for (const h of hosts) {
      const r = await h.api('POST', '/images/load?quiet=1', tar, { 'Content-Type': 'application/x-tar' });
      if (r.status !== 200) throw new Error(`image load on ${h.name}: ${r.status} ${r.body}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function teardownCluster(c: ClusterRecord): Promise<void> {
  const switchExists = existsSync(netnsPath(c.switchNetns));
  if (switchExists)
    for (const h of c.hosts)
      await nft(c.switchNetns, ['delete', 'table', 'bridge', cutTable(h)], { okCodes: [0, 1] });
  const running = c.hosts.filter(
    (h): h is HostRecord & { pid: number } =>
      h.pid !== undefined && h.stateDir !== '' && isLiveProcess(h.pid, h.stateDir),
  );
  // The manager removes the services; then every node waits for its own containers to go.
  for (const h of running.filter((h) => h.role === 'manager')) await removeWorkload(h.socket);
  await Promise.all(running.filter((h) => h.role === 'worker').map((h) => removeWorkload(h.socket)));
  await Promise.all(running.map((h) => terminate(h.pid, h.stateDir, 15_000)));
  for (const h of c.hosts) {
    if (h.stateDir) {
      const etcd = readEtcdPid(h.stateDir);
      if (etcd !== undefined) await killAndWait(etcd, 'etcd');
      await scrubHost(h.stateDir);
      await removeStateDir(h.stateDir);
    }
    await run('ip', ['netns', 'del', h.netns], { okCodes: [0, 1] });
  }
  if (switchExists) await run('ip', ['netns', 'del', c.switchNetns], { okCodes: [0, 1] });
}

/** The cluster host that runs node `nodeId` (by its hostname, as the manager reports it). */
export async function hostOfNode(cluster: Cluster, nodeId: string): Promise<ClusterHost> {
  const nodes = (await cluster.manager.api('GET', '/nodes')).json<
    { ID: string; Description?: { Hostname: string } }[]
  >();
  const name = nodes.find((n) => n.ID === nodeId)?.Description?.Hostname;
  const host = cluster.hosts.find((h) => h.name === name);
  if (!host) throw new Error(`no host runs node ${nodeId}`);
  return host;
}
