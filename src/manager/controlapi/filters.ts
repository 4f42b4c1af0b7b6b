// Docker's list filters for nodes, services and tasks, as pure predicates over store objects.
import { invalidArgument } from '../../api/errors.js';
import type { Node, Service, Task } from '../../api/types.js';
import { checkFilterNames } from '../../engineapi/router.js';
import { isTaskDirty } from '../orchestrator/task.js';

export type Filters = Map<string, string[]>;

/** `label` filter values: "key" (present) or "key=value". */
export function matchLabels(
  labels: Record<string, string> | undefined,
  wanted: string[] | undefined,
): boolean {
  if (!wanted || wanted.length === 0) return true;
  const l = labels ?? {};
  return wanted.every((w) => {
    const eq = w.indexOf('=');
    if (eq < 0) return w in l;
    return l[w.slice(0, eq)] === w.slice(eq + 1);
  });
}

const anyPrefix = (values: string[] | undefined, s: string) => !values || values.some((v) => s.startsWith(v));
const anyEqual = (values: string[] | undefined, s: string | undefined) =>
  !values || (s !== undefined && values.includes(s));
const anyContained = (values: string[] | undefined, s: string) =>
  !values || values.some((v) => s.includes(v));

export function serviceFilter(filters: Filters): (s: Service) => boolean {
  checkFilterNames(filters, ['id', 'label', 'mode', 'name']);
  const mode = filters.get('mode');
  for (const m of mode ?? []) {
    if (m !== 'replicated' && m !== 'global') throw invalidArgument(`Invalid filter 'mode'='${m}'`);
  }
  return (s) =>
    anyPrefix(filters.get('id'), s.ID) &&
    anyContained(filters.get('name'), s.Spec.Name ?? '') &&
    matchLabels(s.Spec.Labels, filters.get('label')) &&
    (!mode || mode.includes(s.Spec.Mode?.Global ? 'global' : 'replicated'));
}

export function nodeFilter(filters: Filters, selfId: string): (n: Node) => boolean {
  checkFilterNames(filters, ['id', 'label', 'node.label', 'membership', 'name', 'role']);
  return (n) =>
    anyPrefix(
      filters.get('id')?.map((v) => (v === 'self' ? selfId : v)),
      n.ID,
    ) &&
    anyContained(filters.get('name'), n.Description?.Hostname ?? n.Spec.Name ?? '') &&
    anyEqual(filters.get('role'), n.Spec.Role) &&
    anyEqual(filters.get('membership'), 'accepted') &&
    matchLabels(n.Description?.Engine.Labels, filters.get('label')) &&
    matchLabels(n.Spec.Labels, filters.get('node.label'));
}

export interface TaskFilterContext {
  /** Service IDs the `service` filter values resolve to (by ID, name or ID prefix). */
  serviceIds?: Set<string>;
  /** Node IDs the `node` filter values resolve to (by ID, hostname or "self"). */
  nodeIds?: Set<string>;
  serviceOf(task: Task): Service | undefined;
  nodeOf(task: Task): Node | undefined;
}

/** The task name Docker filters on: `<service>.<slot>` (or `<service>.<nodeID>` for global tasks). */
export function taskName(t: Task, service: Service | undefined): string {
  const name = service?.Spec.Name ?? t.ServiceAnnotations?.Name ?? '';
  return t.Slot ? `${name}.${t.Slot}` : `${name}.${t.NodeID ?? ''}`;
}

export function taskFilter(filters: Filters, ctx: TaskFilterContext): (t: Task) => boolean {
  checkFilterNames(filters, [
    'id',
    'label',
    'name',
    'node',
    'service',
    'desired-state',
    '_up-to-date',
    'runtime',
  ]);
  const desired = filters.get('desired-state');
  for (const d of desired ?? []) {
    if (!['running', 'shutdown', 'accepted'].includes(d)) {
      throw invalidArgument(`Invalid filter 'desired-state'='${d}'`);
    }
  }
  const upToDate = filters.has('_up-to-date');
  return (t) => {
    const svc = ctx.serviceOf(t);
    if (ctx.serviceIds && !ctx.serviceIds.has(t.ServiceID)) return false;
    if (ctx.nodeIds && !(t.NodeID && ctx.nodeIds.has(t.NodeID))) return false;
    if (!anyPrefix(filters.get('id'), t.ID)) return false;
    if (!anyContained(filters.get('name'), taskName(t, svc))) return false;
    // Tasks inherit the labels of their service and container spec, as the engine matches them.
    const labels = {
      ...(svc?.Spec.Labels ?? {}),
      ...(t.Spec.ContainerSpec?.Labels ?? {}),
      ...(t.Labels ?? {}),
    };
    if (!matchLabels(labels, filters.get('label'))) return false;
    if (desired && !desired.includes(t.DesiredState === 'ready' ? 'running' : t.DesiredState)) {
      // Docker compares desired states: "running" also matches tasks held at READY by the updater.
      if (!(desired.includes('accepted') && t.DesiredState === 'accepted')) return false;
    }
    // SwarmKit's rule: up to date = not dirty, so a change that redeploys nothing (new registry
    // credentials, constraints the node still meets) leaves the running tasks counted.
    if (upToDate && svc && isTaskDirty(svc, t, ctx.nodeOf(t))) return false;
    return true;
  };
}
