// Benchmark "Services that run": a real one-node swarmd (temp state dir, its own network namespace,
// busybox loaded) driven through the Engine API on its unix socket, timed as Docker's anchors were.
// First create → 50 running, 3 runs, with where the time goes (when the API showed the last task
// reach each state; the mean time per task in each step, from swarmd's --metrics-addr histograms),
// then the same on a private dockerd 20.10 side by side (bench/lib/dockerd.ts, default bridge
// networking in its own namespace). `npm run bench -- services create50` stops there; the full run
// goes on: create → N running (N = 1, 10, 200), service rm until the containers are gone, scale
// 10 → 50, rolling update of 10, self-heal after a kill. Then the scheduler with its store writes:
// 100,000 tasks placed on 1,000 nodes and written to a real etcd through ClusterStore.batch().
// Docker's other figures come from research/anchors.md.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Node, type Task, TaskSchema } from '../src/api/types.js';
import { setLogLevel } from '../src/lib/log.js';
import { applyTaskUpdate } from '../src/manager/leader.js';
import { schedule, schedulingUpdates } from '../src/manager/scheduler/scheduler.js';
import { type Tables, tables } from '../src/manager/tables.js';
import { type BatchOp, ClusterStore } from '../src/store/store.js';
import type { StoredObject } from '../src/store/table.js';
import { buildBusyboxDockerArchive } from '../test/helpers/images.js';
import { apiCall } from '../test/helpers/swarmd.js';
import { Cleanup, withCleanup } from './lib/cleanup.js';
import { startPrivateDockerd } from './lib/dockerd.js';
import { Engine, pollUntil, running, type TaskView } from './lib/engine.js';
import { startBenchEtcd } from './lib/etcd.js';
import { benchNetns } from './lib/netns.js';
import { machineLoad, waitForQuietCpu } from './lib/proc.js';
import { anchor, dockerMs, ms, row, sec } from './lib/report.js';
import { MILESTONES, type Milestone, MilestoneClock, scrape, stageMeans } from './lib/stages.js';
import { startBenchSwarmd } from './lib/swarmd.js';

/** PID 1 that exits at once on SIGTERM (a bare `sleep` as PID 1 ignores it: runtime.md §2). */
const TASK_COMMAND = ['sh', '-c', "trap 'exit 0' TERM; sleep 100000 & wait"];
const POLL_MS = 20;
const UPDATE_ENV = 'BENCH_UPDATE=1';
const PLACEMENT_NODES = 1_000;
const PLACEMENT_TASKS = 100_000;
const PLACEMENT_SERVICES = 100;
const TARGET_PLACEMENTS_PER_S = 10_000;
/** create → 50: runs per daemon (median), swarmd's metrics address inside its namespace, the goal. */
const RUNS_50 = 3;
const METRICS_ADDR = '127.0.0.1:9323';
const TARGET_50_TIMES = 6;

interface SpecOptions {
  replicas: number;
  env?: string[];
  restartDelayNs?: number;
}

/** The body `docker service create` sends (20.10 defaults), with StopGracePeriod 0 and parallelism 2. */
function serviceSpec(name: string, o: SpecOptions): Record<string, unknown> {
  return {
    Name: name,
    Labels: { 'skt.bench': '1' },
    TaskTemplate: {
      ContainerSpec: {
        Image: 'busybox:latest',
        Command: TASK_COMMAND,
        ...(o.env ? { Env: o.env } : {}),
        StopGracePeriod: 0,
      },
      RestartPolicy: { Condition: 'any', Delay: o.restartDelayNs ?? 5e9, MaxAttempts: 0 },
      ForceUpdate: 0,
    },
    Mode: { Replicated: { Replicas: o.replicas } },
    UpdateConfig: {
      Parallelism: 2,
      Delay: 0,
      FailureAction: 'pause',
      Monitor: 5e9,
      MaxFailureRatio: 0,
      Order: 'stop-first',
    },
    EndpointSpec: { Mode: 'vip' },
  };
}

