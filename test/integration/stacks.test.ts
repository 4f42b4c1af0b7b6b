// Stacks on the cluster in a box (issue #14), through the real docker CLI and swarmctl: a web + db
// stack with a network and a secret, web reaching db by name; an unchanged redeploy restarts no
// task; an image change updates that service only; --dry-run lists exactly the differences;
// --prune removes a dropped service; depends_on service_healthy holds web until db is healthy;
// bad compose files create nothing; every seed compose file (images replaced by busybox) deploys
// with both CLIs and `stack rm` leaves nothing behind.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { type ApiTask, docker, swarmctl } from '../helpers/cli.js';
import {
  type Cluster,
  type ClusterHost,
  hostOfNode,
  loadBusybox,
  startCluster,
  until,
} from '../helpers/cluster.js';

const FIXTURES = fileURLToPath(new URL('../../../test/stack/fixtures/', import.meta.url));
const HTTPD = ['sh', '-c', 'mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www'];

const webDb = (webImage = 'busybox:latest') => `version: "3.8"
services:
  web:
    image: ${webImage}
    command: ${JSON.stringify(HTTPD)}
    networks: [back]
    secrets: [pw]
    deploy:
      replicas: 2
  db:
    image: busybox:latest
    command: ${JSON.stringify(HTTPD)}
    networks: [back]
networks:
  back:
secrets:
  pw:
    file: ./pw.txt
`;

