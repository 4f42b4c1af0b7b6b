// The scheduler's decision: which node each pending task goes to. A pure function of nodes and tasks;
// the shell writes the placements (state ASSIGNED) and the "no suitable node" explanations.
import type { Node, Task, TaskStatus } from '../../api/types.js';
import { taskStateIndex } from '../../api/types.js';
import type { TaskUpdate } from '../orchestrator/plan.js';
import { Pipeline, taskContext } from './filters.js';
import { addTask, buildNodeInfos, type NodeInfo, recentFailureCount } from './nodeinfo.js';

export interface SchedulePlacement {
  taskId: string;
  nodeId: string;
}
export interface ScheduleRefusal {
  taskId: string;
  message: string;
}

export interface ScheduleResult {
  /** Tasks to move to ASSIGNED on the given node. */
  placements: SchedulePlacement[];
  /** Tasks left PENDING, with Status.Err to show ("no suitable node (…)"). */
  unplaced: ScheduleRefusal[];
  /** Tasks that can never be placed (their constraints do not parse): to move to REJECTED. */
  rejected: ScheduleRefusal[];
}

export interface ScheduleOptions {
  /** Epoch ms, for counting recent failures per node. */
  now: number;
}

/** A node with this many failures of the service in the last 5 minutes is tried last. */
const MAX_RECENT_FAILURES = 5;
const COMPLETE = taskStateIndex('complete');

/** Tasks the scheduler acts on: allocated (PENDING) and still wanted. */
export function isSchedulable(t: Task): boolean {
  return t.Status.State === 'pending' && taskStateIndex(t.DesiredState) <= COMPLETE;
}

/**
 * Places every schedulable task in `tasks` (which holds all tasks of the cluster, so each node's load
 * is known). Tasks with a NodeID already (global services) are only checked against their node.
 * Unassigned tasks are batched by (service, spec version) and spread over one decision tree per batch.
 */
export function schedule(
  nodes: readonly Node[],
  tasks: readonly Task[],
  opts: ScheduleOptions,
): ScheduleResult {
  const infos = buildNodeInfos(nodes, tasks, opts.now);
  const result: ScheduleResult = { placements: [], unplaced: [], rejected: [] };
  const groups = new Map<string, Task[]>();
  const preassigned: Task[] = [];
  for (const t of tasks) {
    if (!isSchedulable(t)) continue;
    if (t.NodeID) {
      preassigned.push(t);
      continue;
    }
    // Tasks without a spec version cannot be assumed identical to any other: one batch each.
    const key = t.SpecVersion ? `${t.ServiceID}\u0000${t.SpecVersion.Index}` : `\u0001${t.ID}`;
    const group = groups.get(key);
    if (group) group.push(t);
    else groups.set(key, [t]);
  }
  for (const t of preassigned) fitPreassigned(t, infos, result);
  const cluster: ClusterView = { infos: [...infos.values()], failingServices: new Set() };
  for (const info of cluster.infos) {
    for (const [serviceId, times] of info.recentFailures) {
      if (times.length >= MAX_RECENT_FAILURES) cluster.failingServices.add(serviceId);
    }
  }
  for (const group of groups.values()) scheduleGroup(group, cluster, result);
  return result;
}

function fitPreassigned(t: Task, infos: Map<string, NodeInfo>, result: ScheduleResult): void {
  const info = infos.get(t.NodeID ?? '');
  // A deleted node: the orchestrator will shut this task down; nothing to decide here.
  if (!info) return;
  const ctx = taskContext(t);
  if ('error' in ctx) {
    result.rejected.push({ taskId: t.ID, message: ctx.error });
    return;
  }
  const pipeline = new Pipeline(ctx);
  if (pipeline.passes(info)) {
    addTask(info, t);
    result.placements.push({ taskId: t.ID, nodeId: info.node.ID });
  } else {
    // Global tasks carry the bare explanation, without "no suitable node".
    result.unplaced.push({ taskId: t.ID, message: pipeline.explain([info]) });
  }
}

interface DecisionTree {
  /** Active tasks of the service on the nodes under this branch. */
  tasks: number;
  children?: Map<string, DecisionTree>;
  /** Leaf only: the best nodes that pass the filters, at most one per task of the batch. */
  heap: NodeInfo[];
}

type NodeLess = (a: NodeInfo, b: NodeInfo) => boolean;

