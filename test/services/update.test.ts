// End to end on a real swarmd: rolling updates replace tasks slot by slot (parallelism 1, delay 1 s)
// and end "update completed"; a manual rollback restores the previous spec; a failing update with
// failure action rollback rolls itself back; start-first keeps the old task running until the new
// one runs.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  type ApiService,
  type ApiTask,
  type Cluster,
  LONG_RUNNING,
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

interface Sample {
  at: number;
  tasks: ApiTask[];
  service: ApiService;
}

/** Polls tasks and service every 50 ms until `done` holds for a sample (or the timeout). */
async function sampleUntil(id: string, done: (s: Sample) => boolean, timeoutMs = 30_000): Promise<Sample[]> {
  const out: Sample[] = [];
  const end = Date.now() + timeoutMs;
  for (;;) {
    const s = { at: Date.now(), tasks: await c.tasks(id), service: await c.service(id) };
    out.push(s);
    if (done(s)) return out;
    if (Date.now() > end) {
      const last = s.tasks.map((t) => [t.Slot, t.DesiredState, t.Status.State, t.Spec.ContainerSpec?.Env]);
      throw new Error(
        `timed out; last UpdateStatus ${JSON.stringify(s.service.UpdateStatus)} tasks ${JSON.stringify(last)}`,
      );
    }
    await sleep(50);
  }
}

const hasEnv = (t: ApiTask, e: string) => (t.Spec.ContainerSpec?.Env ?? []).includes(e);
const running = (tasks: ApiTask[]) => tasks.filter((t) => t.Status.State === 'running');

async function allRunning(id: string, n: number): Promise<ApiTask[]> {
  return waitFor(`${n} running tasks`, async () => {
    const r = running(await c.tasks(id));
    return r.length === n ? r : undefined;
  });
}

async function withEnv(id: string, env: string[] | undefined): Promise<void> {
  await c.updateService(id, (spec) => ({
    ...spec,
    TaskTemplate: {
      ...spec.TaskTemplate,
      ContainerSpec: { ...spec.TaskTemplate.ContainerSpec, Env: env },
    },
  }));
}

