import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Service, TaskState } from '../../src/api/types.js';
import { reconcileGlobal } from '../../src/manager/orchestrator/global.js';
import { reconcileGlobalJob, reconcileReplicatedJob } from '../../src/manager/orchestrator/jobs.js';
import { reapTasks } from '../../src/manager/orchestrator/reaper.js';
import { apply, context, node, observe, service, T0, task } from './fixtures.js';

const SEC = 1000;

test('a global service gets one task per eligible node, pre-assigned to it', () => {
  const svc = service('g', {
    Mode: { Global: {} },
    TaskTemplate: { ContainerSpec: { Image: 'b' }, Placement: { Constraints: ['node.labels.gpu!=no'] } },
  });
  const nodes = [
    node('n1'),
    node('n2', { availability: 'drain' }),
    node('n3', { state: 'down' }),
    node('n4', { labels: { gpu: 'no' } }),
    node('n5', { availability: 'pause' }),
    node('n6', { state: 'unknown' }),
  ];
  const { plan } = reconcileGlobal({ service: svc, tasks: [], nodes }, context());
  assert.deepEqual(
    plan.createTasks.map((t) => [t.NodeID, t.Slot, t.DesiredState]),
    [
      ['n1', 0, 'running'],
      ['n6', 0, 'running'],
    ],
  );
});

test('global tasks leave nodes that are drained, stop matching, or are deleted', () => {
  const svc = service('g', {
    Mode: { Global: {} },
    TaskTemplate: { ContainerSpec: { Image: 'b' }, Placement: { Constraints: ['node.labels.ok==yes'] } },
  });
  const nodes = [
    node('n1', { labels: { ok: 'yes' } }),
    node('n2', { availability: 'drain', labels: { ok: 'yes' } }),
    node('n3'),
  ];
  const tasks = [
    task('a', svc, { node: 'n1', slot: 0 }),
    task('b', svc, { node: 'n2', slot: 0 }),
    task('c', svc, { node: 'n3', slot: 0 }),
    task('d', svc, { node: 'gone', slot: 0 }),
  ];
  const { plan } = reconcileGlobal({ service: svc, tasks, nodes }, context());
  assert.deepEqual(plan.updateTasks.map((u) => [u.ID, u.DesiredState]).sort(), [
    ['b', 'shutdown'],
    ['c', 'shutdown'],
    ['d', 'remove'],
  ]);
  assert.equal(plan.createTasks.length, 0);
});

test('a global task that fails is restarted on the same node, but only shut down on a paused node', () => {
  const svc = service('g', { Mode: { Global: {} } });
  const nodes = [node('n1'), node('n2', { availability: 'pause' })];
  const tasks = [
    task('a', svc, { node: 'n1', slot: 0, state: 'failed' }),
    task('b', svc, { node: 'n2', slot: 0, state: 'failed' }),
  ];
  const { plan } = reconcileGlobal({ service: svc, tasks, nodes }, context());
  assert.deepEqual(
    plan.createTasks.map((t) => [t.NodeID, t.DesiredState]),
    [['n1', 'ready']],
  );
  assert.deepEqual(plan.updateTasks.map((u) => [u.ID, u.DesiredState]).sort(), [
    ['a', 'shutdown'],
    ['b', 'shutdown'],
  ]);
});

function job(total: number, max: number, iteration = 0): Service {
  return service(
    'j',
    { Mode: { ReplicatedJob: { TotalCompletions: total, MaxConcurrent: max } } },
    { JobStatus: { JobIteration: { Index: iteration } } },
  );
}