interface ClusterView {
  infos: NodeInfo[];
  /** Services with ≥ MAX_RECENT_FAILURES recent failures on some node (the rest skip that check). */
  failingServices: Set<string>;
}

function scheduleGroup(group: Task[], cluster: ClusterView, result: ScheduleResult): void {
  const first = group[0];
  if (!first) return;
  const ctx = taskContext(first);
  if ('error' in ctx) {
    for (const t of group) result.rejected.push({ taskId: t.ID, message: ctx.error });
    return;
  }
  const pipeline = new Pipeline(ctx);
  const serviceId = first.ServiceID;
  const failing = cluster.failingServices.has(serviceId);
  const less: NodeLess = (a, b) => {
    if (failing) {
      const fa = recentFailureCount(a, serviceId);
      const fb = recentFailureCount(b, serviceId);
      if ((fa >= MAX_RECENT_FAILURES || fb >= MAX_RECENT_FAILURES) && fa !== fb) return fa < fb;
    }
    const sa = a.activeByService.get(serviceId) ?? 0;
    const sb = b.activeByService.get(serviceId) ?? 0;
    if (sa !== sb) return sa < sb;
    if (a.activeTasks !== b.activeTasks) return a.activeTasks < b.activeTasks;
    return a.index < b.index;
  };
  const prefs = (first.Spec.Placement?.Preferences ?? []).map((p) => p.Spread.SpreadDescriptor);
  const tree = buildTree(cluster.infos, serviceId, prefs, group.length, pipeline, less);
  const queue: TaskQueue = { tasks: group, next: 0 };
  placeOnTree(group.length, tree, queue, pipeline, less, result);
  if (queue.next < group.length) {
    const explanation = pipeline.explain(cluster.infos);
    const message = explanation ? `no suitable node (${explanation})` : 'no suitable node';
    for (let i = queue.next; i < group.length; i++) {
      result.unplaced.push({ taskId: group[i]!.ID, message });
    }
  }
}

interface TaskQueue {
  tasks: Task[];
  next: number;
}

/** The label value a spread preference reads from a node; nodes without it share the "" branch. */
function spreadValue(node: Node, descriptor: string): string | undefined {
  const lower = descriptor.toLowerCase();
  if (lower.startsWith('node.labels.') && descriptor.length > 12) {
    return node.Spec.Labels?.[descriptor.slice(12)] ?? '';
  }
  if (lower.startsWith('engine.labels.') && descriptor.length > 14) {
    return node.Description?.Engine.Labels?.[descriptor.slice(14)] ?? '';
  }
  return undefined; // not a supported descriptor: this preference adds no level
}

function buildTree(
  infos: readonly NodeInfo[],
  serviceId: string,
  prefs: string[],
  maxAssignments: number,
  pipeline: Pipeline,
  less: NodeLess,
): DecisionTree {
  const root: DecisionTree = { tasks: 0, heap: [] };
  for (const info of infos) {
    const count = info.activeByService.get(serviceId) ?? 0;
    let tree = root;
    tree.tasks += count;
    for (const pref of prefs) {
      const value = spreadValue(info.node, pref);
      if (value === undefined) continue;
      tree.children ??= new Map();
      let next = tree.children.get(value);
      if (!next) {
        next = { tasks: 0, heap: [] };
        tree.children.set(value, next);
      }
      tree = next;
      tree.tasks += count;
    }
    // Keep only the best `maxAssignments` nodes: a batch of k tasks never needs more than k nodes.
    if (tree.heap.length < maxAssignments) {
      if (pipeline.passes(info)) heapPush(tree.heap, info, less);
    } else if (less(info, tree.heap[0]!) && pipeline.passes(info)) {
      tree.heap[0] = info;
      siftDown(tree.heap, 0, less);
    }
  }
  return root;
}

/**
 * Splits n tasks over the branches so that their task counts even out (SwarmKit's topology spread):
 * each round aims every usable branch at the same count, and a branch that cannot take its share is
 * dropped from later rounds. Returns how many tasks were placed.
 */
