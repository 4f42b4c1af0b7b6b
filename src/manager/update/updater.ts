// The rolling-update planner (SwarmKit's updater) as a step function: given the service, its slots
// and what this update has done so far, decide the next replacements, detect failures, and move
// UpdateStatus along. The caller keeps the returned UpdaterState in memory between steps, as
// SwarmKit keeps its updater goroutine; a new leader starts with none and resumes from the tasks.
import type { Node, Service, Task, TaskState, UpdateConfig, UpdateStatus } from '../../api/types.js';
import type { DecisionContext, NewTask, PlanBuilder } from '../orchestrator/plan.js';
import {
  hasEnded,
  isoTime,
  isTaskDirty,
  NANOS_PER_MS,
  RUNNING,
  stateIndex,
  statusTime,
} from '../orchestrator/task.js';

export interface EffectiveUpdateConfig {
  parallelism: number;
  delayMs: number;
  failureAction: 'pause' | 'continue' | 'rollback';
  monitorMs: number;
  maxFailureRatio: number;
  order: 'stop-first' | 'start-first';
}

/** SwarmKit's defaults, the same for UpdateConfig and RollbackConfig. */
export function effectiveUpdateConfig(c: UpdateConfig | undefined): EffectiveUpdateConfig {
  return {
    parallelism: c?.Parallelism ?? 1,
    delayMs: (c?.Delay ?? 0) / NANOS_PER_MS,
    failureAction: c?.FailureAction ?? 'pause',
    monitorMs: (c?.Monitor ?? 5_000 * NANOS_PER_MS) / NANOS_PER_MS,
    maxFailureRatio: c?.MaxFailureRatio ?? 0,
    order: c?.Order ?? 'stop-first',
  };
}

/** What one update run has done so far. Opaque to the caller: pass back what the last step returned. */
export interface UpdaterState {
  /** The run this state belongs to (spec version and direction); a different run starts afresh. */
  run: string;
  /** Slots that were dirty when the run started: the denominator of the failure ratio. */
  dirtySlots: number;
  /** Tasks this run created → epoch ms when first seen RUNNING (0: not yet). */
  updated: Record<string, number>;
  /** Tasks of `updated` already counted as done (their slot's worker moved on). */
  done: string[];
  failed: string[];
  /** For each finished slot, when its worker is free again (after Delay). */
  busyUntil: number[];
  /** When every slot was done; the run completes Monitor later. */
  allDoneAt?: number;
  /** The failure action fired: nothing more until the service changes. */
  stopped?: boolean;
}

export interface UpdateInput {
  service: Service;
  /** Live tasks (desired ≤ RUNNING) of each slot, in slot order. Global services: one slot per node. */
  slots: readonly (readonly Task[])[];
  /** All tasks of the service, to follow the tasks this run created after they stop being live. */
  allTasks: ReadonlyMap<string, Task>;
  nodes: ReadonlyMap<string, Node>;
  /** A new task for a slot, from the service's current spec. */
  makeTask: (slot: readonly Task[], desiredState: TaskState) => NewTask;
  state: UpdaterState | undefined;
}

function runKey(service: Service): string {
  const rollingBack = service.UpdateStatus?.State === 'rollback_started';
  return `${service.SpecVersion?.Index ?? 0}/${rollingBack ? 'rollback' : 'update'}`;
}

function isSlotDirty(input: UpdateInput, slot: readonly Task[]): boolean {
  if (slot.length > 1) return true;
  const t = slot[0];
  return t !== undefined && isTaskDirty(input.service, t, t.NodeID ? input.nodes.get(t.NodeID) : undefined);
}

/**
 * One step of the rolling update. Writes task changes and UpdateStatus into `plan`; returns the state
 * for the next step (undefined once the run is over or there is nothing to update).
 */
