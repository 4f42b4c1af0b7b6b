// Local volumes on a real swarmd through the real docker CLIs (20.10 and 28.x) and swarmctl:
// volume create/ls/inspect/rm with labels and tmpfs options; a service's named volume (made on
// first use with the mount's labels) keeps what a task wrote for the replacement of that task
// after `docker kill`, and is refused removal while in use, in Docker's words; an anonymous volume
// goes with its task; a tmpfs volume and a tmpfs mount with their sizes and mode; a bind mount of
// a missing path rejects the task with Docker's error; prune at API 1.41 and 1.47. swarmctl prints
// what docker does; a stack's volume gets its compose driver_opts and labels. Everything lives in the swarmd's state dir and goes with it in `after`.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLIS, type E2E, type Run, startE2E, waitFor } from './harness.js';

/** `volume create` flags of a 1 MiB tmpfs volume. */
const TMPFS_OPTIONS = ['-o', 'type=tmpfs', '-o', 'device=tmpfs', '-o', 'o=size=1m'];

const [CLI_20, CLI_28] = CLIS;
let e: E2E;

/** The keys of a volume Docker's engine shows (recorded from dockerd 20.10.24), in its order. */
const VOLUME_KEYS = ['CreatedAt', 'Driver', 'Labels', 'Mountpoint', 'Name', 'Options', 'Scope'];

before(async () => {
  e = await startE2E();
  ok(await e.docker(CLI_20, ['swarm', 'init', '--advertise-addr', '127.0.0.1']), 'swarm init');
  ok(await e.docker(CLI_20, ['load', '-i', e.archive]), 'load');
});

after(async () => {
  await e?.destroy();
});

function ok(r: Run, what: string): Run {
  assert.equal(r.code, 0, `${what}: exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  return r;
}

const mountpoint = (name: string) => join(e.swarmd.stateDir, 'runtime', 'volumes', name, '_data');

/** swarmctl's output and status are docker 28.x's for the same command. */
async function sameAsDocker(args: string[]): Promise<Run> {
  const theirs = await e.docker(CLI_28, args);
  const ours = await e.swarmctl(args);
  assert.deepEqual(ours, theirs, `swarmctl ${args.join(' ')} vs docker 28.x`);
  return ours;
}

/** The running task of a service whose container is not `not`, once there is one. */
async function runningContainer(service: string, not?: string): Promise<string> {
  return waitFor(
    `a running task of ${service}`,
    async () => {
      const t = (await e.tasks(service)).find(
        (x) =>
          x.Status.State === 'running' &&
          x.DesiredState === 'running' &&
          x.Status.ContainerStatus?.ContainerID !== undefined &&
          x.Status.ContainerStatus.ContainerID !== not,
      );
      return t?.Status.ContainerStatus?.ContainerID;
    },
    40_000,
  );
}

/** `docker service create -d --name NAME --stop-grace-period 1s …` (busybox's sleep ignores TERM). */
async function createService(name: string, args: string[]): Promise<void> {
  ok(
    await e.docker(CLI_28, ['service', 'create', '-d', '--name', name, '--stop-grace-period', '1s', ...args]),
    `service create ${name}`,
  );
}

async function removeService(name: string): Promise<void> {
  ok(await e.docker(CLI_28, ['service', 'rm', name]), `service rm ${name}`);
  await waitFor(
    `${name}'s containers to go`,
    async () =>
      (await e.containers()).some((c) => c.Labels['com.docker.swarm.service.name'] === name)
        ? undefined
        : true,
    30_000,
  );
}

