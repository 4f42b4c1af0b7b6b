// End to end on a real swarmd: tasks that die are replaced per the restart policy (kill → failed 137
// and a replacement in the same slot after the delay; on-failure with MaxAttempts; none), jobs run
// to completion once, a missing image is retried once per delay, and an unsatisfiable constraint
// leaves the task pending with the scheduler's reason.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  type ApiTask,
  type Cluster,
  inSlot,
  ok,
  serviceSpec,
  sleep,
  startCluster,
  waitFor,
} from './cluster.js';

let c: Cluster;

before(async () => {
  c = await startCluster();
});

after(async () => {
  await c?.destroy();
});

const FAIL = ['sh', '-c', 'exit 1'];

describe('self-healing', () => {
  test('killing a task container fails the task "task: non-zero exit (137)" and the slot runs a new task after the restart delay', async () => {
    const id = await c.createService(serviceSpec('heal', { replicas: 1, restart: { delayS: 1 } }));
    const first = await waitFor('the task to run', async () => {
      const t = (await c.tasks(id))[0];
      return t?.Status.State === 'running' && t.Status.ContainerStatus?.ContainerID ? t : undefined;
    });
    const killed = Date.now();
    ok(await c.api('POST', `/containers/${first.Status.ContainerStatus?.ContainerID}/kill`), 'kill');
    const failed = await waitFor('the killed task to be failed', async () => {
      const t = (await c.tasks(id)).find((x) => x.ID === first.ID);
      return t?.Status.State === 'failed' ? t : undefined;
    });
    assert.equal(failed.Status.Err, 'task: non-zero exit (137)');
    assert.equal(failed.Status.ContainerStatus?.ExitCode, 137);
    const replacement = await waitFor('a replacement in slot 1 to run', async () => {
      const t = inSlot(await c.tasks(id), 1)[0];
      return t && t.ID !== first.ID && t.Status.State === 'running' ? t : undefined;
    });
    assert.equal(replacement.DesiredState, 'running');
    const ranAfter = Date.parse(replacement.Status.Timestamp) - killed;
    assert.ok(ranAfter >= 900, `replacement ran ${ranAfter} ms after the kill: the 1 s delay was not kept`);
    const old = (await c.tasks(id)).find((x) => x.ID === first.ID);
    assert.equal(old?.DesiredState, 'shutdown');
    const ctrs = (await c.containers(false)).filter((x) => x.Labels['com.docker.swarm.service.id'] === id);
    assert.deepEqual(
      ctrs.map((x) => x.Names[0]),
      [`/heal.1.${replacement.ID}`],
    );
    await c.removeService(id);
  });

  test('on-failure with MaxAttempts 2: a command exiting 1 is restarted exactly twice, then the slot stays down', async () => {
    const id = await c.createService(
      serviceSpec('onfail', {
        args: FAIL,
        restart: { condition: 'on-failure', delayS: 0.2, maxAttempts: 2 },
      }),
    );
    const three = await waitFor('three failed tasks in slot 1', async () => {
      const ts = inSlot(await c.tasks(id), 1);
      return ts.length >= 3 && ts.every((t) => t.Status.State === 'failed') ? ts : undefined;
    });
    await sleep(1500);
    const after = inSlot(await c.tasks(id), 1);
    assert.deepEqual(
      after.map((t) => [t.Status.State, t.Status.Err]),
      [
        ['failed', 'task: non-zero exit (1)'],
        ['failed', 'task: non-zero exit (1)'],
        ['failed', 'task: non-zero exit (1)'],
      ],
    );
    assert.deepEqual(
      after.map((t) => t.ID),
      three.map((t) => t.ID),
    );
    const ls = await c.docker(['service', 'ls', '--filter', 'name=onfail', '--format', '{{.Replicas}}']);
    assert.equal(ls.stdout.trim(), '0/1');
    await c.removeService(id);
  });

  test('restart condition none: a failed task is not replaced', async () => {
    const id = await c.createService(
      serviceSpec('norestart', { args: FAIL, restart: { condition: 'none', delayS: 0 } }),
    );
    await waitFor('the task to fail', async () =>
      (await c.tasks(id))[0]?.Status.State === 'failed' ? true : undefined,
    );
    await sleep(1500);
    const tasks = await c.tasks(id);
    assert.equal(tasks.length, 1, JSON.stringify(tasks.map((t) => [t.Slot, t.Status.State])));
    await c.removeService(id);
  });

  test('a replicated job of 2 running `true` completes 2 tasks, is not restarted, and service ls shows 0/2 (2/2 completed)', async () => {
    const id = await c.createService(
      serviceSpec('job', { mode: 'replicated-job', replicas: 2, args: ['true'] }),
    );
    await waitFor('2 complete tasks', async () => {
      const ts = await c.tasks(id);
      return ts.length === 2 && ts.every((t) => t.Status.State === 'complete') ? true : undefined;
    });
    await sleep(1500);
    const tasks = await c.tasks(id);
    assert.deepEqual(
      tasks.map((t) => [t.Status.State, t.Status.Message, t.DesiredState]),
      [
        ['complete', 'finished', 'complete'],
        ['complete', 'finished', 'complete'],
      ],
    );
    const ls = await c.docker([
      'service',
      'ls',
      '--filter',
      'name=job',
      '--format',
      '{{.Mode}} {{.Replicas}}',
    ]);
    assert.equal(ls.stdout.trim(), 'replicated job 0/2 (2/2 completed)');
    await c.removeService(id);
  });
});

