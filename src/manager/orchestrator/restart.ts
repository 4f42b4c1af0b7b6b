// The restart supervisor's decisions: whether a task that ended gets a replacement (restart policy,
// MaxAttempts within Window), and when a replacement held at desired READY may start.
// Restart history is derived from the tasks kept in the slot (the reaper keeps MaxAttempts+1 of them),
// so nothing is held in memory and a new leader decides exactly as the old one did.
import type { Node, Service, Task } from '../../api/types.js';
import type { DecisionContext, NewTask, PlanBuilder } from './plan.js';
import {
  ASSIGNED,
  COMPLETE,
  createdTime,
  hasEnded,
  isJob,
  isNodeInvalid,
  liveDesiredState,
  newTask,
  OLD_TASK_STOP_TIMEOUT_MS,
  RUNNING,
  restartPolicy,
  stateIndex,
} from './task.js';

function sameSpecVersion(a: Task, b: Task): boolean {
  return a.SpecVersion?.Index === b.SpecVersion?.Index;
}

/**
 * SwarmKit's shouldRestart. `slotTasks` are all tasks kept for the task's slot (or node, for global
 * services). Restarts are the tasks of the same spec version after the first one; only those created
 * within Window count when a window is set.
 */
export function shouldRestart(
  service: Service,
  task: Task,
  slotTasks: readonly Task[],
  now: number,
): boolean {
  const policy = restartPolicy(task.Spec);
  let condition = policy.condition;
  if (isJob(service) && condition === 'any') condition = 'on-failure';
  if (condition === 'none') return false;
  if (condition === 'on-failure' && task.Status.State === 'complete') return false;
  if (policy.maxAttempts === 0) return true;
  const sameSpec = slotTasks
    .filter((t) => sameSpecVersion(t, task))
    .sort((a, b) => createdTime(a) - createdTime(b));
  let restarts = sameSpec.slice(1);
  if (policy.windowMs > 0) restarts = restarts.filter((t) => createdTime(t) >= now - policy.windowMs);
  return restarts.length < policy.maxAttempts;
}

/** A live task that must be replaced: its process ended, or its node is gone, down or drained. */
export function needsRestart(service: Service, task: Task, node: Node | undefined): boolean {
  if (stateIndex(task.DesiredState) > stateIndex(liveDesiredState(service))) return false;
  if (isJob(service) && task.Status.State === 'complete') return false;
  return hasEnded(task) || (task.NodeID !== undefined && task.NodeID !== '' && isNodeInvalid(node));
}

export interface RestartInput {
  service: Service;
  task: Task;
  slotTasks: readonly Task[];
  /** Global services restart on the same node; replicated ones leave placement to the scheduler. */
  nodeId?: string;
  /** All nodes: a restart off a drained node is not delayed. */
  nodes: ReadonlyMap<string, Node>;
}

/**
 * Restart: the old task is told to shut down and, if the policy allows, a replacement is created in
 * the same slot with desired READY; `promoteDelayedStarts` raises it once the delay is over.
 * A replacement that ended while still held at READY (it is prepared while held, so a missing image
 * rejects it at once) is itself restarted only once its own delay is over, as SwarmKit's supervisor
 * waits out the old task's delay: one attempt per delay, not a tight loop.
 * Returns the replacement, if any.
 */
export function restart(input: RestartInput, ctx: DecisionContext, plan: PlanBuilder): NewTask | undefined {
  const { service, task } = input;
  if (plan.desiredOf(task) === 'ready') {
    const heldUntil = delayedStartAt(task, input.slotTasks, input.nodes, plan);
    if (ctx.now < heldUntil) {
      plan.wakeAt(heldUntil);
      return undefined;
    }
  }
  plan.setDesired(task.ID, 'shutdown');
  if (!shouldRestart(service, task, input.slotTasks, ctx.now)) return undefined;
  const replacement = newTask(
    service,
    { slot: task.Slot ?? 0, nodeId: input.nodeId, desiredState: 'ready' },
    ctx,
  );
  plan.create(replacement);
  return replacement;
}

/**
 * Raises tasks held at desired READY to their live desired state when SwarmKit's DelayStart would:
 * after the restart delay (only for restarts, and not when the old task's node is drained or down), and once
 * the slot's old tasks have stopped — or their node is down, or a minute passed waiting for them.
 * Adds a wake-up for the next moment something may change.
 */
export function promoteDelayedStarts(
  service: Service,
  slotTasks: readonly Task[],
  nodes: ReadonlyMap<string, Node>,
  ctx: DecisionContext,
  plan: PlanBuilder,
): void {
  for (const task of slotTasks) {
    if (plan.desiredOf(task) !== 'ready' || hasEnded(task)) continue;
    const others = slotTasks.filter((t) => t.ID !== task.ID);
    const old = others
      .filter((o) => stateIndex(plan.desiredOf(o)) > COMPLETE)
      .sort((a, b) => createdTime(b) - createdTime(a));
    const startAt = delayedStartAt(task, slotTasks, nodes, plan);
    if (ctx.now < startAt) {
      plan.wakeAt(startAt);
      continue;
    }
    const stillRunning = old.some((o) => {
      const s = stateIndex(o.Status.State);
      const node = o.NodeID ? nodes.get(o.NodeID) : undefined;
      return s >= ASSIGNED && s <= RUNNING && node !== undefined && node.Status.State !== 'down';
    });
    const giveUpAt = startAt + OLD_TASK_STOP_TIMEOUT_MS;
    if (stillRunning && ctx.now < giveUpAt) {
      plan.wakeAt(giveUpAt);
      continue;
    }
    plan.setDesired(task.ID, liveDesiredState(service));
  }
}

/**
 * When a task held at desired READY may start: its creation plus the restart delay if it replaces an
 * earlier task of the same spec (an update's new task starts at once), unless the task it replaces
 * sits on a drained node.
 */
function delayedStartAt(
  task: Task,
  slotTasks: readonly Task[],
  nodes: ReadonlyMap<string, Node>,
  plan: PlanBuilder,
): number {
  const others = slotTasks.filter((t) => t.ID !== task.ID);
  const isRestart = others.some((o) => sameSpecVersion(o, task) && createdTime(o) <= createdTime(task));
  const old = others
    .filter((o) => stateIndex(plan.desiredOf(o)) > COMPLETE && createdTime(o) <= createdTime(task))
    .sort((a, b) => createdTime(b) - createdTime(a));
  const prevNode = old[0]?.NodeID ? nodes.get(old[0].NodeID) : undefined;
  // Moving off a drained or dead node is not a failure of the task: no restart delay (SwarmKit
  // delays the move off a dead node too, which adds 5 s to every node loss).
  const moved = prevNode?.Spec.Availability === 'drain' || prevNode?.Status.State === 'down';
  const delay = isRestart && !moved ? restartPolicy(task.Spec).delayMs : 0;
  return createdTime(task) + delay;
}

/** Tasks of a slot that the orchestrator still counts as the slot's live tasks. */
export function liveTasks(service: Service, slotTasks: readonly Task[], plan: PlanBuilder): Task[] {
  const live = stateIndex(liveDesiredState(service));
  return slotTasks.filter((t) => stateIndex(plan.desiredOf(t)) <= live);
}