for (const cli of CLIS) {
  describe(`docker ${cli.name} volume commands`, () => {
    const named = `vol-${cli.name.replace('.', '')}`;
    const tmp = `tmp-${cli.name.replace('.', '')}`;

    test('create prints the name; inspect shows Docker’s keys, labels, options and the mountpoint', async () => {
      assert.equal(
        ok(await e.docker(cli, ['volume', 'create', '--label', 'a=b', '--label', 'c', named]), 'create')
          .stdout,
        `${named}\n`,
      );
      const created = ok(await e.docker(cli, ['volume', 'create', ...TMPFS_OPTIONS, tmp]), 'create tmpfs');
      assert.equal(created.stdout, `${tmp}\n`);
      const [v, t] = JSON.parse(
        ok(await e.docker(cli, ['volume', 'inspect', named, tmp]), 'inspect').stdout,
      ) as Record<string, unknown>[];
      assert.deepEqual(Object.keys(v ?? {}), VOLUME_KEYS);
      assert.deepEqual(
        { ...v, CreatedAt: '' },
        {
          CreatedAt: '',
          Driver: 'local',
          Labels: { a: 'b', c: '' },
          Mountpoint: mountpoint(named),
          Name: named,
          Options: cli.name === '20.10' ? {} : null,
          Scope: 'local',
        },
      );
      assert.match(String(v?.CreatedAt), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.deepEqual(t?.Options, { device: 'tmpfs', o: 'size=1m', type: 'tmpfs' });
    });

    test('ls: the table, -q and the filters, the same through swarmctl', async () => {
      const table = ok(await e.docker(cli, ['volume', 'ls']), 'ls');
      assert.equal(table.stdout.split('\n')[0], 'DRIVER    VOLUME NAME');
      assert.ok(table.stdout.includes(`local     ${named}\n`), table.stdout);
      assert.equal(
        ok(
          await e.docker(cli, ['volume', 'ls', '-q', '--filter', 'label=a=b', '--filter', `name=${named}`]),
          'ls label',
        ).stdout,
        `${named}\n`,
      );
      assert.equal(
        ok(await e.docker(cli, ['volume', 'ls', '-q', '--filter', `name=^${tmp}$`]), 'ls name').stdout,
        `${tmp}\n`,
      );
      for (const args of [
        ['volume', 'ls'],
        ['volume', 'ls', '-q', '--filter', 'dangling=true'],
        ['volume', 'ls', '--filter', 'driver=local', '--format', '{{.Name}}\t{{.Driver}}\t{{.Mountpoint}}'],
        ['volume', 'inspect', tmp],
        ['volume', 'inspect', '--format', '{{.Name}} {{.Labels}} {{.Options}}', named],
      ]) {
        await sameAsDocker(args);
      }
    });

    test('rm prints each name and the volume and its data are gone; a missing one is an error', async () => {
      assert.equal(ok(await e.docker(cli, ['volume', 'rm', named, tmp]), 'rm').stdout, `${named}\n${tmp}\n`);
      assert.equal(
        ok(await e.docker(cli, ['volume', 'ls', '-q', '--filter', `name=${named}`]), 'ls').stdout,
        '',
      );
      const missing = await e.docker(cli, ['volume', 'inspect', named]);
      assert.equal(missing.code, 1);
      assert.equal(
        missing.stderr,
        cli.name === '20.10'
          ? `Error: No such volume: ${named}\n`
          : `Error response from daemon: get ${named}: no such volume\n`,
      );
    });
  });
}

describe('volumes of services', () => {
  let first = '';
  let second = '';

  test('a named volume keeps what a task wrote for the replacement of that task after docker kill', async () => {
    await createService('keeper', [
      '--restart-delay',
      '1s',
      '--mount',
      'type=volume,source=data1,target=/data,volume-label=k=v',
      '--mount',
      'type=volume,target=/anon',
      'busybox',
      'sh',
      '-c',
      'if [ -f /data/first ]; then echo "found $(cat /data/first)"; else hostname > /data/first; echo wrote; fi; trap "exit 0" TERM; sleep 1000 & wait',
    ]);
    first = await runningContainer('keeper');
    const data1 = JSON.parse(
      ok(await e.docker(CLI_28, ['volume', 'inspect', 'data1']), 'inspect').stdout,
    ) as {
      Labels: unknown;
    }[];
    assert.deepEqual(data1[0]?.Labels, { k: 'v' });
    ok(await e.docker(CLI_28, ['kill', first]), 'docker kill');
    second = await runningContainer('keeper', first);
    const read = ok(await e.docker(CLI_28, ['exec', second, 'cat', '/data/first']), 'exec cat');
    assert.equal(read.stdout, `${first.slice(0, 12)}\n`);
    const logs = await waitFor('the replacement’s log line', async () => {
      const r = await e.docker(CLI_28, ['logs', second]);
      return r.stdout.includes('found') ? r.stdout : undefined;
    });
    assert.equal(logs, `found ${first.slice(0, 12)}\n`);
  });

  test('a volume in use is not removed, force or not, in Docker’s words, through docker and swarmctl', async () => {
    for (const args of [
      ['volume', 'rm', 'data1'],
      ['volume', 'rm', '-f', 'data1'],
    ]) {
      const r = await sameAsDocker(args);
      assert.equal(r.code, 1);
      const m = /^Error response from daemon: remove data1: volume is in use - \[([0-9a-f ]+)\]\n$/.exec(
        r.stderr,
      );
      assert.ok(m, r.stderr);
      // The killed task's container is kept as history, so it still counts, as with Docker.
      assert.deepEqual(m[1]?.split(' ').sort(), [first, second].sort());
    }
    const old = await e.docker(CLI_20, ['volume', 'rm', 'data1']);
    assert.equal(old.stderr, (await e.docker(CLI_28, ['volume', 'rm', 'data1'])).stderr);
    assert.equal(
      ok(await e.docker(CLI_28, ['volume', 'ls', '-q', '--filter', 'dangling=false']), 'ls').stdout.includes(
        'data1\n',
      ),
      true,
    );
  });

  test('an anonymous volume is labelled so and goes with its task', async () => {
    const anon = JSON.parse(
      ok(await e.docker(CLI_28, ['inspect', '--format', '{{json .Mounts}}', second]), 'inspect').stdout,
    ) as { Name?: string; Destination: string }[];
    const name = anon.find((m) => m.Destination === '/anon')?.Name ?? '';
    assert.match(name, /^[0-9a-f]{64}$/);
    const labels = ok(
      await e.docker(CLI_28, ['volume', 'inspect', '--format', '{{json .Labels}}', name]),
      'inspect',
    );
    assert.equal(labels.stdout, '{"com.docker.volume.anonymous":""}\n');
    await removeService('keeper');
    assert.equal((await e.docker(CLI_28, ['volume', 'inspect', name])).code, 1);
    assert.equal(ok(await e.docker(CLI_28, ['volume', 'ls', '-q']), 'ls').stdout.includes('data1\n'), true);
  });

  test('a tmpfs volume and a tmpfs mount show their sizes and mode inside the task, as with Docker', async () => {
    await createService('tmpfses', [
      '--mount',
      'type=volume,source=tvol,target=/t,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-opt=o=size=2m,volume-nocopy',
      '--mount',
      'type=tmpfs,target=/scratch,tmpfs-size=1m,tmpfs-mode=700',
      'busybox',
      'sleep',
      '1000',
    ]);
    const id = await runningContainer('tmpfses');
    const mounts = ok(await e.docker(CLI_28, ['exec', id, 'cat', '/proc/mounts']), 'exec').stdout.split('\n');
    const at = (target: string) =>
      mounts
        .find((l) => l.split(' ')[1] === target)
        ?.split(' ')
        .slice(0, 4)
        .join(' ');
    assert.equal(at('/t'), 'tmpfs /t tmpfs rw,relatime,size=2048k');
    assert.equal(at('/scratch'), 'tmpfs /scratch tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k,mode=700');
    const tvol = JSON.parse(ok(await e.docker(CLI_20, ['volume', 'inspect', 'tvol']), 'inspect').stdout) as {
      Options: unknown;
    }[];
    assert.deepEqual(tvol[0]?.Options, { device: 'tmpfs', o: 'size=2m', type: 'tmpfs' });
    await removeService('tmpfses');
  });

  test('a bind mount of a missing path rejects the task with Docker’s error', async () => {
    await createService('nobind', [
      '--mount',
      'type=bind,source=/nonexistent-skt-e2e,target=/x',
      'busybox',
      'sleep',
      '1000',
    ]);
    const line = await waitFor('a rejected task', async () => {
      const r = await e.docker(CLI_28, [
        'service',
        'ps',
        '--no-trunc',
        '--format',
        '{{.CurrentState}}|{{.Error}}',
        'nobind',
      ]);
      return r.stdout.split('\n').find((l) => l.startsWith('Rejected'));
    });
    assert.match(
      line,
      /^Rejected .*\|"invalid mount config for type "bind": bind source path does not exist: \/nonexistent-skt-e2e"$/,
    );
    await removeService('nobind');
  });

  test('prune: 28.x (API 1.47) takes anonymous volumes only, 20.10 (1.41) every unused one without options', async () => {
    ok(await e.docker(CLI_28, ['volume', 'create', 'p28']), 'create');
    ok(await e.swarmctl(['volume', 'create', '--label', 'keep', 'pctl']), 'create');
    assert.deepEqual(await e.docker(CLI_28, ['volume', 'prune', '-f']), {
      code: 0,
      stdout: 'Total reclaimed space: 0B\n',
      stderr: '',
    });
    const old = ok(
      await e.docker(CLI_20, ['volume', 'prune', '-f', '--filter', 'label!=keep']),
      'prune 20.10',
    );
    // data1 holds the first task's hostname (12 characters and a newline); tvol has options.
    assert.equal(old.stdout, 'Deleted Volumes:\ndata1\np28\n\nTotal reclaimed space: 13B\n');
    const ours = await e.swarmctl(['volume', 'prune', '-a', '-f']);
    assert.deepEqual(ours, {
      code: 0,
      stdout: 'Deleted Volumes:\npctl\n\nTotal reclaimed space: 0B\n',
      stderr: '',
    });
    ok(await e.swarmctl(['volume', 'create', '--label', 'keep', 'pctl']), 'create');
    assert.deepEqual(await e.docker(CLI_28, ['volume', 'prune', '-a', '-f']), ours);
    assert.equal(ok(await e.docker(CLI_28, ['volume', 'ls', '-q']), 'ls').stdout, 'tvol\n');
    ok(await e.swarmctl(['volume', 'rm', 'tvol']), 'rm tvol');
    assert.equal(ok(await e.swarmctl(['volume', 'ls', '-q']), 'ls').stdout, '');
  });

  test('a stack’s top-level volume becomes STACK_name with its driver options and labels', async () => {
    const file = join(e.dir, 'stack.yml');
    writeFileSync(
      file,
      [
        'version: "3.8"',
        'services:',
        '  app:',
        '    image: busybox',
        '    command: ["sleep", "1000"]',
        '    stop_grace_period: 1s',
        '    volumes: ["data:/data"]',
        'volumes:',
        '  data:',
        '    driver_opts: {type: tmpfs, device: tmpfs, o: size=1m}',
        '    labels: {tier: test}',
        '',
      ].join('\n'),
    );
    ok(await e.docker(CLI_28, ['stack', 'deploy', '-c', file, 'st']), 'stack deploy');
    const id = await runningContainer('st_app');
    const vol = JSON.parse(
      ok(await e.docker(CLI_28, ['volume', 'inspect', 'st_data']), 'inspect').stdout,
    ) as {
      Labels: unknown;
      Options: unknown;
    }[];
    assert.deepEqual(vol[0]?.Labels, { 'com.docker.stack.namespace': 'st', tier: 'test' });
    assert.deepEqual(vol[0]?.Options, { device: 'tmpfs', o: 'size=1m', type: 'tmpfs' });
    const mounts = ok(await e.docker(CLI_28, ['exec', id, 'grep', ' /data ', '/proc/mounts']), 'exec').stdout;
    assert.match(mounts, /^tmpfs \/data tmpfs rw,relatime,size=1024k/);
    ok(await e.docker(CLI_28, ['stack', 'rm', 'st']), 'stack rm');
    await waitFor(
      'the stack’s containers to go',
      async () => ((await e.containers()).length === 0 ? true : undefined),
      30_000,
    );
    // Like Docker, removing the stack leaves its volumes.
    assert.equal(ok(await e.swarmctl(['volume', 'rm', 'st_data']), 'rm').stdout, 'st_data\n');
  });
});
