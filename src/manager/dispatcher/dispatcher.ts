// The dispatcher (leader only): node sessions, heartbeats, assignments pushed from the store cache,
// and task status reports batched into the store. It implements the agent's DispatcherSession
// contract; the local agent calls it in-process, remote agents over gRPC.
import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type {
  DispatcherSession,
  Heartbeat,
  NetworkViews,
  NodePayloads,
  NodeReport,
  SessionInfo,
  TaskPayload,
  TaskStatusUpdate,
} from '../../agent/session.js';
import { SwarmError } from '../../api/errors.js';
import type { Node, NodeDescription, Task } from '../../api/types.js';
import { taskStateIndex } from '../../api/types.js';
import { createLogger } from '../../lib/log.js';
import type { DispatcherBackend } from '../../rpc/dispatcher-service.js';
import type { StoreCache } from '../../store/cache.js';
import { type BatchOp, type ClusterStore, type Fence, isNotLeader } from '../../store/store.js';
import { changeNode } from '../nodewrite.js';
import { desiredTrust } from '../rootca.js';
import type { Tables } from '../tables.js';
import { networkViewsFor } from './networkviews.js';

const log = createLogger({ component: 'dispatcher' });

/** A node is DOWN after this many missed heartbeat periods (SwarmKit's grace multiplier). */
const GRACE_MULTIPLIER = 3;
/** Status reports are committed at most this long after they arrive (SwarmKit: 100 ms). */
const STATUS_BATCH_MS = 10;
/** Assignment pushes wait this long for a burst of task changes to settle. */
const ASSIGNMENT_DEBOUNCE_MS = 2;

interface Session {
  id: string;
  nodeId: string;
  lastBeat: number;
  /** When a remote agent's session stream went away (its process died or its manager link broke). */
  disconnectedAt?: number;
  /** Called when the session is replaced or the dispatcher stops (ends a remote session's streams). */
  onEnd: Set<() => void>;
}

/** The tasks a node is given: assigned to it and at least ASSIGNED (SwarmKit's assignments set). */
export function assignedTasks(tasks: readonly Task[]): Task[] {
  const assigned = taskStateIndex('assigned');
  return tasks.filter((t) => taskStateIndex(t.Status.State) >= assigned);
}

export class Dispatcher implements DispatcherSession, DispatcherBackend {
  private readonly sessions = new Map<string, Session>();

  /** Agent sessions open now (metrics). */
  get sessionCount(): number {
    return this.sessions.size;
  }
  private readonly queue = new Map<string, { nodeId: string; update: TaskStatusUpdate }>();
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private checkTimer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;
  private readonly startedAt: number;
  private stopped = false;

  constructor(
    private readonly store: ClusterStore<Tables>,
    private readonly cache: StoreCache<Tables>,
    private readonly fence: () => Fence | undefined,
    private readonly heartbeatPeriodMs: () => number,
    /** The leading manager's own node: its agent registers in-process at once. */
    private readonly selfId: string,
    /** A secret's or config's clear payload (undefined when it is gone). */
    private readonly payloadOf: (kind: 'secret' | 'config', id: string) => TaskPayload | undefined = () =>
      undefined,
    private readonly now: () => number = Date.now,
  ) {
    this.startedAt = now();
    this.forgetManagers = cache.subscribe((ev) => {
      if (ev.kind === 'node') this.managerList = undefined;
    });
  }

  start(): void {
    void this.markNodesUnknown().catch((e) => log.warn('nodes not marked unknown', { err: e }));
    // Checked often: a dead agent's closed stream should mark its node down one period later, not
    // up to half a period after that.
    const tick = () => {
      if (!this.checking) {
        this.checking = this.markDownNodes().finally(() => {
          this.checking = undefined;
        });
      }
      this.checkTimer = setTimeout(tick, Math.min(250, Math.max(50, this.heartbeatPeriodMs() / 4)));
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.forgetManagers();
    clearTimeout(this.checkTimer);
    clearTimeout(this.flushTimer);
    await this.flush();
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of sessions) this.endSession(s);
  }

  private endSession(s: Session): void {
    for (const f of s.onEnd) f();
    s.onEnd.clear();
  }

  sessionNode(sessionId: string): string | undefined {
    return this.sessions.get(sessionId)?.nodeId;
  }