interface CreateRun {
  callMs: number;
  runningMs: number;
  milestones: Map<Milestone, number>;
  /** Mean ms per task in each step on the node (empty for dockerd). */
  stages: Map<string, number>;
  rmCallMs: number;
  rmGoneMs: number;
}

/** The run with the median wall time (the lower middle one for an even count). */
function medianRun(runs: readonly CreateRun[]): CreateRun {
  const sorted = [...runs].sort((a, b) => a.runningMs - b.runningMs);
  const m = sorted[Math.floor((sorted.length - 1) / 2)];
  if (!m) throw new Error('no runs');
  return m;
}

/** Results by Docker's anchor names (ms), so each prints beside the same row of anchors.md. */
type Figures = Map<string, number>;

class ServiceBench {
  private seq = 0;
  readonly rand = randomBytes(2).toString('hex');
  constructor(
    readonly engine: Engine,
    readonly figures: Figures,
    readonly check: () => void,
  ) {}

  /** Prints our figure `key` beside Docker's row `dockerKey` (or "no Docker row"). */
  show(label: string, key: string, dockerKey: string | null = key): void {
    const v = this.figures.get(key);
    row(
      label,
      v === undefined ? 'n/a' : ms(v),
      dockerKey === null ? { value: '—', from: 'no Docker row' } : dockerMs(dockerKey),
    );
  }

  name(what: string): string {
    return `bench-${what}-${this.rand}-${this.seq++}`;
  }

  async create(name: string, o: SpecOptions): Promise<{ id: string; callMs: number; t0: number }> {
    const t0 = performance.now();
    const r = await this.engine.call('POST', '/services/create', serviceSpec(name, o));
    const callMs = performance.now() - t0;
    const id = typeof r === 'object' && r !== null && 'ID' in r && typeof r.ID === 'string' ? r.ID : '';
    if (!id) throw new Error(`service create answered without an ID: ${JSON.stringify(r)}`);
    return { id, callMs, t0 };
  }

  async update(id: string, name: string, o: SpecOptions): Promise<{ callMs: number; t0: number }> {
    const version = (await this.engine.service(id)).Version.Index;
    const t0 = performance.now();
    await this.engine.call('POST', `/services/${id}/update?version=${version}`, serviceSpec(name, o));
    return { callMs: performance.now() - t0, t0 };
  }

  untilRunning(
    id: string,
    n: number,
    since: number,
    pick?: (t: TaskView) => boolean,
    onPoll?: (tasks: TaskView[], now: number) => void,
  ): Promise<number> {
    return pollUntil(
      async () => {
        const tasks = await this.engine.tasksOf(id);
        onPoll?.(tasks, performance.now());
        return running(tasks, pick) === n;
      },
      {
        since,
        everyMs: POLL_MS,
        timeoutMs: 60_000 + n * 1500,
        what: `${n} running tasks of service ${id}`,
        check: this.check,
      },
    );
  }

  /**
   * create → n running, `runs` times (rm and a quiet machine between runs): each run's wall time,
   * the moments the API showed the last task reach each state, and — with `metrics` — the mean
   * time a task spent in each step on the node.
   */
  async createRuns(
    n: number,
    runs: number,
    metrics?: { netns: string; address: string },
  ): Promise<CreateRun[]> {
    const out: CreateRun[] = [];
    for (let i = 0; i < runs; i++) {
      await waitForQuietCpu();
      const before = metrics ? await scrape(metrics.netns, metrics.address) : undefined;
      const c = await this.create(this.name(`n${n}`), { replicas: n });
      const clock = new MilestoneClock(n, c.t0);
      const runningMs = await this.untilRunning(c.id, n, c.t0, undefined, (tasks, now) =>
        clock.observe(
          tasks.filter((t) => t.DesiredState === 'running').map((t) => t.Status.State),
          now,
        ),
      );
      const after = metrics ? await scrape(metrics.netns, metrics.address) : undefined;
      const r = await this.remove(c.id, n);
      out.push({
        callMs: c.callMs,
        runningMs,
        milestones: clock.reached,
        stages: before && after ? stageMeans(before, after) : new Map(),
        rmCallMs: r.callMs,
        rmGoneMs: r.goneMs,
      });
    }
    return out;
  }

