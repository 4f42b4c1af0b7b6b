import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Node, Service, ServiceSpec, Task, UpdateConfig } from '../../src/api/types.js';
import type { Plan } from '../../src/manager/orchestrator/plan.js';
import { reconcileReplicated } from '../../src/manager/orchestrator/replicated.js';
import { isTaskDirty } from '../../src/manager/orchestrator/task.js';
import type { UpdaterState } from '../../src/manager/update/updater.js';
import { apply, context, node, observe, service, task } from './fixtures.js';

const SEC = 1000;

function specWith(image: string, update: UpdateConfig = {}, extra: Partial<ServiceSpec> = {}): ServiceSpec {
  return {
    Name: 'web',
    TaskTemplate: { ContainerSpec: { Image: image }, RestartPolicy: { Condition: 'none' } },
    Mode: { Replicated: { Replicas: 3 } },
    UpdateConfig: update,
    RollbackConfig: { Monitor: 1e9 },
    ...extra,
  };
}

/** A service updated from busybox:1 (SpecVersion 1) to busybox:2 (SpecVersion 2), tasks still on v1. */
function updatedService(
  update: UpdateConfig = {},
  replicas = 3,
): { svc: Service; tasks: Task[]; nodes: Node[] } {
  const v1 = specWith('busybox:1', update);
  v1.Mode = { Replicated: { Replicas: replicas } };
  const v2 = { ...specWith('busybox:2', update), Mode: v1.Mode };
  const old = service('web', v1);
  const tasks = Array.from({ length: replicas }, (_, i) =>
    task(`old${i + 1}`, old, { slot: i + 1, node: 'n1', specVersion: 1 }),
  );
  const svc = service('web', v2, { PreviousSpec: v1, SpecVersion: { Index: 2 } });
  return { svc, tasks, nodes: [node('n1')] };
}

/** The shell: applies task changes and service changes (a new Spec bumps SpecVersion). */
class Shell {
  updater: UpdaterState | undefined;
  last: Plan | undefined;
  constructor(
    public svc: Service,
    public tasks: Task[],
    public nodes: Node[],
    public ctx = context(),
  ) {}

  step(): Plan {
    const r = reconcileReplicated(
      { service: this.svc, tasks: this.tasks, nodes: this.nodes, updater: this.updater },
      this.ctx,
    );
    this.updater = r.updater;
    this.tasks = apply(this.tasks, r.plan);
    const su = r.plan.updateService;
    if (su) {
      const next: Service = { ...this.svc };
      if (su.UpdateStatus) next.UpdateStatus = su.UpdateStatus;
      if (su.Spec) {
        next.Spec = su.Spec;
        next.SpecVersion = { Index: (this.svc.SpecVersion?.Index ?? 0) + 1 };
      }
      if (su.clearPreviousSpec) delete next.PreviousSpec;
      this.svc = next;
    }
    this.last = r.plan;
    return r.plan;
  }

  /** The agent: every task told to shut down stops; every task wanted running runs. */
  agent(): void {
    for (const t of this.tasks) {
      if (t.DesiredState === 'shutdown' && t.Status.State === 'running') this.set(t.ID, 'shutdown');
      else if (t.DesiredState === 'running' && t.Status.State !== 'running' && t.Status.State !== 'failed') {
        this.set(t.ID, 'running');
      }
    }
  }

  set(id: string, state: Task['Status']['State']): void {
    this.tasks = observe(this.tasks, id, state, this.ctx.now, 'n1');
  }

  live(): Task[] {
    return this.tasks.filter((t) => t.DesiredState === 'running');
  }
  images(): string[] {
    return this.live()
      .map((t) => t.Spec.ContainerSpec?.Image ?? '')
      .sort();
  }
}

test('stop-first rolls one slot at a time: old task shut down, new one held READY until the old stopped', () => {
  const { svc, tasks, nodes } = updatedService();
  const sh = new Shell(svc, tasks, nodes);
  const p1 = sh.step();
  assert.equal(sh.svc.UpdateStatus?.State, 'updating');
  assert.equal(sh.svc.UpdateStatus?.Message, 'update in progress');
  assert.deepEqual(
    p1.createTasks.map((t) => [t.Slot, t.DesiredState, t.Spec.ContainerSpec?.Image]),
    [[1, 'ready', 'busybox:2']],
  );
  assert.deepEqual(p1.updateTasks, [{ ID: 'old1', DesiredState: 'shutdown' }]);
  const fresh = p1.createTasks[0]!.ID;

  const p2 = sh.step();
  assert.equal(p2.createTasks.length, 0, 'parallelism 1: slot 2 waits');
  assert.deepEqual(p2.updateTasks, [], 'the new task waits for the old one to stop');

  sh.set('old1', 'shutdown');
  const p3 = sh.step();
  assert.deepEqual(p3.updateTasks, [{ ID: fresh, DesiredState: 'running' }]);

  sh.set(fresh, 'running');
  const p4 = sh.step();
  assert.deepEqual(
    p4.createTasks.map((t) => t.Slot),
    [2],
  );

  for (let i = 0; i < 10; i++) {
    sh.agent();
    sh.step();
  }
  assert.deepEqual(sh.images(), ['busybox:2', 'busybox:2', 'busybox:2']);
  assert.equal(sh.svc.UpdateStatus?.State, 'updating', 'still monitoring');
  assert.equal(sh.last?.wakeAt !== undefined, true);
  sh.ctx.advance(5 * SEC);
  sh.step();
  assert.equal(sh.svc.UpdateStatus?.State, 'completed');
  assert.equal(sh.svc.UpdateStatus?.Message, 'update completed');
  assert.ok(sh.svc.UpdateStatus?.CompletedAt);
});