  disconnected(sessionId: string): void {
    const s = this.sessions.get(sessionId);
    if (s && s.disconnectedAt === undefined) {
      s.disconnectedAt = this.now();
      log.info('session stream closed', { node: s.nodeId, session: sessionId });
    }
  }

  onSessionEnd(sessionId: string, onEnd: () => void): () => void {
    const s = this.sessions.get(sessionId);
    if (!s) {
      queueMicrotask(onEnd);
      return () => undefined;
    }
    s.onEnd.add(onEnd);
    return () => s.onEnd.delete(onEnd);
  }

  private session(sessionId: string): Session {
    const s = this.sessions.get(sessionId);
    if (!s) throw new SwarmError('UNAVAILABLE', 'session invalid');
    return s;
  }

  async register(
    nodeId: string,
    description: NodeDescription,
    opts: { addr?: string } = {},
  ): Promise<SessionInfo> {
    const node = this.cache.get('node', nodeId);
    if (!node) throw new SwarmError('NOT_FOUND', `node ${nodeId} not found`);
    for (const [id, s] of this.sessions) {
      if (s.nodeId !== nodeId) continue;
      this.sessions.delete(id);
      this.endSession(s);
    }
    const session: Session = {
      id: randomBytes(12).toString('hex'),
      nodeId,
      lastBeat: this.now(),
      onEnd: new Set(),
    };
    this.sessions.set(session.id, session);
    await this.writeNode(nodeId, (n) => ({
      ...n,
      // Every node trusts the cluster's root (Docker shows it on workers too).
      Description: {
        ...n.Description,
        ...description,
        TLSInfo: description.TLSInfo ?? n.Description?.TLSInfo ?? this.cache.list('cluster')[0]?.TLSInfo,
      },
      Status: { ...n.Status, State: 'ready', Message: undefined, ...(opts.addr ? { Addr: opts.addr } : {}) },
    }));
    return { sessionId: session.id, heartbeatPeriodMs: this.heartbeatPeriodMs(), managers: this.managers() };
  }

  async heartbeat(sessionId: string, report?: NodeReport): Promise<Heartbeat> {
    const s = this.session(sessionId);
    s.lastBeat = this.now();
    s.disconnectedAt = undefined;
    const node = this.cache.get('node', s.nodeId);
    const tls = report?.tlsInfo;
    const tlsChanged = tls !== undefined && !isDeepStrictEqual(tls, node?.Description?.TLSInfo);
    if (node?.Status.State !== 'ready' || tlsChanged) {
      await this.writeNode(s.nodeId, (n) => ({
        ...n,
        ...(tls && n.Description ? { Description: { ...n.Description, TLSInfo: tls } } : {}),
        Status: { ...n.Status, State: 'ready', Message: undefined },
      }));
    }
    const cluster = this.cache.list('cluster')[0];
    return {
      periodMs: this.heartbeatPeriodMs(),
      managers: this.managers(),
      role: this.cache.get('node', s.nodeId)?.Spec.Role,
      ...(cluster ? { trust: desiredTrust(cluster) } : {}),
    };
  }

  /**
   * The remote API addresses of the managers that are up, this leader's first (agents dial in order).
   * Every heartbeat carries it: computed once per change of the nodes, not per heartbeat.
   */
  private managers(): string[] {
    this.managerList ??= this.cache
      .list('node')
      .filter((n) => n.Spec.Role === 'manager' && n.Status.State !== 'down' && n.ManagerStatus?.Addr)
      .sort((a, b) => Number(b.ID === this.selfId) - Number(a.ID === this.selfId))
      .map((n) => n.ManagerStatus?.Addr as string);
    return this.managerList;
  }
  private managerList: string[] | undefined;
  private readonly forgetManagers: () => void;

  watchAssignments(sessionId: string, onTasks: (tasks: Task[]) => void): () => void {
    const { nodeId } = this.session(sessionId);
    let timer: NodeJS.Timeout | undefined;
    const push = () => {
      timer = undefined;
      if (!this.sessions.has(sessionId)) return;
      onTasks(assignedTasks(this.cache.byIndex('task', 'node', nodeId)));
    };
    const unsubscribe = this.cache.subscribe((ev) => {
      if (ev.kind !== 'task') return;
      const t = ev.object as Task;
      const prev = ev.previous as Task | undefined;
      if (t.NodeID !== nodeId && prev?.NodeID !== nodeId) return;
      if (!timer) timer = setTimeout(push, ASSIGNMENT_DEBOUNCE_MS);
    });
    push();
    return () => {
      unsubscribe();
      clearTimeout(timer);
    };
  }