describe('rolling update and rollback', () => {
  let id = '';

  test('an env change with parallelism 1 and delay 1 s replaces one slot at a time and ends "update completed"', async () => {
    id = await c.createService(serviceSpec('roll', { replicas: 3, update: { parallelism: 1, delayS: 1 } }));
    const before = await allRunning(id, 3);
    await withEnv(id, ['X=1']);
    const samples = await sampleUntil(id, (s) => s.service.UpdateStatus?.State === 'completed');
    const states = new Set(samples.map((s) => s.service.UpdateStatus?.State));
    assert.ok(states.has('updating'), `never saw "updating": ${[...states].join(',')}`);
    const last = samples.at(-1) as Sample;
    assert.equal(last.service.UpdateStatus?.Message, 'update completed');
    // At most one slot is without a running task at any moment.
    for (const s of samples) {
      const up = new Set(running(s.tasks).map((t) => t.Slot));
      assert.ok(3 - up.size <= 1, `slots ${[1, 2, 3].filter((x) => !up.has(x))} down at once`);
    }
    // New tasks came up one by one, at least the delay apart.
    const startedAt = (slot: number) =>
      Math.min(
        ...samples.flatMap((s) =>
          s.tasks
            .filter((t) => t.Slot === slot && hasEnv(t, 'X=1') && t.Status.State === 'running')
            .map(() => s.at),
        ),
      );
    const times = [1, 2, 3].map(startedAt).sort((a, b) => a - b);
    assert.ok(times.every(Number.isFinite), 'a slot never ran the new spec');
    for (let i = 1; i < times.length; i++) {
      const gap = (times[i] as number) - (times[i - 1] as number);
      assert.ok(gap >= 900, `slots came up ${gap} ms apart (update delay is 1 s)`);
    }
    const now = running(last.tasks);
    assert.equal(now.length, 3);
    for (const t of now) assert.ok(hasEnv(t, 'X=1'));
    const oldIds = new Set(before.map((t) => t.ID));
    for (const t of last.tasks.filter((x) => oldIds.has(x.ID))) assert.equal(t.DesiredState, 'shutdown');
  });

  test('service rollback restores the previous spec and ends rollback_completed', async () => {
    const r = await c.docker(['service', 'rollback', '-d', 'roll']);
    assert.equal(r.code, 0, r.stderr);
    const samples = await sampleUntil(id, (s) => s.service.UpdateStatus?.State === 'rollback_completed');
    const last = samples.at(-1) as Sample;
    assert.equal(last.service.UpdateStatus?.Message, 'rollback completed');
    assert.equal(last.service.Spec.TaskTemplate.ContainerSpec.Env, undefined);
    const now = running(last.tasks);
    assert.equal(now.length, 3);
    for (const t of now) assert.ok(!hasEnv(t, 'X=1'), 'a task still runs the rolled-back spec');
    const raw = ok(await c.api('GET', `/services/${id}`), 'inspect').json<{
      PreviousSpec?: { TaskTemplate: { ContainerSpec: { Env?: string[] } } };
    }>();
    assert.deepEqual(raw.PreviousSpec?.TaskTemplate.ContainerSpec.Env, ['X=1']);
    await c.removeService(id);
  });

  test('an update whose tasks exit 1, with failure action rollback, rolls back on its own to the old spec', async () => {
    const sid = await c.createService(
      serviceSpec('autoroll', { replicas: 2, update: { failureAction: 'rollback', monitorS: 2 } }),
    );
    await allRunning(sid, 2);
    await c.updateService(sid, (spec) => ({
      ...spec,
      TaskTemplate: {
        ...spec.TaskTemplate,
        ContainerSpec: { ...spec.TaskTemplate.ContainerSpec, Args: ['sh', '-c', 'sleep 0.3; exit 1'] },
      },
    }));
    const samples = await sampleUntil(sid, (s) => s.service.UpdateStatus?.State === 'rollback_completed');
    const messages = samples.map((s) => s.service.UpdateStatus?.Message ?? '');
    assert.ok(
      messages.some((m) =>
        /^update rolled back due to failure or early termination of task [0-9a-z]{25}$/.test(m),
      ),
      `no automatic rollback message among ${[...new Set(messages)].join(' | ')}`,
    );
    const last = samples.at(-1) as Sample;
    assert.deepEqual(last.service.Spec.TaskTemplate.ContainerSpec.Args, LONG_RUNNING);
    const now = await allRunning(sid, 2);
    for (const t of now) assert.deepEqual(t.Spec.ContainerSpec?.Args, LONG_RUNNING);
    await c.removeService(sid);
  });

  test('start-first: the old task keeps running until its replacement runs', async () => {
    const sid = await c.createService(serviceSpec('sf', { replicas: 1, update: { order: 'start-first' } }));
    const [old] = await allRunning(sid, 1);
    await withEnv(sid, ['Y=2']);
    const samples = await sampleUntil(sid, (s) => s.service.UpdateStatus?.State === 'completed');
    for (const s of samples) {
      const up = running(s.tasks);
      assert.ok(
        up.length >= 1,
        `no task running at ${s.at}: ${JSON.stringify(s.tasks.map((t) => t.Status.State))}`,
      );
      const fresh = s.tasks.find((t) => hasEnv(t, 'Y=2'));
      if (fresh?.Status.State !== 'running') {
        assert.ok(
          up.some((t) => t.ID === old?.ID),
          'the old task stopped before the new one ran',
        );
      }
    }
    const last = samples.at(-1) as Sample;
    const [fresh] = running(last.tasks);
    assert.ok(fresh && hasEnv(fresh, 'Y=2'), 'the new task runs');
    // The overlap can be shorter than a poll: the agents' own timestamps tell the order.
    const stopped = last.tasks.find((t) => t.ID === old?.ID);
    assert.ok(stopped && running([stopped]).length === 0, 'the old task is down');
    assert.ok(
      Date.parse(stopped.Status.Timestamp) >= Date.parse(fresh.Status.Timestamp),
      `the old task stopped (${stopped.Status.Timestamp}) before the new one ran (${fresh.Status.Timestamp})`,
    );
    await c.removeService(sid);
  });
});
