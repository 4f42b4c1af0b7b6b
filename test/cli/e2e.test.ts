import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type FakeEngine, type RecordedRequest, runSwarmctl, startFakeEngine } from './fakeengine.js';
import { serviceWebUpdating, swarm } from './fixtures.js';

// The docker 20.10 client recorded in docker-cli-api-trace.md sent exactly this body for
// `docker service create -d --name web --replicas 2 -p 8081:80 bb:1 httpd -f -p 80`.
const DOCKER_CREATE_BODY =
  '{"Name":"web","Labels":{},"TaskTemplate":{"ContainerSpec":{"Image":"bb:1","Args":["httpd","-f","-p","80"],"Init":false,"DNSConfig":{}},"Resources":{"Limits":{},"Reservations":{}},"Placement":{},"ForceUpdate":0},"Mode":{"Replicated":{"Replicas":2}},"EndpointSpec":{"Mode":"vip","Ports":[{"Protocol":"tcp","TargetPort":80,"PublishedPort":8081,"PublishMode":"ingress"}]}}';

let engine: FakeEngine;

before(async () => {
  engine = await startFakeEngine((req) => {
    if (req.path.startsWith('/distribution/')) return { status: 500, body: { message: 'no registry here' } };
    if (req.path === '/services/create') return { status: 201, body: { ID: 'newserviceid0000000000000' } };
    if (req.path === '/services/web' && req.method === 'GET')
      return { status: 200, body: serviceWebUpdating };
    if (req.path === '/services/nosuch')
      return { status: 404, body: { message: 'service nosuch not found' } };
    if (/^\/services\/[^/]+\/update$/.test(req.path)) return { status: 200, body: { Warnings: null } };
    // The recorded TLSInfo is shortened with "…", which docker refuses to base64-decode.
    if (req.path === '/swarm')
      return {
        status: 200,
        body: { ...swarm, TLSInfo: { CertIssuerSubject: 'MBMx', CertIssuerPublicKey: 'MFkw' } },
      };
    if (req.path === '/swarm/update') return { status: 200 };
    if (req.path.startsWith('/networks/')) {
      const name = req.path.split('/')[2] ?? '';
      return { status: 200, body: { Id: `netid${name}`, Name: name } };
    }
    for (const kind of ['secrets', 'configs']) {
      if (req.path === `/${kind}`) {
        const names = Object.keys(JSON.parse(req.query.get('filters') ?? '{}').name ?? {});
        return { status: 200, body: names.map((n) => ({ ID: `${kind}id${n}`, Spec: { Name: n } })) };
      }
    }
    return undefined;
  });
});

after(async () => {
  await engine.close();
});

function lastWrite(reqs: RecordedRequest[]): RecordedRequest {
  const w = reqs.filter((r) => r.method === 'POST');
  const last = w[w.length - 1];
  assert.ok(last, 'a POST was sent');
  return last;
}

test('service create -d sends byte for byte the body docker 20.10 sends and prints the ID', async () => {
  engine.requests.length = 0;
  const r = await runSwarmctl([
    '--socket',
    engine.socketPath,
    'service',
    'create',
    '-d',
    '--name',
    'web',
    '--replicas',
    '2',
    '-p',
    '8081:80',
    'bb:1',
    'httpd',
    '-f',
    '-p',
    '80',
  ]);
  assert.equal(r.stderr, '');
  assert.equal(r.code, 0);
  assert.equal(r.stdout, 'newserviceid0000000000000\n');
  assert.equal(engine.requests[0]?.method, 'HEAD');
  assert.equal(engine.requests[0]?.path, '/_ping');
  const create = lastWrite(engine.requests);
  assert.equal(create.path, '/services/create');
  assert.equal(create.body, DOCKER_CREATE_BODY);
});

test('service scale of a missing service reports it per argument with exit 1', async () => {
  const r = await runSwarmctl(['--socket', engine.socketPath, 'service', 'scale', '-d', 'nosuch=2']);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, 'nosuch: Error response from daemon: service nosuch not found\n');
});

test('a bad flag value is a usage error with exit 125 and no request after the parse', async () => {
  const r = await runSwarmctl([
    '--socket',
    engine.socketPath,
    'service',
    'create',
    '--replicas',
    '-1',
    'bb:1',
  ]);
  assert.equal(r.code, 125);
  assert.equal(
    r.stderr,
    'invalid argument "-1" for "--replicas" flag: strconv.ParseUint: parsing "-1": invalid syntax\nSee \'swarmctl service create --help\'.\n',
  );
});

