// Builders for manager decision tests: nodes, services and tasks with Docker's field names, and a
// deterministic decision context (counting IDs, a settable clock).
import type { Node, Service, ServiceSpec, Task, TaskState } from '../../src/api/types.js';
import type { DecisionContext, Plan } from '../../src/manager/orchestrator/plan.js';

export const T0 = Date.parse('2030-01-01T00:00:00.000Z');
export const iso = (ms: number) => new Date(ms).toISOString();

export function context(now = T0, prefix = 'task'): DecisionContext & { advance(ms: number): void } {
  let n = 0;
  const ctx = {
    now,
    newId: () => `${prefix}${String(++n).padStart(6, '0')}`,
    advance(ms: number) {
      ctx.now += ms;
    },
  };
  return ctx;
}

export interface NodeOptions {
  state?: Node['Status']['State'];
  availability?: Node['Spec']['Availability'];
  role?: Node['Spec']['Role'];
  labels?: Record<string, string>;
  engineLabels?: Record<string, string>;
  cpus?: number;
  memory?: number;
  hostname?: string;
  os?: string;
  arch?: string;
}

export function node(id: string, o: NodeOptions = {}): Node {
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: iso(T0),
    UpdatedAt: iso(T0),
    Spec: { Role: o.role ?? 'worker', Availability: o.availability ?? 'active', Labels: o.labels ?? {} },
    Description: {
      Hostname: o.hostname ?? `host-${id}`,
      Platform: { OS: o.os ?? 'linux', Architecture: o.arch ?? 'x86_64' },
      Resources: { NanoCPUs: (o.cpus ?? 4) * 1e9, MemoryBytes: o.memory ?? 8 * 2 ** 30 },
      Engine: { EngineVersion: '28.0.0', Labels: o.engineLabels ?? {} },
    },
    Status: { State: o.state ?? 'ready', Addr: '10.0.0.1' },
  };
}

export function service(id: string, spec: Partial<ServiceSpec> = {}, extra: Partial<Service> = {}): Service {
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: iso(T0),
    UpdatedAt: iso(T0),
    Spec: {
      Name: id,
      TaskTemplate: { ContainerSpec: { Image: 'busybox:1' } },
      Mode: { Replicated: { Replicas: 1 } },
      ...spec,
    },
    SpecVersion: { Index: 1 },
    ...extra,
  };
}

export interface TaskOptions {
  slot?: number;
  node?: string;
  state?: TaskState;
  desired?: TaskState;
  at?: number;
  createdAt?: number;
  specVersion?: number;
  spec?: Task['Spec'];
}

export function task(id: string, svc: Service, o: TaskOptions = {}): Task {
  const t: Task = {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: iso(o.createdAt ?? o.at ?? T0),
    UpdatedAt: iso(o.at ?? T0),
    Spec: o.spec ?? svc.Spec.TaskTemplate,
    ServiceID: svc.ID,
    Slot: o.slot ?? 1,
    Status: { Timestamp: iso(o.at ?? T0), State: o.state ?? 'running', Message: '' },
    DesiredState: o.desired ?? 'running',
    SpecVersion: { Index: o.specVersion ?? svc.SpecVersion?.Index ?? 1 },
    Endpoint: { Spec: svc.Spec.EndpointSpec, Ports: svc.Endpoint?.Ports },
  };
  if (o.node) t.NodeID = o.node;
  return t;
}

/**
 * Applies a plan to a task list the way a shell would: creates, field updates (desired state never
 * moving backwards), deletes. Returns the new list.
 */
export function apply(tasks: readonly Task[], plan: Plan): Task[] {
  const order = [
    'new',
    'pending',
    'assigned',
    'accepted',
    'preparing',
    'ready',
    'starting',
    'running',
    'complete',
    'shutdown',
    'failed',
    'rejected',
    'remove',
    'orphaned',
  ];
  const byId = new Map(tasks.map((t) => [t.ID, { ...t }]));
  for (const c of plan.createTasks) byId.set(c.ID, { ...c, Version: { Index: 1 } });
  for (const u of plan.updateTasks) {
    const t = byId.get(u.ID);
    if (!t) continue;
    if (u.DesiredState && order.indexOf(u.DesiredState) > order.indexOf(t.DesiredState))
      t.DesiredState = u.DesiredState;
    if (u.Status) t.Status = u.Status;
    if (u.NodeID) t.NodeID = u.NodeID;
    if (u.Endpoint) t.Endpoint = u.Endpoint;
  }
  for (const id of plan.deleteTasks) byId.delete(id);
  return [...byId.values()];
}

/** Moves a task's observed state (as an agent would report it). */
export function observe(
  tasks: readonly Task[],
  id: string,
  state: TaskState,
  at: number,
  nodeId?: string,
): Task[] {
  return tasks.map((t) =>
    t.ID === id
      ? { ...t, NodeID: nodeId ?? t.NodeID, Status: { ...t.Status, State: state, Timestamp: iso(at) } }
      : t,
  );
}
