// The service walkthrough through the real docker CLIs (20.10 and 28.x) against a real swarmd:
// attached create, ps, scale, update, rollback, logs, then the task containers seen by `docker ps`,
// `docker exec` and `docker inspect`, and rm. Exit codes and the key lines are checked against
// Docker's recorded output (docker-cli-outputs.md), the effects against the Engine API and curl.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type ApiTask, CLIS, type E2E, type Run, startE2E, WEB_COMMAND, waitFor } from './harness.js';

let e: E2E;

before(async () => {
  e = await startE2E();
  const init = await e.docker(CLIS[0], ['swarm', 'init', '--advertise-addr', '127.0.0.1']);
  assert.equal(init.code, 0, init.stderr);
  const load = await e.docker(CLIS[0], ['load', '-i', e.archive]);
  assert.equal(load.code, 0, load.stderr);
});

after(async () => {
  await e?.destroy();
});

function ok(r: Run, what: string): Run {
  assert.equal(r.code, 0, `${what}: exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  return r;
}

const lines = (s: string) =>
  s
    .replace(/\n$/, '')
    .split('\n')
    .map((l) => l.trimEnd());

async function running(): Promise<ApiTask[]> {
  return (await e.tasks('web'))
    .filter((t) => t.DesiredState === 'running' && t.Status.State === 'running')
    .sort((a, b) => (a.Slot ?? 0) - (b.Slot ?? 0));
}

for (const cli of CLIS) {
  describe(`docker ${cli.name} walkthrough`, () => {
    /** 20.10 ends "verify: Service converged"; 28.x names the service (its ID after create). */
    const convergedLine = (name: string) =>
      cli.name === '20.10' ? 'verify: Service converged' : `verify: Service ${name} converged`;

    function assertConverged(r: Run, n: number, name: string, rollback = false): void {
      const out = lines(r.stdout);
      const prefix = rollback ? 'overall progress: rolling back update: ' : 'overall progress: ';
      const first = out.findIndex((l) => l.startsWith('overall progress: '));
      assert.deepEqual(
        out.slice(first, first + 1 + n),
        [`${prefix}0 out of ${n} tasks`, ...Array.from({ length: n }, (_, i) => `${i + 1}/${n}:`)],
        r.stdout,
      );
      const overall = `${prefix}${n} out of ${n} tasks`;
      assert.ok(out.includes(overall), `no "${overall}" in\n${r.stdout}`);
      assert.equal(out.at(-1), convergedLine(name), `last line of\n${r.stdout}`);
    }

    test('service create (attached) converges with 2 running tasks serving on 8080', async () => {
      const r = ok(
        await e.docker(cli, [
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
      const id = lines(r.stdout)[0] ?? '';
      assert.match(id, /^[0-9a-z]{25}$/);
      assertConverged(r, 2, id);
      assert.equal((await running()).length, 2);
      const curl = await e.curl('127.0.0.1', 8080);
      assert.equal(curl.code, 0, curl.stderr);
      assert.match(curl.stdout, /^hello from [0-9a-f]{12}\n$/);
    });

    test('service ps web lists web.1 and web.2 Running on node-1', async () => {
      const r = ok(await e.docker(cli, ['service', 'ps', 'web']), 'service ps');
      const [header, ...rows] = lines(r.stdout);
      assert.match(header ?? '', /^ID +NAME +IMAGE +NODE +DESIRED STATE +CURRENT STATE +ERROR +PORTS$/);
      const tasks = await running();
      assert.equal(rows.length, 2, r.stdout);
      rows.forEach((row, i) => {
        assert.match(
          row,
          new RegExp(
            `^${tasks[i]?.ID.slice(0, 12)} +web\\.${i + 1} +busybox:latest +node-1 +Running +Running (less than a second|\\d+ seconds) ago$`,
          ),
        );
      });
    });

    test('service scale web=3 prints "web scaled to 3" and converges', async () => {
      const r = ok(await e.docker(cli, ['service', 'scale', 'web=3']), 'service scale');
      assert.equal(lines(r.stdout)[0], 'web scaled to 3');
      assertConverged(r, 3, 'web');
      assert.deepEqual(
        (await running()).map((t) => t.Slot),
        [1, 2, 3],
      );
    });

    test('service update --image busybox:latest --env-add X=1 replaces every task', async () => {
      const before = new Set((await running()).map((t) => t.ID));
      const r = ok(
        await e.docker(cli, [
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
      assertConverged(r, 3, 'web');
      const now = await running();
      assert.equal(now.length, 3);
      for (const t of now) {
        assert.ok(!before.has(t.ID), `task ${t.ID} was not replaced`);
        assert.ok(t.Spec.ContainerSpec?.Env?.includes('X=1'));
      }
    });

    test('service rollback web returns to the spec without X', async () => {
      const r = ok(await e.docker(cli, ['service', 'rollback', 'web']), 'service rollback');
      assert.deepEqual(lines(r.stdout).slice(0, 2), ['web', 'rollback: manually requested rollback']);
      assertConverged(r, 3, 'web', true);
      const now = await running();
      assert.equal(now.length, 3);
      for (const t of now) assert.ok(!(t.Spec.ContainerSpec?.Env ?? []).includes('X=1'));
    });

    test('service logs web prefixes each line with web.<slot>.<task id>@node-1    | ', async () => {
      const r = ok(await e.docker(cli, ['service', 'logs', 'web']), 'service logs');
      const out = lines(r.stdout);
      for (const l of out) assert.match(l, /^web\.[123]\.[0-9a-z]{12}@node-1 {4}\| serving as [0-9a-f]{12}$/);
      for (const t of await running()) {
        const want = `web.${t.Slot}.${t.ID.slice(0, 12)}@node-1    | serving as ${t.Status.ContainerStatus?.ContainerID?.slice(0, 12)}`;
        assert.ok(out.includes(want), `no "${want}" in\n${r.stdout}`);
      }
    });

    if (cli.name === '20.10') {
      test('swarmctl prints what docker 20.10 prints for ls, ps, inspect, node ls/ps and logs of the same state', async () => {
        const node = (await e.swarmd.api('GET', '/info')).json<{ Swarm: { NodeID: string } }>().Swarm.NodeID;
        const commands = [
          ['service', 'ls'],
          ['service', 'ps', 'web'],
          ['service', 'ps', '--no-trunc', 'web'],
          ['service', 'inspect', '--pretty', 'web'],
          ['node', 'ls'],
          ['node', 'ps', node],
        ];
        // The two runs are a few hundred ms apart, so "Running N seconds ago" may tick between
        // them (and widen its column): ages are blanked and blank runs folded before comparing.
        const ageless = (text: string) =>
          text
            .replace(/(\d+ seconds?|less than a second|about a minute|\d+ minutes) ago/gi, '_ ago')
            .replace(/ {2,}/g, '  ');
        for (const args of commands) {
          const d = await e.docker(cli, args);
          const s = await e.swarmctl(args);
          assert.equal(s.code, d.code, `${args.join(' ')}: exit codes`);
          assert.equal(
            ageless(s.stdout),
            ageless(d.stdout),
            `swarmctl ${args.join(' ')} differs from docker`,
          );
        }
        const d = await e.docker(cli, ['service', 'logs', 'web']);
        const s = await e.swarmctl(['service', 'logs', 'web']);
        assert.deepEqual(lines(s.stdout).sort(), lines(d.stdout).sort(), 'service logs');
      });
    }

    test('docker ps names the task containers web.<slot>.<task id> and shows their command; exec and inspect reach them', async () => {
      const tasks = await running();
      const ps = ok(await e.docker(cli, ['ps', '--format', '{{.ID}} {{.Names}}']), 'docker ps');
      const rows = lines(ps.stdout).map((l) => l.split(' '));
      assert.deepEqual(rows.map((r) => r[1]).sort(), tasks.map((t) => `web.${t.Slot}.${t.ID}`).sort());
      // The engine quotes arguments holding a blank with single quotes; the CLI Go-quotes the whole.
      const cmd = ok(await e.docker(cli, ['ps', '--no-trunc', '--format', '{{.Command}}']), 'docker ps');
      const [sh, c, script] = WEB_COMMAND;
      assert.deepEqual(
        lines(cmd.stdout),
        tasks.map(() => JSON.stringify(`${sh} ${c} '${script}'`)),
      );
      for (const t of tasks) {
        const name = `web.${t.Slot}.${t.ID}`;
        const cid = t.Status.ContainerStatus?.ContainerID ?? '';
        assert.ok(
          rows.some((r) => r[0] === cid.slice(0, 12) && r[1] === name),
          `${name} ${cid}`,
        );
        const exec = ok(await e.docker(cli, ['exec', name, 'cat', '/www/index.html']), 'docker exec');
        assert.equal(exec.stdout, `hello from ${cid.slice(0, 12)}\n`);
        const inspect = ok(
          await e.docker(cli, [
            'inspect',
            '--format',
            '{{.State.Running}} {{.Name}} {{.Id}}',
            cid.slice(0, 12),
          ]),
          'docker inspect',
        );
        assert.equal(inspect.stdout, `true /${name} ${cid}\n`);
      }
    });

    test('service rm web echoes the name; containers go and the port closes', async () => {
      const r = ok(await e.docker(cli, ['service', 'rm', 'web']), 'service rm');
      assert.equal(r.stdout, 'web\n');
      await waitFor('the containers to go', async () =>
        (await e.containers()).length === 0 ? true : undefined,
      );
      const curl = await e.curl('127.0.0.1', 8080);
      assert.equal(curl.code, 7, `curl exit ${curl.code}: ${curl.stdout}`);
    });
  });
}
