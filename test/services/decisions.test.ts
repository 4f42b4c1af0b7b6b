// Pure regression tests for orchestrator/updater bugs found by the end-to-end service tests: each
// states the behaviour the e2e run showed broken, on the decision functions alone (fast, exact).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { serviceStatus } from '../../src/manager/controlapi/services.js';
import { enforceConstraints } from '../../src/manager/orchestrator/constraintenforcer.js';
import { reconcileReplicated } from '../../src/manager/orchestrator/replicated.js';
import { apply, context, node, observe, service, T0, task } from '../manager/fixtures.js';

const SEC = 1000;

test('a replacement rejected while held at READY is retried only after its restart delay (no tight loop on a missing image)', () => {
  const svc = service('noimg', {
    TaskTemplate: {
      ContainerSpec: { Image: 'nosuchimage:1' },
      RestartPolicy: { Condition: 'any', Delay: 5 * SEC * 1e6 },
    },
  });
  const nodes = [node('n1')];
  const ctx = context(T0);
  // The first task is rejected by the agent (no such image) and replaced at once, held at READY.
  let tasks = [task('a', svc, { slot: 1, node: 'n1', state: 'rejected', at: T0, createdAt: T0 })];
  const r1 = reconcileReplicated({ service: svc, tasks, nodes }, ctx);
  assert.equal(r1.plan.createTasks.length, 1);
  const held = r1.plan.createTasks[0]!;
  assert.equal(held.DesiredState, 'ready');
  tasks = apply(tasks, r1.plan);

  // The agent prepares a task held at READY: with no image it is rejected straight away.
  ctx.advance(100);
  tasks = observe(tasks, held.ID, 'rejected', ctx.now, 'n1');
  const early = reconcileReplicated({ service: svc, tasks, nodes }, ctx);
  assert.deepEqual(early.plan.createTasks, [], 'restarted again before its delay was over');
  assert.deepEqual(early.plan.updateTasks, []);
  assert.equal(early.plan.wakeAt, T0 + 5 * SEC);

  // Once the held task's delay is over it is replaced, and the new replacement waits a delay again.
  ctx.advance(5 * SEC);
  const due = reconcileReplicated({ service: svc, tasks, nodes }, ctx);
  assert.deepEqual(due.plan.updateTasks, [{ ID: held.ID, DesiredState: 'shutdown' }]);
  assert.equal(due.plan.createTasks.length, 1);
  assert.equal(due.plan.createTasks[0]?.DesiredState, 'ready');
  assert.equal(due.plan.wakeAt, ctx.now + 5 * SEC);
});

test('a finished replicated job of 2 reports Desired = MaxConcurrent and counts only its current iteration (service ls "0/2 (2/2 completed)")', () => {
  const job = service(
    'job',
    { Mode: { ReplicatedJob: { MaxConcurrent: 2, TotalCompletions: 2 } } },
    { JobStatus: { JobIteration: { Index: 2 }, LastExecution: new Date(T0).toISOString() } },
  );
  const done = (id: string, slot: number, iteration: number) => ({
    ...task(id, job, { slot, node: 'n1', state: 'complete', desired: 'complete' }),
    JobIteration: { Index: iteration },
  });
  const tasks = [done('old', 0, 1), done('a', 0, 2), done('b', 1, 2)];
  assert.deepEqual(
    serviceStatus(job, tasks, () => true),
    {
      RunningTasks: 0,
      DesiredTasks: 2,
      CompletedTasks: 2,
    },
  );
});

test('a scale in the middle of a rolling update (UpdateStatus cleared) puts the update back to "updating" while slots are dirty', () => {
  const v1 = { ContainerSpec: { Image: 'busybox:1' } };
  const v2 = { ContainerSpec: { Image: 'busybox:2' } };
  const old = service('web', { TaskTemplate: v1, Mode: { Replicated: { Replicas: 2 } } });
  let tasks = [1, 2].map((slot) => task(`old${slot}`, old, { slot, node: 'n1', specVersion: 1 }));
  const updated = service(
    'web',
    { TaskTemplate: v2, Mode: { Replicated: { Replicas: 2 } }, UpdateConfig: { Parallelism: 1 } },
    { SpecVersion: { Index: 2 }, PreviousSpec: old.Spec },
  );
  const nodes = [node('n1')];
  const ctx = context(T0);
  const r1 = reconcileReplicated({ service: updated, tasks, nodes }, ctx);
  assert.equal(r1.plan.updateService?.UpdateStatus?.State, 'updating');
  tasks = apply(tasks, r1.plan);

  // `docker service scale web=3`: a spec update that clears UpdateStatus but not the task spec.
  ctx.advance(100);
  const scaled = { ...updated, Spec: { ...updated.Spec, Mode: { Replicated: { Replicas: 3 } } } };
  const r2 = reconcileReplicated({ service: scaled, tasks, nodes, updater: r1.updater }, ctx);
  assert.deepEqual(r2.plan.updateService?.UpdateStatus, {
    State: 'updating',
    StartedAt: new Date(ctx.now).toISOString(),
    Message: 'update in progress',
  });
});

test('constraint enforcer: a running task whose node lost the required label is rejected "assigned node no longer meets constraints"', () => {
  const svc = service('x', {
    TaskTemplate: { ContainerSpec: { Image: 'busybox:1' }, Placement: { Constraints: ['node.labels.x==y'] } },
  });
  const running = task('a', svc, { slot: 1, node: 'n1', state: 'running' });
  const shuttingDown = task('b', svc, { slot: 2, node: 'n1', state: 'running', desired: 'shutdown' });
  const labelled = new Map([['n1', node('n1', { labels: { x: 'y' } })]]);
  assert.deepEqual(enforceConstraints(labelled, [running, shuttingDown], T0), []);
  const unlabelled = new Map([['n1', node('n1')]]);
  const updates = enforceConstraints(unlabelled, [running, shuttingDown], T0 + 1000);
  assert.deepEqual(
    updates.map((u) => [u.ID, u.Status?.State, u.Status?.Message, u.Status?.Err, u.Status?.Timestamp]),
    [
      [
        'a',
        'rejected',
        'task rejected by constraint enforcer',
        'assigned node no longer meets constraints',
        new Date(T0 + 1000).toISOString(),
      ],
    ],
  );
});
