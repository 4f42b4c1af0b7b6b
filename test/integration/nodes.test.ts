// Nodes across hosts, through the Engine API of a cluster in a box (1 manager + 2 workers, each
// swarmd in its own netns): a global service reaches a node that joins later (swarmctl swarm join,
// node ls, node ps, node inspect --pretty against the docker CLI's); an image missing on a node
// rejects the task only there; a short silent link cut is a blip the session rides out (same
// tasks, same containers); a worker's swarmd restarted re-adopts its containers; `node rm` refuses
// a node that is up with Docker's wording, and a worker that left the swarm is down, removable, and has no task
// container left; a rotated join token refuses the old one.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type ApiNode, type ApiTask, docker, swarmctl } from '../helpers/cli.js';
import {
  type Cluster,
  type ClusterHost,
  loadBusybox,
  sleep,
  startCluster,
  until,
} from '../helpers/cluster.js';

/** Task ID → container ID of the running tasks of `service`, as the manager reports them. */
function containersOf(tasks: ApiTask[]): Map<string, string> {
  return new Map(tasks.map((t) => [t.ID, t.Status.ContainerStatus?.ContainerID ?? '']));
}

describe('nodes across hosts', { timeout: 300_000 }, () => {
  let cluster: Cluster;
  let manager: ClusterHost;
  let w1: ClusterHost;
  let w2: ClusterHost;

  const nodeOf = async (h: ClusterHost) =>
    (await manager.api('GET', '/nodes')).json<ApiNode[]>().find((n) => n.Description?.Hostname === h.name);
  const tasksOf = async (service: string) =>
    (
      await manager.api('GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [service] }))}`)
    ).json<ApiTask[]>();
  const runningOn = async (service: string, h: ClusterHost) => {
    const id = (await nodeOf(h))?.ID;
    return (await tasksOf(service)).filter(
      (t) => t.NodeID === id && t.DesiredState === 'running' && t.Status.State === 'running',
    );
  };
  const create = async (name: string, mode: object) => {
    const r = await manager.api('POST', '/services/create', {
      Name: name,
      TaskTemplate: { ContainerSpec: { Image: 'busybox', Command: ['sleep', '3600'], StopGracePeriod: 0 } },
      Mode: mode,
    });
    assert.equal(r.status, 201, `service create ${name}: ${r.body}`);
  };

  before(async () => {
    cluster = await startCluster({ workers: 2, join: false });
    manager = cluster.manager;
    [w1, w2] = cluster.workers as [ClusterHost, ClusterHost];
    await cluster.join(w1);
    await loadBusybox([manager, w1]);
  });
  after(async () => {
    await cluster?.destroy();
  });

  it('a global service runs on every node, including one that joins later', async () => {
    await create('everywhere', { Global: {} });
    await create('spread', { Replicated: { Replicas: 4 } });
    for (const h of [manager, w1])
      await until(`a global task running on ${h.name}`, async () =>
        (await runningOn('everywhere', h)).length === 1 ? true : undefined,
      );
    await until('2 replicas on worker-1', async () =>
      (await runningOn('spread', w1)).length === 2 ? true : undefined,
    );
    await loadBusybox([w2]);
    const token = await cluster.workerToken();
    const joined = await swarmctl(w2, [
      'swarm',
      'join',
      '--token',
      token,
      '--advertise-addr',
      w2.ip,
      '--listen-addr',
      `${w2.ip}:2377`,
      '--availability',
      'active',
      `${manager.ip}:2377`,
    ]);
    assert.equal(joined.stdout, 'This node joined a swarm as a worker.\n', joined.stderr);
    const global = await until('a global task running on worker-2', async () => {
      const r = await runningOn('everywhere', w2);
      return r.length === 1 ? r[0] : undefined;
    });
    const ls = await swarmctl(manager, ['node', 'ls', '--format', '{{.Self}} {{.Hostname}} {{.Status}}']);
    assert.deepEqual(ls.stdout.trim().split('\n').sort(), [
      'false worker-1 Ready',
      'false worker-2 Ready',
      'true manager Ready',
    ]);
    const ps = await swarmctl(manager, [
      'node',
      'ps',
      '--format',
      '{{.ID}} {{.Node}} {{.CurrentState}}',
      'worker-2',
    ]);
    assert.match(ps.stdout, new RegExp(`^${global.ID.slice(0, 12)} worker-2 Running`));
  });

  it('node inspect --pretty prints what the docker CLI prints, for the manager and for a worker', async () => {
    const label = await swarmctl(manager, [
      'node',
      'update',
      '--label-add',
      'zone=a',
      '--label-add',
      'ssd',
      'worker-1',
    ]);
    assert.equal(label.code, 0, label.stderr);
    for (const ref of ['self', 'worker-1', 'worker-2']) {
      const ours = await swarmctl(manager, ['node', 'inspect', '--pretty', ref]);
      const theirs = await docker(manager, ['node', 'inspect', '--pretty', ref]);
      assert.equal(theirs.code, 0, theirs.stderr);
      assert.equal(ours.stdout, theirs.stdout, `node inspect --pretty ${ref}`);
      assert.match(
        ours.stdout,
        /\nTLS Info:\n TrustRoot:\n-----BEGIN CERTIFICATE-----\n/,
        `${ref} trusts the root`,
      );
    }
  });

  it('an image missing on some nodes rejects the task only there; the node that has it runs its task', async () => {
    await loadBusybox([manager], 'onlyhere:1');
    const created = await manager.api('POST', '/services/create', {
      Name: 'partial',
      TaskTemplate: {
        ContainerSpec: { Image: 'onlyhere:1', Command: ['sleep', '3600'], StopGracePeriod: 0 },
        RestartPolicy: { Delay: 60e9 },
      },
      Mode: { Replicated: { Replicas: 3 } },
    });
    assert.equal(created.status, 201, created.body);
    const ids = await Promise.all([manager, w1, w2].map(async (h) => (await nodeOf(h))?.ID));
    const byNode = await until('one task per node settled', async () => {
      const tasks = await tasksOf('partial');
      const [m, a, b] = ids.map((nodeId) => tasks.find((t) => t.NodeID === nodeId));
      return m?.Status.State === 'running' && a?.Status.State === 'rejected' && b?.Status.State === 'rejected'
        ? { a, b }
        : undefined;
    });
    for (const t of [byNode.a, byNode.b])
      assert.match(t.Status.Err ?? '', /No such image: onlyhere:1/, JSON.stringify(t.Status));
    assert.equal((await manager.api('DELETE', '/services/partial')).status, 200);
  });

  it('a short silent link cut is a blip: the worker stays Ready with the same tasks and containers', async () => {
    const before = containersOf([...(await runningOn('spread', w1)), ...(await runningOn('everywhere', w1))]);
    assert.equal(before.size, 3);
    const total = (await tasksOf('spread')).length;
    await w1.cutLink();
    // Shorter than the grace of 3 heartbeat periods (15 s): the session survives it.
    await sleep(4000);
    await w1.restoreLink();
    await sleep(6000); // at least one heartbeat over the restored link
    assert.equal((await nodeOf(w1))?.Status.State, 'ready');
    const now = containersOf([...(await runningOn('spread', w1)), ...(await runningOn('everywhere', w1))]);
    assert.deepEqual([...now].sort(), [...before].sort(), 'same tasks, same containers');
    assert.equal((await tasksOf('spread')).length, total, 'no replacement task was created');
  });

  it("a worker's swarmd restarted re-adopts its containers: same tasks, same containers", async () => {
    const before = containersOf([...(await runningOn('spread', w1)), ...(await runningOn('everywhere', w1))]);
    assert.equal(before.size, 3);
    await w1.stop();
    await w1.restart();
    await until('worker-1 ready', async () =>
      (await nodeOf(w1))?.Status.State === 'ready' ? true : undefined,
    );
    await sleep(2000);
    const now = containersOf([...(await runningOn('spread', w1)), ...(await runningOn('everywhere', w1))]);
    assert.deepEqual([...now].sort(), [...before].sort());
    const ps = (await w1.api('GET', '/containers/json')).json<{ Id: string }[]>().map((c) => c.Id);
    for (const id of before.values()) assert.ok(ps.includes(id), `container ${id} still runs on worker-1`);
  });

  it('node rm refuses a node that is up; a worker that left is down, removable, and empty', async () => {
    const node = await nodeOf(w2);
    assert.ok(node);
    const refused = await manager.api('DELETE', `/nodes/${node.ID}`);
    assert.equal(refused.status, 400);
    assert.match(refused.body, new RegExp(`node ${node.ID} is not down and can't be removed`));

    const left = await w2.api('POST', '/swarm/leave');
    assert.equal(left.status, 200, left.body);
    assert.equal((await w2.api('GET', '/containers/json?all=1')).json<unknown[]>().length, 0);
    await until('worker-2 down', async () =>
      (await nodeOf(w2))?.Status.State === 'down' ? true : undefined,
    );
    const removed = await manager.api('DELETE', `/nodes/${node.ID}`);
    assert.equal(removed.status, 200, removed.body);
    assert.equal(await nodeOf(w2), undefined);
    await until('no task left on the removed node', async () =>
      (await tasksOf('everywhere')).some((t) => t.NodeID === node.ID && t.DesiredState === 'running')
        ? undefined
        : true,
    );
    const info = (await w2.api('GET', '/info')).json<{ Swarm: { LocalNodeState: string } }>();
    assert.equal(info.Swarm.LocalNodeState, 'inactive');
  });

  it('join-token --rotate: the old worker token is refused, the new one joins', async () => {
    const old = await cluster.workerToken();
    const rotated = await swarmctl(manager, ['swarm', 'join-token', '--rotate', '-q', 'worker']);
    assert.equal(rotated.code, 0, rotated.stderr);
    const token = rotated.stdout.trim();
    assert.notEqual(token, old);
    assert.equal(token, await cluster.workerToken());
    const join = (t: string) =>
      swarmctl(w2, ['swarm', 'join', '--token', t, '--advertise-addr', w2.ip, `${manager.ip}:2377`]);
    const refused = await join(old);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /A valid join token is necessary to join this cluster/);
    const joined = await join(token);
    assert.equal(joined.stdout, 'This node joined a swarm as a worker.\n', joined.stderr);
  });
});
