// End to end on a real swarmd: stopping and starting swarmd leaves the service's containers running
// and re-adopted (same tasks, same containers, no replacement); a container that died while swarmd
// was down is noticed after the restart, its task fails and the slot gets a replacement.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { run } from '../../src/lib/exec.js';
import { type Cluster, serviceSpec, sleep, startCluster, waitFor } from './cluster.js';

let c: Cluster;

before(async () => {
  c = await startCluster();
});

after(async () => {
  await c?.destroy();
});

async function waitForApi(): Promise<void> {
  await waitFor('swarmd to serve services again', async () =>
    (await c.api('GET', '/services')).status === 200 ? true : undefined,
  );
}

describe('swarmd restart', () => {
  test('tasks keep running across a swarmd restart and are re-adopted, not replaced', async () => {
    const id = await c.createService(serviceSpec('keep', { replicas: 2, restart: { delayS: 0.5 } }));
    const before = await waitFor('2 running tasks', async () => {
      const ts = (await c.tasks(id)).filter((t) => t.Status.State === 'running');
      return ts.length === 2 ? ts : undefined;
    });
    await c.swarmd.stop();
    await c.swarmd.restart();
    await waitForApi();
    await sleep(2000);
    const after = await c.tasks(id);
    assert.deepEqual(
      after.map((t) => [t.ID, t.Status.State, t.Status.ContainerStatus?.ContainerID]).sort(),
      before.map((t) => [t.ID, 'running', t.Status.ContainerStatus?.ContainerID]).sort(),
    );
    const ctrs = (await c.containers(false)).filter((x) => x.Labels['com.docker.swarm.service.id'] === id);
    assert.equal(ctrs.length, 2);
  });

  test('a container killed while swarmd was down fails its task after the restart and the slot is refilled', async () => {
    const id = (await c.service('keep')).ID;
    const victim = (await c.tasks(id)).find((t) => t.Slot === 2 && t.Status.State === 'running');
    const containerId = victim?.Status.ContainerStatus?.ContainerID ?? '';
    assert.ok(containerId);
    await c.swarmd.stop();
    const root = join(c.swarmd.stateDir, 'exec', 'runtime', 'runc');
    const list = await run('runc', ['--root', root, 'list', '-q']);
    const runcId = list.stdout.split('\n').find((x) => x.endsWith(containerId));
    assert.ok(runcId, `no runc container for ${containerId} in ${list.stdout}`);
    await run('runc', ['--root', root, 'kill', runcId, 'KILL']);
    await c.swarmd.restart();
    await waitForApi();
    const failed = await waitFor('the dead task to be failed', async () => {
      const t = (await c.tasks(id)).find((x) => x.ID === victim?.ID);
      return t?.Status.State === 'failed' ? t : undefined;
    });
    assert.equal(failed.Status.Err, 'task: non-zero exit (137)');
    await waitFor('a new task to run in slot 2', async () =>
      (await c.tasks(id)).some((t) => t.Slot === 2 && t.ID !== victim?.ID && t.Status.State === 'running')
        ? true
        : undefined,
    );
    await c.removeService(id);
  });
});
