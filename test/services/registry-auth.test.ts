// End to end on a real swarmd: a service whose image is in a registry that wants a login (Debian's
// docker-registry behind token auth) runs only when created with X-Registry-Auth — sent raw or by
// `docker service create --with-registry-auth` — and the credentials never show in the API, the
// docker CLI's inspect output, the container records or swarmd's log.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { run } from '../../src/lib/exec.js';
import { busyboxImage, pushImage, startRegistry, type TestRegistry } from '../helpers/images.js';
import { bridgeLoopback, type LoopbackBridge } from '../helpers/loopback.js';
import { CLIS, type Cluster, ok, type Run, serviceSpec, startCluster, waitFor } from './cluster.js';

let c: Cluster | undefined;
let registry: TestRegistry | undefined;
let bridge: LoopbackBridge | undefined;
let dockerConfig: string | undefined;
/** `127.0.0.1:PORT/private/bb` */
let repo = '';

function cluster(): Cluster {
  assert.ok(c, 'the cluster started');
  return c;
}

function credentials() {
  assert.ok(registry?.credentials, 'the registry has credentials');
  return registry.credentials;
}

/** The port of the registry's token server, from its challenge. */
async function tokenPort(url: string): Promise<number> {
  const res = await fetch(`${url}/v2/`);
  await res.body?.cancel();
  const realm = /realm="([^"]+)"/.exec(res.headers.get('www-authenticate') ?? '')?.[1];
  assert.ok(realm, `the registry asks for a token (${res.status})`);
  return Number(new URL(realm).port);
}

before(async () => {
  c = await startCluster();
  registry = await startRegistry({ tokenAuth: true });
  const port = Number(new URL(registry.url).port);
  // The swarmd has a network namespace of its own: carry both ports to its loopback.
  bridge = await bridgeLoopback(c.swarmd.netns, [port, await tokenPort(registry.url)]);
  const image = await busyboxImage({ labels: { test: 'registry-auth' } });
  for (const tag of ['1', '2']) await pushImage(registry, 'private/bb', tag, image);
  repo = `127.0.0.1:${port}/private/bb`;
  dockerConfig = mkdtempSync(join(tmpdir(), 'skt-svc-regcfg-'));
});

after(async () => {
  try {
    await c?.destroy();
  } finally {
    await bridge?.close();
    await registry?.stop();
    if (dockerConfig) rmSync(dockerConfig, { recursive: true, force: true });
  }
});

const authHeader = () => {
  const { username, password } = credentials();
  const auth = { username, password, serveraddress: repo.split('/')[0] };
  return { 'X-Registry-Auth': Buffer.from(JSON.stringify(auth)).toString('base64url') };
};

async function firstTask(serviceId: string, state: string) {
  return waitFor(
    `a task ${state}`,
    async () => (await cluster().tasks(serviceId)).find((t) => t.Status.State === state),
    30_000,
  );
}

/** Nothing the API, the CLI, the container records or the log show holds the credentials. */
async function assertNoCredentials(serviceId: string, containerId: string): Promise<void> {
  const { password } = credentials();
  const secret = new RegExp(`PullOptions|RegistryAuth|${password}|${authHeader()['X-Registry-Auth']}`);
  const api = cluster().api;
  for (const path of [
    `/services/${serviceId}`,
    '/services',
    `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [serviceId] }))}`,
    `/containers/${containerId}/json`,
  ]) {
    const r = ok(await api('GET', path), path);
    assert.doesNotMatch(r.body, secret, path);
  }
  const inspect = await cluster().docker(['service', 'inspect', serviceId]);
  assert.equal(inspect.code, 0, inspect.stderr);
  assert.doesNotMatch(inspect.stdout, secret, 'docker service inspect');
  const records = await run('grep', ['-rl', password, join(cluster().swarmd.stateDir, 'runtime')], {
    okCodes: [0, 1],
  });
  assert.equal(records.stdout, '', 'no container record holds the password');
  assert.doesNotMatch(cluster().swarmd.logs(), secret, "swarmd's log");
}

describe('services with images in a registry that wants a login', () => {
  test('without X-Registry-Auth the task cannot pull: Rejected "No such image: …"', async () => {
    const id = await cluster().createService(serviceSpec('anon', { image: `${repo}:1` }));
    const t = await firstTask(id, 'rejected');
    assert.equal(t.Status.Err, `No such image: ${repo}:1`);
    assert.match(cluster().swarmd.logs(), /pull access denied for 127\.0\.0\.1:\d+\/private\/bb:1/);
    await cluster().removeService(id);
  });

  test('with X-Registry-Auth on create the task pulls with the credentials and runs', async () => {
    const r = await cluster().swarmd.api(
      'POST',
      '/services/create',
      serviceSpec('private', { image: `${repo}:1` }),
      authHeader(),
    );
    const id = ok(r, 'create').json<{ ID: string }>().ID;
    const t = await firstTask(id, 'running');
    assert.equal(t.Spec.ContainerSpec?.Image, `${repo}:1`);
    await assertNoCredentials(id, t.Status.ContainerStatus?.ContainerID ?? '');
    await cluster().removeService(id);
  });

  test('docker service create --with-registry-auth sends the logged-in credentials and the task runs; new ones redeploy nothing', async () => {
    const { username, password } = credentials();
    const host = repo.split('/')[0] ?? '';
    const dir = dockerConfig ?? '';
    const auth = Buffer.from(`${username}:${password}`).toString('base64');
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: { [host]: { auth } } }));
    const docker = (args: string[]) =>
      new Promise<Run>((resolve) => {
        execFile(
          CLIS[0].bin,
          args,
          {
            env: {
              PATH: process.env.PATH ?? '/usr/bin:/bin',
              HOME: dir,
              DOCKER_CONFIG: dir,
              DOCKER_HOST: `unix://${cluster().swarmd.socket}`,
            },
            timeout: 60_000,
          },
          (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
        );
      });
    const create = await docker([
      'service',
      'create',
      '-d',
      '--with-registry-auth',
      '--name',
      'cli',
      '--replicas',
      '1',
      '--restart-delay',
      '1s',
      `${repo}:2`,
      'sh',
      '-c',
      'trap "exit 0" TERM; sleep 1000 & wait',
    ]);
    assert.equal(create.code, 0, create.stderr);
    const id = create.stdout.trim();
    const t = await firstTask(id, 'running');
    await assertNoCredentials(id, t.Status.ContainerStatus?.ContainerID ?? '');

    // Credentials saved under another key form (another serveraddress): the stored auth changes,
    // the running task has its image and stays, and the attached update still converges.
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: { [`http://${host}`]: { auth } } }));
    const rotate = await docker(['service', 'update', '--with-registry-auth', 'cli']);
    assert.equal(rotate.code, 0, rotate.stderr);
    assert.match(rotate.stdout, /Service converged/);
    const running = (await cluster().tasks(id)).filter((x) => x.Status.State === 'running');
    assert.deepEqual(
      running.map((x) => x.ID),
      [t.ID],
      'no redeploy',
    );
    await cluster().removeService(id);
  });
});
