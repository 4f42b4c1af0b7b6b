// End to end on a real swarmd with real containers: a replicated service's life (create, scale up and
// down, remove), a global service, and the attached `docker service create` of both CLIs.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  type ApiContainer,
  CLIS,
  type Cluster,
  IMAGE,
  LONG_RUNNING,
  serviceSpec,
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

/** Running containers of a service, by the com.docker.swarm.service.id label. */
async function runningOf(serviceId: string): Promise<ApiContainer[]> {
  return (await c.containers(false)).filter(
    (x) => x.Labels['com.docker.swarm.service.id'] === serviceId && x.State === 'running',
  );
}

describe('replicated service lifecycle', () => {
  test('create with 3 replicas runs 3 containers named web.<slot>.<taskID> with swarm labels; service ls shows 3/3', async () => {
    const id = await c.createService(serviceSpec('web', { replicas: 3 }));
    // The container runs a moment before the agent's report makes its task RUNNING.
    const { containers, tasks } = await waitFor('3 running containers and tasks', async () => {
      const r = await runningOf(id);
      const ts = await c.tasks(id);
      return r.length === 3 && ts.filter((t) => t.Status.State === 'running').length === 3
        ? { containers: r, tasks: ts }
        : undefined;
    });
    assert.equal(tasks.length, 3);
    assert.deepEqual(tasks.map((t) => t.Slot).sort(), [1, 2, 3]);
    for (const t of tasks) {
      const name = `web.${t.Slot}.${t.ID}`;
      const ctr = containers.find((x) => x.Names.includes(`/${name}`));
      assert.ok(ctr, `no container named ${name} among ${JSON.stringify(containers.map((x) => x.Names))}`);
      assert.deepEqual(
        {
          node: ctr.Labels['com.docker.swarm.node.id'],
          service: ctr.Labels['com.docker.swarm.service.id'],
          serviceName: ctr.Labels['com.docker.swarm.service.name'],
          task: ctr.Labels['com.docker.swarm.task.id'],
          taskName: ctr.Labels['com.docker.swarm.task.name'],
        },
        { node: c.nodeId, service: id, serviceName: 'web', task: t.ID, taskName: name },
      );
      assert.equal(t.Status.State, 'running');
      assert.equal(t.Status.ContainerStatus?.ContainerID, ctr.Id);
    }
    const ps = await c.docker(['ps', '--format', '{{.Names}}']);
    assert.equal(ps.code, 0, ps.stderr);
    assert.deepEqual(ps.stdout.trim().split('\n').sort(), tasks.map((t) => `web.${t.Slot}.${t.ID}`).sort());
    const ls = await waitFor('service ls 3/3', async () => {
      const r = await c.docker(['service', 'ls', '--format', '{{.Name}} {{.Mode}} {{.Replicas}} {{.Image}}']);
      return r.stdout.trim() === `web replicated 3/3 ${IMAGE}` ? r : undefined;
    });
    assert.equal(ls.code, 0);
  });

  test('scale to 5 adds slots 4 and 5; scale to 1 removes the highest slots, their containers and tasks', async () => {
    const scale = await c.docker(['service', 'scale', '-d', 'web=5']);
    assert.equal(scale.code, 0, scale.stderr);
    const id = (await c.service('web')).ID;
    await waitFor('5 running containers', async () =>
      (await runningOf(id)).length === 5 ? true : undefined,
    );
    const five = await c.tasks(id);
    assert.deepEqual(five.map((t) => t.Slot).sort(), [1, 2, 3, 4, 5]);
    const slot1 = five.find((t) => t.Slot === 1);

    const down = await c.docker(['service', 'scale', '-d', 'web=1']);
    assert.equal(down.code, 0, down.stderr);
    const left = await waitFor(
      'scale-down to leave one task and one container',
      async () => {
        const [tasks, ctrs] = [await c.tasks(id), await c.containers()];
        const mine = ctrs.filter((x) => x.Labels['com.docker.swarm.service.id'] === id);
        return tasks.length === 1 && mine.length === 1 ? { tasks, mine } : undefined;
      },
      20_000,
    );
    // Scale-down keeps the lowest slot: the task that ran slot 1 is the survivor, untouched.
    assert.equal(left.tasks[0]?.ID, slot1?.ID);
    assert.equal(left.tasks[0]?.DesiredState, 'running');
    assert.equal(left.mine[0]?.Labels['com.docker.swarm.task.name'], `web.1.${slot1?.ID}`);
    const ls = await c.docker(['service', 'ls', '--format', '{{.Replicas}}']);
    assert.equal(ls.stdout.trim(), '1/1');
  });

  test('service rm removes all its containers and deletes its tasks', async () => {
    const id = (await c.service('web')).ID;
    const rm = await c.docker(['service', 'rm', 'web']);
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal(rm.stdout, 'web\n');
    await waitFor(
      'containers and tasks of the removed service to be gone',
      async () => {
        const ctrs = (await c.containers()).filter((x) => x.Labels['com.docker.swarm.service.id'] === id);
        const filters = encodeURIComponent(JSON.stringify({ service: [id] }));
        const all = (await c.api('GET', `/tasks?filters=${filters}`)).json<{ ServiceID: string }[]>();
        const tasks = all.filter((t) => t.ServiceID === id);
        return ctrs.length === 0 && tasks.length === 0 ? true : undefined;
      },
      20_000,
    );
  });
});