test('a replicated job runs TotalCompletions tasks in slots from 0, MaxConcurrent at a time, to completion', () => {
  const svc = job(5, 2);
  const ctx = context();
  const nodes = [node('n1')];
  let tasks = apply([], reconcileReplicatedJob({ service: svc, tasks: [], nodes }, ctx));
  assert.deepEqual(
    tasks.map((t) => [t.Slot, t.DesiredState, t.JobIteration?.Index]),
    [
      [0, 'complete', 0],
      [1, 'complete', 0],
    ],
  );
  assert.equal(reconcileReplicatedJob({ service: svc, tasks, nodes }, ctx).createTasks.length, 0);
  tasks = observe(tasks, tasks[0]!.ID, 'complete', T0, 'n1');
  const next = reconcileReplicatedJob({ service: svc, tasks, nodes }, ctx);
  assert.deepEqual(
    next.createTasks.map((t) => t.Slot),
    [2],
  );
  assert.deepEqual(next.updateTasks, [], 'a completed task is never restarted');
  for (let round = 0; round < 10; round++) {
    tasks = apply(tasks, reconcileReplicatedJob({ service: svc, tasks, nodes }, ctx));
    for (const t of tasks)
      if (t.Status.State !== 'complete') tasks = observe(tasks, t.ID, 'complete', T0, 'n1');
  }
  assert.equal(tasks.length, 5);
  assert.deepEqual(tasks.map((t) => t.Slot).sort(), [0, 1, 2, 3, 4]);
});

test('a failed job task is restarted in its slot (desired complete after the delay); old iterations are removed', () => {
  const svc = job(1, 1);
  const ctx = context();
  const failed = task('a', svc, { slot: 0, node: 'n1', state: 'failed', desired: 'complete' });
  failed.JobIteration = { Index: 0 };
  const r = reconcileReplicatedJob({ service: svc, tasks: [failed], nodes: [node('n1')] }, ctx);
  assert.deepEqual(r.updateTasks, [{ ID: 'a', DesiredState: 'shutdown' }]);
  assert.deepEqual(
    r.createTasks.map((t) => [t.Slot, t.DesiredState]),
    [[0, 'ready']],
  );
  const tasks = apply([failed], r);
  ctx.advance(5 * SEC);
  const promoted = reconcileReplicatedJob({ service: svc, tasks, nodes: [node('n1')] }, ctx);
  assert.deepEqual(promoted.updateTasks, [{ ID: r.createTasks[0]!.ID, DesiredState: 'complete' }]);

  const done = task('b', svc, { slot: 0, node: 'n1', state: 'complete', desired: 'complete' });
  done.JobIteration = { Index: 0 };
  const rerun = reconcileReplicatedJob({ service: job(1, 1, 1), tasks: [done], nodes: [node('n1')] }, ctx);
  assert.deepEqual(rerun.updateTasks, [{ ID: 'b', DesiredState: 'remove' }]);
  assert.deepEqual(
    rerun.createTasks.map((t) => [t.Slot, t.JobIteration?.Index]),
    [[0, 1]],
  );
});

test('a global job runs once per eligible node and not again where it completed', () => {
  const svc = service('gj', { Mode: { GlobalJob: {} } }, { JobStatus: { JobIteration: { Index: 0 } } });
  const nodes = [node('n1'), node('n2'), node('n3', { availability: 'drain' })];
  const done = task('a', svc, { slot: 0, node: 'n1', state: 'complete', desired: 'complete' });
  done.JobIteration = { Index: 0 };
  const plan = reconcileGlobalJob({ service: svc, tasks: [done], nodes }, context());
  assert.deepEqual(
    plan.createTasks.map((t) => [t.NodeID, t.DesiredState]),
    [['n2', 'complete']],
  );
  assert.deepEqual(plan.updateTasks, []);
});

