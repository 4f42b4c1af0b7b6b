// Cluster benchmark: 1 manager + 2 workers in the cluster in a box (test/helpers/cluster.ts: each
// swarmd in its own network namespace on one bridge), driven through the Engine API on each host's
// socket, timed as a user sees it (from the call until the manager's API shows the result, polled
// every 20 ms): join per node, create → 50 running across 3 nodes, worker kill -9 → replicas back,
// silent link cut → replicas back, drain of a node holding 10 tasks (time and fewest running).
// Docker's figures come from research/anchors.md ("Docker swarm mode, several nodes").
import { type ClusterHost, loadBusybox, sleep, startCluster } from '../test/helpers/cluster.js';
import {
  type BoxTask as ApiTask,
  createService,
  dockerFigure,
  joinSwarm,
  sleepSpec as spec,
  tasksOf,
  until,
} from './lib/box.js';
import { ms, row } from './lib/report.js';

interface ApiNode {
  ID: string;
  Version: { Index: number };
  Spec: Record<string, unknown>;
  Description?: { Hostname: string };
  Status: { State: string };
}

export async function main(): Promise<void> {
  console.log('cluster benchmark: 1 manager + 2 workers, each swarmd in its own netns (2 cores shared)');
  const cluster = await startCluster({ workers: 2, join: false });
  const { manager } = cluster;
  const [w1, w2] = cluster.workers as [ClusterHost, ClusterHost];
  const nodes = async () => (await manager.api('GET', '/nodes')).json<ApiNode[]>();
  const nodeOf = async (h: ClusterHost) => (await nodes()).find((n) => n.Description?.Hostname === h.name);
  const running = async (service: string) =>
    (await tasksOf(manager, service)).filter(
      (t) => t.DesiredState === 'running' && t.Status.State === 'running',
    );
  const create = (name: string, replicas: number) => createService(manager, spec(name, replicas));
  const remove = async (id: string) => {
    await manager.api('DELETE', `/services/${id}`);
    for (const h of cluster.hosts)
      await until(`${h.name} containers gone`, async () =>
        (await h.api('GET', '/containers/json?all=1')).json<unknown[]>().length === 0 ? true : undefined,
      );
  };
  try {
    // 1. join
    const token = (await manager.api('GET', '/swarm')).json<{ JoinTokens: { Worker: string } }>().JoinTokens
      .Worker;
    const joins: number[] = [];
    for (const w of [w1, w2]) {
      const t0 = performance.now();
      await joinSwarm(w, manager, token);
      await until(`${w.name} ready`, async () =>
        (await nodeOf(w))?.Status.State === 'ready' ? true : undefined,
      );
      joins.push(performance.now() - t0);
    }
    row(
      'worker swarm join → node Ready (per node)',
      joins.map(ms).join(' / '),
      dockerFigure('worker `swarm join`'),
    );

    await loadBusybox(cluster.hosts);
    const ids = new Map((await nodes()).map((n) => [n.ID, n.Description?.Hostname ?? n.ID]));
    const spread = (tasks: ApiTask[]) => {
      const c = new Map<string, number>();
      for (const t of tasks)
        c.set(ids.get(t.NodeID ?? '') ?? '?', (c.get(ids.get(t.NodeID ?? '') ?? '?') ?? 0) + 1);
      return [...c].map(([n, k]) => `${n} ${k}`).join(', ');
    };

    // 2. create → 50 running
    let t0 = performance.now();
    let id = await create('b50', 50);
    const fifty = await until('50 running', async () => {
      const r = await running('b50');
      return r.length === 50 ? r : undefined;
    });
    row('create → 50 running on 3 nodes', ms(performance.now() - t0), dockerFigure('create → 50 running'));
    console.log(`    spread: ${spread(fifty)}`);
    await remove(id);

    // 3. worker kill -9 → 6 running on the others
    id = await create('k6', 6);
    await until('6 running', async () => ((await running('k6')).length === 6 ? true : undefined));
    const w2id = (await nodeOf(w2))?.ID;
    t0 = performance.now();
    await w2.kill9();
    await until('6 running without worker-2', async () => {
      const r = await running('k6');
      return r.length === 6 && !r.some((t) => t.NodeID === w2id) ? true : undefined;
    });
    const killMs = performance.now() - t0;
    row(
      'worker kill -9 → 6/6 running on the others (target 8 s)',
      ms(killMs),
      dockerFigure('worker kill -9'),
    );
    await w2.restart();
    await until('worker-2 ready again', async () =>
      (await nodeOf(w2))?.Status.State === 'ready' ? true : undefined,
    );

    // 4. silent link cut of a worker holding tasks → 6 running elsewhere
    const w1id = (await nodeOf(w1))?.ID;
    t0 = performance.now();
    await w1.cutLink();
    await until('6 running without worker-1', async () => {
      const r = await running('k6');
      return r.length === 6 && !r.some((t) => t.NodeID === w1id) ? true : undefined;
    });
    row(
      'worker link cut → 6/6 running elsewhere (target 20 s)',
      ms(performance.now() - t0),
      dockerFigure('worker link cut'),
    );
    t0 = performance.now();
    await w1.restoreLink();
    await until('worker-1 ready again', async () =>
      (await nodeOf(w1))?.Status.State === 'ready' ? true : undefined,
    );
    row('link back → worker Ready', ms(performance.now() - t0));
    await remove(id);

    // 5. drain a node holding 10 of 30 tasks
    id = await create('d30', 30);
    const thirty = await until('30 running', async () => {
      const r = await running('d30');
      return r.length === 30 ? r : undefined;
    });
    const onW1 = thirty.filter((t) => t.NodeID === w1id).length;
    const node = await nodeOf(w1);
    if (!node) throw new Error('worker-1 not found');
    let min = 30;
    let polling = true;
    const poll = (async () => {
      while (polling) {
        min = Math.min(min, (await running('d30')).length);
        await sleep(20);
      }
    })();
    t0 = performance.now();
    const r = await manager.api('POST', `/nodes/${node.ID}/update?version=${node.Version.Index}`, {
      ...node.Spec,
      Availability: 'drain',
    });
    if (r.status !== 200) throw new Error(`drain: ${r.status} ${r.body}`);
    await until('30 running off worker-1', async () => {
      const t = await running('d30');
      return t.length === 30 && !t.some((x) => x.NodeID === w1id) ? true : undefined;
    });
    const drainMs = performance.now() - t0;
    polling = false;
    await poll;
    row(
      `drain a worker with ${onW1} of 30 tasks → 30 running elsewhere`,
      ms(drainMs),
      dockerFigure('drain a worker'),
    );
    row(
      'drain: fewest running during it (target: never below 30)',
      `${min} of 30`,
      dockerFigure('drain: fewest'),
    );
    await remove(id);
    console.log(
      `\nworker kill -9 → replicas back in ${ms(killMs)} (Docker ${dockerFigure('worker kill -9').value})`,
    );
  } finally {
    await cluster.destroy();
  }
}
