import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Node, Service, Task, TaskState } from '../../src/api/types.js';
import { reconcileReplicated, removeServiceTasks } from '../../src/manager/orchestrator/replicated.js';
import type { UpdaterState } from '../../src/manager/update/updater.js';
import { apply, context, node, observe, service, T0, task } from './fixtures.js';

const SEC = 1000;

function web(replicas: number, extra: Partial<Service['Spec']> = {}): Service {
  return service('web', { Mode: { Replicated: { Replicas: replicas } }, ...extra });
}

/** Runs reconcile/apply rounds (no agent activity) the way the shell would, advancing the clock. */
function converge(svc: Service, tasks: Task[], nodes: Node[], ctx: ReturnType<typeof context>, rounds = 20) {
  let updater: UpdaterState | undefined;
  let current = tasks;
  for (let i = 0; i < rounds; i++) {
    const r = reconcileReplicated({ service: svc, tasks: current, nodes, updater }, ctx);
    updater = r.updater;
    current = apply(current, r.plan);
    ctx.advance(61 * SEC);
  }
  return current;
}

test('a new service gets one task per slot 1..Replicas, created in state new, desired running', () => {
  const svc = web(3);
  const { plan } = reconcileReplicated({ service: svc, tasks: [], nodes: [node('n1')] }, context());
  assert.deepEqual(
    plan.createTasks.map((t) => [
      t.Slot,
      t.Status.State,
      t.Status.Message,
      t.DesiredState,
      t.SpecVersion?.Index,
    ]),
    [
      [1, 'new', 'created', 'running', 1],
      [2, 'new', 'created', 'running', 1],
      [3, 'new', 'created', 'running', 1],
    ],
  );
  assert.equal(plan.createTasks[0]?.ServiceAnnotations?.Name, 'web');
  assert.equal(plan.updateService, undefined, 'creating a service is not an update');
});

test('scale-up fills the missing slots, reusing the lowest free numbers', () => {
  const svc = web(4);
  const tasks = [task('a', svc, { slot: 1, node: 'n1' }), task('b', svc, { slot: 3, node: 'n1' })];
  const { plan } = reconcileReplicated({ service: svc, tasks, nodes: [node('n1')] }, context());
  assert.deepEqual(
    plan.createTasks.map((t) => t.Slot),
    [2, 4],
  );
  assert.deepEqual(plan.updateTasks, []);
});

test('scale-down removes tasks from the most loaded node, non-running and higher slots first', () => {
  const svc = web(2);
  const tasks = [
    task('a', svc, { slot: 1, node: 'n1' }),
    task('b', svc, { slot: 2, node: 'n1' }),
    task('c', svc, { slot: 3, node: 'n1', state: 'starting' }),
    task('d', svc, { slot: 4, node: 'n2' }),
  ];
  const { plan } = reconcileReplicated({ service: svc, tasks, nodes: [node('n1'), node('n2')] }, context());
  assert.deepEqual(plan.updateTasks.map((u) => [u.ID, u.DesiredState]).sort(), [
    ['b', 'remove'],
    ['c', 'remove'],
  ]);
  assert.equal(plan.createTasks.length, 0);
});

test('a failed task is shut down and replaced in its slot, held at READY for the 5 s restart delay', () => {
  const svc = web(1);
  const ctx = context(T0 + 10 * SEC);
  const failed = task('a', svc, { slot: 1, node: 'n1', state: 'failed', at: T0 + 9 * SEC, createdAt: T0 });
  const r1 = reconcileReplicated({ service: svc, tasks: [failed], nodes: [node('n1')] }, ctx);
  assert.deepEqual(r1.plan.updateTasks, [{ ID: 'a', DesiredState: 'shutdown' }]);
  assert.equal(r1.plan.createTasks.length, 1);
  const replacement = r1.plan.createTasks[0]!;
  assert.equal(replacement.Slot, 1);
  assert.equal(replacement.DesiredState, 'ready');
  assert.equal(r1.plan.wakeAt, ctx.now + 5 * SEC);

  let tasks = apply([failed], r1.plan);
  ctx.advance(4 * SEC);
  const early = reconcileReplicated({ service: svc, tasks, nodes: [node('n1')] }, ctx);
  assert.deepEqual(early.plan.updateTasks, []);
  assert.equal(early.plan.createTasks.length, 0);
  ctx.advance(1 * SEC);
  const due = reconcileReplicated({ service: svc, tasks, nodes: [node('n1')] }, ctx);
  assert.deepEqual(due.plan.updateTasks, [{ ID: replacement.ID, DesiredState: 'running' }]);
  tasks = apply(tasks, due.plan);
  assert.equal(tasks.filter((t) => t.DesiredState === 'running').length, 1);
});