export function planUpdate(
  input: UpdateInput,
  ctx: DecisionContext,
  plan: PlanBuilder,
): UpdaterState | undefined {
  const { service } = input;
  const status = service.UpdateStatus?.State;
  if (status === 'paused' || status === 'rollback_paused') return input.state;
  const rollingBack = status === 'rollback_started';
  const config = effectiveUpdateConfig(rollingBack ? service.Spec.RollbackConfig : service.Spec.UpdateConfig);
  const run = runKey(service);
  const previous = input.state?.run === run ? input.state : undefined;
  if (previous?.stopped) return previous;

  const dirty = input.slots.filter((slot) => isSlotDirty(input, slot));
  let state: UpdaterState;
  if (previous) {
    state = {
      ...previous,
      updated: { ...previous.updated },
      done: [...previous.done],
      failed: [...previous.failed],
    };
    state.busyUntil = previous.busyUntil.filter((t) => t > ctx.now);
  } else {
    if (dirty.length === 0) {
      if (status === 'updating' || status === 'rollback_started') completeUpdate(service, ctx, plan);
      return undefined;
    }
    state = { run, dirtySlots: dirty.length, updated: {}, done: [], failed: [], busyUntil: [] };
  }
  // Any service update clears UpdateStatus (a scale in the middle of a rolling update too); while
  // slots are still dirty the update is in progress again, as SwarmKit's updater restarts one.
  if (!service.UpdateStatus && dirty.length > 0) {
    plan.updateService({
      ID: service.ID,
      UpdateStatus: { State: 'updating', StartedAt: isoTime(ctx.now), Message: 'update in progress' },
    });
  }

  // Follow the tasks this run created: running, finished, or failed within the monitor window.
  const done = new Set(state.done);
  const failed = new Set(state.failed);
  for (const id of Object.keys(state.updated)) {
    const task = input.allTasks.get(id);
    if (!task) continue;
    const s = stateIndex(task.Status.State);
    if (s === RUNNING && state.updated[id] === 0) state.updated[id] = Math.min(ctx.now, statusTime(task));
    if (s >= RUNNING && !done.has(id)) {
      done.add(id);
      state.done.push(id);
      state.busyUntil.push(Math.min(ctx.now, statusTime(task)) + config.delayMs);
    }
    if (hasEnded(task) && !failed.has(id)) {
      const runningAt = state.updated[id] ?? 0;
      if (runningAt !== 0 && statusTime(task) - runningAt > config.monitorMs) continue;
      state.failed.push(id);
      if (
        state.failed.length / state.dirtySlots > config.maxFailureRatio &&
        failureAction(input, config, id, ctx, plan)
      ) {
        state.stopped = true;
        return state;
      }
    }
  }

  const isOurs = (t: Task) => state.updated[t.ID] !== undefined;
  const inFlight = (slot: readonly Task[]) =>
    slot.some((t) => isOurs(t) && stateIndex(t.Status.State) < RUNNING && !hasEnded(t));

  // Start-first slots whose new task now runs: the old tasks can go.
  for (const slot of input.slots) {
    const fresh = slot.find((t) => isOurs(t) && t.Status.State === 'running');
    if (fresh) for (const t of slot) if (t.ID !== fresh.ID) plan.setDesired(t.ID, 'shutdown');
  }

  const busy = input.slots.filter(inFlight).length + state.busyUntil.filter((t) => t > ctx.now).length;
  let free = config.parallelism === 0 ? Number.POSITIVE_INFINITY : config.parallelism - busy;
  const waiting = dirty.filter(
    (slot) => !inFlight(slot) && !slot.some((t) => isOurs(t) && t.Status.State === 'running'),
  );
  let remaining = waiting.length;
  let createdNow = 0;
  for (const slot of waiting) {
    if (free <= 0) break;
    if (updateSlot(input, config, slot, state, ctx, plan)) createdNow++;
    free--;
    remaining--;
  }

  const anyInFlight = createdNow > 0 || input.slots.some(inFlight);
  const nextFree = Math.min(...state.busyUntil.filter((t) => t > ctx.now));
  if (remaining > 0 || anyInFlight || Number.isFinite(nextFree)) {
    state.allDoneAt = undefined;
    if (Number.isFinite(nextFree)) plan.wakeAt(nextFree);
    return state;
  }
  state.allDoneAt ??= ctx.now;
  const completeAt = state.allDoneAt + config.monitorMs;
  if (ctx.now < completeAt) {
    plan.wakeAt(completeAt);
    return state;
  }
  if (status === 'updating' || status === 'rollback_started') {
    completeUpdate(service, ctx, plan);
  }
  return undefined;
}