test('property: the reaper keeps at most TaskHistoryRetentionLimit tasks per slot, never deleting live ones', () => {
  const states: TaskState[] = ['running', 'failed', 'shutdown', 'complete', 'rejected', 'pending'];
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          slot: fc.integer({ min: 1, max: 3 }),
          state: fc.constantFrom(...states),
          age: fc.nat(1000),
        }),
        {
          maxLength: 40,
        },
      ),
      fc.integer({ min: 0, max: 6 }),
      (specs, limit) => {
        const svc = service('web');
        const tasks = specs.map((s, i) =>
          task(`t${i}`, svc, {
            slot: s.slot,
            state: s.state,
            desired: s.state === 'running' || s.state === 'pending' ? 'running' : 'shutdown',
            at: T0 - s.age * SEC,
          }),
        );
        const deleted = new Set(reapTasks(tasks, new Map([[svc.ID, svc]]), limit));
        for (const slot of [1, 2, 3]) {
          const inSlot = tasks.filter((t) => t.Slot === slot);
          const kept = inSlot.filter((t) => !deleted.has(t.ID));
          const live = inSlot.filter((t) => t.DesiredState === 'running');
          for (const t of live) assert.ok(!deleted.has(t.ID), 'a live task was reaped');
          assert.ok(
            kept.length <= Math.max(limit, live.length),
            `slot ${slot} keeps ${kept.length} > ${limit}`,
          );
          // The oldest go first: every kept history task is newer than every deleted one.
          const keptHistory = kept.filter((t) => t.DesiredState !== 'running');
          const gone = inSlot.filter((t) => deleted.has(t.ID));
          for (const k of keptHistory)
            for (const g of gone) assert.ok(Date.parse(k.Status.Timestamp) >= Date.parse(g.Status.Timestamp));
        }
      },
    ),
    { numRuns: 200 },
  );
});

test('the reaper keeps MaxAttempts+1 tasks per slot, deletes removed tasks once stopped, and orphans of deleted services', () => {
  const svc = service('web', {
    TaskTemplate: { ContainerSpec: { Image: 'b' }, RestartPolicy: { MaxAttempts: 7 } },
  });
  const history = Array.from({ length: 10 }, (_, i) =>
    task(`h${i}`, svc, { slot: 1, state: 'failed', desired: 'shutdown', at: T0 + i * SEC }),
  );
  assert.deepEqual(reapTasks(history, new Map([[svc.ID, svc]]), 5), ['h0', 'h1']);
  const removed = [
    task('r1', svc, { slot: 2, node: 'n1', state: 'shutdown', desired: 'remove' }),
    task('r2', svc, { slot: 3, node: 'n1', state: 'running', desired: 'remove' }),
    task('r3', svc, { slot: 4, state: 'pending', desired: 'remove' }),
  ];
  assert.deepEqual(reapTasks(removed, new Map([[svc.ID, svc]])).sort(), ['r1', 'r3']);
  const orphan = task('o', svc, { state: 'orphaned', desired: 'shutdown' });
  assert.deepEqual(reapTasks([orphan, task('p', svc, { state: 'running' })], new Map()), ['o']);
  assert.deepEqual(
    reapTasks(history, new Map([[svc.ID, service('web')]]), -1),
    [],
    'negative limit: keep all',
  );
});

test('a global service update replaces tasks node by node, each new task pre-assigned to its node', () => {
  const v1 = service('g', { Mode: { Global: {} } });
  const v2 = service(
    'g',
    { Mode: { Global: {} }, TaskTemplate: { ContainerSpec: { Image: 'busybox:2' } } },
    { SpecVersion: { Index: 2 }, PreviousSpec: v1.Spec },
  );
  const nodes = [node('n1'), node('n2')];
  const tasks = [task('a', v1, { node: 'n1', slot: 0 }), task('b', v1, { node: 'n2', slot: 0 })];
  const r = reconcileGlobal({ service: v2, tasks, nodes }, context());
  assert.equal(r.plan.updateService?.UpdateStatus?.State, 'updating');
  assert.deepEqual(
    r.plan.createTasks.map((t) => [t.NodeID, t.DesiredState, t.Spec.ContainerSpec?.Image]),
    [['n1', 'ready', 'busybox:2']],
  );
  assert.deepEqual(r.plan.updateTasks, [{ ID: 'a', DesiredState: 'shutdown' }]);
  assert.ok(r.updater, 'the update goes on in later steps');
});