test('RestartPolicy.Delay is honoured; MaxAttempts stops restarts; Window forgets old attempts', () => {
  const policy = { Condition: 'on-failure' as const, Delay: 2e9, MaxAttempts: 2, Window: 60e9 };
  const svc = web(1, { TaskTemplate: { ContainerSpec: { Image: 'b' }, RestartPolicy: policy } });
  const nodes = [node('n1')];
  const history = (times: number[]) =>
    times.map((t, i) =>
      task(`t${i}`, svc, {
        slot: 1,
        node: 'n1',
        state: 'failed',
        desired: 'shutdown',
        createdAt: t,
        at: t + 500,
      }),
    );
  // Original + 2 restarts, all within the window: no third restart.
  const recent = history([T0, T0 + 10 * SEC, T0 + 20 * SEC]);
  recent[2]!.DesiredState = 'running';
  const ctx = context(T0 + 30 * SEC);
  const r = reconcileReplicated({ service: svc, tasks: recent, nodes }, ctx);
  assert.equal(r.plan.createTasks.length, 0, 'attempts exhausted: no replacement and no new slot task');
  assert.deepEqual(r.plan.updateTasks, [{ ID: 't2', DesiredState: 'shutdown' }]);
  // The same history, but the first restart is now outside the 60 s window: one more attempt.
  const later = context(T0 + 75 * SEC);
  const r2 = reconcileReplicated({ service: svc, tasks: recent, nodes }, later);
  assert.equal(r2.plan.createTasks.length, 1);
  assert.equal(r2.plan.wakeAt, later.now + 2 * SEC);
});

test('restart condition none leaves a finished slot alone; on-failure does not restart a clean exit', () => {
  const none = web(1, {
    TaskTemplate: { ContainerSpec: { Image: 'b' }, RestartPolicy: { Condition: 'none' } },
  });
  const failed = task('a', none, { slot: 1, node: 'n1', state: 'failed' });
  const r = reconcileReplicated({ service: none, tasks: [failed], nodes: [node('n1')] }, context());
  assert.equal(r.plan.createTasks.length, 0);
  const after = apply([failed], r.plan);
  assert.equal(
    reconcileReplicated({ service: none, tasks: after, nodes: [node('n1')] }, context()).plan.createTasks
      .length,
    0,
  );

  const onFailure = web(1, {
    TaskTemplate: { ContainerSpec: { Image: 'b' }, RestartPolicy: { Condition: 'on-failure' } },
  });
  const done = task('b', onFailure, { slot: 1, node: 'n1', state: 'complete' });
  assert.equal(
    reconcileReplicated({ service: onFailure, tasks: [done], nodes: [node('n1')] }, context()).plan
      .createTasks.length,
    0,
  );
  const crashed = task('c', onFailure, { slot: 1, node: 'n1', state: 'failed' });
  assert.equal(
    reconcileReplicated({ service: onFailure, tasks: [crashed], nodes: [node('n1')] }, context()).plan
      .createTasks.length,
    1,
  );
});

test('stop-first drain (label): tasks on a drained node are replaced at once (no restart delay) and start when the old one stopped', () => {
  const svc = web(1, { Labels: { 'swarmkit-ts.drain-order': 'stop-first' } });
  const ctx = context();
  const nodes = [node('n1', { availability: 'drain' }), node('n2')];
  const old = task('a', svc, { slot: 1, node: 'n1' });
  const r1 = reconcileReplicated({ service: svc, tasks: [old], nodes }, ctx);
  assert.deepEqual(r1.plan.updateTasks, [{ ID: 'a', DesiredState: 'shutdown' }]);
  const repl = r1.plan.createTasks[0]!;
  assert.equal(repl.DesiredState, 'ready');
  assert.equal(r1.plan.wakeAt, ctx.now + 60 * SEC, 'waits for the old task, at most a minute');
  let tasks = apply([old], r1.plan);
  tasks = observe(tasks, 'a', 'shutdown', ctx.now + 1);
  ctx.advance(1 * SEC);
  const r2 = reconcileReplicated({ service: svc, tasks, nodes }, ctx);
  assert.deepEqual(r2.plan.updateTasks, [{ ID: repl.ID, DesiredState: 'running' }]);
});

test('a task on a node that is down is replaced without waiting for it to stop', () => {
  const svc = web(1);
  const ctx = context();
  const nodes = [node('n1', { state: 'down' }), node('n2')];
  const r1 = reconcileReplicated(
    { service: svc, tasks: [task('a', svc, { slot: 1, node: 'n1' })], nodes },
    ctx,
  );
  // Leaving a dead node is not the task's failure: no restart delay (SwarmKit waits 5 s).
  assert.deepEqual(r1.plan.updateTasks, [{ ID: 'a', DesiredState: 'shutdown' }]);
  assert.deepEqual(
    r1.plan.createTasks.map((t) => [t.Slot, t.DesiredState]),
    [[1, 'running']],
  );
});

