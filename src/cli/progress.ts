// The convergence display of attached `service create/update/scale/rollback`, as the docker
// CLI draws it. Split in three: `ReplicatedProgress`/`GlobalProgress` turn one poll's service,
// tasks and nodes into progress messages (a deterministic state machine, no I/O); the writers
// render messages for a terminal (lines redrawn in place with cursor moves) or for a pipe (plain
// lines); `watchServiceProgress` is the polling loop.

import type { Service, Task } from './types.js';

/** One progress message: a line identified by `id`, redrawn when the same id comes again. */
export interface ProgressMessage {
  id: string;
  action: string;
  /** Bar fill in steps of `BAR_STEPS`, when the line has a bar. */
  current?: number;
}

/** Task states in the order a task moves through them; rank = index + 1. */
const NUMBERED_STATES = [
  'new',
  'allocated',
  'pending',
  'assigned',
  'accepted',
  'preparing',
  'ready',
  'starting',
  'running',
];
const BAR_STEPS = NUMBERED_STATES.length;
const BAR_WIDTH = 50;
const LONGEST_STATE = Math.max(...NUMBERED_STATES.map((s) => s.length));
/** Above this many replicas only the overall line is drawn. */
const MAX_PROGRESS_BARS = 20;

function rank(state: string): number {
  return NUMBERED_STATES.indexOf(state) + 1;
}

/** "[=====>      ]": `current` of BAR_STEPS, 50 cells plus the arrow head. */
export function renderBar(current: number): string {
  const filled = Math.floor((BAR_WIDTH * Math.max(0, Math.min(current, BAR_STEPS))) / BAR_STEPS);
  return `[${'='.repeat(filled)}>${' '.repeat(BAR_WIDTH - filled)}]`;
}

/** The text of one message as a terminal shows it (each ends in one blank, like docker's). */
export function formatMessageTty(m: ProgressMessage): string {
  return m.current === undefined ? `${m.id}: ${m.action} ` : `${m.id}: ${m.action} ${renderBar(m.current)} `;
}

function overall(running: number, total: number, rollback: boolean): ProgressMessage {
  const prefix = rollback ? 'rolling back update: ' : '';
  return { id: 'overall progress', action: `${prefix}${running} out of ${total} tasks` };
}

function taskMessage(id: string, task: Task, rollback: boolean): ProgressMessage | undefined {
  if (task.Status.Err) return { id, action: task.Status.Err.replace(/\n/g, ' ') };
  const r = rank(task.Status.State);
  if (r === 0) return undefined;
  // Docker 20.10 draws a rollback as bars emptying towards the old state (see README).
  return { id, action: task.Status.State.padEnd(LONGEST_STATE), current: rollback ? BAR_STEPS - r : r };
}

export interface ProgressUpdater {
  update(
    service: Service,
    tasks: Task[],
    activeNodes: Set<string>,
    rollback: boolean,
  ): {
    converged: boolean;
    messages: ProgressMessage[];
  };
}

/** Progress of a replicated service: one line per slot, numbered 1..N in order of appearance. */
export class ReplicatedProgress implements ProgressUpdater {
  private initialized = false;
  private done = false;
  private readonly slotMap = new Map<number, number>();

  update(service: Service, tasks: Task[], activeNodes: Set<string>, rollback: boolean) {
    const messages: ProgressMessage[] = [];
    const mode = (service.Spec.Mode ?? {}) as { Replicated?: { Replicas?: number } };
    const replicas = mode.Replicated?.Replicas ?? 1;
    if (!this.initialized) {
      // The overall line comes first, so a terminal shows it above the slots (as docker does).
      messages.push(overall(0, replicas, rollback));
      if (replicas <= MAX_PROGRESS_BARS) {
        for (let i = 1; i <= replicas; i++) messages.push({ id: `${i}/${replicas}`, action: ' ' });
      }
      this.initialized = true;
    }
    const bySlot = tasksBySlot(tasks, activeNodes);
    if (this.done && [...bySlot.values()].some((t) => t.Status.State !== 'running')) this.done = false;
    let running = 0;
    for (const [slot, task] of [...bySlot.entries()].sort(([a], [b]) => a - b)) {
      let mapped = this.slotMap.get(slot);
      if (mapped === undefined) {
        mapped = this.slotMap.size + 1;
        this.slotMap.set(slot, mapped);
      }
      if (!this.done && replicas <= MAX_PROGRESS_BARS && mapped <= replicas) {
        const m = taskMessage(`${mapped}/${replicas}`, task, rollback);
        if (m) messages.push(m);
      }
      if (task.Status.State === 'running') running++;
    }
    if (!this.done) {
      messages.push(overall(running, replicas, rollback));
      if (running === replicas) this.done = true;
    }
    return { converged: running === replicas, messages };
  }
}

/** Progress of a global service: one line per active node that should run a task. */
export class GlobalProgress implements ProgressUpdater {
  private initialized = false;
  private done = false;