  /** DELETE the service, then wait until no container of it is left. */
  async remove(id: string, n: number): Promise<{ callMs: number; goneMs: number }> {
    const t0 = performance.now();
    await this.engine.call('DELETE', `/services/${id}`);
    const callMs = performance.now() - t0;
    const goneMs = await pollUntil(async () => (await this.engine.containersOf(id)).length === 0, {
      since: t0,
      everyMs: POLL_MS,
      timeoutMs: 60_000 + n * 1000,
      what: `the containers of service ${id} to be removed`,
      check: this.check,
    });
    return { callMs, goneMs };
  }

  /** create → N running → rm → containers gone. */
  async createAndRemove(n: number): Promise<void> {
    const c = await this.create(this.name(`n${n}`), { replicas: n });
    const runningMs = await this.untilRunning(c.id, n, c.t0);
    const r = await this.remove(c.id, n);
    this.figures.set(`create_${n}_call_ms`, c.callMs);
    this.figures.set(`create_${n}_until_running_ms`, runningMs);
    this.figures.set(`rm_${n}_call_ms`, r.callMs);
    this.figures.set(`rm_${n}_until_containers_gone_ms`, r.goneMs);
    this.showCreateAndRemove(n);
  }

  showCreateAndRemove(n: number): void {
    const docker = anchor(`create_${n}_call_ms`) === undefined ? null : undefined;
    this.show(`create ${n}: API call`, `create_${n}_call_ms`, docker);
    this.show(`create ${n}: until ${n} running`, `create_${n}_until_running_ms`, docker);
    this.show(`rm ${n}: API call`, `rm_${n}_call_ms`, docker);
    this.show(
      `rm ${n}: until containers gone (Docker: 10 s grace)`,
      `rm_${n}_until_containers_gone_ms`,
      docker,
    );
  }

  async scale(): Promise<void> {
    const name = this.name('scale');
    const c = await this.create(name, { replicas: 10 });
    await this.untilRunning(c.id, 10, c.t0);
    const u = await this.update(c.id, name, { replicas: 50 });
    this.figures.set('scale_10_to_50_call_ms', u.callMs);
    this.figures.set('scale_10_to_50_until_running_ms', await this.untilRunning(c.id, 50, u.t0));
    this.show('scale 10 → 50: API call', 'scale_10_to_50_call_ms');
    this.show('scale 10 → 50: until 50 running', 'scale_10_to_50_until_running_ms');
    await this.remove(c.id, 50);
  }

  async rollingUpdate(): Promise<void> {
    const name = this.name('update');
    const c = await this.create(name, { replicas: 10 });
    await this.untilRunning(c.id, 10, c.t0);
    const u = await this.update(c.id, name, { replicas: 10, env: [UPDATE_ENV] });
    this.figures.set('update_10_grace0_call_ms', u.callMs);
    const isNew = (t: TaskView) => (t.Spec.ContainerSpec.Env ?? []).includes(UPDATE_ENV);
    this.figures.set(
      'update_10_grace0_until_all_new_running_ms',
      await this.untilRunning(c.id, 10, u.t0, isNew),
    );
    this.figures.set(
      'update_10_grace0_until_status_completed_ms',
      await pollUntil(async () => (await this.engine.service(c.id)).UpdateStatus?.State === 'completed', {
        since: u.t0,
        everyMs: POLL_MS,
        timeoutMs: 120_000,
        what: 'UpdateStatus completed',
        check: this.check,
      }),
    );
    console.log('  rolling update of 10 (Parallelism 2, Delay 0, Monitor 5 s, stop-first, grace 0):');
    this.show('update 10: API call', 'update_10_grace0_call_ms');
    this.show('update 10: until all 10 new running', 'update_10_grace0_until_all_new_running_ms');
    this.show('update 10: until UpdateStatus completed', 'update_10_grace0_until_status_completed_ms');
    await this.remove(c.id, 10);
  }