test('property: reconcile converges to exactly Replicas desired-running tasks in distinct slots', () => {
  const states: TaskState[] = [
    'new',
    'pending',
    'assigned',
    'running',
    'complete',
    'failed',
    'shutdown',
    'rejected',
  ];
  const desired: TaskState[] = ['running', 'running', 'ready', 'shutdown', 'remove'];
  const taskArb = fc.record({
    slot: fc.integer({ min: 1, max: 12 }),
    state: fc.constantFrom(...states),
    desired: fc.constantFrom(...desired),
    node: fc.constantFrom('n1', 'n2', 'n3', 'gone'),
    age: fc.integer({ min: 0, max: 600 }),
  });
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 10 }), fc.array(taskArb, { maxLength: 25 }), (replicas, specs) => {
      const svc = web(replicas);
      const nodes = [node('n1'), node('n2', { availability: 'drain' }), node('n3', { state: 'down' })];
      const tasks = specs.map((s, i) =>
        task(`x${i}`, svc, {
          slot: s.slot,
          state: s.state,
          desired: s.desired,
          node: s.node,
          at: T0 - s.age * SEC,
        }),
      );
      const final = converge(svc, tasks, nodes, context(T0 + 1000 * SEC), 8);
      const live = final.filter((t) => t.DesiredState === 'running');
      assert.equal(live.length, replicas);
      assert.equal(new Set(live.map((t) => t.Slot)).size, replicas);
      for (const t of live)
        assert.ok(t.NodeID === undefined || t.NodeID === 'n1', `live task on bad node ${t.NodeID}`);
    }),
    { numRuns: 150 },
  );
});

test('a deleted service has all its tasks set to desired REMOVE, never moving backwards', () => {
  const svc = web(2);
  const plan = removeServiceTasks([
    task('a', svc, { slot: 1 }),
    task('b', svc, { slot: 2, desired: 'shutdown' }),
    task('c', svc, { slot: 3, desired: 'orphaned' }),
  ]);
  assert.deepEqual(plan.updateTasks, [
    { ID: 'a', DesiredState: 'remove' },
    { ID: 'b', DesiredState: 'remove' },
  ]);
});

test('drain keeps capacity: the drained task runs until its replacement elsewhere runs, then shuts down', () => {
  const svc = web(2);
  const nodes = [node('n1', { availability: 'drain' }), node('n2')];
  let tasks = [
    observe([task('a', svc, { slot: 1, node: 'n1' })], 'a', 'running', T0)[0] as Task,
    observe([task('b', svc, { slot: 2, node: 'n1' })], 'b', 'running', T0)[0] as Task,
  ];
  const ctx = context();
  const r1 = reconcileReplicated({ service: svc, tasks, nodes }, ctx);
  assert.deepEqual(r1.plan.updateTasks, [], 'nothing is stopped before its replacement runs');
  assert.deepEqual(
    r1.plan.createTasks.map((t) => [t.Slot, t.DesiredState]),
    [
      [1, 'running'],
      [2, 'running'],
    ],
  );
  tasks = apply(tasks, r1.plan);
  const r2 = reconcileReplicated({ service: svc, tasks, nodes }, ctx);
  assert.deepEqual(r2.plan.createTasks, [], 'one replacement per slot');
  assert.deepEqual(r2.plan.updateTasks, []);
  const [n1, n2] = r1.plan.createTasks;
  tasks = observe(tasks, n1?.ID ?? '', 'running', T0 + 1);
  const r3 = reconcileReplicated({ service: svc, tasks, nodes }, ctx);
  assert.deepEqual(r3.plan.updateTasks, [{ ID: 'a', DesiredState: 'shutdown' }]);
  assert.deepEqual(r3.plan.createTasks, []);
  assert.ok(n2);
});

test("drain with the stop-first label is Docker's: the task is shut down first", () => {
  const svc = web(1, { Labels: { 'swarmkit-ts.drain-order': 'stop-first' } });
  const nodes = [node('n1', { availability: 'drain' }), node('n2')];
  const tasks = observe([task('a', svc, { slot: 1, node: 'n1' })], 'a', 'running', T0);
  const r = reconcileReplicated({ service: svc, tasks, nodes }, context());
  assert.deepEqual(r.plan.updateTasks, [{ ID: 'a', DesiredState: 'shutdown' }]);
});

test('drain without capacity elsewhere: once the replacement cannot be placed, the task shuts down as in Docker', () => {
  const svc = web(1);
  const nodes = [node('n1', { availability: 'drain' })];
  let tasks = observe([task('a', svc, { slot: 1, node: 'n1' })], 'a', 'running', T0);
  const ctx = context();
  const r1 = reconcileReplicated({ service: svc, tasks, nodes }, ctx);
  assert.deepEqual(r1.plan.updateTasks, []);
  tasks = apply(tasks, r1.plan);
  const repl = r1.plan.createTasks[0]?.ID ?? '';
  tasks = tasks.map((t) =>
    t.ID === repl ? { ...t, Status: { ...t.Status, State: 'pending', Err: 'no suitable node' } } : t,
  );
  const r2 = reconcileReplicated({ service: svc, tasks, nodes }, ctx);
  assert.deepEqual(r2.plan.updateTasks, [{ ID: 'a', DesiredState: 'shutdown' }]);
});
