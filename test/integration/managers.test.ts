// Several managers, through the docker CLI and the Engine API of a cluster in a box: the first host
// inits, two more join with the manager token (their etcd members enter as learners and are promoted),
// two join as workers through managers that do not lead. node ls shows one Leader and two Reachable; kill -9 of the leader's swarmd
// → another manager leads within seconds, a scale through it converges, the worker's task keeps its
// container; the dead manager restarted is Reachable again; service logs through a manager that
// does not lead shows every task's lines; promote/demote round trip keeps the worker's task; a
// manager that leaves takes its etcd member along; with a quorum lost writes fail fast and
// --force-new-cluster recovers.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ApiNode, type ApiTask, docker } from '../helpers/cli.js';
import { type Cluster, type ClusterHost, loadBusybox, startCluster, until } from '../helpers/cluster.js';

/** Files under `dir` whose bytes contain `text`. */
function filesHolding(dir: string, text: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .filter((f) => readFileSync(f).includes(text));
}

/** The names (node IDs) of the etcd members, as the member on `host` lists them. */
async function etcdMembers(host: ClusterHost): Promise<string[]> {
  const dir = join(host.stateDir, 'etcd');
  const { clientPort } = JSON.parse(readFileSync(join(dir, 'member.json'), 'utf8')) as { clientPort: number };
  const tls = join(dir, 'tls');
  const r = await host.inNetns('etcdctl', [
    `--endpoints=https://127.0.0.1:${clientPort}`,
    `--cacert=${tls}/ca.crt`,
    `--cert=${tls}/client.crt`,
    `--key=${tls}/client.key`,
    'member',
    'list',
    '-w',
    'json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { members: { name: string }[] }).members.map((m) => m.name);
}

describe('several managers', { timeout: 300_000 }, () => {
  let cluster: Cluster;
  let m1: ClusterHost;
  let m2: ClusterHost;
  let m3: ClusterHost;
  let worker: ClusterHost;
  let worker2: ClusterHost;

  const nodes = async (via: ClusterHost) => (await via.api('GET', '/nodes')).json<ApiNode[]>();
  const managerStatus = async (via: ClusterHost) =>
    (await nodes(via))
      .filter((n) => n.ManagerStatus)
      .map(
        (n) =>
          `${n.Description?.Hostname} ${n.ManagerStatus?.Leader ? 'leader' : n.ManagerStatus?.Reachability}`,
      )
      .sort();
  let workerNodeId = '';
  const workerIdOf = () => workerNodeId;
  const running = async (via: ClusterHost) =>
    (await via.api('GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: ['web'] }))}`))
      .json<ApiTask[]>()
      .filter((t) => t.DesiredState === 'running' && t.Status.State === 'running');

  before(async () => {
    cluster = await startCluster({ workers: 4, join: false });
    [m1, m2, m3, worker, worker2] = cluster.hosts as [
      ClusterHost,
      ClusterHost,
      ClusterHost,
      ClusterHost,
      ClusterHost,
    ];
  });
  after(async () => {
    await cluster?.destroy();
  });

  it('two hosts join with the manager token: node ls shows one Leader and two Reachable', async () => {
    const token = (await docker(m1, ['swarm', 'join-token', '-q', 'manager'])).stdout.trim();
    for (const h of [m2, m3]) {
      const r = await docker(h, [
        'swarm',
        'join',
        '--token',
        token,
        '--advertise-addr',
        h.ip,
        `${m1.ip}:2377`,
      ]);
      assert.equal(r.stdout, 'This node joined a swarm as a manager.\n', r.stderr);
    }
    // The worker joins through a manager that does not lead: it is pointed to the leader.
    const workerToken = (await docker(m1, ['swarm', 'join-token', '-q', 'worker'])).stdout.trim();
    const joined = await docker(worker, [
      'swarm',
      'join',
      '--token',
      workerToken,
      '--advertise-addr',
      worker.ip,
      `${m2.ip}:2377`,
    ]);
    assert.equal(joined.stdout, 'This node joined a swarm as a worker.\n', joined.stderr);
    const joined2 = await docker(worker2, [
      'swarm',
      'join',
      '--token',
      workerToken,
      '--advertise-addr',
      worker2.ip,
      `${m3.ip}:2377`,
    ]);
    assert.equal(joined2.stdout, 'This node joined a swarm as a worker.\n', joined2.stderr);
    workerNodeId = (await nodes(m1)).find((n) => n.Description?.Hostname === 'worker-3')?.ID ?? '';
    const ls = await docker(m2, ['node', 'ls', '--format', '{{.Hostname}} {{.Status}} {{.ManagerStatus}}']);
    assert.deepEqual(
      ls.stdout
        .trimEnd()
        .split('\n')
        .map((l) => l.trimEnd())
        .sort(),
      [
        'manager Ready Leader',
        'worker-1 Ready Reachable',
        'worker-2 Ready Reachable',
        'worker-3 Ready',
        'worker-4 Ready',
      ],
    );
    // The root CA's key is in etcd sealed with the data key: no manager's etcd data holds it in clear.
    for (const h of [m1, m2, m3])
      assert.deepEqual(filesHolding(join(h.stateDir, 'etcd', 'data'), 'PRIVATE KEY'), []);
    const info = (await m3.api('GET', '/info')).json<{
      Swarm: { ControlAvailable: boolean; Managers: number };
    }>();
    assert.equal(info.Swarm.ControlAvailable, true);
    assert.equal(info.Swarm.Managers, 3);
  });

  it('a service created through one manager runs on every node and logs through another', async () => {
    await loadBusybox(cluster.hosts);
    const r = await docker(m3, [
      'service',
      'create',
      '-d',
      '--name',
      'web',
      '--replicas',
      '5',
      '--stop-grace-period',
      '0s',
      'busybox',
      'sh',
      '-c',
      'echo "task on $(hostname)"; exec sleep 3600',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const tasks = await until('5 running', async () => {
      const t = await running(m1);
      return t.length === 5 ? t : undefined;
    });
    assert.equal(new Set(tasks.map((t) => t.NodeID)).size, 5, 'one task per node');
    const logs = await until('a line from each task through a manager that does not lead', async () => {
      const l = await docker(m2, ['service', 'logs', '--raw', 'web']);
      const lines = l.stdout.split('\n').filter((x) => x.startsWith('task on '));
      return l.code === 0 && lines.length === 5 ? lines : undefined;
    });
    assert.equal(new Set(logs).size, 5);
  });

  it('kill -9 of the leader: another manager leads, a scale through it converges, the worker keeps its task', async () => {
    const workerId = (await nodes(m1)).find((n) => n.Description?.Hostname === worker.name)?.ID;
    const workerIds = (await nodes(m1)).filter((n) => !n.ManagerStatus).map((n) => n.ID);
    const onWorkers = (await running(m1)).filter((t) => workerIds.includes(t.NodeID ?? ''));
    assert.equal(onWorkers.length, 2);
    await m1.kill9();
    const t0 = Date.now();
    const status = await until(
      'a new leader',
      async () => {
        const s = await managerStatus(m2);
        return s.some((x) => /^worker-[12] leader$/.test(x)) ? s : undefined;
      },
      30_000,
    );
    assert.ok(Date.now() - t0 < 15_000, `new leader after ${Date.now() - t0} ms`);
    assert.equal(status.filter((x) => x.endsWith('leader')).length, 1);
    const scale = await docker(m3, ['service', 'scale', '-d', 'web=10']);
    assert.equal(scale.code, 0, scale.stderr);
    await until(
      '10 running',
      async () => {
        const t = await running(m2);
        return t.length === 10 ? t : undefined;
      },
      60_000,
    );
    // The worker found the new leader (the managers' order it keeps puts the leader first).
    await until(
      'the worker registered with the new leader',
      async () =>
        (await nodes(m2)).find((n) => n.ID === workerId)?.Status.State === 'ready' ? true : undefined,
      30_000,
    );
    // The workers' tasks kept running throughout: the same tasks, the same containers.
    for (const onWorker of onWorkers) {
      const still = (await running(m2)).find((t) => t.ID === onWorker.ID);
      assert.equal(still?.Status.ContainerStatus?.ContainerID, onWorker.Status.ContainerStatus?.ContainerID);
    }
  });

  it('the killed manager restarted is Reachable again', async () => {
    await m1.restart();
    await until(
      'manager reachable',
      async () => {
        const ready = (await nodes(m2)).find((n) => n.Description?.Hostname === 'manager')?.Status.State;
        return ready === 'ready' && (await managerStatus(m2)).includes('manager reachable')
          ? true
          : undefined;
      },
      60_000,
    );
    const ls = await docker(m1, ['node', 'ls', '--format', '{{.Hostname}} {{.Status}}']);
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, /^manager Ready$/m);
  });

  it('promote and demote round trip: the worker becomes a Reachable manager and a worker again, its task untouched', async () => {
    const before = (await running(m2)).filter((t) => t.NodeID === workerIdOf());
    assert.ok(before.length > 0);
    const promote = await docker(m2, ['node', 'promote', 'worker-3']);
    assert.equal(promote.stdout, 'Node worker-3 promoted to a manager in the swarm.\n', promote.stderr);
    await until(
      'worker-3 a reachable manager',
      async () => ((await managerStatus(m2)).includes('worker-3 reachable') ? true : undefined),
      60_000,
    );
    await until(
      'worker-3 to serve the cluster API',
      async () => ((await docker(worker, ['node', 'ls', '-q'])).code === 0 ? true : undefined),
      60_000,
    );
    const demote = await docker(m2, ['node', 'demote', 'worker-3']);
    assert.equal(demote.stdout, 'Manager worker-3 demoted in the swarm.\n', demote.stderr);
    await until(
      'worker-3 a worker again, with a session',
      async () => {
        const n = (await nodes(m2)).find((x) => x.Description?.Hostname === 'worker-3');
        return n && !n.ManagerStatus && n.Status.State === 'ready' ? true : undefined;
      },
      60_000,
    );
    const asWorker = await docker(worker, ['node', 'ls']);
    assert.match(asWorker.stderr, /This node is not a swarm manager/);
    const after = (await running(m2)).filter((t) => t.NodeID === workerIdOf());
    assert.deepEqual(
      after.map((t) => t.Status.ContainerStatus?.ContainerID).sort(),
      before.map((t) => t.Status.ContainerStatus?.ContainerID).sort(),
    );
  });

  it('demoting the leader: another manager leads and the old leader carries on as a worker', async () => {
    const status = await managerStatus(m2);
    const leaderName = status.find((x) => x.endsWith(' leader'))?.split(' ')[0] ?? '';
    const leaderHost = cluster.hosts.find((h) => h.name === leaderName) as ClusterHost;
    const via = [m1, m2, m3].find((h) => h !== leaderHost) as ClusterHost;
    const demote = await docker(via, ['node', 'demote', leaderName]);
    assert.equal(demote.code, 0, demote.stderr);
    await until(
      `${leaderName} a worker, another manager leading`,
      async () => {
        const n = (await nodes(via)).find((x) => x.Description?.Hostname === leaderName);
        const s = await managerStatus(via);
        return n && !n.ManagerStatus && n.Status.State === 'ready' && s.some((x) => x.endsWith(' leader'))
          ? true
          : undefined;
      },
      60_000,
    );
    const promote = await docker(via, ['node', 'promote', leaderName]);
    assert.equal(promote.code, 0, promote.stderr);
    await until(
      `${leaderName} a reachable manager again`,
      async () => ((await managerStatus(via)).includes(`${leaderName} reachable`) ? true : undefined),
      60_000,
    );
    await until('it serves the cluster API again', async () =>
      (await docker(leaderHost, ['node', 'ls', '-q'])).code === 0 ? true : undefined,
    );
  });

  it('a manager that leaves takes its etcd member along: the others keep a quorum without it', async () => {
    const left = await docker(m3, ['swarm', 'leave', '--force']);
    assert.equal(left.code, 0, left.stderr);
    const id = (await nodes(m2)).find((n) => n.Description?.Hostname === 'worker-2')?.ID ?? '';
    await until('worker-2 down', async () =>
      (await nodes(m2)).find((n) => n.ID === id)?.Status.State === 'down' ? true : undefined,
    );
    const rm = await docker(m2, ['node', 'rm', 'worker-2']);
    assert.equal(rm.code, 0, rm.stderr);
    const left2 = await managerStatus(m2);
    assert.equal(left2.length, 2, left2.join(', '));
    // etcd counts the remaining two: its own member list, read on a manager's loopback client port.
    const names = (await etcdMembers(m2)).sort();
    const ids = (await nodes(m2)).filter((n) => n.ManagerStatus).map((n) => n.ID);
    assert.deepEqual(names, ids.sort());
    const scale = await docker(m1, ['service', 'scale', '-d', 'web=6']);
    assert.equal(scale.code, 0, scale.stderr);
  });

  it('with the majority of managers gone writes fail fast; --force-new-cluster recovers; the other rejoins', async () => {
    await m2.swarmd.kill9WithEtcd();
    const t0 = Date.now();
    const refused = await docker(m1, ['service', 'scale', '-d', 'web=7']);
    assert.notEqual(refused.code, 0);
    assert.match(
      refused.stderr,
      /The swarm does not have a leader\. It's possible that too few managers are online/,
    );
    assert.ok(Date.now() - t0 < 6000, `refused after ${Date.now() - t0} ms`);
    const init = await docker(m1, ['swarm', 'init', '--force-new-cluster', '--advertise-addr', m1.ip]);
    assert.equal(init.code, 0, init.stderr);
    assert.match(init.stdout, /^Swarm initialized: current node \(\w+\) is now a manager\./);
    const scale = await docker(m1, ['service', 'scale', '-d', 'web=7']);
    assert.equal(scale.code, 0, scale.stderr);
    assert.deepEqual(await etcdMembers(m1), [
      (await nodes(m1)).find((n) => n.Description?.Hostname === 'manager')?.ID,
    ]);

    // The other manager comes back to a cluster that no longer counts it: it says so and can leave.
    await m2.restart();
    const info = (await m2.api('GET', '/info')).json<{ Swarm: { Error: string } }>();
    assert.match(info.Swarm.Error, /etcd member was removed from the swarm's managers/);
    const left = await docker(m2, ['swarm', 'leave', '--force']);
    assert.equal(left.code, 0, left.stderr);
    const oldId = (await nodes(m1)).find((n) => n.Description?.Hostname === 'worker-1')?.ID ?? '';
    await until(
      'the old worker-1 down',
      async () => ((await nodes(m1)).find((n) => n.ID === oldId)?.Status.State === 'down' ? true : undefined),
      60_000,
    );
    assert.equal((await docker(m1, ['node', 'rm', '--force', oldId])).code, 0);
    await cluster.join(m2, { role: 'manager' });
    await until('worker-1 a reachable manager again', async () =>
      (await managerStatus(m1)).includes('worker-1 reachable') ? true : undefined,
    );
    assert.equal((await etcdMembers(m1)).length, 2);
    await until('7 running', async () => ((await running(m1)).length === 7 ? true : undefined), 60_000);
  });
});