describe('stacks', { timeout: 600_000 }, () => {
  let cluster: Cluster;
  let manager: ClusterHost;
  let dir: string;

  const cli = async (tool: 'docker' | 'swarmctl', args: string[], stdin = '') => {
    const r =
      tool === 'docker'
        ? await docker(manager, args, 120_000, stdin)
        : await swarmctl(manager, args, 120_000, stdin);
    return r;
  };
  const ok = async (tool: 'docker' | 'swarmctl', args: string[]) => {
    const r = await cli(tool, args);
    assert.equal(r.code, 0, `${tool} ${args.join(' ')}: ${r.stderr}`);
    return r;
  };
  const tasksOf = async (stack: string) =>
    (
      await manager.api(
        'GET',
        `/tasks?filters=${encodeURIComponent(JSON.stringify({ label: { [`com.docker.stack.namespace=${stack}`]: true } }))}`,
      )
    )
      .json<(ApiTask & { ServiceID: string; CreatedAt: string })[]>()
      .filter((t) => t.DesiredState === 'running');
  const allRunning = (stack: string, count: number) =>
    until(
      `${count} tasks of ${stack} running`,
      async () => {
        const ts = await tasksOf(stack);
        return ts.length === count && ts.every((t) => t.Status.State === 'running') ? ts : undefined;
      },
      90_000,
    );
  const leftovers = async (stack: string) => {
    const label = encodeURIComponent(
      JSON.stringify({ label: { [`com.docker.stack.namespace=${stack}`]: true } }),
    );
    const counts = await Promise.all(
      ['services', 'networks', 'secrets', 'configs', 'tasks'].map(
        async (k) => (await manager.api('GET', `/${k}?filters=${label}`)).json<unknown[]>().length,
      ),
    );
    return counts.reduce((a, b) => a + b, 0);
  };
  const compose = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };

  before(async () => {
    cluster = await startCluster({ workers: 2 });
    manager = cluster.manager;
    await loadBusybox(cluster.hosts);
    dir = mkdtempSync(join(tmpdir(), 'skt-test-stack-'));
    writeFileSync(join(dir, 'pw.txt'), 's3cret');
  });
  after(async () => {
    await cluster?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('docker stack deploy: web reaches db by name; stack ls/services/ps; an unchanged redeploy restarts nothing', async () => {
    const file = compose('app.yml', webDb());
    await ok('docker', ['stack', 'deploy', '-c', file, 'app']);
    const first = await allRunning('app', 3);
    const ls = await ok('docker', ['stack', 'ls']);
    assert.match(ls.stdout, /^app\s+2\s*$/m);
    const services = await ok('docker', ['stack', 'services', 'app', '--format', '{{.Name}} {{.Replicas}}']);
    assert.deepEqual(services.stdout.trim().split('\n').sort(), ['app_db 1/1', 'app_web 2/2']);
    // From a web task: the db service answers by its short name (the network alias) and its full name.
    const webId = (await manager.api('GET', '/services/app_web')).json<{ ID: string }>().ID;
    const w = first.find((t) => t.ServiceID === webId);
    assert.ok(w?.NodeID && w.Status.ContainerStatus?.ContainerID);
    const host = await hostOfNode(cluster, w.NodeID);
    for (const name of ['db', 'app_db']) {
      const r = await until(`web reaches ${name}`, async () => {
        const x = await docker(host, [
          'exec',
          w.Status.ContainerStatus?.ContainerID ?? '',
          'timeout',
          '5',
          'wget',
          '-qO-',
          `http://${name}/`,
        ]);
        return x.code === 0 && x.stdout.trim() !== '' ? x : undefined;
      });
      assert.ok(r);
    }
    await ok('docker', ['stack', 'deploy', '-c', file, 'app']);
    await new Promise((r) => setTimeout(r, 3000));
    const again = await tasksOf('app');
    assert.deepEqual(
      again.map((t) => t.ID).sort(),
      first.map((t) => t.ID).sort(),
      'no task restarted by an unchanged redeploy',
    );
    await ok('docker', ['stack', 'rm', 'app']);
    await until('app gone', async () => ((await leftovers('app')) === 0 ? true : undefined), 60_000);
  });

  it('swarmctl stack deploy: unchanged redeploy, image change, --dry-run, --prune, stack rm', async () => {
    const file = compose('s.yml', webDb());
    const out = await ok('swarmctl', ['stack', 'deploy', '-c', file, 's']);
    assert.match(
      out.stdout,
      /Creating network s_back\nCreating secret s_pw\nCreating service s_db\nCreating service s_web/,
    );
    const first = await allRunning('s', 3);
    const dry0 = await ok('swarmctl', ['stack', 'deploy', '--dry-run', '-c', file, 's']);
    assert.equal(dry0.stdout, 'Nothing would change\n');
    await ok('swarmctl', ['stack', 'deploy', '-c', file, 's']);
    await new Promise((r) => setTimeout(r, 2000));
    assert.deepEqual(
      (await tasksOf('s')).map((t) => t.ID).sort(),
      first.map((t) => t.ID).sort(),
      'unchanged: no restart',
    );

    // Another tag of the same image: only web changes.
    const tag = await docker(manager, ['tag', 'busybox:latest', 'busybox:v2']);
    for (const h of cluster.hosts) await docker(h, ['tag', 'busybox:latest', 'busybox:v2']);
    assert.equal(tag.code, 0, tag.stderr);
    const v2 = compose('s2.yml', webDb('busybox:v2'));
    const dry = await ok('swarmctl', ['stack', 'deploy', '--dry-run', '-c', v2, 's']);
    assert.match(
      dry.stdout,
      /^Would update service s_web:\n {2}Labels\.com\.docker\.stack\.image\n {2}TaskTemplate\.ContainerSpec\.Image\n$/,
    );
    await ok('swarmctl', ['stack', 'deploy', '-c', v2, 's']);
    const dbId = (await manager.api('GET', '/services/s_db')).json<{ ID: string }>().ID;
    const dbTask = first.filter((t) => t.ServiceID === dbId);
    const after = await until(
      'web replaced',
      async () => {
        const ts = await tasksOf('s');
        const webNow = ts.filter((t) => !dbTask.some((d) => d.ServiceID === t.ServiceID));
        return webNow.length === 2 &&
          webNow.every((t) => t.Status.State === 'running' && !first.some((f) => f.ID === t.ID))
          ? ts
          : undefined;
      },
      90_000,
    );
    assert.ok(dbTask.length === 1 && after.some((t) => t.ID === dbTask[0]?.ID), 'db kept its task');

    // Dropping db from the file: kept without --prune, removed with it.
    const onlyWeb = YAML.parse(readFileSync(v2, 'utf8')) as { services: Record<string, unknown> };
    delete onlyWeb.services.db;
    const pruned = compose('s3.yml', YAML.stringify(onlyWeb));
    const keep = await ok('swarmctl', ['stack', 'deploy', '--dry-run', '-c', pruned, 's']);
    assert.equal(keep.stdout, 'Nothing would change\n');
    const dryPrune = await ok('swarmctl', ['stack', 'deploy', '--dry-run', '--prune', '-c', pruned, 's']);
    assert.equal(dryPrune.stdout, 'Would remove service s_db\n');
    await ok('swarmctl', ['stack', 'deploy', '--prune', '-c', pruned, 's']);
    const svcs = await ok('swarmctl', ['stack', 'services', 's', '--format', '{{.Name}}']);
    assert.equal(svcs.stdout.trim(), 's_web');
    const rm = await ok('swarmctl', ['stack', 'rm', 's']);
    assert.match(rm.stdout, /Removing service s_web\nRemoving secret s_pw\nRemoving network s_back/);
    assert.equal(await leftovers('s'), 0, 'swarmctl stack rm waits for the tasks to go');
  });

  it('beyond Docker: depends_on service_healthy holds web until db is healthy', async () => {
    const file = compose(
      'dep.yml',
      `services:
  db:
    image: busybox:latest
    command: ["sh", "-c", "sleep 3; touch /tmp/ready; exec sleep 3600"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 500ms
      start_period: 10s
  web:
    image: busybox:latest
    command: ["sleep", "3600"]
    depends_on:
      db:
        condition: service_healthy
`,
    );
    const out = await ok('swarmctl', ['stack', 'deploy', '-c', file, 'dep']);
    assert.match(
      out.stdout,
      /Creating service dep_db\nWaiting for dep_db \(healthy\)\nCreating service dep_web/,
    );
    const ts = await allRunning('dep', 2);
    const svc = (name: string) =>
      manager.api('GET', `/services/${name}`).then((r) => r.json<{ ID: string; CreatedAt: string }>());
    const dbSvc = await svc('dep_db');
    const webSvc = await svc('dep_web');
    const dbTask = ts.find((t) => t.ServiceID === dbSvc.ID);
    const healthyAt = Date.parse((dbTask?.Status as { Timestamp?: string } | undefined)?.Timestamp ?? '');
    assert.ok(
      Date.parse(webSvc.CreatedAt) >= healthyAt,
      `web created ${webSvc.CreatedAt}, db healthy ${new Date(healthyAt).toISOString()}`,
    );
    await ok('swarmctl', ['stack', 'rm', 'dep']);
  });

  it('bad compose files give one clear error with the location and create nothing', async () => {
    const cases: [string, string, RegExp][] = [
      ['syntax.yml', 'services:\n  web:\n    image: [busybox\n', /syntax\.yml:\d+/],
      ['dep.yml', 'services:\n  web:\n    image: busybox\n    depends_on: [nosuch]\n', /dep\.yml:4.*nosuch/],
      [
        'var.yml',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a compose variable, not a JS template
        'services:\n  web:\n    image: ${NO_SUCH_VAR_X:?the image is required}\n',
        /var\.yml:3.*NO_SUCH_VAR_X.*the image is required/,
      ],
      [
        'type.yml',
        'services:\n  web:\n    image: busybox\n    deploy:\n      replicas: two\n',
        /type\.yml:5.*replicas/,
      ],
    ];
    for (const [name, text, message] of cases) {
      const r = await cli('swarmctl', ['stack', 'deploy', '-c', compose(name, text), 'bad']);
      assert.notEqual(r.code, 0, name);
      assert.match(r.stderr, message, `${name}: ${r.stderr}`);
    }
    assert.equal(await leftovers('bad'), 0);
  });

  it('every seed compose file deploys with both CLIs (busybox images) and stack rm leaves nothing', async () => {
    const seeds = readdirSync(FIXTURES).filter(
      (f) => f.startsWith('seed') && f.endsWith('.yml') && !f.includes('typos'),
    );
    assert.ok(seeds.length > 0, `seed fixtures in ${FIXTURES}`);
    // The files the seeds name (secrets, configs) sit beside them.
    for (const f of readdirSync(FIXTURES).filter((x) => !x.endsWith('.yml')))
      writeFileSync(join(dir, f), readFileSync(join(FIXTURES, f)));
    for (const [i, seed] of seeds.entries()) {
      const doc = YAML.parse(readFileSync(join(FIXTURES, seed), 'utf8')) as {
        services: Record<string, Record<string, unknown>>;
        networks?: Record<string, { driver?: string } | null>;
      };
      // A seed's `driver: bridge` network cannot carry swarm services (with Docker either): overlay.
      for (const n of Object.values(doc.networks ?? {}))
        if (n?.driver && n.driver !== 'overlay') delete n.driver;
      for (const s of Object.values(doc.services)) {
        s.image = 'busybox:latest';
        s.command = ['sleep', '3600'];
        delete s.build;
        delete s.healthcheck;
        delete s.volumes;
      }
      const file = compose(`seed-${i}.yml`, YAML.stringify(doc));
      for (const tool of ['docker', 'swarmctl'] as const) {
        const stack = `seed${i}${tool === 'docker' ? 'd' : 's'}`;
        await ok(tool, ['stack', 'deploy', '-c', file, stack]);
        const expected = Object.values(doc.services).reduce((n, s) => {
          const d = s.deploy as { mode?: string; replicas?: number } | undefined;
          return n + (d?.mode === 'global' ? cluster.hosts.length : (d?.replicas ?? 1));
        }, 0);
        await allRunning(stack, expected);
        const ps = await ok(tool, [
          'stack',
          'ps',
          stack,
          '--no-trunc',
          '--format',
          '{{.DesiredState}} {{.CurrentState}} {{.Error}}',
        ]);
        const current = ps.stdout
          .trim()
          .split('\n')
          .filter((l) => l.startsWith('Running'));
        assert.equal(current.length, expected, `${seed} ${tool}: ${ps.stdout}`);
        assert.ok(
          current.every((l) => l.startsWith('Running Running')),
          `${seed} ${tool}: ${ps.stdout}`,
        );
        await ok(tool, ['stack', 'rm', stack]);
        await until(`${stack} gone`, async () => ((await leftovers(stack)) === 0 ? true : undefined), 60_000);
      }
    }
  });
});
