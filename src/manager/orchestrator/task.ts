// Task helpers shared by the orchestrators and the updater: creating tasks, slots, state order,
// restart-policy defaults and the "is this task out of date" test.
import { normalizeTaskTemplate } from '../../api/defaults.js';
import type { Node, Service, Task, TaskSpec, TaskState } from '../../api/types.js';
import { taskStateIndex } from '../../api/types.js';
import { nodeMatchesConstraints } from '../scheduler/constraint.js';
import type { DecisionContext, NewTask } from './plan.js';

export const NANOS_PER_MS = 1_000_000;
/** SwarmKit's restart delay when the policy sets none (api/defaults). */
export const DEFAULT_RESTART_DELAY_MS = 5_000;
/** How long a delayed start waits for the old task of a slot to stop before starting anyway. */
export const OLD_TASK_STOP_TIMEOUT_MS = 60_000;

export function stateIndex(s: TaskState): number {
  return taskStateIndex(s);
}

export const RUNNING = taskStateIndex('running');
export const COMPLETE = taskStateIndex('complete');
export const ASSIGNED = taskStateIndex('assigned');

export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** When the task's status last changed (ms); falls back to CreatedAt for hand-made tasks. */
export function statusTime(t: Pick<Task, 'Status' | 'CreatedAt'>): number {
  const ts = Date.parse(t.Status.Timestamp);
  return Number.isNaN(ts) ? createdTime(t) : ts;
}

export function createdTime(t: Pick<Task, 'CreatedAt'>): number {
  const ts = Date.parse(t.CreatedAt);
  return Number.isNaN(ts) ? 0 : ts;
}

/** Oldest first, by status time then creation time then ID (SwarmKit's TasksByTimestamp, made total). */
export function byStatusTime(a: Task, b: Task): number {
  return statusTime(a) - statusTime(b) || createdTime(a) - createdTime(b) || (a.ID < b.ID ? -1 : 1);
}

export function isReplicatedJob(s: Service): boolean {
  return s.Spec.Mode?.ReplicatedJob !== undefined;
}
export function isGlobalJob(s: Service): boolean {
  return s.Spec.Mode?.GlobalJob !== undefined;
}
export function isJob(s: Service): boolean {
  return isReplicatedJob(s) || isGlobalJob(s);
}
export function isGlobalService(s: Service): boolean {
  return s.Spec.Mode?.Global !== undefined;
}

/** The desired state a live task of this service has: COMPLETE for jobs, RUNNING otherwise. */
export function liveDesiredState(s: Service): TaskState {
  return isJob(s) ? 'complete' : 'running';
}

/** A task the orchestrator still wants alive (not told to shut down or go away). */
export function isRunnable(t: Task): boolean {
  return stateIndex(t.DesiredState) <= COMPLETE;
}

/** The task's process is over (or never will run): observed state past RUNNING. */
export function hasEnded(t: Task): boolean {
  return stateIndex(t.Status.State) > RUNNING;
}

/** SwarmKit's InvalidNode: tasks on a node that is gone, down or drained are moved elsewhere. */
export function isNodeInvalid(node: Node | undefined): boolean {
  return node === undefined || node.Status.State === 'down' || node.Spec.Availability === 'drain';
}

export interface EffectiveRestartPolicy {
  condition: 'none' | 'on-failure' | 'any';
  delayMs: number;
  maxAttempts: number;
  windowMs: number;
}

export function restartPolicy(spec: TaskSpec): EffectiveRestartPolicy {
  const p = spec.RestartPolicy;
  return {
    condition: p?.Condition ?? 'any',
    delayMs: p?.Delay !== undefined ? p.Delay / NANOS_PER_MS : DEFAULT_RESTART_DELAY_MS,
    maxAttempts: p?.MaxAttempts ?? 0,
    windowMs: (p?.Window ?? 0) / NANOS_PER_MS,
  };
}

export interface NewTaskOptions {
  slot: number;
  nodeId?: string;
  desiredState: TaskState;
}

/**
 * A task for a service, as SwarmKit's NewTask: state NEW "created", the service's current spec and
 * spec version, the endpoint spec (and the already allocated ports, so host-port checks work before
 * the allocator copies them again). Spec objects are shared with the service, not copied.
 */
