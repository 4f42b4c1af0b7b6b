// `--metrics-addr`: the node's metrics in Prometheus' text format at /metrics, as dockerd's
// `metrics-addr` (Docker's swarm metric names where it has them). Cluster counts are read from the
// manager's cache when scraped (pure `clusterCounts`); latencies are observed as they happen: store
// writes, task scheduling (created → assigned), container starts and each step of starting a task
// (delivery, prepare, image, network, start); plus leader changes, agent
// sessions on the leader's dispatcher, etcd health and Node's process metrics (prom-client).
import { createServer, type Server } from 'node:http';
import client from 'prom-client';
import { invalidArgument } from '../api/errors.js';
import type { Node, Service, Task } from '../api/types.js';
import { NodeSchema, TASK_STATES, taskStateIndex } from '../api/types.js';
import { createLogger } from '../lib/log.js';
import type { Manager } from '../manager/manager.js';

const log = createLogger({ component: 'metrics' });

export interface ClusterCounts {
  nodes: Record<string, number>;
  services: number;
  tasks: Record<string, number>;
}

const NODE_STATES: readonly string[] = NodeSchema.shape.Status.shape.State.options;

/** Nodes by state, services, tasks by state (every state listed, zero when none). Pure. */
/** How many of `values` are in each state (every state listed, zero when none). Pure. */
function countByState(states: readonly string[], values: readonly string[]): Record<string, number> {
  const out = Object.fromEntries(states.map((s) => [s, 0]));
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

const nodeCounts = (nodes: readonly Node[]) =>
  countByState(
    NODE_STATES,
    nodes.map((n) => n.Status.State),
  );
const taskCounts = (tasks: readonly Task[]) =>
  countByState(
    TASK_STATES,
    tasks.map((t) => t.Status.State),
  );

/** Nodes by state, services, tasks by state (every state listed, zero when none). Pure. */
export function clusterCounts(
  nodes: readonly Node[],
  services: readonly Service[],
  tasks: readonly Task[],
): ClusterCounts {
  return { nodes: nodeCounts(nodes), services: services.length, tasks: taskCounts(tasks) };
}

/** Seconds from a task's creation to its assignment, when this change is that step (pure). */
export function schedulingDelay(task: Task, previous: Task | undefined): number | undefined {
  const assigned = taskStateIndex('assigned');
  if (taskStateIndex(task.Status.State) < assigned) return undefined;
  if (previous && taskStateIndex(previous.Status.State) >= assigned) return undefined;
  const ms = Date.parse(task.Status.Timestamp ?? task.UpdatedAt) - Date.parse(task.CreatedAt);
  // A task written already assigned (one reconcile pass) may carry a status stamped a moment
  // before its creation time: that is no delay.
  return Number.isFinite(ms) ? Math.max(0, ms) / 1000 : undefined;
}

export class NodeMetrics {
  readonly registry = new client.Registry();
  private manager: Manager | undefined;
  private readonly stops: (() => void)[] = [];
  private server: Server | undefined;
  private readonly leaderChanges: client.Counter;
  private readonly storeWrites: client.Histogram;
  private readonly scheduling: client.Histogram;
  readonly containerStart: client.Histogram;
  /** The steps of starting a task on this node, each observed where it happens. */
  readonly taskStage: client.Histogram<'stage'>;

  constructor() {
    const registers = [this.registry];
    // Each gauge reads only the table it shows, when scraped.
    const cache = () => this.manager?.cache;
    new client.Gauge({
      name: 'swarm_manager_nodes',
      help: 'The number of nodes in the cluster by state (managers only)',
      labelNames: ['state'],
      registers,
      collect() {
        const c = cache();
        this.reset();
        if (c) for (const [state, n] of Object.entries(nodeCounts(c.list('node')))) this.set({ state }, n);
      },
    });
    new client.Gauge({
      name: 'swarm_manager_services_total',
      help: 'The number of services in the cluster (managers only)',
      registers,
      collect() {
        const c = cache();
        this.reset();
        if (c) this.set(c.list('service').length);
      },
    });
    new client.Gauge({
      name: 'swarm_manager_tasks_total',
      help: 'The number of tasks in the cluster by state (managers only)',
      labelNames: ['state'],
      registers,
      collect() {
        const c = cache();
        this.reset();
        if (c) for (const [state, n] of Object.entries(taskCounts(c.list('task')))) this.set({ state }, n);
      },
    });
    const self = this;
    new client.Gauge({
      name: 'swarm_manager_leader',
      help: '1 when this node is the swarm leader',
      registers,
      collect() {
        this.set(self.manager?.election.isLeader ? 1 : 0);
      },
    });
    new client.Gauge({
      name: 'swarm_node_manager',
      help: '1 when this node is a manager',
      registers,
      collect() {
        this.set(self.manager ? 1 : 0);
      },
    });
    new client.Gauge({
      name: 'swarm_dispatcher_sessions',
      help: "Agent sessions on this manager's dispatcher (the leader's)",
      registers,
      collect() {
        this.set(self.manager?.dispatcher()?.sessionCount ?? 0);
      },
    });
    new client.Gauge({
      name: 'swarm_etcd_healthy',
      help: "1 when this manager's etcd member is running",
      registers,
      collect() {
        this.set(self.manager?.member.state === 'running' ? 1 : 0);
      },
    });
    this.leaderChanges = new client.Counter({
      name: 'swarm_manager_leader_changes_total',
      help: 'Leadership changes seen by this manager (the leader it found when it started counts)',
      registers,
    });
    this.storeWrites = new client.Histogram({
      name: 'swarm_store_write_tx_latency_seconds',
      help: 'Cluster store write transactions, until etcd answered',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.scheduling = new client.Histogram({
      name: 'swarm_dispatcher_scheduling_delay_seconds',
      help: 'From a task created to assigned to a node',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.containerStart = new client.Histogram({
      name: 'swarm_node_container_start_seconds',
      help: "Starting a task's container on this node until it runs (and is healthy, with a health check)",
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.taskStage = new client.Histogram({
      name: 'swarm_node_task_stage_seconds',
      help:
        'Starting a task on this node, step by step: delivery (assigned by the leader until this node has it), ' +
        'prepare (image, network and bundle), image (resolve and root filesystem), network (namespace, ' +
        'addresses, rules), start (runc create and start)',
      labelNames: ['stage'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
  }

  /** Follows a manager (undefined: none, this node is a worker now). */
  setManager(manager: Manager | undefined): void {
    for (const stop of this.stops.splice(0)) stop();
    this.manager = manager;
    if (!manager) return;
    // A leader already known when this manager is followed was a change too (the election may
    // have been decided before): counted once here, the next ones by the subscription.
    if (manager.election.leaderId !== undefined) this.leaderChanges.inc();
    this.stops.push(
      manager.election.onChange(() => this.leaderChanges.inc()),
      manager.store.observeWrites((s) => this.storeWrites.observe(s)),
      manager.cache.subscribe((ev) => {
        if (ev.kind !== 'task' || ev.action === 'delete') return;
        const delay = schedulingDelay(ev.object, ev.previous);
        if (delay !== undefined) this.scheduling.observe(delay);
      }),
    );
  }

  /** Serves GET /metrics on host:port (Docker's `metrics-addr`). */
  async listen(address: string): Promise<void> {
    // Node's process metrics (event-loop monitor included) only run on a node that serves them.
    client.collectDefaultMetrics({ register: this.registry });
    const m = /^(.*):(\d+)$/.exec(address);
    const host = m?.[1]?.replace(/^\[(.*)\]$/, '$1');
    const port = Number(m?.[2]);
    if (!m || !host || !(port > 0 && port < 65536))
      throw invalidArgument(`invalid --metrics-addr "${address}": use host:port, e.g. 127.0.0.1:9323`);
    this.server = createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('404 page not found\n');
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'Content-Type': this.registry.contentType }).end(text),
        (err: unknown) => {
          log.warn('metrics not collected', { err });
          res.writeHead(500).end();
        },
      );
    });
    await new Promise<void>((resolve, reject) => {
      this.server?.once('error', (err) =>
        reject(invalidArgument(`cannot serve metrics on ${address}: ${err.message}`)),
      );
      this.server?.listen(port, host, () => resolve());
    });
    log.info('metrics listening', { addr: address });
  }

  close(): void {
    this.setManager(undefined);
    this.server?.close();
    this.server = undefined;
  }
}
