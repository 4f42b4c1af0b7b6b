// The job orchestrators' decisions: run-to-completion tasks (desired COMPLETE). A replicated job runs
// TotalCompletions tasks in slots 0..TotalCompletions-1, at most MaxConcurrent at a time; a global job
// runs one task per eligible node. Completed tasks are never restarted; a new JobIteration re-runs it.
import type { Service, Task } from '../../api/types.js';
import { isEligibleNode } from './global.js';
import { type DecisionContext, type Plan, PlanBuilder } from './plan.js';
import { asTask, nodesById, type ReconcileInput, slotLiveTasks } from './replicated.js';
import { liveTasks, needsRestart, promoteDelayedStarts, restart } from './restart.js';
import { groupBy, newTask, stateIndex } from './task.js';

/** Whether a task belongs to the job's current iteration. */
export function isCurrentIteration(service: Service, t: Task): boolean {
  return (t.JobIteration?.Index ?? 0) === (service.JobStatus?.JobIteration.Index ?? 0);
}

/** Tasks of older iterations get desired REMOVE; returns the current iteration's tasks. */
function dropOldIterations(service: Service, tasks: readonly Task[], plan: PlanBuilder): Task[] {
  const current: Task[] = [];
  for (const t of tasks) {
    if (isCurrentIteration(service, t)) current.push(t);
    else if (stateIndex(t.DesiredState) < stateIndex('remove')) plan.setDesired(t.ID, 'remove');
  }
  return current;
}

/** The engine's defaults: MaxConcurrent 1, TotalCompletions = MaxConcurrent. */
export function jobCounts(service: Service): { maxConcurrent: number; totalCompletions: number } {
  const mode = service.Spec.Mode?.ReplicatedJob;
  const maxConcurrent = mode?.MaxConcurrent || 1;
  return { maxConcurrent, totalCompletions: mode?.TotalCompletions || maxConcurrent };
}

export function reconcileReplicatedJob(input: ReconcileInput, ctx: DecisionContext): Plan {
  const { service } = input;
  const plan = new PlanBuilder();
  const nodes = nodesById(input.nodes);
  const slots = groupBy(dropOldIterations(service, input.tasks, plan), (t) => t.Slot ?? 0);

  for (const slotTasks of slots.values()) {
    for (const task of [...slotTasks]) {
      if (!needsRestart(service, task, task.NodeID ? nodes.get(task.NodeID) : undefined)) continue;
      const replacement = restart({ service, task, slotTasks, nodes }, ctx, plan);
      if (replacement) slotTasks.push(asTask(replacement));
    }
  }

  const { maxConcurrent, totalCompletions } = jobCounts(service);
  let completed = 0;
  let running = 0;
  const occupied = new Set<number>();
  for (const [slot, slotTasks] of slots) {
    if (slotTasks.some((t) => t.Status.State === 'complete')) {
      completed++;
      occupied.add(slot);
    } else if (slotLiveTasks(service, slotTasks, plan, ctx.now).length > 0) {
      // Live, or failed for good (restart policy exhausted): either way the slot is not refilled.
      if (liveTasks(service, slotTasks, plan).length > 0) running++;
      occupied.add(slot);
    }
  }
  const wanted = Math.min(maxConcurrent - running, totalCompletions - completed - running);
  let created = 0;
  for (let slot = 0; created < wanted && slot < totalCompletions; slot++) {
    if (occupied.has(slot)) continue;
    plan.create(newTask(service, { slot, desiredState: 'complete' }, ctx));
    created++;
  }

  for (const slotTasks of slots.values()) promoteDelayedStarts(service, slotTasks, nodes, ctx, plan);
  return plan.build();
}

export function reconcileGlobalJob(input: ReconcileInput, ctx: DecisionContext): Plan {
  const { service } = input;
  const plan = new PlanBuilder();
  const nodes = nodesById(input.nodes);
  const byNode = groupBy(dropOldIterations(service, input.tasks, plan), (t) => t.NodeID ?? '');

  for (const [nodeId, tasks] of byNode) {
    const node = nodes.get(nodeId);
    if (node && isEligibleNode(service, node)) continue;
    for (const t of liveTasks(service, tasks, plan)) {
      if (t.Status.State !== 'complete') plan.setDesired(t.ID, node ? 'shutdown' : 'remove');
    }
  }

  for (const node of input.nodes) {
    if (!isEligibleNode(service, node)) continue;
    const slotTasks = byNode.get(node.ID) ?? [];
    const paused = node.Spec.Availability === 'pause';
    for (const task of [...slotTasks]) {
      if (!needsRestart(service, task, node)) continue;
      if (paused) {
        plan.setDesired(task.ID, 'shutdown');
        continue;
      }
      const replacement = restart({ service, task, slotTasks, nodeId: node.ID, nodes }, ctx, plan);
      if (replacement) slotTasks.push(asTask(replacement));
    }
    if (slotTasks.some((t) => t.Status.State === 'complete')) continue;
    if (!paused && slotLiveTasks(service, slotTasks, plan, ctx.now).length === 0) {
      plan.create(newTask(service, { slot: 0, nodeId: node.ID, desiredState: 'complete' }, ctx));
    }
    promoteDelayedStarts(service, slotTasks, nodes, ctx, plan);
  }
  return plan.build();
}
