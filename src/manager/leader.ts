// The leader's reconcile loop: the shell around the pure decisions. It watches the store cache, and
// for the services that changed runs orchestrator → allocator → scheduler over one in-memory
// snapshot, then writes the combined plan in fenced batches. Task history is reaped on the side.
// Runs only while this manager holds the leader lease; every write carries the lease's fence.

import { newId } from '../api/ids.js';
import type { Network, Node, Service, Task } from '../api/types.js';
import { taskStateIndex } from '../api/types.js';
import { createLogger } from '../lib/log.js';
import type { StoreCache } from '../store/cache.js';
import { type BatchOp, type ClusterStore, type Fence, isNotLeader } from '../store/store.js';
import {
  addressesInUse,
  serviceVirtualIPs,
  takeAddress,
  virtualIPsAllocated,
} from './allocator/addresses.js';
import { allocateTasks, isEndpointAllocated } from './allocator/tasks.js';
import { enforceConstraints } from './orchestrator/constraintenforcer.js';
import { reconcileGlobal } from './orchestrator/global.js';
import { reconcileGlobalJob, reconcileReplicatedJob } from './orchestrator/jobs.js';
import { type NewTask, type Plan, PlanBuilder, type TaskUpdate } from './orchestrator/plan.js';
import { reapTasks } from './orchestrator/reaper.js';
import { reconcileReplicated, removeServiceTasks } from './orchestrator/replicated.js';
import { isGlobalJob, isGlobalService, isReplicatedJob } from './orchestrator/task.js';
import { schedule, schedulingUpdates } from './scheduler/scheduler.js';
import type { Tables } from './tables.js';
import type { UpdaterState } from './update/updater.js';

const log = createLogger({ component: 'leader' });

/** Quiet time before a pass after a change (SwarmKit debounces its scheduler by 50 ms). */
const DEBOUNCE_MS = 5;
const REAP_INTERVAL_MS = 250;

/** Applies a TaskUpdate to a task: desired state never moves backwards. */
export function applyTaskUpdate<T extends Task | NewTask>(t: T, u: TaskUpdate): T {
  const next = { ...t };
  if (u.DesiredState && taskStateIndex(u.DesiredState) > taskStateIndex(t.DesiredState)) {
    next.DesiredState = u.DesiredState;
  }
  if (u.Status) next.Status = u.Status;
  if (u.NodeID !== undefined) next.NodeID = u.NodeID;
  if (u.Endpoint !== undefined) next.Endpoint = u.Endpoint;
  if (u.NetworksAttachments !== undefined) next.NetworksAttachments = u.NetworksAttachments;
  return next;
}

