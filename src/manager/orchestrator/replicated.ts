// The replicated-service orchestrator's decision: keep exactly Replicas live slots, restart tasks that
// ended or were stranded on a bad node, scale down from the most loaded nodes, and roll updates.
import type { Node, Service, Task } from '../../api/types.js';
import { planUpdate, type UpdaterState } from '../update/updater.js';
import { type DecisionContext, type NewTask, type Plan, PlanBuilder } from './plan.js';
import { liveTasks, needsRestart, promoteDelayedStarts, restart, shouldRestart } from './restart.js';
import { byStatusTime, createdTime, groupBy, hasEnded, isNodeInvalid, newTask, stateIndex } from './task.js';

export interface ReconcileInput {
  service: Service;
  /** Every task of this service (any state). */
  tasks: readonly Task[];
  nodes: readonly Node[];
  /** What the last step returned for this service's running update, if any. */
  updater?: UpdaterState;
}

export interface ReconcileResult {
  plan: Plan;
  /** Keep in memory and pass back on the next reconcile of this service. */
  updater?: UpdaterState;
}

export function nodesById(nodes: readonly Node[]): Map<string, Node> {
  return new Map(nodes.map((n) => [n.ID, n]));
}

/** A created task as a Task, so later steps of one decision can reason about it. */
export function asTask(t: NewTask): Task {
  return { ...t, Version: { Index: 0 } };
}

/**
 * What the orchestrator counts as a slot's live tasks (SwarmKit's UpdatableTasksInSlot): its tasks
 * still wanted running; or, when none is, its latest task if that one will not be restarted (so a
 * finished task with restart policy "none" keeps its slot). An empty result is a dead slot.
 */
export function slotLiveTasks(
  service: Service,
  slot: readonly Task[],
  plan: PlanBuilder,
  now: number,
): Task[] {
  const live = liveTasks(service, slot, plan);
  if (live.length > 0 || slot.length === 0) return live;
  if (service.UpdateStatus?.State === 'rollback_started') return [];
  const latest = [...slot].sort(byStatusTime).at(-1)!;
  return shouldRestart(service, latest, slot, now) ? [] : [latest];
}

export function reconcileReplicated(input: ReconcileInput, ctx: DecisionContext): ReconcileResult {
  const { service } = input;
  const plan = new PlanBuilder();
  const nodes = nodesById(input.nodes);
  const slots = groupBy(input.tasks, (t) => t.Slot ?? 0);

  // 1. Restarts: ended tasks and tasks on missing, down or drained nodes.
  for (const slotTasks of slots.values()) {
    for (const task of [...slotTasks]) {
      const node = task.NodeID ? nodes.get(task.NodeID) : undefined;
      if (!needsRestart(service, task, node)) continue;
      if (drainStartFirst(service, task, node)) {
        const replacement = moveOffDrainedNode(service, task, slotTasks, nodes, ctx, plan);
        if (replacement) slotTasks.push(asTask(replacement));
        continue;
      }
      const replacement = restart({ service, task, slotTasks, nodes }, ctx, plan);
      if (replacement) slotTasks.push(asTask(replacement));
    }
  }

  // 2. Which slots are live, which dead.
  const live = new Map<number, Task[]>();
  const dead = new Map<number, Task[]>();
  for (const [slot, slotTasks] of slots) {
    const tasks = slotLiveTasks(service, slotTasks, plan, ctx.now);
    if (tasks.length > 0) live.set(slot, tasks);
    else dead.set(slot, slotTasks);
  }

  // 3. Scale.
  const replicas = service.Spec.Mode?.Replicated?.Replicas ?? 1;
  let kept = [...live.entries()].sort((a, b) => a[0] - b[0]);
  if (kept.length < replicas) {
    let slot = 0;
    for (let n = kept.length; n < replicas; n++) {
      do slot++;
      while (live.has(slot));
      const created = newTask(service, { slot, desiredState: 'running' }, ctx);
      plan.create(created);
      const existing = slots.get(slot);
      if (existing) existing.push(asTask(created));
      else slots.set(slot, [asTask(created)]);
    }
  } else if (kept.length > replicas) {
    const ordered = scaleDownOrder(kept);
    kept = ordered.slice(0, replicas);
    for (const [, tasks] of ordered.slice(replicas)) removeAll(tasks, plan);
    for (const tasks of dead.values()) removeAll(tasks, plan);
  }

  // 4. Rolling update over the kept slots.
  const allTasks = new Map(input.tasks.map((t) => [t.ID, t]));
  const updater = planUpdate(
    {
      service,
      slots: kept.map(([, tasks]) => withoutDrainedMoves(tasks, nodes, plan)),
      allTasks,
      nodes,
      makeTask: (slot, desiredState) => newTask(service, { slot: slot[0]?.Slot ?? 0, desiredState }, ctx),
      state: input.updater,
    },
    ctx,
    plan,
  );

  // 5. Start tasks held at READY whose delay is over and whose slot's old task has stopped.
  const keptSlots = new Set(kept.map(([slot]) => slot));
  for (const created of plan.created()) {
    const slot = created.Slot ?? 0;
    const list = slots.get(slot);
    if (list && !list.some((t) => t.ID === created.ID)) list.push(asTask(created));
    else if (!list) slots.set(slot, [asTask(created)]);
  }
  for (const [slot, slotTasks] of slots) {
    if (keptSlots.has(slot)) promoteDelayedStarts(service, slotTasks, nodes, ctx, plan);
  }
  const result: ReconcileResult = { plan: plan.build() };
  if (updater) result.updater = updater;
  return result;
}