  update(_service: Service, tasks: Task[], activeNodes: Set<string>, rollback: boolean) {
    const messages: ProgressMessage[] = [];
    const byNode = new Map<string, Task>();
    for (const t of tasks) {
      if (!t.NodeID || !activeNodes.has(t.NodeID) || rank(t.DesiredState) === 0) continue;
      const prev = byNode.get(t.NodeID);
      if (!prev || rank(t.DesiredState) < rank(prev.DesiredState)) byNode.set(t.NodeID, t);
    }
    const total = byNode.size;
    if (!this.initialized) {
      // No task yet: either the orchestrator has not made them or no node qualifies; wait.
      if (total === 0)
        return { converged: false, messages: [{ id: 'overall progress', action: 'waiting for new tasks' }] };
      messages.push(overall(0, total, rollback));
      this.initialized = true;
    }
    let running = 0;
    for (const [node, task] of [...byNode.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (!this.done && total <= MAX_PROGRESS_BARS) {
        const m = taskMessage(node.slice(0, 12), task, rollback);
        if (m) messages.push(m);
      }
      if (task.Status.State === 'running') running++;
    }
    if (!this.done) {
      messages.push(overall(running, total, rollback));
      if (running === total && total > 0) this.done = true;
    }
    return { converged: running === total && total > 0, messages };
  }
}

/**
 * One task per slot: among tasks of a slot, the lowest desired state wins and then the lowest
 * observed state (what docker shows during restarts and start-first updates); tasks on nodes
 * that are down are ignored.
 */
function tasksBySlot(tasks: Task[], activeNodes: Set<string>): Map<number, Task> {
  const bySlot = new Map<number, Task>();
  for (const task of tasks) {
    if (rank(task.DesiredState) === 0 || rank(task.Status.State) === 0) continue;
    const slot = task.Slot ?? 0;
    const existing = bySlot.get(slot);
    if (existing) {
      if (rank(existing.DesiredState) < rank(task.DesiredState)) continue;
      if (
        rank(existing.DesiredState) === rank(task.DesiredState) &&
        rank(existing.Status.State) <= rank(task.Status.State)
      )
        continue;
    }
    if (task.NodeID && !activeNodes.has(task.NodeID)) continue;
    bySlot.set(slot, task);
  }
  return bySlot;
}

// --- writers ----------------------------------------------------------------------------------

export interface ProgressWriter {
  write(m: ProgressMessage): void;
  /** A plain line (not redrawn), e.g. the Ctrl-C notice. */
  line(text: string): void;
}

/** Redraws lines in place: ESC[nA up, ESC[2K erase, \r, text, ESC[nB back down. */
export class TtyProgressWriter implements ProgressWriter {
  private readonly lines = new Map<string, number>();

  constructor(private readonly out: (s: string) => void) {}

  write(m: ProgressMessage): void {
    let index = this.lines.get(m.id);
    if (index === undefined) {
      index = this.lines.size;
      this.lines.set(m.id, index);
      this.out('\n');
    }
    const diff = this.lines.size - index;
    this.out(`\x1b[${diff}A\x1b[2K\r${formatMessageTty(m)}\x1b[${diff}B`);
  }

  line(text: string): void {
    this.lines.clear();
    this.out(`${text}\n`);
  }
}

/** Without a terminal: bars are left out and each message without a bar is a plain line. */
export class PlainProgressWriter implements ProgressWriter {
  private readonly lastError = new Map<string, string>();

  constructor(private readonly out: (s: string) => void) {}

  write(m: ProgressMessage): void {
    if (m.current !== undefined) return;
    if (/^\d+\/\d+$/.test(m.id) && m.action !== ' ') {
      if (this.lastError.get(m.id) === m.action) return;
      this.lastError.set(m.id, m.action);
    }
    this.out(`${m.id}: ${m.action}\n`);
  }