test('an unreachable daemon is reported like docker does', async () => {
  const r = await runSwarmctl(['--socket', '/nonexistent/swarmctl.sock', 'service', 'ls']);
  assert.equal(r.code, 1);
  assert.equal(
    r.stderr,
    'Cannot connect to the swarmd daemon at unix:///nonexistent/swarmctl.sock. Is the daemon running?\n',
  );
});

// Differential tests: the real docker 20.10 CLI (installed on this machine as /usr/bin/docker)
// and swarmctl run the same command line against the same fake daemon; the written bodies and
// query strings must be equal.
const DIFFERENTIAL_CASES: string[][] = [
  ['service', 'create', '-d', '--name', 'web', '--replicas', '2', 'bb:1', 'httpd', '-f', '-p', '80'],
  [
    'service',
    'create',
    '-d',
    '--name',
    'web',
    '--mode',
    'global',
    '-e',
    'A=1',
    '-e',
    'B=2',
    '--label',
    'l=1',
    '--container-label',
    'c=2',
    '-p',
    '8080:80',
    '-p',
    '8081:81/udp',
    '-p',
    'published=9000,target=90,mode=host',
    '-p',
    '8082-8083:82-83',
    '--constraint',
    'node.role==manager',
    '--placement-pref',
    'spread=node.labels.zone',
    '--reserve-cpu',
    '0.5',
    '--reserve-memory',
    '64M',
    '--limit-cpu',
    '1.5',
    '--limit-memory',
    '1g',
    '--limit-pids',
    '100',
    'bb:1',
  ],
  [
    'service',
    'create',
    '-d',
    '--restart-condition',
    'on-failure',
    '--restart-delay',
    '3s',
    '--restart-max-attempts',
    '4',
    '--restart-window',
    '1m30s',
    '--update-parallelism',
    '2',
    '--update-delay',
    '1s',
    '--update-failure-action',
    'rollback',
    '--update-monitor',
    '10s',
    '--update-max-failure-ratio',
    '0.2',
    '--update-order',
    'start-first',
    '--rollback-parallelism',
    '3',
    '--rollback-delay',
    '2s',
    'bb:1',
  ],
  [
    'service',
    'create',
    '-d',
    '--mount',
    'type=bind,source=/tmp,target=/data,readonly',
    '--mount',
    'type=volume,source=v1,target=/v',
    '--mount',
    'type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1770',
    '--health-cmd',
    'curl -f x',
    '--health-interval',
    '5s',
    '--health-timeout',
    '2s',
    '--health-retries',
    '3',
    '--health-start-period',
    '1s',
    '--stop-signal',
    'SIGINT',
    '--stop-grace-period',
    '20s',
    '--hostname',
    'h1',
    '-u',
    'nobody',
    '-w',
    '/w',
    '--entrypoint',
    '/bin/sh -c',
    '--network',
    'name=net1,alias=a1',
    '--secret',
    's1',
    '--config',
    'source=c1,target=/c,mode=0400',
    'bb:1',
  ],
  [
    'service',
    'create',
    '-d',
    '--mode',
    'replicated-job',
    '--replicas',
    '3',
    '--max-concurrent',
    '2',
    '--replicas-max-per-node',
    '1',
    '--no-healthcheck',
    '--dns',
    '1.1.1.1',
    '--host',
    'a:1.2.3.4',
    '--init',
    'bb:1',
  ],
  [
    'service',
    'update',
    '-d',
    '--env-add',
    'Y=2',
    '--env-rm',
    'X',
    '--label-add',
    'a=b',
    '--constraint-add',
    'node.role==worker',
    '--publish-add',
    '9090:90',
    '--publish-rm',
    '80',
    '--force',
    'web',
  ],
  [
    'service',
    'update',
    '-d',
    '--image',
    'bb:2',
    '--replicas',
    '5',
    '--update-parallelism',
    '0',
    '--rollback-monitor',
    '1s',
    '--limit-memory',
    '256m',
    'web',
  ],
  ['service', 'update', '-d', '--rollback', 'web'],
  ['service', 'scale', '-d', 'web=7'],
  ['service', 'rollback', '-d', 'web'],
  ['swarm', 'update', '--task-history-limit', '3', '--cert-expiry', '24h', '--dispatcher-heartbeat', '10s'],
];

/**
 * The docker CLI expands a port range through a Go map, so the order of those ports differs from
 * run to run: compare published ports as a set.
 */