describe('global service', () => {
  test('--mode global runs exactly one task on the node, named after the node', async () => {
    const id = await c.createService(serviceSpec('glob', { mode: 'global' }));
    await waitFor('the global task to run', async () =>
      (await runningOf(id)).length === 1 ? true : undefined,
    );
    // Give the orchestrator time to (wrongly) add more.
    await new Promise((r) => setTimeout(r, 1000));
    const tasks = await c.tasks(id);
    assert.equal(tasks.length, 1, JSON.stringify(tasks.map((t) => [t.Slot, t.NodeID, t.Status.State])));
    assert.equal(tasks[0]?.NodeID, c.nodeId);
    const ctrs = await runningOf(id);
    assert.equal(ctrs.length, 1);
    assert.deepEqual(ctrs[0]?.Names, [`/glob.${c.nodeId}.${tasks[0]?.ID}`]);
    const ls = await c.docker([
      'service',
      'ls',
      '--filter',
      'name=glob',
      '--format',
      '{{.Mode}} {{.Replicas}}',
    ]);
    assert.equal(ls.stdout.trim(), 'global 1/1');
    await c.removeService(id);
  });
});

describe('attached service create', () => {
  for (const cli of CLIS) {
    test(`[${cli.name}] docker service create without -d waits for the tasks and ends "Service converged"`, async () => {
      const name = `att${cli.name.replace(/\W/g, '')}`;
      const started = Date.now();
      const r = await c.docker(
        [
          'service',
          'create',
          '--name',
          name,
          '--replicas',
          '2',
          '--stop-grace-period',
          '0s',
          IMAGE,
          ...LONG_RUNNING,
        ],
        cli,
        40_000,
      );
      const took = Date.now() - started;
      assert.equal(r.code, 0, `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
      const lines = r.stdout.trim().split('\n');
      const id = lines[0] ?? '';
      assert.match(id, /^[0-9a-z]{25}$/);
      assert.match(r.stdout, /overall progress: 2 out of 2 tasks/);
      const last = lines.at(-1);
      assert.equal(
        last,
        cli.name === '20.10' ? 'verify: Service converged' : `verify: Service ${id} converged`,
      );
      // The CLI's own 5 s stability wait plus a few seconds to start two containers.
      assert.ok(took < 12_000, `attached create took ${took} ms`);
      await c.removeService(id);
    });
  }
});
