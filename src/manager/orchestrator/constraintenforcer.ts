// SwarmKit's constraint enforcer as a pure decision: a task placed on a node that no longer meets the
// task's placement constraints (a node label was removed or changed) is marked REJECTED by the
// manager. Only the observed state is set; the orchestrator then restarts it elsewhere as for any
// task that ended, and the agent shuts its container down once its desired state follows.
import type { Node, Task } from '../../api/types.js';
import { nodeMatchesConstraints } from '../scheduler/constraint.js';
import type { TaskUpdate } from './plan.js';
import { ASSIGNED, COMPLETE, isoTime, RUNNING, stateIndex } from './task.js';

export function enforceConstraints(
  nodes: ReadonlyMap<string, Node>,
  tasks: readonly Task[],
  now: number,
): TaskUpdate[] {
  const out: TaskUpdate[] = [];
  for (const t of tasks) {
    const constraints = t.Spec.Placement?.Constraints ?? [];
    if (constraints.length === 0 || !t.NodeID) continue;
    if (stateIndex(t.DesiredState) > COMPLETE) continue;
    const observed = stateIndex(t.Status.State);
    if (observed < ASSIGNED || observed > RUNNING) continue;
    const node = nodes.get(t.NodeID);
    if (!node || nodeMatchesConstraints(node, constraints)) continue;
    out.push({
      ID: t.ID,
      Status: {
        ...t.Status,
        Timestamp: isoTime(now),
        State: 'rejected',
        Message: 'task rejected by constraint enforcer',
        Err: 'assigned node no longer meets constraints',
      },
    });
  }
  return out;
}
