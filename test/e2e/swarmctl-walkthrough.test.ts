// The tutorials' single-host sequence (swarm init → node ls → service create/ls/ps/inspect/scale/
// update/rollback/logs/rm → swarm leave) through swarmctl only, against a real swarmd. Output is
// checked against Docker's recorded output (docker-cli-outputs.md) modulo IDs, times and the
// program name, and the effects against the Engine API and curl.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type E2E, type Run, sleep, startE2E, WEB_COMMAND, waitFor } from './harness.js';

let e: E2E;
let nodeId = '';
let serviceId = '';

before(async () => {
  e = await startE2E();
});

after(async () => {
  await e?.destroy();
});

function ok(r: Run, what: string): Run {
  assert.equal(r.code, 0, `${what}: exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  assert.equal(r.stderr, '', `${what} wrote to stderr`);
  return r;
}

const lines = (s: string) => s.replace(/\n$/, '').split('\n');

/**
 * Checks the plain (no terminal) progress display: one line per slot without a bar, the overall
 * count reaching N out of N, the verify countdown starting at 5 seconds, "Service converged" last.
 */
function assertConverged(stdout: string, n: number, opts: { rollback?: boolean } = {}): void {
  const out = lines(stdout).map((l) => l.trimEnd());
  const prefix = opts.rollback ? 'overall progress: rolling back update: ' : 'overall progress: ';
  // Docker's order: the overall line at 0 first, then one line per slot, then the counts.
  const first = out.findIndex((l) => l.startsWith('overall progress: '));
  assert.deepEqual(
    out.slice(first, first + 1 + n),
    [`${prefix}0 out of ${n} tasks`, ...Array.from({ length: n }, (_, i) => `${i + 1}/${n}:`)],
    stdout,
  );
  const overall = `${prefix}${n} out of ${n} tasks`;
  assert.ok(out.includes(overall), `no "${overall}" in\n${stdout}`);
  const verify = out.filter((l) => l.startsWith('verify: Waiting'));
  assert.equal(verify[0], 'verify: Waiting 5 seconds to verify that tasks are stable...');
  assert.equal(verify.at(-1), 'verify: Waiting 1 seconds to verify that tasks are stable...');
  assert.equal(out.at(-1), 'verify: Service converged', `last line of\n${stdout}`);
}

interface Task {
  ID: string;
  Slot: number;
  DesiredState: string;
  Spec: { ContainerSpec: { Image: string; Env?: string[] } };
  Status: { State: string; ContainerStatus?: { ContainerID?: string } };
}

async function runningTasks(): Promise<Task[]> {
  const filters = encodeURIComponent(JSON.stringify({ service: ['web'], 'desired-state': ['running'] }));
  const r = await e.swarmd.api('GET', `/tasks?filters=${filters}`);
  return r
    .json<Task[]>()
    .filter((t) => t.Status.State === 'running')
    .sort((a, b) => a.Slot - b.Slot);
}

describe('swarmctl walkthrough (single host)', () => {
  let token = '';

  test('swarm init --advertise-addr 127.0.0.1 prints the node ID and the worker join command', async () => {
    const r = ok(await e.swarmctl(['swarm', 'init', '--advertise-addr', '127.0.0.1']), 'swarm init');
    const m =
      /^Swarm initialized: current node \(([0-9a-z]{25})\) is now a manager\.\n\nTo add a worker to this swarm, run the following command:\n\n {4}swarmctl swarm join --token (SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}) 127\.0\.0\.1:2377\n\nTo add a manager to this swarm, run 'swarmctl swarm join-token manager' and follow the instructions\.\n\n$/.exec(
        r.stdout,
      );
    assert.ok(m, r.stdout);
    nodeId = m[1] ?? '';
    token = m[2] ?? '';
  });

  test('swarm join-token worker prints the same command; -q only the token', async () => {
    const r = ok(await e.swarmctl(['swarm', 'join-token', 'worker']), 'join-token');
    assert.equal(
      r.stdout,
      `To add a worker to this swarm, run the following command:\n\n    swarmctl swarm join --token ${token} 127.0.0.1:2377\n\n`,
    );
    const q = ok(await e.swarmctl(['swarm', 'join-token', '-q', 'worker']), 'join-token -q');
    assert.equal(q.stdout, `${token}\n`);
  });

  test('node ls: one Ready, Active Leader row marked *', async () => {
    const r = ok(await e.swarmctl(['node', 'ls']), 'node ls');
    const [header, row, ...rest] = lines(r.stdout);
    assert.equal(
      header,
      'ID                            HOSTNAME   STATUS    AVAILABILITY   MANAGER STATUS   ENGINE VERSION',
    );
    assert.match(
      row ?? '',
      new RegExp(`^${nodeId} \\*   node-1     Ready     Active         Leader           \\S+$`),
    );
    assert.deepEqual(rest, []);
  });

  test('image load -i loads busybox:latest', async () => {
    const r = ok(await e.swarmctl(['image', 'load', '-i', e.archive]), 'image load');
    assert.ok(lines(r.stdout).includes('Loaded image: busybox:latest'), r.stdout);
  });

  test('service create (attached, no terminal) prints the ID, then progress lines ending "verify: Service converged"', async () => {
    const r = ok(
      await e.swarmctl([
        'service',
        'create',
        '--name',
        'web',
        '--replicas',
        '2',
        '-p',
        '8080:80',
        'busybox',
        ...WEB_COMMAND,
      ]),
      'service create',
    );
    serviceId = lines(r.stdout)[0] ?? '';
    assert.match(serviceId, /^[0-9a-z]{25}$/);
    assertConverged(r.stdout, 2);
    assert.equal((await runningTasks()).length, 2);
    const answer = await e.curl('127.0.0.1', 8080);
    assert.equal(answer.code, 0, answer.stderr);
    assert.match(answer.stdout, /^hello from [0-9a-f]{12}\n$/);
  });

  test('service ls shows 2/2 and *:8080->80/tcp', async () => {
    const r = ok(await e.swarmctl(['service', 'ls']), 'service ls');
    assert.equal(
      r.stdout,
      'ID             NAME      MODE         REPLICAS   IMAGE            PORTS\n' +
        `${serviceId.slice(0, 12)}   web       replicated   2/2        busybox:latest   *:8080->80/tcp\n`,
    );
  });

  test('service ps web lists web.1 and web.2 running on node-1', async () => {
    const r = ok(await e.swarmctl(['service', 'ps', 'web']), 'service ps');
    const [header, ...rows] = lines(r.stdout);
    assert.match(
      header ?? '',
      /^ID {13}NAME {6}IMAGE {12}NODE {6}DESIRED STATE {3}CURRENT STATE {3,}ERROR {5}PORTS$/,
    );
    const tasks = await runningTasks();
    assert.equal(rows.length, 2, r.stdout);
    rows.forEach((row, i) => {
      const t = tasks[i];
      assert.match(
        row,
        new RegExp(
          `^${t?.ID.slice(0, 12)}   web\\.${i + 1}     busybox:latest   node-1    Running         Running (less than a second|\\d+ seconds) ago +$`,
        ),
      );
    });
  });

  test('service inspect --pretty web matches Docker’s layout', async () => {
    const r = ok(await e.swarmctl(['service', 'inspect', '--pretty', 'web']), 'inspect --pretty');
    const expected = [
      '',
      `ID:\t\t${serviceId}`,
      'Name:\t\tweb',
      'Service Mode:\tReplicated',
      ' Replicas:\t2',
      'Placement:',
      'UpdateConfig:',
      ' Parallelism:\t1',
      ' On failure:\tpause',
      ' Monitoring Period: 5s',
      ' Max failure ratio: 0',
      ' Update order:      stop-first',
      'RollbackConfig:',
      ' Parallelism:\t1',
      ' On failure:\tpause',
      ' Monitoring Period: 5s',
      ' Max failure ratio: 0',
      ' Rollback order:    stop-first',
      'ContainerSpec:',
      ' Image:\t\tbusybox:latest',
      ` Args:\t\t${WEB_COMMAND.join(' ')} `,
      ' Init:\t\tfalse',
      'Resources:',
      'Endpoint Mode:\tvip',
      'Ports:',
      ' PublishedPort = 8080',
      '  Protocol = tcp',
      '  TargetPort = 80',
      '  PublishMode = ingress ',
    ].join('\n');
    // Docker ends each service with a blank line.
    assert.equal(r.stdout, `${expected}\n\n`);
  });

  test('service scale web=3 says "web scaled to 3" and converges with 3 running tasks', async () => {
    const r = ok(await e.swarmctl(['service', 'scale', 'web=3']), 'service scale');
    assert.equal(lines(r.stdout)[0], 'web scaled to 3');
    assertConverged(r.stdout, 3);
    assert.deepEqual(
      (await runningTasks()).map((t) => t.Slot),
      [1, 2, 3],
    );
  });

  test('service update --image busybox:latest --env-add X=1 (parallelism 1, delay 1s) replaces every task', async () => {
    const before = new Set((await runningTasks()).map((t) => t.ID));
    const r = ok(
      await e.swarmctl([
        'service',
        'update',
        '--image',
        'busybox:latest',
        '--env-add',
        'X=1',
        '--update-parallelism',
        '1',
        '--update-delay',
        '1s',
        'web',
      ]),
      'service update',
    );
    assert.equal(lines(r.stdout)[0], 'web');
    assertConverged(r.stdout, 3);
    const after = await runningTasks();
    assert.equal(after.length, 3);
    for (const t of after) {
      assert.ok(!before.has(t.ID), `task ${t.ID} was not replaced`);
      assert.equal(t.Spec.ContainerSpec.Image, 'busybox:latest');
      assert.ok(t.Spec.ContainerSpec.Env?.includes('X=1'), JSON.stringify(t.Spec.ContainerSpec.Env));
    }
    // service ps shows the replaced tasks under their slot.
    const ps = ok(
      await e.swarmctl(['service', 'ps', 'web', '--format', '{{.Name}} {{.Image}} {{.DesiredState}}']),
      'ps',
    );
    for (const slot of [1, 2, 3]) {
      assert.ok(ps.stdout.includes(`web.${slot} busybox:latest Running\n`), ps.stdout);
      assert.ok(ps.stdout.includes(` \\_ web.${slot} busybox:latest Shutdown\n`), ps.stdout);
    }
  });

  test('service rollback web goes back to the previous spec (no X)', async () => {
    const r = ok(await e.swarmctl(['service', 'rollback', 'web']), 'service rollback');
    const out = lines(r.stdout).map((l) => l.trimEnd());
    assert.deepEqual(out.slice(0, 2), ['web', 'rollback: manually requested rollback']);
    assertConverged(r.stdout, 3, { rollback: true });
    const after = await runningTasks();
    assert.equal(after.length, 3);
    for (const t of after) {
      assert.equal(t.Spec.ContainerSpec.Image, 'busybox:latest');
      assert.ok(!(t.Spec.ContainerSpec.Env ?? []).includes('X=1'));
    }
    const ls = ok(
      await e.swarmctl(['service', 'ls', '--format', '{{.Replicas}} {{.Image}} {{.Ports}}']),
      'ls',
    );
    assert.equal(ls.stdout, '3/3 busybox:latest *:8080->80/tcp\n');
  });

  test('service logs web: each running task’s line, prefixed web.<slot>.<task id>@node-1    | ', async () => {
    const r = ok(await e.swarmctl(['service', 'logs', 'web']), 'service logs');
    const out = lines(r.stdout);
    for (const l of out) assert.match(l, /^web\.[123]\.[0-9a-z]{12}@node-1 {4}\| serving as [0-9a-f]{12}$/);
    for (const t of await runningTasks()) {
      const want = `web.${t.Slot}.${t.ID.slice(0, 12)}@node-1    | serving as ${t.Status.ContainerStatus?.ContainerID?.slice(0, 12)}`;
      assert.ok(out.includes(want), `no "${want}" in\n${r.stdout}`);
    }
  });

  test('the seeds’ shortcuts: service ls -q | service ps ID, service logs ID-prefix, node ls -q | node ps ID', async () => {
    const q = ok(await e.swarmctl(['service', 'ls', '-q']), 'service ls -q');
    assert.equal(q.stdout, `${serviceId.slice(0, 12)}\n`);
    const fmt = ['--format', '{{.ID}} {{.Name}} {{.DesiredState}}'];
    const byName = ok(await e.swarmctl(['service', 'ps', 'web', ...fmt]), 'ps by name');
    const byId = ok(await e.swarmctl(['service', 'ps', q.stdout.trim(), ...fmt]), 'ps by short ID');
    assert.equal(byId.stdout, byName.stdout);
    const logsByName = ok(await e.swarmctl(['service', 'logs', 'web']), 'logs by name');
    const logsByPrefix = ok(
      await e.swarmctl(['service', 'logs', serviceId.slice(0, 1)]),
      'logs by ID prefix',
    );
    assert.deepEqual(lines(logsByPrefix.stdout).sort(), lines(logsByName.stdout).sort());
    const nodes = ok(await e.swarmctl(['node', 'ls', '-q']), 'node ls -q');
    assert.equal(nodes.stdout, `${nodeId}\n`);
    const nps = ok(
      await e.swarmctl(['node', 'ps', nodeId, '--filter', 'desired-state=running', ...fmt]),
      'node ps',
    );
    assert.deepEqual(
      lines(nps.stdout)
        .map((l) => l.split(' ').slice(1).join(' '))
        .sort(),
      ['web.1 Running', 'web.2 Running', 'web.3 Running'],
    );
  });

  test('service update web --replicas 2 (flags after the name, as in the seeds) converges to 2', async () => {
    const r = ok(
      await e.swarmctl(['service', 'update', 'web', '--replicas', '2']),
      'service update --replicas',
    );
    assert.equal(lines(r.stdout)[0], 'web');
    assertConverged(r.stdout, 2);
    await waitFor('2 running tasks', async () => ((await runningTasks()).length === 2 ? true : undefined));
  });

  test('service rm web echoes the name', async () => {
    const r = ok(await e.swarmctl(['service', 'rm', 'web']), 'service rm');
    assert.equal(r.stdout, 'web\n');
  });

  test('swarm leave --force right away: "Node left the swarm.", no container left, port 8080 closed', async () => {
    const r = ok(await e.swarmctl(['swarm', 'leave', '--force']), 'swarm leave');
    assert.equal(r.stdout, 'Node left the swarm.\n');
    await waitFor(
      'every task container to be removed',
      async () => ((await e.containers()).length === 0 ? true : undefined),
      10_000,
    );
    const curl = await e.curl('127.0.0.1', 8080);
    assert.equal(curl.code, 7, `curl exit ${curl.code}: ${curl.stdout}`);
    const ls = await e.swarmctl(['node', 'ls']);
    assert.equal(ls.code, 1);
    assert.equal(
      ls.stderr,
      'Error response from daemon: This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.\n',
    );
  });

  test('swarm leave --force with a service still running removes its containers and closes its port (as Docker)', async () => {
    ok(await e.swarmctl(['swarm', 'init', '--advertise-addr', '127.0.0.1']), 'swarm init again');
    ok(
      await e.swarmctl([
        'service',
        'create',
        '-d',
        '--name',
        'web',
        '--replicas',
        '2',
        '-p',
        '8080:80',
        'busybox',
        ...WEB_COMMAND,
      ]),
      'service create -d',
    );
    await waitFor('2 running tasks', async () => ((await runningTasks()).length === 2 ? true : undefined));
    await waitFor('port 8080 to answer', async () =>
      (await e.curl('127.0.0.1', 8080)).code === 0 ? true : undefined,
    );
    const r = ok(await e.swarmctl(['swarm', 'leave', '--force']), 'swarm leave');
    assert.equal(r.stdout, 'Node left the swarm.\n');
    await waitFor(
      'the task containers to be removed',
      async () => ((await e.containers()).length === 0 ? true : undefined),
      10_000,
    );
    const curl = await e.curl('127.0.0.1', 8080);
    assert.equal(curl.code, 7, `curl exit ${curl.code}: ${curl.stdout}`);
  });

  test('the node as inspected right after init stays updatable with the version it showed', async () => {
    const init = await e.swarmd.api('POST', '/swarm/init', { AdvertiseAddr: '127.0.0.1' });
    assert.equal(init.status, 200, init.body);
    const id = init.json<string>();
    const node = (await e.swarmd.api('GET', `/nodes/${id}`)).json<{
      Version: { Index: number };
      Spec: object;
    }>();
    await sleep(3000); // the local agent registers and heartbeats meanwhile
    const r = await e.swarmd.api('POST', `/nodes/${id}/update?version=${node.Version.Index}`, node.Spec);
    assert.equal(r.status, 200, r.body);
    ok(await e.swarmctl(['swarm', 'leave', '--force']), 'swarm leave');
  });
});
