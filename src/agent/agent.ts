// The agent: one session with the dispatcher, one runner per assigned task stepping it through the
// executor (nextStep decides, the runner acts), and a reporter that sends the latest status of each
// task, batched. The task set is persisted so a restarted agent resumes where it was.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SwarmError } from '../api/errors.js';
import type { Task, TaskState, TaskStatus } from '../api/types.js';
import { writeFileAtomic } from '../ca/store.js';
import type { Controller, Executor, ExecutorTask } from '../executor/types.js';
import { createLogger } from '../lib/log.js';
import type { DispatcherSession, NetworkViews, NodePayloads, TaskStatusUpdate } from './session.js';
import { exitOutcome, isForward, isTerminal, nextStep } from './step.js';

const log = createLogger({ component: 'agent' });

export function toExecutorTask(t: Task): ExecutorTask {
  const cs = t.Spec.ContainerSpec;
  if (!cs) throw new SwarmError('INVALID_ARGUMENT', `task ${t.ID} has no container spec`);
  return {
    ID: t.ID,
    ServiceID: t.ServiceID,
    ServiceName: t.ServiceAnnotations?.Name ?? t.ServiceID,
    ...(t.ServiceAnnotations?.Labels ? { ServiceLabels: t.ServiceAnnotations.Labels } : {}),
    Slot: t.Slot ?? 0,
    NodeID: t.NodeID ?? '',
    Spec: {
      ContainerSpec: { ...cs, Init: cs.Init ?? undefined } as ExecutorTask['Spec']['ContainerSpec'],
      ...(t.Spec.Resources ? { Resources: t.Spec.Resources } : {}),
    },
    ...(t.NetworksAttachments?.length ? { NetworksAttachments: t.NetworksAttachments } : {}),
  };
}

/** Steps one task. Its observed state only moves forward; desired state comes from assignments. */
class TaskRunner {
  private desired: TaskState;
  private observed: TaskState;
  private wake: (() => void) | undefined;
  private stopped = false;
  private readonly ctl: Controller;
  private waitAbort: AbortController | undefined;
  readonly done: Promise<void>;

  constructor(
    private task: Task,
    executor: Executor,
    private readonly report: (taskId: string, status: TaskStatus) => void,
    private readonly now: () => Date,
  ) {
    this.desired = task.DesiredState;
    this.observed = task.Status.State;
    this.ctl = executor.controller(toExecutorTask(task));
    this.done = this.loop();
  }

  setDesired(t: Task): void {
    this.task = t;
    if (t.DesiredState !== this.desired) {
      this.desired = t.DesiredState;
      if (this.taskStateIsShutdown()) this.waitAbort?.abort();
      this.wake?.();
    }
  }

  private taskStateIsShutdown(): boolean {
    return this.desired === 'shutdown' || this.desired === 'remove' || this.desired === 'orphaned';
  }

  private set(state: TaskState, message: string, extra: Partial<TaskStatus> = {}): void {
    if (!isForward(this.observed, state)) return;
    this.observed = state;
    this.report(this.task.ID, {
      Timestamp: this.now().toISOString(),
      State: state,
      Message: message,
      ...extra,
    });
  }