  async selfHeal(): Promise<void> {
    const c = await this.create(this.name('heal'), { replicas: 10, restartDelayNs: 0 });
    await this.untilRunning(c.id, 10, c.t0);
    const victim = (await this.engine.tasksOf(c.id)).find(
      (t) => t.Status.State === 'running' && t.Status.ContainerStatus?.ContainerID,
    );
    const containerId = victim?.Status.ContainerStatus?.ContainerID;
    if (!victim || !containerId) throw new Error('no running task with a container to kill');
    const t0 = performance.now();
    await this.engine.call('POST', `/containers/${containerId}/kill`);
    this.figures.set('selfheal_10_grace0_kill_call_ms', performance.now() - t0);
    this.figures.set(
      'selfheal_10_grace0_until_task_not_running_ms',
      await pollUntil(
        async () =>
          (await this.engine.tasksOf(c.id)).find((t) => t.ID === victim.ID)?.Status.State !== 'running',
        {
          since: t0,
          everyMs: POLL_MS,
          timeoutMs: 30_000,
          what: 'the killed task to leave RUNNING',
          check: this.check,
        },
      ),
    );
    this.figures.set('selfheal_10_grace0_until_back_to_10_running_ms', await this.untilRunning(c.id, 10, t0));
    console.log('  self-heal (10 replicas, RestartPolicy any, Delay 0; POST /containers/{id}/kill):');
    this.show('self-heal: kill call', 'selfheal_10_grace0_kill_call_ms');
    this.show('self-heal: until the task leaves running', 'selfheal_10_grace0_until_task_not_running_ms');
    this.show('self-heal: until back to 10 running', 'selfheal_10_grace0_until_back_to_10_running_ms');
    await this.remove(c.id, 10);
  }
}

/** Part 1: the real swarm. Everything it starts is gone when it returns (or throws). */
async function swarmFigures(figures: Figures, outer: Cleanup, only50: boolean): Promise<CreateRun[]> {
  const cleanup = new Cleanup();
  outer.defer('swarm part', () => cleanup.run());
  try {
    const netns = await benchNetns(cleanup, 'svc');
    const swarmd = await startBenchSwarmd(cleanup, netns, ['--metrics-addr', METRICS_ADDR]);
    const engine = new Engine(swarmd.socket);
    await engine.call('POST', '/swarm/init', { ListenAddr: '127.0.0.1:2377', AdvertiseAddr: '127.0.0.1' });
    // Registered after swarmd, so it runs before swarmd stops: the agent removes the containers.
    cleanup.defer('remove bench services', async () => {
      const list = await engine.call('GET', '/services');
      const ids = Array.isArray(list)
        ? list.flatMap((s: unknown) => (typeof s === 'object' && s && 'ID' in s ? [String(s.ID)] : []))
        : [];
      for (const id of ids) await engine.call('DELETE', `/services/${id}`, undefined, [200, 204, 404]);
      for (const id of ids) {
        await pollUntil(async () => (await engine.containersOf(id)).length === 0, {
          since: performance.now(),
          everyMs: 100,
          timeoutMs: 60_000,
          what: 'bench containers to go',
        }).catch((e: unknown) => console.error(String(e)));
      }
    });
    const archive = join(swarmd.stateDir, 'busybox.tar');
    await buildBusyboxDockerArchive(archive, { tag: 'busybox:latest' });
    const load = await apiCall(swarmd.socket, 'POST', '/images/load?quiet=1', readFileSync(archive), {
      'Content-Type': 'application/x-tar',
    });
    if (load.status !== 200) throw new Error(`image load: ${load.status} ${load.body.slice(0, 300)}`);

    const bench = new ServiceBench(engine, figures, swarmd.check);
    // Warm-up (not reported): the first containers pay for cold caches.
    const warm = await bench.create(bench.name('warm'), { replicas: 2 });
    await bench.untilRunning(warm.id, 2, warm.t0);
    const probe = (await engine.tasksOf(warm.id))[0]?.Status.ContainerStatus?.ContainerID;
    const inspect = probe ? await engine.call('GET', `/containers/${probe}/json`) : null;
    const nets = JSON.stringify((inspect as { NetworkSettings?: unknown } | null)?.NetworkSettings ?? {});
    const networking = /"IPAddress":"\d/.test(nets)
      ? 'tasks have a netns with an address on the gateway bridge'
      : 'tasks get a fresh netns with only lo (swarmd wires no network provider yet)';
    await bench.remove(warm.id, 2);
    console.log(`\nswarm (busybox tasks exiting on SIGTERM, StopGracePeriod 0; ${networking}):`);

    const fifty = await bench.createRuns(50, RUNS_50, { netns, address: METRICS_ADDR });
    const m = medianRun(fifty);
    figures.set('create_50_call_ms', m.callMs);
    figures.set('create_50_until_running_ms', m.runningMs);
    figures.set('rm_50_call_ms', m.rmCallMs);
    figures.set('rm_50_until_containers_gone_ms', m.rmGoneMs);
    if (only50) return fifty;
    // 200 last: it loads swarmd the most, and the other rows should not depend on it surviving.
    for (const n of [1, 10]) await bench.createAndRemove(n);
    bench.showCreateAndRemove(50);
    await bench.scale();
    await bench.rollingUpdate();
    await bench.selfHeal();
    await bench.createAndRemove(200);
    return fifty;
  } finally {
    await cleanup.run();
  }
}

