// Service operations of the control API: validate, resolve, compute, then one versioned write.
// A rejected request writes nothing.
import { normalizeServiceSpec, normalizeTaskTemplate, withDefaults } from '../../api/defaults.js';
import { failedPrecondition, SwarmError } from '../../api/errors.js';
import { newId } from '../../api/ids.js';
import type { Endpoint, Service, ServiceSpec, Task } from '../../api/types.js';
import { validateServiceSpec } from '../../api/validate.js';
import { type Filters, serviceFilter } from './filters.js';
import { resolveServiceNetworks } from './networks.js';
import { resolveServicePayloads } from './payloads.js';
import type { ControlStore } from './store.js';

/** Computes a service's Endpoint (published ports) against the other services; throws on conflict. */
export type PortAllocator = (spec: ServiceSpec, self: Service | undefined, all: Service[]) => Endpoint;

/** Which stored spec's registry auth an update without X-Registry-Auth keeps (Docker's registryAuthFrom). */
export type RegistryAuthFrom = 'spec' | 'previous-spec';

export interface UpdateOptions {
  /** `rollback=previous`: the body is ignored and Spec/PreviousSpec swap. */
  rollback?: boolean;
  /** The request's X-Registry-Auth, validated and re-encoded. */
  registryAuth?: string;
  registryAuthFrom?: RegistryAuthFrom;
}

export interface ServiceStatus {
  RunningTasks: number;
  DesiredTasks: number;
  CompletedTasks: number;
}