function placeOnTree(
  n: number,
  tree: DecisionTree,
  queue: TaskQueue,
  pipeline: Pipeline,
  less: NodeLess,
  result: ScheduleResult,
): number {
  if (!tree.children) return placeOnNodes(n, tree, queue, pipeline, less, result);
  const branches = [...tree.children.values()];
  const full = new Set<DecisionTree>();
  let placed = 0;
  while (placed < n && full.size < branches.length && queue.next < queue.tasks.length) {
    const usable = branches.filter((b) => !full.has(b));
    const usableTasks = usable.reduce((sum, b) => sum + b.tasks, 0);
    const total = usableTasks + n - placed;
    const perBranch = Math.floor(total / usable.length);
    let remainder = total % usable.length;
    for (const branch of usable) {
      if (placed >= n) break;
      if (branch.tasks > perBranch || (branch.tasks === perBranch && remainder === 0)) continue;
      const want = Math.min(perBranch - branch.tasks + (remainder > 0 ? 1 : 0), n - placed);
      const got = placeOnTree(want, branch, queue, pipeline, less, result);
      branch.tasks += got;
      placed += got;
      if (got < want) full.add(branch);
      else if (remainder > 0) remainder--;
    }
  }
  return placed;
}

/**
 * Places up to n tasks on a leaf's nodes: first fills the best nodes until they are level with the
 * next one, then goes round-robin over the nodes that still pass the filters.
 */
function placeOnNodes(
  n: number,
  leaf: DecisionTree,
  queue: TaskQueue,
  pipeline: Pipeline,
  less: NodeLess,
  result: ScheduleResult,
): number {
  const nodes = leaf.heap.filter((info) => pipeline.passes(info));
  if (nodes.length === 0) return 0;
  nodes.sort((a, b) => (less(a, b) ? -1 : less(b, a) ? 1 : 0));
  const rejected = new Uint8Array(nodes.length);
  let placed = 0;
  let i = 0;
  while (queue.next < queue.tasks.length) {
    const info = nodes[i % nodes.length]!;
    const task = queue.tasks[queue.next++]!;
    addTask(info, task);
    result.placements.push({ taskId: task.ID, nodeId: info.node.ID });
    placed++;
    if (placed === n) break;
    if (i + 1 < nodes.length) {
      // First pass: stay on this node while it is still better than the next one.
      if (less(nodes[i + 1]!, info)) i++;
    } else {
      i++;
    }
    const start = i;
    while (rejected[i % nodes.length] === 1 || !pipeline.passes(nodes[i % nodes.length]!)) {
      rejected[i % nodes.length] = 1;
      i++;
      if (i - start === nodes.length) return placed;
    }
  }
  return placed;
}

function heapPush(heap: NodeInfo[], info: NodeInfo, less: NodeLess): void {
  // A max-heap on `less`: the worst kept node is on top, ready to be replaced by a better one.
  heap.push(info);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (!less(heap[parent]!, heap[i]!)) break;
    [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
    i = parent;
  }
}

function siftDown(heap: NodeInfo[], start: number, less: NodeLess): void {
  let i = start;
  for (;;) {
    const l = 2 * i + 1;
    const r = l + 1;
    let worst = i;
    if (l < heap.length && less(heap[worst]!, heap[l]!)) worst = l;
    if (r < heap.length && less(heap[worst]!, heap[r]!)) worst = r;
    if (worst === i) return;
    [heap[worst], heap[i]] = [heap[i]!, heap[worst]!];
    i = worst;
  }
}

/**
 * The task updates that apply a scheduling result: ASSIGNED with SwarmKit's message, Err on tasks
 * left pending (only when it changed, to avoid rewriting thousands of tasks each pass), REJECTED for
 * tasks that can never be placed.
 */
export function schedulingUpdates(
  result: ScheduleResult,
  tasks: ReadonlyMap<string, Task>,
  now: number,
): TaskUpdate[] {
  const at = new Date(now).toISOString();
  const out: TaskUpdate[] = [];
  for (const p of result.placements) {
    out.push({
      ID: p.taskId,
      NodeID: p.nodeId,
      Status: { Timestamp: at, State: 'assigned', Message: 'scheduler assigned task to node' },
    });
  }
  for (const u of result.unplaced) {
    const task = tasks.get(u.taskId);
    if (!task || task.Status.Err === u.message) continue;
    const status: TaskStatus = { ...task.Status, Timestamp: at, Err: u.message };
    out.push({ ID: u.taskId, Status: status });
  }
  for (const r of result.rejected) {
    out.push({
      ID: r.taskId,
      Status: { Timestamp: at, State: 'rejected', Message: 'rejected', Err: r.message },
    });
  }
  return out;
}