export class LeaderLoop {
  private readonly dirty = new Set<string>();
  private allDirty = true;
  private readonly updaters = new Map<string, UpdaterState | undefined>();
  private readonly wakeTimers = new Map<string, NodeJS.Timeout>();
  private timer: NodeJS.Timeout | undefined;
  private reapTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly store: ClusterStore<Tables>,
    private readonly cache: StoreCache<Tables>,
    private readonly fence: () => Fence | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    this.unsubscribe = this.cache.subscribe((ev) => {
      if (ev.kind === 'service') this.markDirty(ev.object.ID);
      else if (ev.kind === 'task') this.markDirty((ev.object as Task).ServiceID);
      else if (ev.kind === 'node' || ev.kind === 'cluster') this.markAll();
    });
    this.reapTimer = setInterval(() => void this.reap(), REAP_INTERVAL_MS);
    this.markAll();
    log.info('leader components started');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    clearTimeout(this.timer);
    clearInterval(this.reapTimer);
    for (const t of this.wakeTimers.values()) clearTimeout(t);
    this.wakeTimers.clear();
    await this.running;
    log.info('leader components stopped');
  }

  private markDirty(serviceId: string): void {
    this.dirty.add(serviceId);
    this.kick();
  }

  private markAll(): void {
    this.allDirty = true;
    this.kick();
  }

  private kick(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.runPass();
    }, DEBOUNCE_MS);
  }

  private async runPass(): Promise<void> {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.pass()
      .catch((e) => {
        if (isNotLeader(e)) log.warn('lost leadership during a pass');
        else log.error('reconcile pass failed', { err: e });
      })
      .finally(() => {
        this.running = undefined;
        if (this.again && !this.stopped) {
          this.again = false;
          this.kick();
        }
      });
    await this.running;
  }

  private scheduleWake(serviceId: string, at: number): void {
    const prev = this.wakeTimers.get(serviceId);
    if (prev) clearTimeout(prev);
    const delay = Math.max(0, at - this.now());
    this.wakeTimers.set(
      serviceId,
      setTimeout(() => {
        this.wakeTimers.delete(serviceId);
        this.markDirty(serviceId);
      }, delay),
    );
  }

  /** One reconcile pass: decide on a snapshot, then write. */
  private async pass(): Promise<void> {
    const fence = this.fence();
    if (!fence) return;
    const now = this.now();
    const services = new Map(this.cache.list('service').map((s) => [s.ID, s]));
    const nodes = this.cache.list('node');
    const allTasks = this.cache.list('task');
    const networks = new Map(this.cache.list('network').map((n) => [n.ID, n]));
    // 0. Virtual IPs of the services that changed, before their tasks are decided (they wait for them).
    const ingress = [...networks.values()].find((n) => n.Ingress);
    const used = addressesInUse(allTasks, [...services.values()], nodes, ingress?.ID);
    // 0a. Every node gets an address on the ingress network (the routing mesh enters from it).
    const nodeOps: BatchOp<Tables>[] = [];
    if (ingress)
      for (const n of nodes) {
        if (n.IngressAddress) continue;
        const addr = takeAddress(ingress, used);
        if (addr) nodeOps.push({ op: 'update', kind: 'node', object: { ...n, IngressAddress: addr } });
      }
    const vipUpdates = new Map<string, { NetworkID: string; Addr: string }[]>();
    for (const id of this.allDirty ? services.keys() : this.dirty) {
      const s = services.get(id);
      const vips = s && serviceVirtualIPs(s, networks, used);
      if (!s || !vips) continue;
      vipUpdates.set(id, vips);
      services.set(id, { ...s, Endpoint: { ...s.Endpoint, VirtualIPs: vips } });
    }
    const ids = this.allDirty
      ? new Set([...services.keys(), ...allTasks.map((t) => t.ServiceID)])
      : new Set(this.dirty);
    this.allDirty = false;
    this.dirty.clear();

    // 1. Orchestrate the dirty services.
    const builder = new PlanBuilder();
    const ctx = { now, newId };
    const serviceUpdates: Plan['updateService'][] = [];
    for (const id of ids) {
      const service = services.get(id);
      const tasks = this.cache.byIndex('task', 'service', id);
      if (!service) {
        this.updaters.delete(id);
        builder.merge(removeServiceTasks(tasks));
        continue;
      }
      const plan = this.reconcile(service, tasks, nodes, ctx, networks);
      if (plan.updateService) serviceUpdates.push(plan.updateService);
      const { updateService: _u, ...rest } = plan;
      builder.merge({ ...rest });
      if (plan.wakeAt !== undefined) this.scheduleWake(id, plan.wakeAt);
    }
    const plan = builder.build();

    // 2. The snapshot as the plan leaves it: created tasks included, updates applied.
    const byId = new Map<string, Task>(allTasks.map((t) => [t.ID, t]));
    const created = new Map<string, NewTask>(plan.createTasks.map((t) => [t.ID, t]));
    const pending = new Map<string, TaskUpdate>();
    const addUpdate = (u: TaskUpdate) => {
      const c = created.get(u.ID);
      if (c) {
        created.set(u.ID, applyTaskUpdate(c, u));
        return;
      }
      const t = byId.get(u.ID);
      if (!t) return;
      byId.set(u.ID, applyTaskUpdate(t, u));
      pending.set(u.ID, { ...(pending.get(u.ID) ?? {}), ...u, ID: u.ID });
    };
    for (const u of plan.updateTasks) addUpdate(u);
    const deleted = new Set(plan.deleteTasks);
    const working = (): Task[] => [
      ...[...byId.values()].filter((t) => !deleted.has(t.ID)),
      ...[...created.values()].map((t) => ({ ...t, Version: { Index: 0 } })),
    ];

    // 2b. Constraint enforcer: tasks on nodes that no longer meet their constraints are rejected;
    // their services are decided again right after this write, which restarts them.
    const nodeMap = new Map(nodes.map((n) => [n.ID, n]));
    const placed = [...byId.values()].filter((t) => ids.has(t.ServiceID) && !deleted.has(t.ID));
    for (const u of enforceConstraints(nodeMap, placed, now)) {
      addUpdate(u);
      const sid = byId.get(u.ID)?.ServiceID;
      if (sid) this.dirty.add(sid);
      this.again = true;
    }

    // 3. Allocate (NEW → PENDING) and 4. schedule (PENDING → ASSIGNED) on that snapshot.
    for (const u of allocateTasks(working(), services, now, { networks, used })) addUpdate(u);
    const snapshot = working();
    const result = schedule(nodes, snapshot, { now });
    const snapById = new Map(snapshot.map((t) => [t.ID, t]));
    for (const u of schedulingUpdates(result, snapById, now)) addUpdate(u);

    // 5. Write: creates in their final state, updates on the latest versions, deletes, services.
    const ops: BatchOp<Tables>[] = [...nodeOps];
    // The writes of one slot (e.g. an update's "start the new task, shut the old one down") are
    // atomic: a status report that changed one of them since the snapshot voids them all, and the
    // slot is decided again, instead of half of the decision landing.
    for (const t of created.values()) {
      const { CreatedAt: _c, UpdatedAt: _u, ...rest } = t;
      ops.push({ op: 'create', kind: 'task', object: rest, atomic: slotKey(t) });
    }
    for (const [id, u] of pending) {
      const current = this.cache.get('task', id);
      if (!current) continue;
      ops.push({ op: 'update', kind: 'task', object: applyTaskUpdate(current, u), atomic: slotKey(current) });
    }
    for (const id of deleted) {
      const current = this.cache.get('task', id);
      ops.push({ op: 'delete', kind: 'task', id, ...(current ? { atomic: slotKey(current) } : {}) });
    }
    for (const id of vipUpdates.keys())
      if (!serviceUpdates.some((su) => su?.ID === id)) serviceUpdates.push({ ID: id });
    for (const su of serviceUpdates) {
      const s = su && this.cache.get('service', su.ID);
      if (!su || !s) continue;
      const next: Service = { ...s };
      const vips = vipUpdates.get(su.ID);
      if (vips) next.Endpoint = { ...s.Endpoint, VirtualIPs: vips };
      if (su.UpdateStatus) next.UpdateStatus = su.UpdateStatus;
      if (su.Spec) {
        next.Spec = su.Spec;
        next.SpecVersion = { Index: (s.SpecVersion?.Index ?? 1) + 1 };
      }
      if (su.clearPreviousSpec) delete next.PreviousSpec;
      ops.push({ op: 'update', kind: 'service', object: next });
    }
    if (ops.length === 0) return;
    const results = await this.store.batch(ops, { fence });
    let last = 0;
    for (const [i, r] of results.entries()) {
      if (r.ok) {
        last = Math.max(last, r.revision);
        continue;
      }
      if (isNotLeader(r.error)) throw r.error;
      // A concurrent write (a status report, a user update) won: decide again on fresh data.
      const op = ops[i];
      const sid =
        op?.kind === 'task' && op.op !== 'delete'
          ? (op.object as Task).ServiceID
          : op?.kind === 'service' && op.op !== 'delete'
            ? op.object.ID
            : undefined;
      if (sid) this.dirty.add(sid);
      else this.allDirty = true;
      this.again = true;
    }
    if (last > 0) await this.cache.waitForRevision(last).catch(() => undefined);
  }

  private reconcile(
    service: Service,
    tasks: Task[],
    nodes: Node[],
    ctx: { now: number; newId: () => string },
    networks: ReadonlyMap<string, Network>,
  ): Plan {
    const input = { service, tasks, nodes, updater: this.updaters.get(service.ID) };
    if (!isEndpointAllocated(service) || !virtualIPsAllocated(service, networks))
      return { createTasks: [], updateTasks: [], deleteTasks: [] };
    if (isReplicatedJob(service)) return reconcileReplicatedJob(input, ctx);
    if (isGlobalJob(service)) return reconcileGlobalJob(input, ctx);
    const r = isGlobalService(service) ? reconcileGlobal(input, ctx) : reconcileReplicated(input, ctx);
    this.updaters.set(service.ID, r.updater);
    return r.plan;
  }

  private reaping = false;

  private async reap(): Promise<void> {
    const fence = this.fence();
    if (!fence || this.reaping || this.stopped) return;
    this.reaping = true;
    try {
      const services = new Map(this.cache.list('service').map((s) => [s.ID, s]));
      const limit = this.cache.list('cluster')[0]?.Spec.Orchestration?.TaskHistoryRetentionLimit;
      const ids = reapTasks(this.cache.list('task'), services, limit);
      if (ids.length === 0) return;
      await this.store.batch(
        ids.map((id) => ({ op: 'delete' as const, kind: 'task' as const, id })),
        { fence },
      );
    } catch (e) {
      if (!isNotLeader(e)) log.warn('task reaper failed', { err: e });
    } finally {
      this.reaping = false;
    }
  }
}

/** A task's slot: service and slot number (replicated), or service and node (global). */
function slotKey(t: Pick<Task, 'ServiceID' | 'Slot' | 'NodeID'>): string {
  return t.Slot ? `${t.ServiceID}/${t.Slot}` : `${t.ServiceID}/node/${t.NodeID}`;
}