export class ServiceApi {
  constructor(
    private readonly store: ControlStore,
    private readonly allocatePorts: PortAllocator,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** `registryAuth` is the request's X-Registry-Auth, validated and re-encoded. */
  async create(body: unknown, registryAuth?: string): Promise<Service> {
    const valid = normalizeServiceSpec(
      resolveServicePayloads(this.store, resolveServiceNetworks(this.store, validateServiceSpec(body))),
    );
    const spec = withRegistryAuth(valid, registryAuth);
    const endpoint = this.allocatePorts(spec, undefined, this.store.list('service'));
    const ts = this.now().toISOString();
    const service: Service = {
      ID: newId(),
      Version: { Index: 0 },
      CreatedAt: ts,
      UpdatedAt: ts,
      Spec: spec,
      Endpoint: endpoint,
      SpecVersion: { Index: 1 },
      ...(spec.Mode?.ReplicatedJob || spec.Mode?.GlobalJob
        ? { JobStatus: { JobIteration: { Index: 1 }, LastExecution: ts } }
        : {}),
    };
    return this.store.create('service', service);
  }

  list(filters: Filters): Service[] {
    const keep = serviceFilter(filters);
    return this.store.list('service').filter(keep);
  }

  get(ref: string, insertDefaults: boolean): Service {
    const s = this.store.resolve('service', ref);
    if (!insertDefaults) return s;
    return {
      ...s,
      Spec: withDefaults(s.Spec),
      ...(s.PreviousSpec ? { PreviousSpec: withDefaults(s.PreviousSpec) } : {}),
    };
  }

  /**
   * `POST /services/{id}/update?version=N[&rollback=previous][&registryAuthFrom=…]`. With rollback
   * the body is ignored and Spec/PreviousSpec swap, as SwarmKit's controlapi does. Otherwise the new
   * spec keeps the registry auth of the spec `registryAuthFrom` names unless the request sent one.
   */
  async update(ref: string, version: number, body: unknown, opts: UpdateOptions = {}): Promise<Service> {
    const current = this.store.resolve('service', ref);
    const ts = this.now().toISOString();
    let spec: ServiceSpec;
    let previous: ServiceSpec | undefined;
    let updateStatus = current.UpdateStatus;
    if (opts.rollback) {
      if (!current.PreviousSpec) {
        throw failedPrecondition(
          `rpc error: code = FailedPrecondition desc = service ${current.ID} does not have a previous spec`,
        );
      }
      spec = current.PreviousSpec;
      previous = current.Spec;
      updateStatus = { State: 'rollback_started', StartedAt: ts, Message: 'manually requested rollback' };
    } else {
      spec = withRegistryAuth(
        normalizeServiceSpec(
          resolveServicePayloads(this.store, resolveServiceNetworks(this.store, validateServiceSpec(body))),
        ),
        opts.registryAuth ?? storedRegistryAuth(current, opts.registryAuthFrom ?? 'spec'),
      );
      previous = current.Spec;
      if (spec.Name !== current.Spec.Name) {
        throw new SwarmError(
          'NOT_IMPLEMENTED',
          'rpc error: code = Unimplemented desc = renaming services is not supported',
        );
      }
      const wasGlobal = Boolean(current.Spec.Mode?.Global);
      if (Boolean(spec.Mode?.Global) !== wasGlobal) {
        throw new SwarmError(
          'NOT_IMPLEMENTED',
          'rpc error: code = Unimplemented desc = service mode change is not allowed',
        );
      }
      updateStatus = undefined;
    }
    const endpoint = this.allocatePorts(spec, current, this.store.list('service'));
    const taskSpecChanged =
      JSON.stringify(normalizeTaskTemplate(spec.TaskTemplate)) !==
        JSON.stringify(normalizeTaskTemplate(current.Spec.TaskTemplate)) ||
      JSON.stringify(endpoint.Ports ?? []) !== JSON.stringify(current.Endpoint?.Ports ?? []);
    const next: Service = {
      ...current,
      Version: { Index: version },
      UpdatedAt: ts,
      Spec: spec,
      PreviousSpec: previous,
      Endpoint: endpoint,
      SpecVersion: { Index: (current.SpecVersion?.Index ?? 1) + (taskSpecChanged ? 1 : 0) },
    };
    if (updateStatus) next.UpdateStatus = updateStatus;
    else delete next.UpdateStatus;
    if ((spec.Mode?.ReplicatedJob || spec.Mode?.GlobalJob) && taskSpecChanged) {
      next.JobStatus = {
        JobIteration: { Index: (current.JobStatus?.JobIteration.Index ?? 0) + 1 },
        LastExecution: ts,
      };
    }
    return this.store.update('service', next);
  }

  async remove(ref: string): Promise<void> {
    const s = this.store.resolve('service', ref);
    await this.store.remove('service', s.ID);
  }

  /** Docker's ServiceStatus (GET /services?status=true). */
  status(service: Service, nodeIsUp: (nodeId: string) => boolean): ServiceStatus {
    const tasks = this.store.tasksOfService(service.ID);
    return serviceStatus(service, tasks, nodeIsUp);
  }
}

/** The spec with exactly this registry auth: a body never sets it (Docker's API has no such field). */
function withRegistryAuth(spec: ServiceSpec, registryAuth: string | undefined): ServiceSpec {
  const cs = spec.TaskTemplate.ContainerSpec;
  if (!cs) return spec;
  const { PullOptions: _ignored, ...rest } = cs;
  const ContainerSpec = registryAuth ? { ...rest, PullOptions: { RegistryAuth: registryAuth } } : rest;
  return { ...spec, TaskTemplate: { ...spec.TaskTemplate, ContainerSpec } };
}

/** Docker's daemon: an update without X-Registry-Auth keeps the auth of the current or previous spec. */
function storedRegistryAuth(service: Service, from: RegistryAuthFrom): string | undefined {
  if (from === 'spec') return service.Spec.TaskTemplate.ContainerSpec?.PullOptions?.RegistryAuth;
  if (!service.PreviousSpec) throw failedPrecondition('service does not have a previous spec');
  return service.PreviousSpec.TaskTemplate.ContainerSpec?.PullOptions?.RegistryAuth;
}

/**
 * SwarmKit's ListServiceStatuses. Running = tasks running (on a live node). Desired = Replicas for a
 * replicated service, MaxConcurrent for a replicated job; for global services the tasks desired
 * running, for global jobs the tasks desired complete that are not complete yet. Jobs count only
 * the tasks of the current JobIteration, and Completed = those that completed.
 */
export function serviceStatus(
  service: Service,
  tasks: Task[],
  nodeIsUp: (nodeId: string) => boolean,
): ServiceStatus {
  const mode = service.Spec.Mode ?? { Replicated: { Replicas: 1 } };
  const iteration = service.JobStatus?.JobIteration.Index;
  const isJob = Boolean(mode.ReplicatedJob || mode.GlobalJob);
  const isGlobal = Boolean(mode.Global || mode.GlobalJob);
  let running = 0;
  let completed = 0;
  let desired = 0;
  for (const t of tasks) {
    if (isJob && iteration !== undefined && t.JobIteration?.Index !== iteration) continue;
    if (isJob && t.Status.State === 'complete') completed++;
    if (t.Status.State === 'running' && t.NodeID && nodeIsUp(t.NodeID)) running++;
    if (isGlobal && t.DesiredState === 'running') desired++;
    if (isGlobal && t.DesiredState === 'complete' && t.Status.State !== 'complete') desired++;
  }
  if (mode.ReplicatedJob) desired = mode.ReplicatedJob.MaxConcurrent ?? 1;
  else if (!isGlobal) desired = mode.Replicated?.Replicas ?? 1;
  return { RunningTasks: running, DesiredTasks: desired, CompletedTasks: completed };
}
