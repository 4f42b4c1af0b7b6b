// Footprint benchmark (issue #16): the memory a node costs, as the machine counts it. A cluster in a
// box (1 manager + 1 worker) is left idle, then each host's processes are read: swarmd, its spawn
// helper and (manager) its etcd — RSS, which counts the shared Node binary once per process as
// Docker's figures do, and PSS, which shares it out. Then 20 tasks on the manager: the growth of
// swarmd's processes and the tasks' conmon monitors, per task (the tasks' own processes are not
// overhead). Last, create → 30 running on a one-node swarm with and without the spawn helper
// (SWARMD_SPAWN_HELPER=0), so its memory can be weighed against the throughput it buys.
// Docker's figures: research/anchors.md (dockerd + containerd idle; 100 tasks with their shims).
import { readdirSync, readFileSync } from 'node:fs';
import { type ClusterHost, loadBusybox, startCluster } from '../test/helpers/cluster.js';
import { withCleanup } from './lib/cleanup.js';
import { Engine, pollUntil, running } from './lib/engine.js';
import { childrenOf, commOf, machineLoad, waitForQuietCpu } from './lib/proc.js';
import { anchor, row } from './lib/report.js';
import { percentile } from './stats.js';

const TASKS = 20;
const THROUGHPUT_TASKS = 30;
const RUNS = 3;
const IDLE_MS = 10_000;
const TARGET = { manager: 120, worker: 60, perTask: 3 };

interface Memory {
  rss: number;
  pss: number;
}
const ZERO: Memory = { rss: 0, pss: 0 };
const add = (a: Memory, b: Memory): Memory => ({ rss: a.rss + b.rss, pss: a.pss + b.pss });
const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;

/** RSS and PSS of one process in KiB (smaps_rollup), zero when it is gone. */
function memoryOf(pid: number): Memory {
  try {
    const t = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(t)?.[1] ?? 0);
    return { rss: field('Rss'), pss: field('Pss') };
  } catch {
    return ZERO;
  }
}

/** A process and all its descendants. */
function tree(root: number): number[] {
  const out: number[] = [];
  let level = new Set([root]);
  while (level.size > 0) {
    out.push(...level);
    const kids = childrenOf(level);
    level = new Set([...kids.values()].flat());
  }
  return out;
}

/** A host's own processes by role (swarmd, spawn helper, etcd), each summed. */
function hostMemory(host: ClusterHost): Map<string, Memory> {
  const out = new Map<string, Memory>();
  const pid = host.swarmd.child.pid;
  if (pid === undefined) throw new Error(`${host.name}: swarmd has no pid`);
  for (const p of tree(pid)) {
    const comm = commOf(p);
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${p}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    const role =
      p === pid
        ? 'swarmd'
        : cmdline.includes('spawn-helper')
          ? 'spawn helper'
          : comm === 'etcd'
            ? 'etcd'
            : '';
    if (!role) continue; // a command the helper runs at this moment
    out.set(role, add(out.get(role) ?? ZERO, memoryOf(p)));
  }
  return out;
}

/** conmon monitors of a host's containers (they re-parent away from swarmd): found by its state dir. */
function conmonsOf(host: ClusterHost): Memory {
  let total = ZERO;
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || commOf(Number(e)) !== 'conmon') continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(host.stateDir))
        total = add(total, memoryOf(Number(e)));
    } catch {
      // gone
    }
  }
  return total;
}

const sum = (m: Map<string, Memory>) => [...m.values()].reduce(add, ZERO);

function printHost(label: string, m: Map<string, Memory>, targetMiB: number): Memory {
  const total = sum(m);
  for (const [role, v] of m)
    row(`  ${label}: ${role}`, `${mib(v.rss)} RSS`, { value: `${mib(v.pss)}`, from: 'PSS', who: '' });
  row(`${label} idle, total`, `${mib(total.rss)} RSS`, {
    value: `${mib(total.pss)}`,
    from: `PSS; target ≤ ${targetMiB} MiB (RSS ${total.rss / 1024 <= targetMiB ? 'met' : 'missed'})`,
    who: '',
  });
  return total;
}

/** create → n running on `host`, the ms; the service is removed again (and its containers gone). */
async function createRun(host: ClusterHost, n: number, name: string): Promise<number> {
  const engine = new Engine(host.socket);
  const t0 = performance.now();
  const r = (await engine.call('POST', '/services/create', {
    Name: name,
    TaskTemplate: {
      ContainerSpec: { Image: 'busybox:latest', Command: ['sleep', '100000'], StopGracePeriod: 0 },
    },
    Mode: { Replicated: { Replicas: n } },
  })) as { ID: string };
  const ms = await pollUntil(async () => running(await engine.tasksOf(r.ID)) === n, {
    since: t0,
    timeoutMs: 120_000,
    what: `${n} running`,
  });
  await engine.call('DELETE', `/services/${r.ID}`);
  await pollUntil(async () => (await engine.containersOf(r.ID)).length === 0, {
    since: performance.now(),
    timeoutMs: 120_000,
    what: 'containers gone',
  });
  return ms;
}

