// Which etcd members the cluster no longer wants, as a pure decision: a member belongs to a manager
// node (its name is the node ID); a node demoted to worker, or removed, gives its member up. The
// leader's member shell (manager.ts) applies it. A learner that never started has no name yet and is
// the joining manager's, not ours to remove.
import type { Node } from '../api/types.js';
import type { MemberInfo } from '../etcd/membership.js';

export interface MemberPlan {
  /** Members to remove from the etcd cluster. */
  remove: MemberInfo[];
  /** Demoted nodes whose member is gone: their ManagerStatus is cleared. */
  clearManagerStatus: string[];
}

export function planMembers(
  nodes: readonly Node[],
  members: readonly MemberInfo[],
  selfId: string,
): MemberPlan {
  const byId = new Map(nodes.map((n) => [n.ID, n]));
  const voters = members.filter((m) => !m.isLearner).length;
  const remove: MemberInfo[] = [];
  for (const m of members) {
    if (m.name === '' || m.name === selfId) continue;
    const node = byId.get(m.name);
    if (node?.Spec.Role === 'manager') continue;
    // Never the last voter: an empty etcd cluster is no cluster.
    if (!m.isLearner && voters - remove.filter((r) => !r.isLearner).length <= 1) continue;
    remove.push(m);
  }
  const named = new Set(members.map((m) => m.name));
  const clearManagerStatus = nodes
    .filter((n) => n.Spec.Role === 'worker' && n.ManagerStatus && !named.has(n.ID))
    .map((n) => n.ID);
  return { remove, clearManagerStatus };
}
