// The task reaper's decision: which task objects to delete. Keeps TaskHistoryRetentionLimit tasks per
// slot (per node for global services), MaxAttempts+1 when the restart policy counts attempts; deletes
// removed tasks once they stopped and orphaned tasks whose service is gone.
import type { Service, Task } from '../../api/types.js';
import { ASSIGNED, byStatusTime, isGlobalJob, isGlobalService, RUNNING, stateIndex } from './task.js';

/** SwarmKit's default `Orchestration.TaskHistoryRetentionLimit`. */
export const DEFAULT_TASK_HISTORY_RETENTION_LIMIT = 5;

/** A task that holds nothing any more: finished, or never placed and never going to be. */
function isHistory(t: Task): boolean {
  const s = stateIndex(t.Status.State);
  return s > RUNNING || (s < ASSIGNED && stateIndex(t.DesiredState) > RUNNING);
}

/**
 * IDs of tasks to delete. `retentionLimit` is the cluster's TaskHistoryRetentionLimit (negative:
 * never clean up history; removed and orphaned tasks still go).
 */
export function reapTasks(
  tasks: readonly Task[],
  services: ReadonlyMap<string, Service>,
  retentionLimit: number = DEFAULT_TASK_HISTORY_RETENTION_LIMIT,
): string[] {
  const deletes: string[] = [];
  const slots = new Map<string, Task[]>();
  for (const t of tasks) {
    const service = services.get(t.ServiceID);
    const s = stateIndex(t.Status.State);
    if (t.DesiredState === 'remove' && (!t.NodeID || s < ASSIGNED || s > RUNNING)) {
      deletes.push(t.ID);
      continue;
    }
    if (!service) {
      if (t.Status.State === 'orphaned') deletes.push(t.ID);
      continue;
    }
    const perNode = isGlobalService(service) || isGlobalJob(service);
    const key = `${t.ServiceID}\u0000${perNode ? `n:${t.NodeID ?? ''}` : `s:${t.Slot ?? 0}`}`;
    const list = slots.get(key);
    if (list) list.push(t);
    else slots.set(key, [t]);
  }

  for (const slotTasks of slots.values()) {
    const service = services.get(slotTasks[0]!.ServiceID)!;
    const maxAttempts = service.Spec.TaskTemplate.RestartPolicy?.MaxAttempts ?? 0;
    // Restart counting is rebuilt from the slot's tasks, so keep enough of them.
    const keep = maxAttempts > 0 ? maxAttempts + 1 : retentionLimit;
    if (keep < 0 || slotTasks.length <= keep) continue;
    let excess = slotTasks.length - keep;
    for (const t of [...slotTasks].sort(byStatusTime)) {
      if (excess === 0) break;
      if (!isHistory(t)) continue;
      deletes.push(t.ID);
      excess--;
    }
  }
  return deletes;
}