export function newTask(service: Service, opts: NewTaskOptions, ctx: DecisionContext): NewTask {
  const at = isoTime(ctx.now);
  const task: NewTask = {
    ID: ctx.newId(),
    CreatedAt: at,
    UpdatedAt: at,
    Spec: service.Spec.TaskTemplate,
    ServiceID: service.ID,
    Slot: opts.slot,
    Status: { Timestamp: at, State: 'new', Message: 'created' },
    DesiredState: opts.desiredState,
    ServiceAnnotations: { Name: service.Spec.Name ?? '', Labels: service.Spec.Labels },
    Endpoint: { Spec: service.Spec.EndpointSpec, Ports: service.Endpoint?.Ports },
  };
  if (service.Spec.Labels === undefined && task.ServiceAnnotations) delete task.ServiceAnnotations.Labels;
  if (service.SpecVersion) task.SpecVersion = service.SpecVersion;
  if (opts.nodeId) task.NodeID = opts.nodeId;
  if (isJob(service)) task.JobIteration = { Index: service.JobStatus?.JobIteration.Index ?? 0 };
  return task;
}

/** Groups tasks by slot number (replicated) or node ID (global). */
export function groupBy<K>(tasks: readonly Task[], key: (t: Task) => K): Map<K, Task[]> {
  const out = new Map<K, Task[]>();
  for (const t of tasks) {
    const k = key(t);
    const list = out.get(k);
    if (list) list.push(t);
    else out.set(k, [t]);
  }
  return out;
}

/**
 * Structural equality that treats a missing field and an undefined one alike (specs pass through
 * JSON, which drops undefined).
 */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  }
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(ra), ...Object.keys(rb)]);
  for (const k of keys) {
    if (!deepEqual(ra[k], rb[k])) return false;
  }
  return true;
}

/**
 * SwarmKit's IsTaskDirty: the task runs an older task spec or endpoint spec than the service.
 * Same SpecVersion is the fast path; otherwise specs are compared, so a change that does not touch
 * the task (service labels, update config, new registry credentials for a task that already has its
 * image, or constraints the task's node still meets) leaves it alone.
 */
export function isTaskDirty(service: Service, task: Task, node: Node | undefined): boolean {
  if (task.SpecVersion && service.SpecVersion && task.SpecVersion.Index === service.SpecVersion.Index) {
    return false;
  }
  let wanted = service.Spec.TaskTemplate;
  if (hasItsImage(task) && wanted.ContainerSpec && task.Spec.ContainerSpec) {
    const PullOptions = task.Spec.ContainerSpec.PullOptions;
    wanted = { ...wanted, ContainerSpec: { ...wanted.ContainerSpec, PullOptions } };
  }
  if (
    constraintsOnlyChanged(wanted, task.Spec) &&
    node &&
    nodeMatchesConstraints(node, constraintsOf(wanted))
  ) {
    wanted = task.Spec;
  }
  if (!deepEqual(normalizeTaskTemplate(wanted), normalizeTaskTemplate(task.Spec))) return true;
  return task.Endpoint !== undefined && !deepEqual(service.Spec.EndpointSpec, task.Endpoint.Spec);
}

/** Desired to run and READY..RUNNING: the image was pulled (or was there), so pull options are moot. */
function hasItsImage(task: Task): boolean {
  const state = stateIndex(task.Status.State);
  return stateIndex(task.DesiredState) <= RUNNING && state >= stateIndex('ready') && state <= RUNNING;
}

function constraintsOf(spec: TaskSpec): string[] {
  return spec.Placement?.Constraints ?? [];
}

function constraintsOnlyChanged(wanted: TaskSpec, actual: TaskSpec): boolean {
  if (deepEqual(constraintsOf(wanted), constraintsOf(actual))) return false;
  const placement = { ...wanted.Placement, Constraints: actual.Placement?.Constraints };
  const emptyPlacement = Object.values(placement).every((v) => v === undefined);
  const withActualConstraints: TaskSpec = { ...wanted, Placement: emptyPlacement ? undefined : placement };
  return deepEqual(withActualConstraints, actual);
}
