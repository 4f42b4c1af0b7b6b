// Engine API read latency: a real swarmd (temp state dir) with 10 services of 10 replicas (100
// tasks, made by swarmd's own orchestrator), then N sequential GET /services, GET /tasks and
// GET /services?status=true over the unix socket on one keep-alive connection. Prints median and
// p99 next to Docker 20.10's figures (research/anchors.md) and the response sizes.
//
// The tasks are pinned Pending by a placement constraint no node meets, so no agent, image or
// container is involved and the task set stays still while it is measured.
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { type SwarmdProcess, startSwarmd } from '../test/helpers/swarmd.js';
import { fmt, summarize } from './stats.js';

const N = 1000;
const WARMUP = 1000;
const SERVICES = 10;
const REPLICAS = 10;

/** Docker 20.10 on this VM, 10 services × 10 running tasks (research/anchors.md). */
const DOCKER = {
  services: { median: 0.58, p99: 1.63, bytes: 5057 },
  tasks: { median: 1.83, p99: 9.07, bytes: 69976 },
  servicesStatus: { median: 0.86, p99: 4.46, bytes: 5787 },
};

function get(agent: Agent, socketPath: string, path: string): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: 'GET', agent }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function measure(agent: Agent, socket: string, path: string) {
  let bytes = 0;
  const samples: number[] = [];
  for (let i = 0; i < N; i++) {
    const t0 = performance.now();
    const r = await get(agent, socket, path);
    samples.push(performance.now() - t0);
    if (r.status !== 200) throw new Error(`GET ${path} answered ${r.status}`);
    bytes = r.bytes;
  }
  return { ...summarize(samples), bytes };
}

async function setup(swarmd: SwarmdProcess): Promise<void> {
  const init = await swarmd.api('POST', '/v1.41/swarm/init', {
    ListenAddr: `127.0.0.1:${swarmd.listenPort}`,
    AdvertiseAddr: '127.0.0.1',
  });
  if (init.status !== 200) throw new Error(`swarm init: ${init.status} ${init.body}`);
  for (let i = 0; i < SERVICES; i++) {
    // The body `docker service create` sends, plus a constraint that keeps the tasks Pending.
    const r = await swarmd.api('POST', '/v1.41/services/create', {
      Name: `bench-${i}`,
      Labels: {},
      TaskTemplate: {
        ContainerSpec: { Image: 'busybox:latest', Args: ['sleep', '3600'], Init: false, DNSConfig: {} },
        Resources: { Limits: {}, Reservations: {} },
        Placement: { Constraints: ['node.labels.skt-bench==never'] },
        ForceUpdate: 0,
      },
      Mode: { Replicated: { Replicas: REPLICAS } },
      EndpointSpec: { Mode: 'vip' },
    });
    if (r.status !== 201) throw new Error(`service create: ${r.status} ${r.body}`);
  }
  // Wait (bounded) for the orchestrator to have made all the tasks.
  const want = SERVICES * REPLICAS;
  const end = Date.now() + 30_000;
  let count = 0;
  while (Date.now() < end) {
    count = (await swarmd.api('GET', '/v1.41/tasks')).json<unknown[]>().length;
    if (count >= want) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (count !== want) throw new Error(`expected ${want} tasks in the store, found ${count}`);
  // Let the scheduler's first passes (Pending with "no suitable node") settle.
  await new Promise((r) => setTimeout(r, 1000));
}

export async function main(): Promise<void> {
  const swarmd = await startSwarmd({ prefix: 'skt-acc-bench-', hostname: 'vm' });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    await setup(swarmd);
    const rows: [string, string, keyof typeof DOCKER][] = [
      ['GET /services', '/v1.41/services', 'services'],
      ['GET /tasks', '/v1.41/tasks', 'tasks'],
      ['GET /services?status=true', '/v1.41/services?status=true', 'servicesStatus'],
    ];
    // Warm every route up first (JIT, caches), so the order of the rows does not bias them.
    for (const [, path] of rows) for (let i = 0; i < WARMUP; i++) await get(agent, swarmd.socket, path);
    const results: Record<string, { median: number; p99: number; bytes: number }> = {};
    console.log(
      `api: ${SERVICES} services × ${REPLICAS} tasks, N=${N} sequential requests each, one keep-alive connection`,
    );
    console.log('request                       p50 ms   p99 ms    bytes  | Docker p50   p99    bytes');
    for (const [label, path, key] of rows) {
      const r = await measure(agent, swarmd.socket, path);
      results[key] = r;
      const d = DOCKER[key];
      console.log(
        `${label.padEnd(28)} ${fmt(r.median).padStart(7)} ${fmt(r.p99).padStart(8)} ${String(r.bytes).padStart(8)}  | ${fmt(d.median).padStart(8)} ${fmt(d.p99).padStart(6)} ${String(d.bytes).padStart(8)}`,
      );
    }
    const s = results.services as { median: number };
    const t = results.tasks as { median: number };
    const st = results.servicesStatus as { median: number };
    console.log(
      `api: GET /services p50 ${fmt(s.median)} ms (Docker ${fmt(DOCKER.services.median)}), GET /tasks p50 ${fmt(t.median)} ms (Docker ${fmt(DOCKER.tasks.median)}), GET /services?status=true p50 ${fmt(st.median)} ms (Docker ${fmt(DOCKER.servicesStatus.median)})`,
    );
  } finally {
    agent.destroy();
    await swarmd.destroy();
  }
}