  line(text: string): void {
    this.out(`${text}\n`);
  }
}

// --- the polling loop -------------------------------------------------------------------------

export interface ProgressSource {
  service(): Promise<Service>;
  tasks(): Promise<Task[]>;
  activeNodes(): Promise<Set<string>>;
}

export interface ProgressClock {
  now(): number;
  /** Resolves after ms, or early with false when interrupted (Ctrl-C). */
  sleep(ms: number): Promise<boolean>;
}

export class ProgressError extends Error {}

const POLL_INTERVAL_MS = 200;
const DEFAULT_MONITOR_NS = 5e9;

/**
 * Polls until every task runs and the update monitor period has passed ("verify: Service
 * converged"). Returns 'interrupted' after Ctrl-C (the operation continues server-side).
 */
export async function watchServiceProgress(
  src: ProgressSource,
  writer: ProgressWriter,
  clock: ProgressClock,
): Promise<'converged' | 'interrupted'> {
  let updater: ProgressUpdater | undefined;
  let rollback = false;
  let convergedAt: number | undefined;
  let converged = false;
  let finalMessage: ProgressMessage | undefined;
  for (;;) {
    const service = await src.service();
    const uc = (service.Spec.UpdateConfig ?? {}) as { Monitor?: number };
    const monitorMs = (uc.Monitor || DEFAULT_MONITOR_NS) / 1e6;
    const status = service.UpdateStatus;
    switch (status?.State) {
      case 'updating':
        rollback = false;
        break;
      case 'paused':
        throw new ProgressError(`service update paused: ${status.Message ?? ''}`);
      case 'rollback_started':
        if (!rollback && status.Message) writer.write({ id: 'rollback', action: status.Message });
        rollback = true;
        break;
      case 'rollback_paused':
        throw new ProgressError(`service rollback paused: ${status.Message ?? ''}`);
      case 'rollback_completed':
        rollback = true;
        // Docker keeps the message only when the rollback completed before the tasks were seen
        // converged (a rollback with nothing to replace); after a real rollback it prints none.
        if (!converged && status.Message) finalMessage = { id: 'rollback', action: status.Message };
        break;
      default:
        break;
    }
    if (converged && convergedAt !== undefined && clock.now() - convergedAt >= monitorMs) {
      writer.write({ id: 'verify', action: 'Service converged' });
      if (finalMessage) writer.write(finalMessage);
      return 'converged';
    }
    if (!updater) {
      const mode = (service.Spec.Mode ?? {}) as Record<string, unknown>;
      updater = 'Global' in mode ? new GlobalProgress() : new ReplicatedProgress();
    }
    const [tasks, nodes] = await Promise.all([src.tasks(), src.activeNodes()]);
    const result = updater.update(service, tasks, nodes, rollback);
    for (const m of result.messages) writer.write(m);
    converged = result.converged;
    if (converged) {
      if (convergedAt === undefined) convergedAt = clock.now();
      const wait = monitorMs - (clock.now() - convergedAt);
      if (wait >= 0) {
        // Docker computes ⌊wait/1s⌋+1 with a nanosecond clock, where some time has always passed
        // since convergence (5 s monitor → "5 seconds" first); on a millisecond clock the first
        // wait is exactly 5000, so round up instead (never below 1).
        writer.write({
          id: 'verify',
          action: `Waiting ${Math.max(1, Math.ceil(wait / 1000))} seconds to verify that tasks are stable...`,
        });
      }
    } else {
      if (convergedAt !== undefined) writer.write({ id: 'verify', action: ' ' });
      convergedAt = undefined;
    }
    if (!(await clock.sleep(POLL_INTERVAL_MS))) return 'interrupted';
  }
}

// --- root CA rotation (`swarm ca --rotate`) ---------------------------------------------------

/** What one poll of a root rotation shows: the desired root's digest, then nodes on the new certificate and root. */
export interface RootRotationView {
  messages: ProgressMessage[];
  done: boolean;
}

interface TLSView {
  TrustRoot?: string;
  CertIssuerSubject?: string;
  CertIssuerPublicKey?: string;
}

/** "[=====>      ] 3/5 nodes", docker's progress bar with units. */
export function renderCountBar(current: number, total: number, units: string): string {
  const filled = total > 0 ? Math.floor((BAR_WIDTH * Math.min(current, total)) / total) : 0;
  const bar =
    filled >= BAR_WIDTH
      ? '='.repeat(BAR_WIDTH + 1)
      : `${'='.repeat(filled)}>${' '.repeat(BAR_WIDTH - filled - 1)}`;
  return `[${bar}] ${current}/${total} ${units}`;
}

/**
 * One poll, as the docker CLI counts it: nodes whose certificate issuer is the cluster's, nodes whose
 * trust root is the cluster's; the trust roots count only once no rotation is in progress and every
 * certificate is right. Done when both are complete. `digest` is the desired root's sha256.
 */
export function rootRotationProgress(
  cluster: { TLSInfo?: TLSView; RootRotationInProgress?: boolean },
  nodes: readonly { Description?: { TLSInfo?: TLSView | null } | null }[],
  digest: string,
): RootRotationView {
  const want = cluster.TLSInfo ?? {};
  let certs = 0;
  let roots = 0;
  for (const n of nodes) {
    const tls = n.Description?.TLSInfo ?? {};
    if (
      tls.CertIssuerPublicKey === want.CertIssuerPublicKey &&
      tls.CertIssuerSubject === want.CertIssuerSubject
    )
      certs++;
    if (tls.TrustRoot === want.TrustRoot) roots++;
  }
  const total = nodes.length;
  const settled = certs === total && cluster.RootRotationInProgress !== true;
  const shownRoots = settled ? roots : 0;
  return {
    messages: [
      { id: 'desired root digest', action: digest },
      { id: '  rotated TLS certificates', action: renderCountBar(certs, total, 'nodes') },
      { id: '  rotated CA certificates', action: ` ${renderCountBar(shownRoots, total, 'nodes')}` },
    ],
    done: settled && roots === total,
  };
}