  watchNetworks(sessionId: string, onPeers: (peers: NetworkViews) => void): () => void {
    return this.watchDerived(sessionId, ['task', 'node', 'service', 'network'], onPeers, (nodeId) => {
      const nodes = new Map(this.cache.list('node').map((n) => [n.ID, n]));
      const services = new Map(this.cache.list('service').map((s) => [s.ID, s]));
      const ingress = this.cache.list('network').find((n) => n.Ingress);
      return networkViewsFor(nodeId, this.cache.list('task'), nodes, services, ingress);
    });
  }

  watchPayloads(sessionId: string, onPayloads: (payloads: NodePayloads) => void): () => void {
    return this.watchDerived(sessionId, ['task', 'secret', 'config'], onPayloads, (nodeId) => {
      const wanted = payloadRefsFor(nodeId, this.cache.list('task'));
      const payloads: NodePayloads = { secrets: {}, configs: {} };
      for (const [kind, ids, into] of [
        ['secret', wanted.secrets, payloads.secrets],
        ['config', wanted.configs, payloads.configs],
      ] as const)
        for (const id of ids) {
          const p = this.payloadOf(kind, id);
          if (p) into[id] = p;
        }
      return payloads;
    });
  }

  /**
   * A per-node value derived from the cache (`compute`), sent now and again whenever a change of
   * one of `kinds` alters it (debounced; an unchanged value is not sent again).
   */
  private watchDerived<T>(
    sessionId: string,
    kinds: readonly string[],
    emit: (value: T) => void,
    compute: (nodeId: string) => T,
  ): () => void {
    const { nodeId } = this.session(sessionId);
    let timer: NodeJS.Timeout | undefined;
    let last = '';
    const push = () => {
      timer = undefined;
      if (!this.sessions.has(sessionId)) return;
      const value = compute(nodeId);
      const text = JSON.stringify(value);
      if (text === last) return;
      last = text;
      emit(value);
    };
    const unsubscribe = this.cache.subscribe((ev) => {
      if (kinds.includes(ev.kind) && !timer) timer = setTimeout(push, ASSIGNMENT_DEBOUNCE_MS);
    });
    push();
    return () => {
      unsubscribe();
      clearTimeout(timer);
    };
  }

  async updateTaskStatus(sessionId: string, updates: TaskStatusUpdate[]): Promise<void> {
    const { nodeId } = this.session(sessionId);
    for (const u of updates) {
      const t = this.cache.get('task', u.taskId);
      if (t && t.NodeID !== nodeId) {
        throw new SwarmError('PERMISSION_DENIED', 'cannot update a task not assigned this node');
      }
      this.queue.set(u.taskId, { nodeId, update: u });
    }
    if (!this.flushTimer) this.flushTimer = setTimeout(() => void this.flush(), STATUS_BATCH_MS);
  }

  /** Commits queued status reports in one fenced batch; stale (not forward) reports are dropped. */
  private async flush(): Promise<void> {
    this.flushTimer = undefined;
    if (this.flushing) {
      await this.flushing;
      if (this.queue.size > 0 && !this.flushTimer) this.flushTimer = setTimeout(() => void this.flush(), 0);
      return;
    }
    if (this.queue.size === 0) return;
    const fence = this.fence();
    if (!fence) {
      // Not (yet) the leader, e.g. an agent reporting right after a restart: keep the reports.
      if (!this.stopped) this.flushTimer = setTimeout(() => void this.flush(), 50);
      return;
    }
    const items = [...this.queue.values()];
    this.queue.clear();
    this.flushing = (async () => {
      const ops: BatchOp<Tables>[] = [];
      for (const { update } of items) {
        const t = this.cache.get('task', update.taskId);
        if (!t) continue;
        if (taskStateIndex(update.status.State) < taskStateIndex(t.Status.State)) continue;
        if (update.status.State === t.Status.State && update.status.ContainerStatus === undefined) continue;
        ops.push({ op: 'update', kind: 'task', object: { ...t, Status: update.status } });
      }
      if (ops.length === 0) return;
      const results = await this.store.batch(ops, { fence });
      let last = 0;
      results.forEach((r, i) => {
        if (r.ok) last = Math.max(last, r.revision);
        else if (!isNotLeader(r.error)) {
          // Someone else wrote the task meanwhile: requeue the report against the new version.
          const item = items.find((x) => x.update.taskId === (ops[i] as { object: Task }).object.ID);
          if (item && !this.queue.has(item.update.taskId)) this.queue.set(item.update.taskId, item);
        }
      });
      if (last > 0) await this.cache.waitForRevision(last).catch(() => undefined);
    })()
      .catch((e) => log.warn('status batch failed', { err: e }))
      .finally(() => {
        this.flushing = undefined;
      });
    await this.flushing;
    if (this.queue.size > 0 && !this.flushTimer) this.flushTimer = setTimeout(() => void this.flush(), 20);
  }

