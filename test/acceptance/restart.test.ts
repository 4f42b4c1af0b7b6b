// Acceptance: the cluster state survives swarmd restarts. 50 services created through the Engine
// API are all there, with the same IDs, Version.Index and specs, after a kill -9 of swarmd and its
// etcd together (a power cut), and again after a clean SIGTERM stop; the node is still Ready and
// Leader for `docker node ls`.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { type SwarmdProcess, startSwarmd } from '../helpers/swarmd.js';

const V = '/v1.41';
const COUNT = 50;

let swarmd: SwarmdProcess;

interface ServiceView {
  ID: string;
  Version: { Index: number };
  CreatedAt: string;
  Spec: { Name: string };
}

/** Services by ID: ID, Version, CreatedAt and Spec, which a restart must not change. */
async function services(): Promise<Map<string, string>> {
  const r = await swarmd.api('GET', `${V}/services`);
  assert.equal(r.status, 200, r.body);
  return new Map(
    r
      .json<ServiceView[]>()
      .map((s) => [s.ID, JSON.stringify({ v: s.Version.Index, c: s.CreatedAt, spec: s.Spec })]),
  );
}

function dockerNodeLs(): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      '/usr/bin/docker',
      ['node', 'ls', '--format', '{{.Hostname}} {{.Status}} {{.Availability}} {{.ManagerStatus}} {{.Self}}'],
      {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', DOCKER_HOST: `unix://${swarmd.socket}` },
        timeout: 20_000,
      },
      (err, stdout, stderr) => (err ? reject(new Error(`docker node ls: ${stderr}`)) : resolve(stdout)),
    );
  });
}

/** The node may show as unknown/down for a moment after a restart: wait (bounded) for Ready. */
async function nodeLsEventually(want: string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < end) {
    last = await dockerNodeLs();
    if (last === want) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.equal(last, want, 'docker node ls after restart');
}

let created: Map<string, string>;

before(async () => {
  swarmd = await startSwarmd({ hostname: 'vm', prefix: 'skt-acc-' });
  const init = await swarmd.api('POST', `${V}/swarm/init`, {
    ListenAddr: `127.0.0.1:${swarmd.listenPort}`,
    AdvertiseAddr: '127.0.0.1',
  });
  assert.equal(init.status, 200, init.body);
});

after(async () => {
  await swarmd?.destroy();
});

describe('cluster state survives restarts', () => {
  test(`${COUNT} services are created through the API`, async () => {
    for (let i = 0; i < COUNT; i++) {
      const r = await swarmd.api('POST', `${V}/services/create`, {
        Name: `svc-${i}`,
        Labels: { n: String(i) },
        TaskTemplate: { ContainerSpec: { Image: 'busybox:latest', Args: ['sleep', String(i)] } },
        // No replicas: this test is about the store, not about running tasks.
        Mode: { Replicated: { Replicas: 0 } },
      });
      assert.equal(r.status, 201, r.body);
    }
    // A few updates so that versions differ from creation versions.
    for (const i of [3, 17, 42]) {
      const s = (await swarmd.api('GET', `${V}/services/svc-${i}`)).json<ServiceView>();
      const r = await swarmd.api('POST', `${V}/services/${s.ID}/update?version=${s.Version.Index}`, {
        ...s.Spec,
        Labels: { n: String(i), updated: 'yes' },
      });
      assert.equal(r.status, 200, r.body);
    }
    created = await services();
    assert.equal(created.size, COUNT);
    await nodeLsEventually('vm Ready Active Leader true\n');
  });

  test('after kill -9 of swarmd and its etcd, a restart lists the same services, IDs and versions', async () => {
    const etcd = swarmd.etcdPid();
    assert.ok(etcd, 'etcd is running under swarmd (pid file)');
    await swarmd.kill9WithEtcd();
    assert.equal(swarmd.etcdPid(), undefined, 'etcd is gone');
    await swarmd.restart();
    assert.deepEqual(await services(), created);
    const newEtcd = swarmd.etcdPid();
    assert.ok(newEtcd && newEtcd !== etcd, 'a new etcd runs');
    await nodeLsEventually('vm Ready Active Leader true\n');
  });

  test('after a clean SIGTERM stop, a restart still lists everything; writes work again', async () => {
    await swarmd.stop();
    assert.equal(swarmd.etcdPid(), undefined, 'a clean stop stops etcd too');
    await swarmd.restart();
    assert.deepEqual(await services(), created);
    await nodeLsEventually('vm Ready Active Leader true\n');
    // The store is writable after the restart: versions move on from where they were.
    const s = (await swarmd.api('GET', `${V}/services/svc-0`)).json<ServiceView>();
    const r = await swarmd.api('POST', `${V}/services/${s.ID}/update?version=${s.Version.Index}`, {
      ...s.Spec,
      Labels: { n: '0', after: 'restart' },
    });
    assert.equal(r.status, 200, r.body);
    const s2 = (await swarmd.api('GET', `${V}/services/svc-0`)).json<ServiceView>();
    assert.ok(s2.Version.Index > s.Version.Index);
    const rm = await swarmd.api('DELETE', `${V}/services/svc-1`);
    assert.equal(rm.status, 200, rm.body);
    assert.equal((await services()).size, COUNT - 1);
  });

  test('runtime state lives on one tmpfs exec root, which the restarts reused', () => {
    const execRoot = `${swarmd.stateDir}/exec`;
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' '))
      .filter((f) => f[4] === execRoot)
      .map((f) => f[f.indexOf('-') + 1]);
    assert.deepEqual(mounts, ['tmpfs']);
    assert.ok(existsSync(`${execRoot}/runtime/runc`), 'runc state is in the exec root');
  });
});
