// The agent's view: Executor/Controller over real containers and over the simulated executor.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RuncExecutor } from '../../src/executor/runc/executor.js';
import { SimExecutor } from '../../src/executor/sim/executor.js';
import type { ContainerSpec, ExecutorTask } from '../../src/executor/types.js';
import { census, type Harness, makeHarness, scrub, until } from './fixtures.js';

function task(n: number, spec: Omit<ContainerSpec, 'Image'>, slot = n): ExecutorTask {
  const id = `task${String(n).padStart(21, '0')}`;
  return {
    ID: id,
    ServiceID: 'svc000000000000000000000001',
    ServiceName: 'app',
    Slot: slot,
    NodeID: 'node00000000000000000000001',
    Spec: { ContainerSpec: { Image: 'bb', ...spec } },
  };
}

describe('runc controller', () => {
  let h: Harness;
  before(async () => {
    h = await makeHarness();
  });
  after(() => {
    if (!h) return;
    h.runtime.close();
    scrub(h);
  });

  test('prepare is idempotent, start runs the task, wait reports its exit code, remove cleans up', async () => {
    const t = task(1, { Args: ['sh', '-c', 'sleep 0.2; exit 4'] });
    const ctl = new RuncExecutor(h.runtime).controller(t);
    await ctl.prepare();
    await ctl.prepare();
    assert.equal(h.runtime.list().length, 1);
    const rec = h.runtime.get(`app.1.${t.ID}`);
    assert.deepEqual(
      {
        task: rec.Labels['com.docker.swarm.task.id'],
        name: rec.Labels['com.docker.swarm.task.name'],
        svc: rec.Labels['com.docker.swarm.service.name'],
      },
      { task: t.ID, name: `app.1.${t.ID}`, svc: 'app' },
    );
    await ctl.start();
    await ctl.start();
    assert.deepEqual(await ctl.wait(), { kind: 'exited', ExitCode: 4, OOMKilled: false });
    assert.equal((await ctl.status())?.ExitCode, 4);
    await ctl.remove();
    assert.equal(await ctl.status(), undefined);
  });

  test('a global task is named after the node; start waits for healthy; wait ends "unhealthy" when the check fails later; shutdown stops it', async () => {
    const t = task(
      2,
      {
        Args: ['sleep', '1000'],
        StopGracePeriod: 200_000_000,
        Healthcheck: { Test: ['CMD-SHELL', 'test ! -e /tmp/bad'], Interval: 100_000_000, Retries: 1 },
      },
      0,
    );
    const ctl = new RuncExecutor(h.runtime).controller(t);
    await ctl.prepare();
    const rec = h.runtime.get(`app.${t.NodeID}.${t.ID}`);
    await ctl.start();
    assert.equal(h.runtime.healthOf(rec.Id)?.Status, 'healthy');
    await h.runtime.execSync(rec.Id, ['touch', '/tmp/bad']);
    assert.deepEqual(await ctl.wait(), { kind: 'unhealthy' });
    await ctl.shutdown();
    assert.deepEqual(await ctl.wait(), { kind: 'exited', ExitCode: 137, OOMKilled: false });
    await ctl.remove();
  });

  test('start fails when the container turns unhealthy before it was ever healthy', async () => {
    const ctl = new RuncExecutor(h.runtime).controller(
      task(4, {
        Args: ['sleep', '1000'],
        StopGracePeriod: 0,
        Healthcheck: { Test: ['CMD', 'false'], Interval: 100_000_000, Retries: 1 },
      }),
    );
    await ctl.prepare();
    await assert.rejects(ctl.start(), /unhealthy/);
    await ctl.shutdown();
    await ctl.remove();
  });

  test('terminate kills at once, and describe reports this node', async () => {
    const ex = new RuncExecutor(h.runtime);
    const d = await ex.describe();
    assert.equal(d.Platform.OS, 'linux');
    assert.ok(d.Resources.NanoCPUs >= 1e9 && d.Resources.MemoryBytes > 0);
    const ctl = ex.controller(task(3, { Args: ['sleep', '1000'] }));
    await ctl.prepare();
    await ctl.start();
    await ctl.terminate();
    assert.deepEqual(await ctl.wait(), { kind: 'exited', ExitCode: 137, OOMKilled: false });
    await ctl.remove();
    await until(() => census(h).conmons.length === 0, 5000, 'conmons to exit');
    assert.deepEqual(census(h), { mounts: [], cgroups: [], conmons: [], bundles: [] });
  });
});

describe('simulated executor', () => {
  test('containers run at once and exit only when told; shutdown, terminate and unhealthy resolve wait', async () => {
    const sim = new SimExecutor({ images: ['bb'] });
    const a = sim.controller(task(1, { Args: ['x'] }));
    await a.prepare();
    await a.start();
    assert.equal(sim.running(), 1);
    const waiting = a.wait();
    sim.exit(task(1, {}).ID, 3);
    assert.deepEqual(await waiting, { kind: 'exited', ExitCode: 3, OOMKilled: false });
    const b = sim.controller(task(2, {}));
    await b.prepare();
    await b.start();
    const w = b.wait();
    sim.markUnhealthy(task(2, {}).ID);
    assert.deepEqual(await w, { kind: 'unhealthy' });
    await b.shutdown();
    assert.deepEqual(await b.wait(), { kind: 'exited', ExitCode: 143, OOMKilled: false });
    await b.remove();
    await assert.rejects(
      sim.controller({ ...task(4, {}), Spec: { ContainerSpec: { Image: 'nope' } } }).prepare(),
      /No such image: nope/,
    );
  });

  test('10,000 simulated tasks start and stop quickly', async () => {
    const sim = new SimExecutor();
    const t0 = Date.now();
    const ctls = Array.from({ length: 10_000 }, (_, i) => sim.controller(task(i + 1, {})));
    for (const c of ctls) {
      await c.prepare();
      await c.start();
    }
    assert.equal(sim.running(), 10_000);
    for (const c of ctls) await c.remove();
    assert.equal(sim.containers.size, 0);
    assert.ok(Date.now() - t0 < 5000);
  });
});