/** `docker service ps` rows: [name, desired, current state, error] split on the table's gaps. */
function psRows(out: string): string[][] {
  return out
    .trimEnd()
    .split('\n')
    .slice(1)
    .map((l) => l.split(/ {3,}/).map((x) => x.trim()));
}

describe('tasks that cannot run', () => {
  test('a missing image: tasks are Rejected "No such image: nosuchimage:1" and retried once per restart delay', async () => {
    const id = await c.createService(
      serviceSpec('noimg', { image: 'nosuchimage:1', restart: { delayS: 1 } }),
    );
    const seen = new Set<string>();
    const started = Date.now();
    let latest: ApiTask[] = [];
    while (Date.now() - started < 3500) {
      latest = await c.tasks(id);
      for (const t of latest) seen.add(t.ID);
      await sleep(100);
    }
    // The first task, its immediate replacement (rejected while held), then one attempt a second.
    assert.ok(seen.size >= 3 && seen.size <= 6, `${seen.size} tasks in 3.5 s: ${[...seen].join(' ')}`);
    const rejected = latest.filter((t) => t.Status.State === 'rejected');
    assert.ok(rejected.length >= 2);
    for (const t of rejected) assert.equal(t.Status.Err, 'No such image: nosuchimage:1');
    const ps = await c.docker(['service', 'ps', 'noimg']);
    assert.equal(ps.code, 0, ps.stderr);
    const rows = psRows(ps.stdout);
    const rejectedRows = rows.filter((r) => r.some((x) => x.startsWith('Rejected ')));
    assert.ok(rejectedRows.length >= 2, ps.stdout);
    for (const r of rejectedRows) assert.ok(r.includes('"No such image: nosuchimage:1"'), ps.stdout);
    assert.match(ps.stdout, /\n\S+ {3,}noimg\.1 {3,}nosuchimage:1 /);
    assert.match(ps.stdout, /\n\S+ {4}\\_ noimg\.1 {3,}nosuchimage:1 {3,}vm {3,}Shutdown {3,}Rejected /);
    await c.removeService(id);
  });

  test('an impossible constraint leaves the task Pending "no suitable node (scheduling constraints not satisfied on 1 node)"', async () => {
    const id = await c.createService(serviceSpec('x', { constraints: ['node.labels.x==y'] }));
    const t = await waitFor('the scheduler to explain', async () => {
      const ts = await c.tasks(id);
      return ts[0]?.Status.Err ? ts[0] : undefined;
    });
    assert.equal(t.Status.State, 'pending');
    assert.equal(t.Status.Err, 'no suitable node (scheduling constraints not satisfied on 1 node)');
    assert.equal(t.NodeID ?? '', '');
    const ps = await c.docker(['service', 'ps', 'x']);
    assert.deepEqual(
      psRows(ps.stdout).map((r) => [
        r[1],
        r[2],
        r[3],
        r[4]?.replace(/ (\d+ seconds?|less than a second) ago$/, ''),
        r[5],
      ]),
      [['x.1', 'busybox:latest', 'Running', 'Pending', '"no suitable node (scheduling …"']],
    );
    const full = await c.docker(['service', 'ps', '--no-trunc', 'x']);
    assert.match(
      full.stdout,
      / {3}"no suitable node \(scheduling constraints not satisfied on 1 node\)" {3}/,
    );
    await sleep(1000);
    const still = await c.tasks(id);
    assert.deepEqual(
      still.map((x) => x.Status.State),
      ['pending'],
    );
  });

  test('the node gaining the label runs the pending task; losing it makes the constraint enforcer reject the task and its replacement waits', async () => {
    const id = (await c.service('x')).ID;
    const add = await c.docker(['node', 'update', '--label-add', 'x=y', 'self']);
    assert.equal(add.code, 0, add.stderr);
    const placed = await waitFor('the pending task to run', async () => {
      const t = (await c.tasks(id))[0];
      return t?.Status.State === 'running' ? t : undefined;
    });
    const rm = await c.docker(['node', 'update', '--label-rm', 'x', 'self']);
    assert.equal(rm.code, 0, rm.stderr);
    const rejected = await waitFor('the constraint enforcer to reject the task', async () => {
      const t = (await c.tasks(id)).find((x) => x.ID === placed.ID);
      return t?.Status.State === 'rejected' ? t : undefined;
    });
    assert.equal(rejected.Status.Message, 'task rejected by constraint enforcer');
    assert.equal(rejected.Status.Err, 'assigned node no longer meets constraints');
    await waitFor('the container gone and a replacement pending', async () => {
      const ts = await c.tasks(id);
      const fresh = ts.find((x) => x.ID !== placed.ID);
      const ctrs = (await c.containers(false)).filter((x) => x.Labels['com.docker.swarm.service.id'] === id);
      return fresh?.Status.State === 'pending' &&
        fresh.Status.Err === 'no suitable node (scheduling constraints not satisfied on 1 node)' &&
        ctrs.length === 0
        ? true
        : undefined;
    });
    await c.removeService(id);
  });
});
