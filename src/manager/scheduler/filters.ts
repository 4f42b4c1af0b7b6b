// The scheduler's filter pipeline, in SwarmKit's order. Each filter says whether it applies to a task,
// whether a node passes, and how to explain rejections ("insufficient resources on 2 nodes").
import type { Task } from '../../api/types.js';
import { type Constraint, ConstraintParseError, constraintMatches, parseConstraints } from './constraint.js';
import { hostPortKey, hostPorts, type NodeInfo, reservations } from './nodeinfo.js';

/** What the filters need to know about a task, computed once per task group. */
export interface TaskContext {
  task: Task;
  nanoCPUs: number;
  memoryBytes: number;
  constraints: Constraint[];
  platforms: { OS?: string; Architecture?: string }[];
  hostPorts: string[];
  maxReplicas: number;
  volumeDrivers: string[];
}

export interface Filter {
  name: string;
  enabled(t: TaskContext): boolean;
  check(node: NodeInfo, t: TaskContext): boolean;
  explain(nodeCount: number): string;
}

/** Builds the task context; a constraint that does not parse makes the task unschedulable. */
export function taskContext(task: Task): TaskContext | { error: string } {
  let constraints: Constraint[];
  try {
    constraints = parseConstraints(task.Spec.Placement?.Constraints ?? []);
  } catch (err) {
    if (err instanceof ConstraintParseError) return { error: err.message };
    throw err;
  }
  const r = reservations(task);
  const volumeDrivers = (task.Spec.ContainerSpec?.Mounts ?? [])
    .filter((m) => m.Type === 'volume')
    .map((m) => m.VolumeOptions?.DriverConfig?.Name ?? '')
    .filter((name) => name !== '' && name !== 'local');
  return {
    task,
    nanoCPUs: r.nanoCPUs,
    memoryBytes: r.memoryBytes,
    constraints,
    platforms: task.Spec.Placement?.Platforms ?? [],
    hostPorts: hostPorts(task).map(hostPortKey),
    maxReplicas: task.Spec.Placement?.MaxReplicas ?? 0,
    volumeDrivers,
  };
}

function onNodes(n: number): string {
  return n === 1 ? '1 node' : `${n} nodes`;
}

export const readyFilter: Filter = {
  name: 'ready',
  enabled: () => true,
  check: (n) => n.node.Status.State === 'ready' && n.node.Spec.Availability === 'active',
  explain: (n) => `${onNodes(n)} not available for new tasks`,
};

export const resourceFilter: Filter = {
  name: 'resources',
  enabled: (t) => t.nanoCPUs > 0 || t.memoryBytes > 0,
  check: (n, t) => t.nanoCPUs <= n.availableNanoCPUs && t.memoryBytes <= n.availableMemoryBytes,
  explain: (n) => `insufficient resources on ${onNodes(n)}`,
};

/** Volume plugins named by the task's mounts must be installed on the node. */
export const pluginFilter: Filter = {
  name: 'plugins',
  enabled: (t) => t.volumeDrivers.length > 0,
  check: (n, t) => {
    const plugins = n.node.Description?.Engine.Plugins ?? [];
    return t.volumeDrivers.every((d) => plugins.some((p) => p.Type === 'Volume' && p.Name === d));
  },
  explain: (n) => `missing plugin on ${onNodes(n)}`,
};

export const constraintFilter: Filter = {
  name: 'constraints',
  enabled: (t) => t.constraints.length > 0,
  check: (n, t) => t.constraints.every((c) => constraintMatches(c, n.node)),
  explain: (n) => `scheduling constraints not satisfied on ${onNodes(n)}`,
};

/** Docker reports x86_64/aarch64 for what image platforms call amd64/arm64. */
function normalizeArch(arch: string): string {
  if (arch === 'x86_64') return 'amd64';
  if (arch === 'aarch64') return 'arm64';
  return arch;
}

export const platformFilter: Filter = {
  name: 'platform',
  enabled: (t) => t.platforms.length > 0,
  check: (n, t) => {
    const platform = n.node.Description?.Platform;
    if (!platform) return false;
    const arch = normalizeArch(platform.Architecture);
    return t.platforms.some(
      (p) => (!p.Architecture || normalizeArch(p.Architecture) === arch) && (!p.OS || p.OS === platform.OS),
    );
  },
  explain: (n) => `unsupported platform on ${onNodes(n)}`,
};

export const hostPortFilter: Filter = {
  name: 'host-ports',
  enabled: (t) => t.hostPorts.length > 0,
  check: (n, t) => t.hostPorts.every((p) => !n.usedHostPorts.has(p)),
  explain: (n) => `host-mode port already in use on ${onNodes(n)}`,
};

export const maxReplicasFilter: Filter = {
  name: 'max-replicas',
  enabled: (t) => t.maxReplicas > 0,
  check: (n, t) => (n.activeByService.get(t.task.ServiceID) ?? 0) < t.maxReplicas,
  explain: () => 'max replicas per node limit exceed',
};

/** SwarmKit's pipeline order; explanations list the filters that rejected most nodes first. */
export const PIPELINE: readonly Filter[] = [
  readyFilter,
  resourceFilter,
  pluginFilter,
  constraintFilter,
  platformFilter,
  hostPortFilter,
  maxReplicasFilter,
];

/** The filters that apply to one task, with per-filter rejection counts for explanations. */
export class Pipeline {
  private readonly filters: Filter[];

  constructor(readonly task: TaskContext) {
    this.filters = PIPELINE.filter((f) => f.enabled(task));
  }

  /** Whether the node passes every applicable filter. */
  passes(node: NodeInfo): boolean {
    for (const f of this.filters) {
      if (!f.check(node, this.task)) return false;
    }
    return true;
  }

  /**
   * Counts, for each filter, the nodes it was the first to reject, and words them as SwarmKit does:
   * most rejections first, joined with "; ". Empty when every node passes (or there are none).
   */
  explain(nodes: Iterable<NodeInfo>): string {
    const counts = new Array<number>(this.filters.length).fill(0);
    for (const node of nodes) {
      const i = this.filters.findIndex((f) => !f.check(node, this.task));
      if (i >= 0) counts[i] = (counts[i] ?? 0) + 1;
    }
    return this.filters
      .map((f, i) => ({ f, n: counts[i] ?? 0 }))
      .filter((e) => e.n > 0)
      .sort((a, b) => b.n - a.n)
      .map((e) => e.f.explain(e.n))
      .join('; ');
  }
}
