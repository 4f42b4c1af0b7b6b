// The plan every manager decision returns: what to create, change and delete, and when to look again.
// Decisions never write; a shell applies a plan in one fenced batch (see src/manager/README.md).
import type {
  Endpoint,
  NetworkAttachment,
  ServiceSpec,
  Task,
  TaskState,
  TaskStatus,
  UpdateStatus,
} from '../../api/types.js';
import { taskStateIndex } from '../../api/types.js';

/** A task to create: a full Task except Version, which the store assigns. */
export type NewTask = Omit<Task, 'Version'>;

/** Fields to change on one task. The shell applies them to the latest stored version. */
export interface TaskUpdate {
  ID: string;
  /** Never lower than the stored one: the shell skips a DesiredState that would move backwards. */
  DesiredState?: TaskState;
  Status?: TaskStatus;
  NodeID?: string;
  Endpoint?: Endpoint;
  /** The task's addresses on its service's networks (Docker's Task.NetworksAttachments), set once. */
  NetworksAttachments?: NetworkAttachment[];
}

/** Fields to change on the service (update progress, automatic rollback). */
export interface ServiceUpdate {
  ID: string;
  UpdateStatus?: UpdateStatus;
  /** Automatic rollback: the new Spec (the previous one); the shell bumps SpecVersion as for any spec change. */
  Spec?: ServiceSpec;
  /** true: clear PreviousSpec (after an automatic rollback). */
  clearPreviousSpec?: boolean;
}

export interface Plan {
  createTasks: NewTask[];
  updateTasks: TaskUpdate[];
  deleteTasks: string[];
  updateService?: ServiceUpdate;
  /** Epoch ms: run the decision again no later than this, even if nothing changes in the store. */
  wakeAt?: number;
}

/** Injected effects, so decisions are deterministic under test. */
export interface DecisionContext {
  /** Epoch milliseconds. */
  now: number;
  newId: () => string;
}

export function emptyPlan(): Plan {
  return { createTasks: [], updateTasks: [], deleteTasks: [] };
}

/**
 * Collects a plan while a decision runs. Updates to the same task merge (the higher DesiredState wins,
 * as desired state only moves forward), and the earliest wake-up wins.
 */
export class PlanBuilder {
  private readonly creates: NewTask[] = [];
  private readonly updates = new Map<string, TaskUpdate>();
  private readonly deletes = new Set<string>();
  private service: ServiceUpdate | undefined;
  private wake: number | undefined;

  create(task: NewTask): void {
    this.creates.push(task);
  }

  update(u: TaskUpdate): void {
    const prev = this.updates.get(u.ID);
    if (!prev) {
      this.updates.set(u.ID, { ...u });
      return;
    }
    const merged: TaskUpdate = { ...prev, ...u };
    if (prev.DesiredState && u.DesiredState) {
      merged.DesiredState =
        taskStateIndex(prev.DesiredState) >= taskStateIndex(u.DesiredState)
          ? prev.DesiredState
          : u.DesiredState;
    }
    this.updates.set(u.ID, merged);
  }

  /** Raises a task's desired state; a lower one than already planned is ignored. */
  setDesired(id: string, state: TaskState): void {
    this.update({ ID: id, DesiredState: state });
  }

  /** The desired state this plan gives a task (planned or current). */
  desiredOf(task: Pick<Task, 'ID' | 'DesiredState'>): TaskState {
    const planned = this.updates.get(task.ID)?.DesiredState;
    if (planned && taskStateIndex(planned) > taskStateIndex(task.DesiredState)) return planned;
    return task.DesiredState;
  }

  remove(id: string): void {
    this.deletes.add(id);
  }

  updateService(u: ServiceUpdate): void {
    this.service = this.service ? { ...this.service, ...u } : u;
  }

  wakeAt(t: number | undefined): void {
    if (t === undefined) return;
    if (this.wake === undefined || t < this.wake) this.wake = t;
  }

  merge(p: Plan): void {
    for (const t of p.createTasks) this.create(t);
    for (const u of p.updateTasks) this.update(u);
    for (const id of p.deleteTasks) this.remove(id);
    if (p.updateService) this.updateService(p.updateService);
    this.wakeAt(p.wakeAt);
  }

  /** Tasks created so far in this plan (so later steps of the same decision can see them). */
  created(): readonly NewTask[] {
    return this.creates;
  }

  /** The plan; updates to tasks created in the same plan are folded into the created tasks. */
  build(): Plan {
    const createdIds = new Set(this.creates.map((t) => t.ID));
    const createTasks = this.creates.map((t) => {
      const u = this.updates.get(t.ID);
      if (!u) return t;
      const { ID: _id, ...fields } = u;
      return { ...t, ...fields };
    });
    const plan: Plan = {
      createTasks,
      updateTasks: [...this.updates.values()].filter((u) => !this.deletes.has(u.ID) && !createdIds.has(u.ID)),
      deleteTasks: [...this.deletes],
    };
    if (this.service) plan.updateService = this.service;
    if (this.wake !== undefined) plan.wakeAt = this.wake;
    return plan;
  }
}
