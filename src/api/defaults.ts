// SwarmKit's defaults (api/defaults/service.go): used by the manager when a field is unset and by
// `GET /services/{id}?insertDefaults=true`, which fills them in the returned spec.
import type { ServiceSpec, SwarmSpec, UpdateConfig } from './types.js';

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

/** A copy of the spec with every default filled in, as Docker's insertDefaults=true returns. */
export function withDefaults(spec: ServiceSpec): ServiceSpec {
  const tt = spec.TaskTemplate;
  const cs = tt.ContainerSpec;
  const out: ServiceSpec = {
    ...spec,
    TaskTemplate: {
      ...tt,
      ...(cs
        ? { ContainerSpec: { ...cs, StopGracePeriod: cs.StopGracePeriod ?? DEFAULT_STOP_GRACE_PERIOD } }
        : {}),
      Resources: tt.Resources ?? { Limits: {}, Reservations: {} },
      RestartPolicy: {
        Condition: 'any',
        Delay: DEFAULT_RESTART_DELAY,
        MaxAttempts: 0,
        ...stripUndefined(tt.RestartPolicy ?? {}),
      },
      Placement: tt.Placement ?? {},
    },
    Mode: spec.Mode ?? { Replicated: { Replicas: 1 } },
    UpdateConfig: effectiveUpdateConfig(spec.UpdateConfig),
    RollbackConfig: effectiveUpdateConfig(spec.RollbackConfig),
    EndpointSpec: { Mode: 'vip', ...stripUndefined(spec.EndpointSpec ?? {}) },
  };
  return out;
}

/** Replicas of a replicated service (unset → 1, as the engine does). */
export function replicasOf(spec: ServiceSpec): number {
  return spec.Mode?.Replicated?.Replicas ?? 1;
}