  private writeNode(nodeId: string, change: (n: Node) => Node): Promise<void> {
    return changeNode(this.store, this.cache, nodeId, change, () => ({ fence: this.fence() }));
  }

  /**
   * A new leader knows no session: every other node that was up is UNKNOWN until it registers here
   * (SwarmKit's rule), so nothing is scheduled onto a node that died with the old leader. Those that
   * never come back are DOWN after the grace period.
   */
  private async markNodesUnknown(): Promise<void> {
    for (const n of this.cache.list('node')) {
      if (n.ID === this.selfId || n.Status.State !== 'ready') continue;
      if ([...this.sessions.values()].some((s) => s.nodeId === n.ID)) continue;
      await this.writeNode(n.ID, (x) =>
        x.Status.State !== 'ready' || [...this.sessions.values()].some((s) => s.nodeId === n.ID)
          ? x
          : {
              ...x,
              Status: {
                ...x.Status,
                State: 'unknown',
                Message: 'Node moved to "unknown" state due to leadership change in cluster',
              },
            },
      );
    }
  }

  /** Nodes whose heartbeats stopped become DOWN ("heartbeat failure"). */
  private async markDownNodes(): Promise<void> {
    if (!this.fence()) return;
    const now = this.now();
    const limit = this.heartbeatPeriodMs() * GRACE_MULTIPLIER;
    const lastBeat = new Map<string, number>();
    const gone = new Set<string>();
    for (const s of this.sessions.values()) {
      lastBeat.set(s.nodeId, Math.max(lastBeat.get(s.nodeId) ?? 0, s.lastBeat));
      // A closed stream with no new registration: the agent is gone (kill -9, reboot), not slow.
      if (s.disconnectedAt !== undefined && now - s.disconnectedAt > this.heartbeatPeriodMs())
        gone.add(s.nodeId);
    }
    for (const n of this.cache.list('node')) {
      if (n.Status.State === 'down') continue;
      if (gone.has(n.ID)) {
        log.info('node down: session closed', { node: n.ID });
        for (const [id, s] of this.sessions) if (s.nodeId === n.ID) this.sessions.delete(id);
        await this.writeNode(n.ID, (x) => ({
          ...x,
          Status: { ...x.Status, State: 'down', Message: 'heartbeat failure' },
        })).catch((e) => log.warn('could not mark node down', { node: n.ID, err: e }));
        continue;
      }
      // A node never seen by this leader gets the grace from when the leader started.
      const seen = lastBeat.get(n.ID) ?? this.startedAt;
      if (now - seen <= limit) continue;
      log.info('node down: heartbeat failure', { node: n.ID });
      await this.writeNode(n.ID, (x) => ({
        ...x,
        Status: { ...x.Status, State: 'down', Message: 'heartbeat failure' },
      })).catch((e) => log.warn('could not mark node down', { node: n.ID, err: e }));
    }
  }
}

/**
 * The secret and config IDs a node needs (pure): those referenced by its tasks that are placed on
 * it and not past RUNNING, desired or observed (SwarmKit's rule: a payload leaves the node with
 * the last such task).
 */
export function payloadRefsFor(
  nodeId: string,
  tasks: readonly Task[],
): { secrets: string[]; configs: string[] } {
  const secrets = new Set<string>();
  const configs = new Set<string>();
  const running = taskStateIndex('running');
  for (const t of tasks) {
    if (t.NodeID !== nodeId) continue;
    if (taskStateIndex(t.Status.State) > running || taskStateIndex(t.DesiredState) > running) continue;
    for (const r of t.Spec.ContainerSpec?.Secrets ?? []) secrets.add(r.SecretID);
    for (const r of t.Spec.ContainerSpec?.Configs ?? []) configs.add(r.ConfigID);
  }
  return { secrets: [...secrets].sort(), configs: [...configs].sort() };
}
