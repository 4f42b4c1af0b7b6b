// The global-service orchestrator's decision: one live task on every node that is not down or
// drained and meets the constraints; tasks leave nodes that stop qualifying; updates go node by node.
import type { Node, Service, Task } from '../../api/types.js';
import { nodeMatchesConstraints } from '../scheduler/constraint.js';
import { planUpdate } from '../update/updater.js';
import { type DecisionContext, PlanBuilder } from './plan.js';
import { asTask, nodesById, type ReconcileInput, type ReconcileResult, slotLiveTasks } from './replicated.js';
import { liveTasks, needsRestart, promoteDelayedStarts, restart } from './restart.js';
import { groupBy, newTask } from './task.js';

/** A node that should run one task of the global service (a paused one keeps, but gets no new task). */
export function isEligibleNode(service: Service, node: Node): boolean {
  return (
    node.Status.State !== 'down' &&
    node.Spec.Availability !== 'drain' &&
    nodeMatchesConstraints(node, service.Spec.TaskTemplate.Placement?.Constraints ?? [])
  );
}

export function reconcileGlobal(input: ReconcileInput, ctx: DecisionContext): ReconcileResult {
  const { service } = input;
  const plan = new PlanBuilder();
  const nodes = nodesById(input.nodes);
  const byNode = groupBy(input.tasks, (t) => t.NodeID ?? '');

  // Tasks on nodes that left the cluster are removed; on nodes that stopped qualifying, shut down.
  for (const [nodeId, tasks] of byNode) {
    const node = nodes.get(nodeId);
    if (node && isEligibleNode(service, node)) continue;
    for (const t of liveTasks(service, tasks, plan)) plan.setDesired(t.ID, node ? 'shutdown' : 'remove');
  }

  const updatable: Task[][] = [];
  const perNode = new Map<string, Task[]>();
  for (const node of input.nodes) {
    if (!isEligibleNode(service, node)) continue;
    const slotTasks = byNode.get(node.ID) ?? [];
    perNode.set(node.ID, slotTasks);
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
    const live = slotLiveTasks(service, slotTasks, plan, ctx.now);
    if (paused) continue;
    if (live.length === 0) {
      const created = newTask(service, { slot: 0, nodeId: node.ID, desiredState: 'running' }, ctx);
      plan.create(created);
      slotTasks.push(asTask(created));
    } else {
      updatable.push(live);
    }
  }

  const updater = planUpdate(
    {
      service,
      slots: updatable,
      allTasks: new Map(input.tasks.map((t) => [t.ID, t])),
      nodes,
      makeTask: (slot, desiredState) =>
        newTask(service, { slot: 0, nodeId: slot[0]?.NodeID, desiredState }, ctx),
      state: input.updater,
    },
    ctx,
    plan,
  );

  for (const created of plan.created()) {
    const list = perNode.get(created.NodeID ?? '');
    if (list && !list.some((t) => t.ID === created.ID)) list.push(asTask(created));
  }
  for (const slotTasks of perNode.values()) promoteDelayedStarts(service, slotTasks, nodes, ctx, plan);

  const result: ReconcileResult = { plan: plan.build() };
  if (updater) result.updater = updater;
  return result;
}