/** The service label that brings back Docker's drain: stop the task first, then start its replacement. */
export const DRAIN_ORDER_LABEL = 'swarmkit-ts.drain-order';

/** A drained node's running task moves start-first (unless the service asks for Docker's stop-first). */
function drainStartFirst(service: Service, task: Task, node: Node | undefined): boolean {
  return (
    node !== undefined &&
    node.Status.State !== 'down' &&
    node.Spec.Availability === 'drain' &&
    !hasEnded(task) &&
    service.Spec.Labels?.[DRAIN_ORDER_LABEL] !== 'stop-first'
  );
}

/**
 * Drain that keeps capacity: the task on the drained node keeps running while a replacement starts
 * elsewhere in its slot; it is told to shut down once the replacement runs, or when the scheduler
 * finds no node for the replacement or it could not run within a minute (no capacity: then drain
 * goes on as Docker's does).
 */
function moveOffDrainedNode(
  service: Service,
  task: Task,
  slotTasks: readonly Task[],
  nodes: ReadonlyMap<string, Node>,
  ctx: DecisionContext,
  plan: PlanBuilder,
): NewTask | undefined {
  const elsewhere = slotTasks.filter((t) => {
    if (t.ID === task.ID || stateIndex(plan.desiredOf(t)) > stateIndex('running') || hasEnded(t))
      return false;
    return !isNodeInvalid(t.NodeID ? nodes.get(t.NodeID) : undefined) || !t.NodeID;
  });
  if (elsewhere.length === 0) {
    const replacement = newTask(service, { slot: task.Slot ?? 0, desiredState: 'running' }, ctx);
    plan.create(replacement);
    plan.wakeAt(ctx.now + DRAIN_REPLACEMENT_TIMEOUT_MS);
    return replacement;
  }
  const running = elsewhere.some((t) => t.Status.State === 'running');
  // The scheduler found no node for the replacement: there is no capacity to keep, drain as Docker.
  const unplaceable = elsewhere.some((t) => t.Status.State === 'pending' && !!t.Status.Err);
  const oldest = Math.min(...elsewhere.map(createdTime));
  if (running || unplaceable || ctx.now >= oldest + DRAIN_REPLACEMENT_TIMEOUT_MS)
    plan.setDesired(task.ID, 'shutdown');
  else plan.wakeAt(oldest + DRAIN_REPLACEMENT_TIMEOUT_MS);
  return undefined;
}

const DRAIN_REPLACEMENT_TIMEOUT_MS = 60_000;

/**
 * A slot moving off a drained node has two live tasks for a while; the updater sees only the
 * replacement (two live tasks would look like an update in progress).
 */
function withoutDrainedMoves(tasks: Task[], nodes: ReadonlyMap<string, Node>, plan: PlanBuilder): Task[] {
  if (tasks.length < 2) return tasks;
  const drained = (t: Task) => t.NodeID !== undefined && nodes.get(t.NodeID)?.Spec.Availability === 'drain';
  const moving = tasks.filter((t) => drained(t) && plan.desiredOf(t) === 'running');
  const rest = tasks.filter((t) => !moving.includes(t));
  return rest.length > 0 ? rest : tasks;
}

/** Desired REMOVE: the agent stops the task and the reaper deletes it, leaving no history. */
function removeAll(tasks: readonly Task[], plan: PlanBuilder): void {
  for (const t of tasks) {
    if (stateIndex(plan.desiredOf(t)) < stateIndex('remove')) plan.setDesired(t.ID, 'remove');
  }
}

/**
 * SwarmKit's scale-down order, best to keep first: each slot gets its rank among the service's slots
 * on the same node (1st, 2nd … copy there), lower ranks kept first, so the most loaded nodes lose
 * tasks first; among equal ranks running slots come first, then lower slot numbers. Slots that are
 * not a single placed task (unassigned, or mid-update) rank last.
 */
function scaleDownOrder(slots: [number, Task[]][]): [number, Task[]][] {
  const running = (tasks: Task[]) => tasks.some((t) => t.Status.State === 'running');
  const byRunning = [...slots].sort((a, b) => Number(running(b[1])) - Number(running(a[1])) || a[0] - b[0]);
  const perNode = new Map<string, number>();
  const ranked = byRunning.map(([slot, tasks]) => {
    const only = tasks.length === 1 ? tasks[0] : undefined;
    if (!only?.NodeID) return { slot, tasks, rank: Number.MAX_SAFE_INTEGER };
    const rank = (perNode.get(only.NodeID) ?? 0) + 1;
    perNode.set(only.NodeID, rank);
    return { slot, tasks, rank };
  });
  ranked.sort((a, b) => a.rank - b.rank);
  return ranked.map((r) => [r.slot, r.tasks]);
}

/** A deleted service: every task goes to desired REMOVE (never backwards). */
export function removeServiceTasks(tasks: readonly Task[]): Plan {
  const plan = new PlanBuilder();
  for (const t of tasks) {
    if (stateIndex(t.DesiredState) < stateIndex('remove')) plan.setDesired(t.ID, 'remove');
  }
  return plan.build();
}
