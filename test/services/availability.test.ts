// End to end on a real swarmd (one node): draining the node shuts its tasks down and leaves their
// replacements pending; making it active again runs them; pausing it keeps running tasks but places
// no new ones.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type ApiTask, type Cluster, serviceSpec, sleep, startCluster, waitFor } from './cluster.js';

let c: Cluster;

before(async () => {
  c = await startCluster();
});

after(async () => {
  // Whatever a failed test left, the node must be active for the teardown's removals.
  await c?.docker(['node', 'update', '--availability', 'active', 'self']).catch(() => undefined);
  await c?.destroy();
});

const NOT_AVAILABLE = 'no suitable node (1 node not available for new tasks)';

async function availability(a: 'active' | 'pause' | 'drain'): Promise<void> {
  const r = await c.docker(['node', 'update', '--availability', a, 'self']);
  assert.equal(r.code, 0, r.stderr);
  const inspect = await c.docker(['node', 'inspect', 'self', '--format', '{{.Spec.Availability}}']);
  assert.equal(inspect.stdout.trim(), a);
}

const live = (tasks: ApiTask[]) => tasks.filter((t) => t.DesiredState === 'running');

describe('node availability', () => {
  test('drain shuts the tasks down and their replacements stay Pending; active again runs them', async () => {
    const id = await c.createService(serviceSpec('dr', { replicas: 2 }));
    const before = await waitFor('2 running tasks', async () => {
      const ts = (await c.tasks(id)).filter((t) => t.Status.State === 'running');
      return ts.length === 2 ? ts : undefined;
    });
    await availability('drain');
    const drained = await waitFor('tasks shut down and replacements pending', async () => {
      const ts = await c.tasks(id);
      const old = ts.filter((t) => before.some((b) => b.ID === t.ID));
      const fresh = live(ts);
      const ctrs = (await c.containers(false)).filter((x) => x.Labels['com.docker.swarm.service.id'] === id);
      return old.every((t) => t.Status.State === 'shutdown' && t.DesiredState === 'shutdown') &&
        fresh.length === 2 &&
        fresh.every((t) => t.Status.State === 'pending' && t.Status.Err === NOT_AVAILABLE) &&
        ctrs.length === 0
        ? fresh
        : undefined;
    });
    assert.deepEqual(drained.map((t) => t.Slot).sort(), [1, 2]);
    const ps = await c.docker(['service', 'ps', '--no-trunc', 'dr']);
    assert.match(ps.stdout, new RegExp(`Pending [^"]+"${NOT_AVAILABLE.replace(/[()]/g, '\\$&')}"`));
    await sleep(1000);
    assert.deepEqual(
      live(await c.tasks(id)).map((t) => t.Status.State),
      ['pending', 'pending'],
    );

    await availability('active');
    await waitFor('the pending replacements to run', async () => {
      const ts = live(await c.tasks(id));
      return ts.length === 2 && ts.every((t) => t.Status.State === 'running') ? true : undefined;
    });
    const running = live(await c.tasks(id));
    assert.deepEqual(running.map((t) => t.ID).sort(), drained.map((t) => t.ID).sort());
    await c.removeService(id);
  });

  test('pause keeps running tasks running but places no new task until active', async () => {
    const id = await c.createService(serviceSpec('pz', { replicas: 1 }));
    const [first] = await waitFor('the task to run', async () => {
      const ts = (await c.tasks(id)).filter((t) => t.Status.State === 'running');
      return ts.length === 1 ? ts : undefined;
    });
    await availability('pause');
    const scale = await c.docker(['service', 'scale', '-d', 'pz=2']);
    assert.equal(scale.code, 0, scale.stderr);
    const pending = await waitFor('the new slot to be pending', async () => {
      const t = (await c.tasks(id)).find((x) => x.Slot === 2);
      return t?.Status.Err === NOT_AVAILABLE ? t : undefined;
    });
    assert.equal(pending.Status.State, 'pending');
    await sleep(1000);
    const ts = await c.tasks(id);
    assert.equal(ts.find((t) => t.ID === first?.ID)?.Status.State, 'running', 'pause stopped a running task');
    assert.equal(ts.find((t) => t.ID === pending.ID)?.Status.State, 'pending');

    await availability('active');
    await waitFor('slot 2 to run', async () =>
      (await c.tasks(id)).find((x) => x.ID === pending.ID)?.Status.State === 'running' ? true : undefined,
    );
    await c.removeService(id);
  });
});