/**
 * The same create → 50 on a private dockerd 20.10 (bench/lib/dockerd.ts), the same spec and polling;
 * undefined when Debian's dockerd is not installed.
 */
async function dockerdFifty(outer: Cleanup): Promise<CreateRun[] | undefined> {
  const cleanup = new Cleanup();
  outer.defer('dockerd part', () => cleanup.run());
  try {
    // Its default bridge and iptables (inside its own namespace): each task gets a network, as ours do.
    const dockerd = await startPrivateDockerd(cleanup, { networking: 'default' });
    if (!dockerd) return undefined;
    const archive = join(dockerd.dir, 'busybox.tar');
    await buildBusyboxDockerArchive(archive, { tag: 'busybox:latest' });
    const load = await apiCall(dockerd.socket, 'POST', '/images/load?quiet=1', readFileSync(archive), {
      'Content-Type': 'application/x-tar',
    });
    if (load.status !== 200) throw new Error(`dockerd image load: ${load.status} ${load.body.slice(0, 300)}`);
    const bench = new ServiceBench(new Engine(dockerd.socket), new Map(), () => undefined);
    const warm = await bench.create(bench.name('warm'), { replicas: 2 });
    await bench.untilRunning(warm.id, 2, warm.t0);
    await bench.remove(warm.id, 2);
    return await bench.createRuns(50, RUNS_50);
  } finally {
    await cleanup.run();
  }
}