test('start-first starts the new task at once and shuts the old one down once the new one runs', () => {
  const { svc, tasks, nodes } = updatedService({ Order: 'start-first' }, 1);
  const sh = new Shell(svc, tasks, nodes);
  const p1 = sh.step();
  assert.deepEqual(
    p1.createTasks.map((t) => t.DesiredState),
    ['running'],
  );
  assert.deepEqual(p1.updateTasks, [], 'the old task keeps running meanwhile');
  const fresh = p1.createTasks[0]!.ID;
  sh.set(fresh, 'running');
  const p2 = sh.step();
  assert.deepEqual(p2.updateTasks, [{ ID: 'old1', DesiredState: 'shutdown' }]);
});

test('Parallelism 0 replaces every slot at once; Delay spaces out slots', () => {
  const all = new Shell(...(Object.values(updatedService({ Parallelism: 0 })) as [Service, Task[], Node[]]));
  assert.equal(all.step().createTasks.length, 3);

  const { svc, tasks, nodes } = updatedService({ Parallelism: 1, Delay: 10e9 });
  const sh = new Shell(svc, tasks, nodes);
  const first = sh.step().createTasks[0]!.ID;
  sh.set('old1', 'shutdown');
  sh.step();
  sh.set(first, 'running');
  const p = sh.step();
  assert.equal(p.createTasks.length, 0, 'the worker sleeps Delay after its slot');
  assert.equal(p.wakeAt, sh.ctx.now + 10 * SEC);
  sh.ctx.advance(10 * SEC);
  assert.equal(sh.step().createTasks.length, 1);
});

test('a new task failing pauses the update with SwarmKit message (FailureAction pause, the default)', () => {
  const { svc, tasks, nodes } = updatedService();
  const sh = new Shell(svc, tasks, nodes);
  const fresh = sh.step().createTasks[0]!.ID;
  sh.set('old1', 'shutdown');
  sh.step();
  sh.set(fresh, 'failed');
  sh.step();
  assert.equal(sh.svc.UpdateStatus?.State, 'paused');
  assert.equal(
    sh.svc.UpdateStatus?.Message,
    `update paused due to failure or early termination of task ${fresh}`,
  );
  const after = sh.step();
  assert.equal(after.createTasks.length, 0, 'nothing moves while paused');
  assert.deepEqual(sh.images(), ['busybox:1', 'busybox:1']);
});

test('a failure after the Monitor window is not a failure of the update', () => {
  const { svc, tasks, nodes } = updatedService({ Monitor: 2e9 }, 1);
  const sh = new Shell(svc, tasks, nodes);
  const fresh = sh.step().createTasks[0]!.ID;
  sh.set('old1', 'shutdown');
  sh.step();
  sh.set(fresh, 'running');
  sh.step();
  sh.ctx.advance(3 * SEC);
  sh.set(fresh, 'failed');
  sh.step();
  assert.equal(sh.svc.UpdateStatus?.State, 'completed');
});

test('MaxFailureRatio tolerates failures up to the ratio; FailureAction continue never stops', () => {
  const { svc, tasks, nodes } = updatedService({ Parallelism: 0, MaxFailureRatio: 0.5 }, 4);
  const sh = new Shell(svc, tasks, nodes);
  const created = sh.step().createTasks.map((t) => t.ID);
  for (const id of ['old1', 'old2', 'old3', 'old4']) sh.set(id, 'shutdown');
  sh.step();
  sh.set(created[0]!, 'failed');
  sh.set(created[1]!, 'failed');
  sh.step();
  assert.equal(sh.svc.UpdateStatus?.State, 'updating', '2/4 is not above 0.5');
  sh.set(created[2]!, 'failed');
  sh.step();
  assert.equal(sh.svc.UpdateStatus?.State, 'paused');

  const c = updatedService({ Parallelism: 0, FailureAction: 'continue' }, 2);
  const cont = new Shell(c.svc, c.tasks, c.nodes);
  const ids = cont.step().createTasks.map((t) => t.ID);
  cont.set(ids[0]!, 'failed');
  cont.step();
  assert.equal(cont.svc.UpdateStatus?.State, 'updating');
});