  private async containerStatus(): Promise<TaskStatus['ContainerStatus'] | undefined> {
    try {
      const s = await this.ctl.status();
      return s ? { ContainerID: s.ContainerID, PID: s.PID, ExitCode: s.ExitCode } : undefined;
    } catch {
      return undefined;
    }
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const action = nextStep(this.observed, this.desired);
      try {
        switch (action.kind) {
          case 'idle':
            if (isTerminal(this.observed) && this.stopped) return;
            await new Promise<void>((r) => {
              this.wake = r;
            });
            this.wake = undefined;
            break;
          case 'report':
            this.set(action.state, action.message);
            break;
          case 'prepare':
            this.set('preparing', 'preparing');
            try {
              await this.ctl.prepare();
            } catch (e) {
              this.set('rejected', 'preparing', { Err: errText(e) });
              break;
            }
            this.set('ready', 'prepared');
            break;
          case 'start':
            this.set('starting', 'starting');
            try {
              await this.ctl.start();
            } catch (e) {
              this.set('failed', 'starting', { Err: errText(e) });
              break;
            }
            this.set('running', 'started', {
              ContainerStatus: await this.containerStatus(),
              ...hostPortStatus(this.task),
            });
            break;
          case 'wait': {
            this.waitAbort = new AbortController();
            let exit: Awaited<ReturnType<Controller['wait']>> | undefined;
            try {
              exit = await this.ctl.wait(this.waitAbort.signal);
            } catch (e) {
              if (!this.waitAbort.signal.aborted) throw e;
            }
            this.waitAbort = undefined;
            if (!exit) break; // desired moved to shutdown: the next step shuts down
            const cs = await this.containerStatus();
            if (exit.kind === 'unhealthy') {
              await this.ctl.shutdown().catch(() => undefined);
              this.set('failed', 'started', { Err: 'task: container is unhealthy', ContainerStatus: cs });
              break;
            }
            const o = exitOutcome(exit.ExitCode, exit.OOMKilled);
            this.set(o.state, o.message, {
              ...(o.err ? { Err: o.err } : {}),
              ContainerStatus: { ...(cs ?? {}), ExitCode: exit.ExitCode },
            });
            break;
          }
          case 'shutdown':
            await this.ctl.shutdown();
            this.set('shutdown', 'shutdown', { ContainerStatus: await this.containerStatus() });
            break;
        }
      } catch (e) {
        // A temporary failure: report nothing, retry after a pause.
        log.warn('task step failed; retrying', { task: this.task.ID, step: action.kind, err: e });
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  /** The task left the assignment set: stop it and remove its container. */
  async remove(): Promise<void> {
    this.desired = 'remove';
    this.waitAbort?.abort();
    this.wake?.();
    // Let the loop shut the container down, then end it and remove what is left.
    const end = Date.now() + 60_000;
    while (!isTerminal(this.observed) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    this.stopped = true;
    this.wake?.();
    await this.ctl
      .remove()
      .catch((e) => log.warn('container removal failed', { task: this.task.ID, err: e }));
  }

  /** Stops stepping without touching the container (agent shutdown: containers keep running). */
  detach(): void {
    this.stopped = true;
    this.waitAbort?.abort();
    this.wake?.();
  }
}

/** Host-mode published ports are the task's own: reported in its status, as `service ps` shows them. */
export function hostPortStatus(t: Task): Pick<TaskStatus, 'PortStatus'> {
  const ports = (t.Endpoint?.Ports ?? []).filter((p) => p.PublishMode === 'host' && p.PublishedPort);
  return ports.length > 0 ? { PortStatus: { Ports: ports } } : {};
}

/** Seconds since the leader assigned `t`, if it is still as assigned (not a task met again later). */
export function deliveryDelay(t: Task, now: Date): number | undefined {
  if (t.Status.State !== 'assigned') return undefined;
  const ms = now.getTime() - Date.parse(t.Status.Timestamp);
  return Number.isFinite(ms) ? Math.max(0, ms) / 1000 : undefined;
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export interface AgentOptions {
  nodeId: string;
  executor: Executor;
  session: DispatcherSession;
  stateDir: string;
  now?: () => Date;
  /** Called with the node's task set after every assignment change (published ports, sweeps). */
  onAssignments?: (tasks: readonly Task[]) => void;
  /** A newly assigned task reached this node, `seconds` after the leader assigned it (for metrics). */
  onDelivered?: (seconds: number) => void;
  /** Called with the remote endpoints of the node's overlay networks after every change. */
  onNetworks?: (peers: NetworkViews) => void;
  /** The secrets and configs the node's tasks reference (the whole set each time). */
  onPayloads?: (payloads: NodePayloads) => void;
}

export class Agent {
  private readonly runners = new Map<string, TaskRunner>();
  private readonly pending = new Map<string, TaskStatus>();
  private sessionId: string | undefined;
  private stopWatch: (() => void) | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly now: () => Date;
  private readonly tasksFile: string;
  private lastTasks: Task[] = [];
  private saveTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: AgentOptions) {
    this.registered = new Promise((resolve) => {
      this.markRegistered = resolve;
    });
    this.now = opts.now ?? (() => new Date());
    this.tasksFile = join(opts.stateDir, 'worker', 'tasks.json');
  }

  private readonly registered: Promise<void>;
  private markRegistered: () => void = () => undefined;

  /**
   * Resumes the persisted task set and opens the session. A dispatcher that cannot be reached is
   * retried in the background (`registered()` tells when a session exists).
   */
  async start(): Promise<void> {
    await mkdir(join(this.opts.stateDir, 'worker'), { recursive: true });
    // Resume: runners for the tasks we had, so their containers are observed again at once.
    this.lastTasks = await this.loadTasks();
    for (const t of this.lastTasks) this.ensureRunner(t);
    try {
      await this.connect();
    } catch (e) {
      log.warn('no session yet; retrying', { err: e });
      this.scheduleHeartbeat(1000);
    }
  }

  /** Resolves once the agent has had a session (after `timeoutMs`: rejects). */
  async waitRegistered(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new SwarmError('UNAVAILABLE', 'no session with a manager yet')),
        timeoutMs,
      );
    });
    try {
      await Promise.race([this.registered, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The node's current task set, as last assigned. */
  tasks(): readonly Task[] {
    return this.lastTasks;
  }

  private async connect(): Promise<void> {
    const description = await this.opts.executor.describe();
    const info = await this.opts.session.register(this.opts.nodeId, description);
    this.sessionId = info.sessionId;
    this.markRegistered();
    const stopTasks = this.opts.session.watchAssignments(info.sessionId, (tasks) => this.onTasks(tasks));
    const onPeers = this.opts.onNetworks;
    const stopPeers = onPeers && this.opts.session.watchNetworks?.(info.sessionId, onPeers);
    const onPayloads = this.opts.onPayloads;
    const stopPayloads = onPayloads && this.opts.session.watchPayloads?.(info.sessionId, onPayloads);
    this.stopWatch = () => {
      stopTasks();
      stopPeers?.();
      stopPayloads?.();
    };
    this.scheduleHeartbeat(info.heartbeatPeriodMs);
  }

  /** Sends the next heartbeat now: the node has news for the managers (e.g. a renewed certificate). */
  heartbeatNow(): void {
    // Only a heartbeat waiting on its timer is brought forward; one in flight carries on.
    if (this.stopped || this.heartbeatTimer === undefined) return;
    clearTimeout(this.heartbeatTimer);
    this.scheduleHeartbeat(0, true);
  }

  private scheduleHeartbeat(periodMs: number, now = false): void {
    if (this.stopped) return;
    this.heartbeatTimer = setTimeout(
      async () => {
        this.heartbeatTimer = undefined;
        try {
          const r = await this.opts.session.heartbeat(this.sessionId ?? '');
          this.scheduleHeartbeat(r.periodMs);
        } catch (e) {
          log.warn('heartbeat failed; registering again', { err: e });
          this.stopWatch?.();
          await new Promise((r) => setTimeout(r, 200));
          if (!this.stopped)
            await this.connect().catch((err) => {
              log.warn('no session yet; retrying', { err });
              this.scheduleHeartbeat(1000);
            });
        }
      },
      now ? 0 : Math.max(50, periodMs / 2),
    );
  }

  private ensureRunner(t: Task): void {
    const r = this.runners.get(t.ID);
    if (r) r.setDesired(t);
    else {
      const since = deliveryDelay(t, this.now());
      if (since !== undefined) this.opts.onDelivered?.(since);
      this.runners.set(
        t.ID,
        new TaskRunner(t, this.opts.executor, (id, s) => this.queueStatus(id, s), this.now),
      );
    }
  }

  private onTasks(tasks: Task[]): void {
    if (this.stopped) return;
    const ids = new Set(tasks.map((t) => t.ID));
    for (const t of tasks) this.ensureRunner(t);
    for (const [id, r] of this.runners) {
      if (!ids.has(id)) {
        this.runners.delete(id);
        void r.remove();
      }
    }
    this.lastTasks = tasks;
    this.opts.onAssignments?.(tasks);
    // Assignments change with every status report: persist at most every 200 ms, not per push.
    if (!this.saveTimer) {
      this.saveTimer = setTimeout(() => {
        this.saveTimer = undefined;
        void this.saveTasks();
      }, 200);
    }
  }

  private queueStatus(taskId: string, status: TaskStatus): void {
    this.pending.set(taskId, status);
    if (!this.flushTimer) this.flushTimer = setTimeout(() => void this.flush(), 10);
  }

  private async flush(): Promise<void> {
    this.flushTimer = undefined;
    if (this.pending.size === 0 || !this.sessionId) return;
    const updates: TaskStatusUpdate[] = [...this.pending].map(([taskId, status]) => ({ taskId, status }));
    this.pending.clear();
    try {
      await this.opts.session.updateTaskStatus(this.sessionId, updates);
    } catch (e) {
      // Keep the newest status per task and try again.
      for (const u of updates) if (!this.pending.has(u.taskId)) this.pending.set(u.taskId, u.status);
      log.warn('status report failed; retrying', { err: e });
      if (!this.stopped) this.flushTimer = setTimeout(() => void this.flush(), 500);
    }
  }

  private async loadTasks(): Promise<Task[]> {
    try {
      const parsed: unknown = JSON.parse(await readFile(this.tasksFile, 'utf8'));
      return Array.isArray(parsed) ? (parsed as Task[]) : [];
    } catch {
      return [];
    }
  }

  private async saveTasks(): Promise<void> {
    await writeFileAtomic(this.tasksFile, JSON.stringify(this.lastTasks), 0o600).catch((e) =>
      log.warn('could not persist the task set', { err: e }),
    );
  }

  /** Stops the agent; containers keep running (conmon owns them) and are re-adopted on start. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.heartbeatTimer);
    this.stopWatch?.();
    await this.flush();
    clearTimeout(this.flushTimer);
    if (this.saveTimer) {
      clearTimeout(this.saveTimer);
      this.saveTimer = undefined;
      await this.saveTasks();
    }
    for (const r of this.runners.values()) r.detach();
  }
}