/** The create → 50 comparison: wall times, when the API showed the last task in each state, steps. */
function reportFifty(ours: CreateRun[], docker: CreateRun[] | undefined): void {
  const o = medianRun(ours);
  const d = docker && medianRun(docker);
  const dockerCell = (v: number | undefined, what: string) =>
    d && v !== undefined
      ? { value: ms(v), from: `private dockerd 20.10 here${what}` }
      : { value: 'n/a', from: docker ? 'not reached' : 'dockerd not installed' };
  const list = (runs: CreateRun[]) => runs.map((r) => ms(r.runningMs)).join(', ');
  console.log(
    `
create → 50 running, ${RUNS_50} runs each, median (same spec; the API polled every ${POLL_MS} ms):`,
  );
  row('create 50: API call', ms(o.callMs), dockerCell(d?.callMs, ''));
  row(
    'create 50: until 50 running',
    ms(o.runningMs),
    dockerCell(d?.runningMs, `, runs ${docker ? list(docker) : ''}`),
  );
  console.log(
    `    (swarmd runs ${list(ours)}; Docker's anchor ${dockerMs('create_50_until_running_ms').value})`,
  );
  console.log('  when the API showed the last of the 50 tasks reach each state (median run):');
  for (const m of MILESTONES) {
    const v = o.milestones.get(m);
    row(`  ${m}`, v === undefined ? 'n/a' : ms(v), dockerCell(d?.milestones.get(m), ''));
  }
  console.log("  mean time per task in each step (swarmd's swarm_*_seconds histograms, median run):");
  const steps: [string, string][] = [
    ['scheduling', 'scheduling (created → assigned, leader)'],
    ['delivery', 'assignment delivery (assigned → on the node)'],
    ['prepare', 'prepare (all of it)'],
    ['image', '  image (resolve)'],
    ['network', '  network setup (netns, veth, addresses, rules)'],
    ['start', 'runc create + start (conmon)'],
  ];
  for (const [key, label] of steps) {
    const v = o.stages.get(key);
    row(`  ${label}`, v === undefined ? 'n/a' : `${v.toFixed(1)} ms`);
  }
  const prep = o.stages.get('prepare');
  const parts = (o.stages.get('image') ?? 0) + (o.stages.get('network') ?? 0);
  if (prep !== undefined)
    row('    bundle, rootfs mount, files (prepare − the two above)', `${(prep - parts).toFixed(1)} ms`);
}

// ---------------------------------------------------------------- placements with store writes

const EPOCH = Date.parse('2030-01-01T00:00:00Z');
const AT = new Date(EPOCH).toISOString();

function syntheticNode(i: number): Node {
  return {
    ID: `benchnode${i}`,
    Version: { Index: 1 },
    CreatedAt: AT,
    UpdatedAt: AT,
    Spec: { Role: 'worker', Availability: 'active', Labels: { zone: `z${i % 4}` } },
    Description: {
      Hostname: `host${i}`,
      Platform: { OS: 'linux', Architecture: 'x86_64' },
      Resources: { NanoCPUs: 64e9, MemoryBytes: 256 * 2 ** 30 },
      Engine: { EngineVersion: 'bench' },
    },
    Status: { State: 'ready' },
  };
}

type NewTask = Omit<Task, 'Version' | 'CreatedAt' | 'UpdatedAt'>;

function syntheticTask(i: number, rand: string): NewTask {
  const s = i % PLACEMENT_SERVICES;
  return {
    ID: `bt${rand}${i.toString(36).padStart(5, '0')}`,
    ServiceID: `benchsvc${s}`,
    SpecVersion: { Index: 1 },
    Slot: Math.floor(i / PLACEMENT_SERVICES) + 1,
    Spec: {
      ContainerSpec: { Image: 'busybox:latest', Command: TASK_COMMAND },
      Resources: { Reservations: { NanoCPUs: 1e6, MemoryBytes: 2 ** 20 } },
    },
    ServiceAnnotations: { Name: `bench-${s}` },
    Status: { Timestamp: AT, State: 'pending', Message: 'pending task scheduling' },
    DesiredState: 'running',
  };
}

/** Runs `ops` as batch() calls of `chunk` ops, `width` of them in flight; throws on any failed op. */
async function writeAll(
  store: ClusterStore<Tables>,
  ops: BatchOp<Tables>[],
  opts: { chunk: number; width: number; fence?: { key: string; createRevision: number } },
): Promise<StoredObject[]> {
  const out: StoredObject[] = new Array(ops.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: opts.width }, async () => {
      while (next < ops.length) {
        const from = next;
        next += opts.chunk;
        const slice = ops.slice(from, from + opts.chunk);
        const results = await store.batch(slice, opts.fence ? { fence: opts.fence } : {});
        results.forEach((r, k) => {
          if (!r.ok) throw r.error;
          if (r.object) out[from + k] = r.object;
        });
      }
    }),
  );
  return out;
}

interface PlacementFigures {
  placed: number;
  scheduleMs: number;
  writeMs: number;
  totalMs: number;
  setupWriteMs: number;
  pipelinedWriteMs: number;
}