async function throughput(helper: boolean): Promise<number[]> {
  const before = process.env.SWARMD_SPAWN_HELPER;
  process.env.SWARMD_SPAWN_HELPER = helper ? '1' : '0';
  try {
    return await withCleanup(async (cleanup) => {
      const cluster = await startCluster({ workers: 0 });
      cleanup.defer('cluster', () => cluster.destroy());
      await loadBusybox(cluster.hosts);
      await createRun(cluster.manager, 2, 'warm');
      const times: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        await waitForQuietCpu();
        times.push(await createRun(cluster.manager, THROUGHPUT_TASKS, `tp${i}`));
      }
      return times;
    });
  } finally {
    if (before === undefined) delete process.env.SWARMD_SPAWN_HELPER;
    else process.env.SWARMD_SPAWN_HELPER = before;
  }
}

export async function main(): Promise<void> {
  console.log(
    `footprint benchmark: a cluster in a box (1 manager + 1 worker), idle ${IDLE_MS / 1000} s; ${machineLoad()}`,
  );
  await withCleanup(async (cleanup) => {
    const cluster = await startCluster({ workers: 1 });
    cleanup.defer('cluster', () => cluster.destroy());
    await loadBusybox(cluster.hosts);
    await new Promise((r) => setTimeout(r, IDLE_MS));
    const worker = cluster.workers[0];
    if (!worker) throw new Error('no worker');
    const manager = printHost('manager', hostMemory(cluster.manager), TARGET.manager);
    printHost('worker', hostMemory(worker), TARGET.worker);
    const dockerIdle = anchor('rss_dockerd_plus_containerd_0tasks');
    row('Docker: dockerd + containerd idle', '', {
      value: dockerIdle === undefined ? 'n/a' : `${dockerIdle} MiB`,
      from: 'RSS, anchors.md (one node)',
    });

    // Per task: swarmd's processes and the conmons, after − before, over TASKS tasks on the manager.
    const engine = new Engine(cluster.manager.socket);
    const before = add(sum(hostMemory(cluster.manager)), conmonsOf(cluster.manager));
    const r = (await engine.call('POST', '/services/create', {
      Name: 'fp',
      TaskTemplate: {
        ContainerSpec: { Image: 'busybox:latest', Command: ['sleep', '100000'], StopGracePeriod: 0 },
        Placement: { Constraints: ['node.role==manager'] },
      },
      Mode: { Replicated: { Replicas: TASKS } },
    })) as { ID: string };
    await pollUntil(async () => running(await engine.tasksOf(r.ID)) === TASKS, {
      since: performance.now(),
      timeoutMs: 120_000,
      what: `${TASKS} running`,
    });
    await new Promise((res) => setTimeout(res, 5000));
    const afterMem = add(sum(hostMemory(cluster.manager)), conmonsOf(cluster.manager));
    const perTask = { rss: (afterMem.rss - before.rss) / TASKS, pss: (afterMem.pss - before.pss) / TASKS };
    const d100 = anchor('rss_dockerd_plus_containerd_100tasks');
    const shims = anchor('rss_shims_total_100tasks');
    const dockerPerTask =
      d100 !== undefined && shims !== undefined && dockerIdle !== undefined
        ? `${((d100 + shims - dockerIdle) / 100).toFixed(1)} MiB`
        : 'n/a';
    row(`per running task (${TASKS} on the manager, swarmd + conmon)`, `${mib(perTask.rss)} RSS`, {
      value: dockerPerTask,
      from: `Docker per task with its shim (RSS, anchors.md); ours PSS ${mib(perTask.pss)}; target ≤ ${TARGET.perTask} MiB`,
    });
    await engine.call('DELETE', `/services/${r.ID}`);
    await pollUntil(async () => (await engine.containersOf(r.ID)).length === 0, {
      since: performance.now(),
      timeoutMs: 120_000,
      what: 'containers gone',
    });
    await cluster.destroy();

    const median = (xs: number[]) =>
      percentile(
        [...xs].sort((a, b) => a - b),
        50,
      );
    const withHelper = await throughput(true);
    const without = await throughput(false);
    row(`create → ${THROUGHPUT_TASKS} running, spawn helper on`, `${Math.round(median(withHelper))} ms`, {
      value: `${Math.round(median(without))} ms`,
      from: `helper off (SWARMD_SPAWN_HELPER=0); runs ${withHelper.map(Math.round).join(', ')} / ${without.map(Math.round).join(', ')}`,
      who: 'off',
    });
    console.log(
      `\nfootprint: idle manager ${mib(manager.rss)} RSS / ${mib(manager.pss)} PSS (target ≤ ${TARGET.manager} MiB RSS), ` +
        `per task ${mib(perTask.rss)} RSS (≤ ${TARGET.perTask}); Docker idle ${dockerIdle ?? 'n/a'} MiB, per task ${dockerPerTask}`,
    );
  });
}
