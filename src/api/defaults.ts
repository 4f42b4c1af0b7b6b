// SwarmKit's defaults (api/defaults/service.go): used by the manager when a field is unset and by
// `GET /services/{id}?insertDefaults=true`, which fills them in the returned spec.
import type { ServiceSpec, SwarmSpec, TaskSpec, UpdateConfig } from './types.js';

export const SECOND = 1_000_000_000;

export const DEFAULT_STOP_GRACE_PERIOD = 10 * SECOND;
export const DEFAULT_RESTART_DELAY = 5 * SECOND;
export const DEFAULT_TASK_HISTORY_LIMIT = 5;

export const defaultUpdateConfig: Required<UpdateConfig> = {
  Parallelism: 1,
  Delay: 0,
  FailureAction: 'pause',
  Monitor: 5 * SECOND,
  MaxFailureRatio: 0,
  Order: 'stop-first',
};

export function defaultSwarmSpec(): SwarmSpec {
  return {
    Name: 'default',
    Labels: {},
    Orchestration: { TaskHistoryRetentionLimit: DEFAULT_TASK_HISTORY_LIMIT },
    Raft: {
      SnapshotInterval: 10000,
      KeepOldSnapshots: 0,
      LogEntriesForSlowFollowers: 500,
      ElectionTick: 10,
      HeartbeatTick: 1,
    },
    Dispatcher: { HeartbeatPeriod: 5 * SECOND },
    CAConfig: { NodeCertExpiry: 90 * 24 * 3600 * SECOND },
    TaskDefaults: {},
    EncryptionConfig: { AutoLockManagers: false },
  };
}

/** The effective update (or rollback) config of a spec: unset fields take SwarmKit's defaults. */
export function effectiveUpdateConfig(cfg: UpdateConfig | undefined): Required<UpdateConfig> {
  return { ...defaultUpdateConfig, ...stripUndefined(cfg ?? {}) };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** An update/rollback config as insertDefaults shows it: Delay only when it is not zero (Go's omitempty). */
function shownUpdateConfig(cfg: UpdateConfig | undefined): UpdateConfig {
  const { Delay, ...rest } = effectiveUpdateConfig(cfg);
  return Delay ? { ...rest, Delay } : rest;
}

/**
 * A copy of the spec with every default filled in, as Docker's insertDefaults=true returns it
 * (recorded from dockerd 20.10: test/fixtures/docker/service-minimal-defaults.json): no
 * EndpointSpec is added, Resources stays as given ({}), DNSConfig is {}.
 */
export function withDefaults(spec: ServiceSpec): ServiceSpec {
  const tt = normalizeTaskTemplate(spec.TaskTemplate);
  const cs = tt.ContainerSpec;
  const out: ServiceSpec = {
    ...spec,
    Labels: spec.Labels ?? {},
    TaskTemplate: {
      ...tt,
      ...(cs
        ? {
            ContainerSpec: {
              ...cs,
              StopGracePeriod: cs.StopGracePeriod ?? DEFAULT_STOP_GRACE_PERIOD,
              DNSConfig: cs.DNSConfig ?? {},
            },
          }
        : {}),
      Resources: tt.Resources ?? {},
      RestartPolicy: {
        Condition: 'any',
        Delay: DEFAULT_RESTART_DELAY,
        MaxAttempts: 0,
        ...stripUndefined(tt.RestartPolicy ?? {}),
      },
      Placement: tt.Placement ?? {},
    },
    Mode: spec.Mode ?? { Replicated: { Replicas: 1 } },
    UpdateConfig: shownUpdateConfig(spec.UpdateConfig),
    RollbackConfig: shownUpdateConfig(spec.RollbackConfig),
  };
  return withRuntime(out);
}

/** Replicas of a replicated service (unset → 1, as the engine does). */
export function replicasOf(spec: ServiceSpec): number {
  return spec.Mode?.Replicated?.Replicas ?? 1;
}

/**
 * A task template as the engine keeps it (dockerd's conversion to SwarmKit and back): the
 * container's Isolation "default" and ForceUpdate 0 are filled in; `Runtime` is implied by the
 * ContainerSpec, so it is not kept (GET /services shows "container", see `withRuntime`).
 * Comparisons of templates (is a task up to date, did an update change the tasks?) go through it.
 */
export function normalizeTaskTemplate(tt: TaskSpec): TaskSpec {
  const { Runtime: _runtime, ...rest } = tt;
  return {
    ...rest,
    ...(tt.ContainerSpec
      ? { ContainerSpec: { ...tt.ContainerSpec, Isolation: tt.ContainerSpec.Isolation ?? 'default' } }
      : {}),
    ForceUpdate: tt.ForceUpdate ?? 0,
  };
}

/** A service spec as the engine stores it: Labels {} and a normalized task template. */
export function normalizeServiceSpec(spec: ServiceSpec): ServiceSpec {
  return { ...spec, Labels: spec.Labels ?? {}, TaskTemplate: normalizeTaskTemplate(spec.TaskTemplate) };
}

/** The spec as Docker's API shows it: TaskTemplate.Runtime "container" for a container service. */
export function withRuntime(spec: ServiceSpec): ServiceSpec {
  if (!spec.TaskTemplate.ContainerSpec) return spec;
  return { ...spec, TaskTemplate: { ...spec.TaskTemplate, Runtime: 'container' } };
}