/** Part 2: the pure scheduler on synthetic nodes and tasks, with its placements written to etcd. */
async function placementFigures(outer: Cleanup): Promise<PlacementFigures> {
  const cleanup = new Cleanup();
  outer.defer('placement part', () => cleanup.run());
  try {
    const { client } = await startBenchEtcd(cleanup);
    const store = new ClusterStore(client, tables);
    const rand = randomBytes(2).toString('hex');
    const nodes = Array.from({ length: PLACEMENT_NODES }, (_, i) => syntheticNode(i));
    await writeAll(
      store,
      nodes.map((n) => {
        const { Version: _v, CreatedAt: _c, UpdatedAt: _u, ...rest } = n;
        return { op: 'create', kind: 'node', object: rest };
      }),
      { chunk: 128, width: 4 },
    );
    // Setup, not timed as placements: the orchestrator's creates of the PENDING tasks.
    const setupStarted = performance.now();
    const created = await writeAll(
      store,
      Array.from({ length: PLACEMENT_TASKS }, (_, i) => ({
        op: 'create' as const,
        kind: 'task' as const,
        object: syntheticTask(i, rand),
      })),
      { chunk: 128, width: 4 },
    );
    const setupWriteMs = performance.now() - setupStarted;
    const tasks = created.map((o) => TaskSchema.parse(o));
    // A leader fence as the leader writes with (one compare per transaction).
    const leader = await client.put('/skt-bench/leader').value('bench').exec();
    const fence = { key: '/skt-bench/leader', createRevision: Number(leader.header.revision) };

    // Timed: schedule → the ASSIGNED updates → one batch() of them (as LeaderLoop.pass does).
    const t0 = performance.now();
    const result = schedule(nodes, tasks, { now: EPOCH });
    const byId = new Map(tasks.map((t) => [t.ID, t]));
    const ops: BatchOp<Tables>[] = [];
    for (const u of schedulingUpdates(result, byId, EPOCH)) {
      const t = byId.get(u.ID);
      if (t) ops.push({ op: 'update', kind: 'task', object: applyTaskUpdate(t, u) });
    }
    const t1 = performance.now();
    const written = await writeAll(store, ops, { chunk: ops.length, width: 1, fence });
    const t2 = performance.now();
    if (result.placements.length !== PLACEMENT_TASKS) {
      throw new Error(`placed ${result.placements.length} of ${PLACEMENT_TASKS} tasks`);
    }

    // For comparison: the same volume of updates with 4 batch() calls of 1024 ops in flight.
    const again: BatchOp<Tables>[] = written.map((o) => {
      const t = TaskSchema.parse(o);
      return { op: 'update', kind: 'task', object: { ...t, Status: { ...t.Status, Message: 'rewritten' } } };
    });
    const t3 = performance.now();
    await writeAll(store, again, { chunk: 1024, width: 4, fence });
    const pipelinedWriteMs = performance.now() - t3;
    return {
      placed: result.placements.length,
      scheduleMs: t1 - t0,
      writeMs: t2 - t1,
      totalMs: t2 - t0,
      setupWriteMs,
      pipelinedWriteMs,
    };
  } finally {
    await cleanup.run();
  }
}

// ---------------------------------------------------------------- report

function dockerdRunning(): boolean {
  return existsSync('/var/run/docker.pid') || existsSync('/run/docker.pid');
}

