// The scheduler's view of one node: what is left of its resources, its used host ports and how many
// active tasks (per service) it runs. Built from a snapshot and updated as placements are decided.
import type { Node, PortConfig, Task } from '../../api/types.js';
import { taskStateIndex } from '../../api/types.js';

const PENDING = taskStateIndex('pending');
const RUNNING = taskStateIndex('running');
const COMPLETE = taskStateIndex('complete');
const FAILURE_WINDOW_MS = 5 * 60_000;

export interface NodeInfo {
  node: Node;
  /** Position in the input, the final tie-break so results are deterministic. */
  index: number;
  availableNanoCPUs: number;
  availableMemoryBytes: number;
  /** `${protocol}/${port}` of host-mode published ports in use. */
  usedHostPorts: Set<string>;
  /** Tasks whose desired state is still ≤ COMPLETE, in total and per service. */
  activeTasks: number;
  activeByService: Map<string, number>;
  /** Status times (ms) of recent failed/rejected tasks, per service. */
  recentFailures: Map<string, number[]>;
}

export function hostPortKey(p: PortConfig): string {
  return `${p.Protocol ?? 'tcp'}/${p.PublishedPort ?? 0}`;
}

/** Host-mode ports with a fixed published port: the only ones that can clash on a node. */
export function hostPorts(task: Task): PortConfig[] {
  const ports = task.Endpoint?.Ports ?? task.Endpoint?.Spec?.Ports ?? [];
  return ports.filter((p) => p.PublishMode === 'host' && (p.PublishedPort ?? 0) !== 0);
}

export function reservations(task: Task): { nanoCPUs: number; memoryBytes: number } {
  const r = task.Spec.Resources?.Reservations;
  return { nanoCPUs: r?.NanoCPUs ?? 0, memoryBytes: r?.MemoryBytes ?? 0 };
}

/** Tasks that hold resources on their node: assigned and not yet past RUNNING (SwarmKit's nodeinfo). */
export function holdsResources(task: Task): boolean {
  if (!task.NodeID) return false;
  const s = taskStateIndex(task.Status.State);
  return s >= PENDING && s <= RUNNING;
}

export function buildNodeInfos(
  nodes: readonly Node[],
  tasks: readonly Task[],
  now: number,
): Map<string, NodeInfo> {
  const infos = new Map<string, NodeInfo>();
  nodes.forEach((node, index) => {
    infos.set(node.ID, {
      node,
      index,
      availableNanoCPUs: node.Description?.Resources.NanoCPUs ?? 0,
      availableMemoryBytes: node.Description?.Resources.MemoryBytes ?? 0,
      usedHostPorts: new Set(),
      activeTasks: 0,
      activeByService: new Map(),
      recentFailures: new Map(),
    });
  });
  for (const task of tasks) {
    if (!task.NodeID) continue;
    const info = infos.get(task.NodeID);
    if (!info) continue;
    if (holdsResources(task)) {
      addTask(info, task);
    } else if (
      (task.Status.State === 'failed' || task.Status.State === 'rejected') &&
      now - Date.parse(task.Status.Timestamp) <= FAILURE_WINDOW_MS
    ) {
      const list = info.recentFailures.get(task.ServiceID);
      const at = Date.parse(task.Status.Timestamp);
      if (list) list.push(at);
      else info.recentFailures.set(task.ServiceID, [at]);
    }
  }
  return infos;
}

/** Charges a task to a node: its reservations, host ports and active counts. */
export function addTask(info: NodeInfo, task: Task): void {
  const r = reservations(task);
  info.availableNanoCPUs -= r.nanoCPUs;
  info.availableMemoryBytes -= r.memoryBytes;
  for (const p of hostPorts(task)) info.usedHostPorts.add(hostPortKey(p));
  if (taskStateIndex(task.DesiredState) <= COMPLETE) {
    info.activeTasks++;
    info.activeByService.set(task.ServiceID, (info.activeByService.get(task.ServiceID) ?? 0) + 1);
  }
}

export function recentFailureCount(info: NodeInfo, serviceId: string): number {
  return info.recentFailures.get(serviceId)?.length ?? 0;
}