/**
 * SwarmKit's worker for one slot: reuse an up-to-date task if there is one, else replace the slot's
 * task. Returns whether a task was created (the slot is then in flight until it runs).
 */
function updateSlot(
  input: UpdateInput,
  config: EffectiveUpdateConfig,
  slot: readonly Task[],
  state: UpdaterState,
  ctx: DecisionContext,
  plan: PlanBuilder,
): boolean {
  const clean = slot.filter(
    (t) => !isTaskDirty(input.service, t, t.NodeID ? input.nodes.get(t.NodeID) : undefined),
  );
  const existing = clean.find((t) => plan.desiredOf(t) === 'running') ?? clean[0];
  if (existing) {
    // Its promotion (if held at READY) waits for the others to stop, like any delayed start.
    for (const t of slot) if (t.ID !== existing.ID) plan.setDesired(t.ID, 'shutdown');
    state.busyUntil.push(ctx.now + config.delayMs);
    return false;
  }
  const startFirst = config.order === 'start-first';
  const created = input.makeTask(slot, startFirst ? 'running' : 'ready');
  plan.create(created);
  state.updated[created.ID] = 0;
  if (!startFirst) for (const t of slot) plan.setDesired(t.ID, 'shutdown');
  return true;
}

function failureAction(
  input: UpdateInput,
  config: EffectiveUpdateConfig,
  taskId: string,
  ctx: DecisionContext,
  plan: PlanBuilder,
): boolean {
  const { service } = input;
  const rollingBack = service.UpdateStatus?.State === 'rollback_started';
  const cause = `due to failure or early termination of task ${taskId}`;
  const startedAt = service.UpdateStatus?.StartedAt;
  const withStart = (u: UpdateStatus): UpdateStatus => (startedAt ? { ...u, StartedAt: startedAt } : u);
  switch (config.failureAction) {
    case 'continue':
      return false;
    case 'rollback':
      // A rollback is never rolled back; without a previous spec there is nothing to go back to.
      if (!rollingBack && service.PreviousSpec) {
        plan.updateService({
          ID: service.ID,
          Spec: service.PreviousSpec,
          clearPreviousSpec: true,
          UpdateStatus: {
            State: 'rollback_started',
            StartedAt: isoTime(ctx.now),
            Message: `update rolled back ${cause}`,
          },
        });
        return true;
      }
      plan.updateService({
        ID: service.ID,
        UpdateStatus: withStart({
          State: rollingBack ? 'rollback_paused' : 'paused',
          Message: rollingBack ? `rollback paused ${cause}` : `update paused ${cause}`,
        }),
      });
      return true;
    case 'pause':
      plan.updateService({
        ID: service.ID,
        UpdateStatus: withStart({
          State: rollingBack ? 'rollback_paused' : 'paused',
          Message: `update paused ${cause}`,
        }),
      });
      return true;
  }
}

function completeUpdate(service: Service, ctx: DecisionContext, plan: PlanBuilder): void {
  const rollingBack = service.UpdateStatus?.State === 'rollback_started';
  const status: UpdateStatus = {
    State: rollingBack ? 'rollback_completed' : 'completed',
    Message: rollingBack ? 'rollback completed' : 'update completed',
    CompletedAt: isoTime(ctx.now),
  };
  if (service.UpdateStatus?.StartedAt) status.StartedAt = service.UpdateStatus.StartedAt;
  plan.updateService({ ID: service.ID, UpdateStatus: status });
}