export async function main(): Promise<void> {
  setLogLevel('warn');
  await withCleanup(async (cleanup) => {
    console.log(`services benchmark: one-node swarmd through the Engine API; ${machineLoad()}`);
    if (dockerdRunning()) console.log('(dockerd is running on this machine: not measured; anchors only)');
    const only50 = process.argv[3] === 'create50';
    const f: Figures = new Map();
    const get = (k: string) => f.get(k) ?? Number.NaN;
    let swarmError: unknown;
    let fifty: CreateRun[] = [];
    try {
      fifty = await swarmFigures(f, cleanup, only50);
    } catch (err) {
      // Report it after the placement figures, which do not need swarmd.
      swarmError = err;
      console.log(`  swarm part FAILED: ${err instanceof Error ? err.message : String(err)}`);
    }
    // Side by side, one daemon at a time: swarmd is gone before dockerd starts.
    await waitForQuietCpu();
    const docker = fifty.length > 0 ? await dockerdFifty(cleanup) : undefined;
    if (fifty.length > 0) reportFifty(fifty, docker);
    // The issue's target is against Docker's anchor (a host dockerd, research/anchors.md); the private
    // dockerd here fails its per-task registry lookup at once (no route in its namespace), so it is
    // faster than a dockerd on a host: both are printed.
    const vsDocker = () => {
      const d = docker && medianRun(docker).runningMs;
      const o = get('create_50_until_running_ms');
      const a = anchor('create_50_until_running_ms');
      const vsAnchor =
        a === undefined
          ? "Docker's anchor n/a"
          : `${(a / o).toFixed(1)}× Docker's anchor ${sec(a)} (target ≥ ${TARGET_50_TIMES}×: ${a / o >= TARGET_50_TIMES ? 'met' : 'missed'})`;
      return `${sec(o)}: ${vsAnchor}; ${d ? `${(d / o).toFixed(1)}× a private dockerd here (${sec(d)})` : 'dockerd not installed'}`;
    };
    if (only50) {
      console.log(`
create → 50 running: swarmd ${vsDocker()}`);
      if (swarmError) throw swarmError;
      return;
    }

    // The swarm part's last containers are gone, but the kernel is still freeing their netns.
    await waitForQuietCpu();
    const p = await placementFigures(cleanup);
    const rate = (n: number, t: number) => Math.round((n / t) * 1000);
    const perSec = rate(p.placed, p.totalMs);
    console.log(
      `\nscheduler: ${PLACEMENT_TASKS.toLocaleString('en')} tasks on ${PLACEMENT_NODES.toLocaleString('en')} nodes, placements written to etcd (ClusterStore.batch, 128-op fenced txns):`,
    );
    row('schedule() + updates built', ms(p.scheduleMs));
    row('store.batch() of the placements', ms(p.writeMs));
    row('placements/s including store writes', perSec.toLocaleString('en'), {
      who: 'Nomad',
      value: '3,750',
      from: "Nomad's published record, not Docker",
    });
    row('  placements/s, schedule() alone', rate(p.placed, p.scheduleMs).toLocaleString('en'));
    row('  updates/s, one batch() (txns in sequence)', rate(p.placed, p.writeMs).toLocaleString('en'));
    row('  updates/s, 4 batch() calls in flight', rate(p.placed, p.pipelinedWriteMs).toLocaleString('en'));
    row(
      '  (setup) creates/s of the PENDING tasks',
      rate(PLACEMENT_TASKS, p.setupWriteMs).toLocaleString('en'),
    );
    console.log(
      `  (${perSec >= TARGET_PLACEMENTS_PER_S ? 'placements: target met' : 'placements: BELOW target'} of ${TARGET_PLACEMENTS_PER_S.toLocaleString('en')}/s; ${machineLoad()})`,
    );
    const d = (k: string) => {
      const v = anchor(k);
      return v === undefined ? 'n/a' : sec(v);
    };
    console.log(
      `services: 50 replicas running in ${vsDocker()}; ` +
        `scale 10→50 ${sec(get('scale_10_to_50_until_running_ms'))} (${d('scale_10_to_50_until_running_ms')}); ` +
        `update of 10 ${sec(get('update_10_grace0_until_all_new_running_ms'))} (${d('update_10_grace0_until_all_new_running_ms')}); ` +
        `self-heal ${sec(get('selfheal_10_grace0_until_back_to_10_running_ms'))} (${d('selfheal_10_grace0_until_back_to_10_running_ms')}); ` +
        `${(perSec / 1000).toFixed(1)}k placements/s with store writes`,
    );
    if (swarmError) throw swarmError;
  });
}