test('FailureAction rollback restores the previous spec and rolls back; a failing rollback pauses', () => {
  const { svc, tasks, nodes } = updatedService({ FailureAction: 'rollback' });
  const sh = new Shell(svc, tasks, nodes);
  const fresh = sh.step().createTasks[0]!.ID;
  sh.set('old1', 'shutdown');
  sh.step();
  sh.set(fresh, 'failed');
  const p = sh.step();
  assert.equal(p.updateService?.clearPreviousSpec, true);
  assert.equal(sh.svc.UpdateStatus?.State, 'rollback_started');
  assert.equal(
    sh.svc.UpdateStatus?.Message,
    `update rolled back due to failure or early termination of task ${fresh}`,
  );
  assert.equal(sh.svc.Spec.TaskTemplate.ContainerSpec?.Image, 'busybox:1');
  assert.equal(sh.svc.PreviousSpec, undefined);
  for (let i = 0; i < 12; i++) {
    sh.agent();
    sh.step();
  }
  assert.deepEqual(sh.images(), ['busybox:1', 'busybox:1', 'busybox:1']);
  sh.ctx.advance(1 * SEC);
  sh.step();
  assert.equal(sh.svc.UpdateStatus?.State, 'rollback_completed');
  assert.equal(sh.svc.UpdateStatus?.Message, 'rollback completed');
});

test('a rollback whose new task fails is paused, never rolled back again', () => {
  const { svc, tasks, nodes } = updatedService({ FailureAction: 'rollback' }, 1);
  const rolling: Service = {
    ...svc,
    Spec: { ...svc.Spec, RollbackConfig: { FailureAction: 'rollback' } },
    UpdateStatus: { State: 'rollback_started', Message: 'manually requested rollback' },
  };
  const sh = new Shell(rolling, tasks, nodes);
  const fresh = sh.step().createTasks[0]!.ID;
  sh.set(fresh, 'rejected');
  sh.step();
  assert.equal(sh.svc.UpdateStatus?.State, 'rollback_paused');
  assert.equal(
    sh.svc.UpdateStatus?.Message,
    `rollback paused due to failure or early termination of task ${fresh}`,
  );
});

test('new registry credentials redeploy no task that has its image, only those still to pull it', () => {
  const withAuth = (auth: string, image = 'busybox:1'): ServiceSpec => {
    const spec = specWith(image);
    spec.TaskTemplate.ContainerSpec = { Image: image, PullOptions: { RegistryAuth: auth } };
    return spec;
  };
  const base = service('web', withAuth('b2xk'));
  const rotated = service('web', withAuth('bmV3'), { SpecVersion: { Index: 2 } });
  const at = (state: Task['Status']['State'], desired: Task['DesiredState'] = 'running') =>
    task('a', base, { slot: 1, node: 'n1', specVersion: 1, state, desired });
  for (const state of ['ready', 'starting', 'running'] as const) {
    assert.equal(isTaskDirty(rotated, at(state), node('n1')), false, state);
  }
  for (const state of ['new', 'assigned', 'preparing', 'failed'] as const) {
    assert.equal(isTaskDirty(rotated, at(state), node('n1')), true, state);
  }
  assert.equal(isTaskDirty(rotated, at('running', 'shutdown'), node('n1')), true, 'desired shutdown');
  const reimaged = service('web', withAuth('bmV3', 'busybox:2'), { SpecVersion: { Index: 2 } });
  assert.equal(isTaskDirty(reimaged, at('running'), node('n1')), true, 'a new image still redeploys');
});

test('ForceUpdate redeploys every task; a constraint-only change the node still meets redeploys none', () => {
  const base = service('web', specWith('busybox:1'));
  const t = task('a', base, { slot: 1, node: 'n1', specVersion: 1 });
  const forced = service(
    'web',
    { ...base.Spec, TaskTemplate: { ...base.Spec.TaskTemplate, ForceUpdate: 1 } },
    {
      SpecVersion: { Index: 2 },
    },
  );
  assert.equal(isTaskDirty(forced, t, node('n1')), true);
  const constrained = service(
    'web',
    {
      ...base.Spec,
      TaskTemplate: { ...base.Spec.TaskTemplate, Placement: { Constraints: ['node.role==worker'] } },
    },
    { SpecVersion: { Index: 2 } },
  );
  assert.equal(isTaskDirty(constrained, t, node('n1')), false);
  assert.equal(isTaskDirty(constrained, t, node('n1', { role: 'manager' })), true);
  const relabelled = service('web', { ...base.Spec, Labels: { team: 'a' } }, { SpecVersion: { Index: 2 } });
  assert.equal(isTaskDirty(relabelled, t, node('n1')), false, 'service labels are not part of the task');
  const sh = new Shell(relabelled, [t], [node('n1')]);
  sh.tasks[0]!.Slot = 1;
  sh.svc.Spec.Mode = { Replicated: { Replicas: 1 } };
  sh.step();
  assert.equal(sh.svc.UpdateStatus, undefined, 'no update happened');
});
