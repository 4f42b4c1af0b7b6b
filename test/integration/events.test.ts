// `GET /events` with the real docker CLI (issue 15): `docker events` shows a service's create,
// update (replicas.old/new) and remove live; the task's container events (create, start, die,
// destroy) on the node; `--since/--until` replays them and ends by itself; filters narrow them; and
// `swarmctl events` prints exactly the docker CLI's lines for the same window.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { DOCKER, docker, swarmctl } from '../helpers/cli.js';
import { type Cluster, loadBusybox, startCluster, until } from '../helpers/cluster.js';

describe('events', { timeout: 240_000 }, () => {
  let cluster: Cluster;
  const live: string[] = [];
  let follower: ReturnType<typeof spawn> | undefined;
  let since = '';
  let endedAt = '';

  let followerErr = '';
  before(async () => {
    cluster = await startCluster({ workers: 0 });
    await loadBusybox(cluster.hosts);
    since = (Date.now() / 1000).toFixed(3);
    follower = spawn(DOCKER, ['events', '--filter', 'type=service'], {
      env: { ...process.env, DOCKER_HOST: `unix://${cluster.manager.socket}` },
    });
    let partial = '';
    follower.stdout?.on('data', (b: Buffer) => {
      const lines = (partial + b.toString()).split('\n');
      partial = lines.pop() ?? '';
      live.push(...lines.filter(Boolean));
    });
    follower.stderr?.on('data', (b: Buffer) => {
      followerErr += b.toString();
    });
    // The stream is open once a probe service's creation shows on it.
    const probe = await docker(cluster.manager, [
      'service',
      'create',
      '--detach',
      '--name',
      'probe',
      'busybox:latest',
      'sleep',
      '3600',
    ]);
    assert.equal(probe.code, 0, probe.stderr);
    await until(
      'the follower is live',
      async () => live.some((l) => / service create .*\(name=probe\)$/.test(l)) || undefined,
      30_000,
    ).catch((e: Error) => {
      throw new Error(
        `${e.message}; docker events said: ${followerErr || '(nothing)'}; lines: ${live.join(' | ')}`,
      );
    });
    assert.equal((await docker(cluster.manager, ['service', 'rm', 'probe'])).code, 0);
  });

  after(async () => {
    follower?.kill();
    await cluster?.destroy();
  });

  it('docker events shows a service create, scale and rm live, as the docker CLI prints them', async () => {
    const m = cluster.manager;
    const created = await docker(m, [
      'service',
      'create',
      '--detach',
      '--name',
      'ev',
      'busybox:latest',
      'sleep',
      '3600',
    ]);
    assert.equal(created.code, 0, created.stderr);
    const id = created.stdout.trim();
    await until(
      'task running',
      async () =>
        (
          await docker(m, ['service', 'ps', '-q', '--filter', 'desired-state=running', 'ev'])
        ).stdout.trim() !== '' || undefined,
      60_000,
    );
    await until(
      'the task container runs',
      async () =>
        (
          await docker(m, ['ps', '-q', '--filter', 'label=com.docker.swarm.service.name=ev'])
        ).stdout.trim() !== '' || undefined,
      60_000,
    );
    assert.equal((await docker(m, ['service', 'scale', '--detach', 'ev=2'])).code, 0);
    assert.equal((await docker(m, ['service', 'rm', 'ev'])).code, 0);
    await until(
      'remove seen',
      async () => live.some((l) => l.includes(`service remove ${id}`)) || undefined,
      30_000,
    ).catch((e: Error) => {
      throw new Error(
        `${e.message}; docker events said: ${followerErr || '(nothing)'}; lines: ${live.join(' | ')}`,
      );
    });
    const time = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/;
    const mine = live.filter((l) => l.includes(id));
    assert.match(mine[0] ?? '', new RegExp(` service create ${id} \\(name=ev\\)$`));
    assert.match((mine[0] ?? '').split(' ')[0] ?? '', time);
    assert.ok(
      mine.some((l) => l.endsWith(`service update ${id} (name=ev, replicas.new=2, replicas.old=1)`)),
      mine.join('\n'),
    );
    assert.match(mine.at(-1) ?? '', new RegExp(` service remove ${id} \\(name=ev\\)$`));
    assert.ok(!live.some((l) => / container /.test(l)), 'the type filter keeps container events out');
    await until(
      'the containers are gone',
      async () => (await docker(m, ['ps', '-aq'])).stdout.trim() === '' || undefined,
      60_000,
    );
    endedAt = (Date.now() / 1000 + 0.5).toFixed(3);
  });

  it('--since/--until replays the window and ends by itself; container events come from the node', async () => {
    const m = cluster.manager;
    endedAt ||= (Date.now() / 1000).toFixed(3); // the test before failed early: the window ends now
    const r = await docker(
      m,
      ['events', '--since', since, '--until', endedAt, '--filter', 'type=container'],
      20_000,
    );
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    const actions = lines.map((l) => l.split(' ')[2]);
    for (const a of ['create', 'start', 'die', 'destroy'])
      assert.ok(actions.includes(a), `${a} in\n${r.stdout}`);
    assert.ok(
      lines.every((l) => / container \w+ [0-9a-f]{64} \(/.test(l)),
      r.stdout,
    );
    assert.ok(
      lines.some((l) => /name=ev\.1\.\w+/.test(l) && /image=busybox:latest/.test(l)),
      r.stdout,
    );
    assert.ok(
      lines.some((l) => / die /.test(l) && /exitCode=\d+/.test(l)),
      r.stdout,
    );
  });

  it('swarmctl events prints the same lines as docker events for the same window and filters', async () => {
    const m = cluster.manager;
    const args = [
      'events',
      '--since',
      since,
      '--until',
      endedAt,
      '--filter',
      'type=service',
      '--filter',
      'event=create',
    ];
    const [d, s] = await Promise.all([docker(m, args, 20_000), swarmctl(m, args, 20_000)]);
    assert.equal(d.code, 0, d.stderr);
    assert.equal(s.code, 0, s.stderr);
    assert.notEqual(d.stdout.trim(), '');
    assert.equal(s.stdout, d.stdout);
    const bad = await swarmctl(m, ['events', '--until', 'soon']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /invalid value for --until/);
  });
});