function sortPorts(body: unknown): unknown {
  const ports = (body as { EndpointSpec?: { Ports?: { PublishedPort?: number; TargetPort?: number }[] } })
    ?.EndpointSpec?.Ports;
  ports?.sort(
    (a, b) => (a.PublishedPort ?? 0) - (b.PublishedPort ?? 0) || (a.TargetPort ?? 0) - (b.TargetPort ?? 0),
  );
  return body;
}

function writes(reqs: RecordedRequest[]) {
  return reqs
    .filter((r) => r.method === 'POST' || r.method === 'DELETE')
    .map((r) => ({
      method: r.method,
      path: r.path,
      query: [...r.query.entries()].sort().map(([k, v]) => `${k}=${v}`),
      body: r.body === '' ? undefined : sortPorts(JSON.parse(r.body)),
    }));
}

/** Runs the docker 20.10 CLI against the fake daemon, asynchronously (the daemon lives in this process). */
function runDocker(
  argv: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      '/usr/bin/docker',
      argv,
      {
        env: {
          PATH: process.env.PATH ?? '',
          HOME: '/tmp',
          DOCKER_HOST: `unix://${engine.socketPath}`,
          ...env,
        },
        timeout: 20_000,
      },
      (err, _stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stderr }),
    );
  });
}

for (const argv of DIFFERENTIAL_CASES) {
  test(`swarmctl ${argv.join(' ')} writes what docker 20.10 writes`, async () => {
    engine.requests.length = 0;
    const docker = await runDocker(argv);
    assert.equal(docker.code, 0, docker.stderr);
    const expected = writes(engine.requests);
    assert.ok(expected.length > 0, 'docker wrote something');
    engine.requests.length = 0;
    const r = await runSwarmctl(['--socket', engine.socketPath, ...argv]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(writes(engine.requests), expected);
  });
}

/** The credentials in the X-Registry-Auth of the last write (undefined: none, or none that authenticate). */
function sentCredentials(reqs: RecordedRequest[]): Record<string, string> | undefined {
  const header = lastWrite(reqs).headers['x-registry-auth'];
  if (typeof header !== 'string') return undefined;
  const auth = JSON.parse(Buffer.from(header, 'base64url').toString()) as Record<string, string>;
  const { username, password, identitytoken, serveraddress } = auth;
  if (!username && !identitytoken) return undefined;
  return JSON.parse(JSON.stringify({ username, password, identitytoken, serveraddress }));
}

test('--with-registry-auth sends the config.json credentials of the image registry, as docker 20.10 does', async () => {
  const config = mkdtempSync(join(tmpdir(), 'swarmctl-cfg-'));
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  try {
    writeFileSync(
      join(config, 'config.json'),
      JSON.stringify({
        auths: {
          '127.0.0.1:5000': { auth: b64('skt:sekret') },
          'https://index.docker.io/v1/': { auth: b64('hubuser:hub:pass') },
        },
      }),
    );
    const cases: [string[], Record<string, string> | undefined][] = [
      [
        ['service', 'create', '-d', '--with-registry-auth', '--name', 'web', '127.0.0.1:5000/bb:1'],
        { username: 'skt', password: 'sekret', serveraddress: '127.0.0.1:5000' },
      ],
      [
        ['service', 'create', '-d', '--with-registry-auth', '--name', 'web', 'bb:1'],
        { username: 'hubuser', password: 'hub:pass', serveraddress: 'https://index.docker.io/v1/' },
      ],
      [
        ['service', 'update', '-d', '--with-registry-auth', '--image', '127.0.0.1:5000/bb:2', 'web'],
        { username: 'skt', password: 'sekret', serveraddress: '127.0.0.1:5000' },
      ],
      [['service', 'create', '-d', '--with-registry-auth', '--name', 'web', 'example.com/bb:1'], undefined],
      [['service', 'create', '-d', '--name', 'web', '127.0.0.1:5000/bb:1'], undefined],
    ];
    for (const [argv, want] of cases) {
      engine.requests.length = 0;
      const docker = await runDocker(argv, { HOME: config, DOCKER_CONFIG: config });
      assert.equal(docker.code, 0, docker.stderr);
      assert.deepEqual(sentCredentials(engine.requests), want, `docker ${argv.join(' ')}`);
      engine.requests.length = 0;
      const r = await runSwarmctl(['--socket', engine.socketPath, ...argv], {
        env: { DOCKER_CONFIG: config },
      });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(sentCredentials(engine.requests), want, `swarmctl ${argv.join(' ')}`);
    }
  } finally {
    rmSync(config, { recursive: true, force: true });
  }
});
