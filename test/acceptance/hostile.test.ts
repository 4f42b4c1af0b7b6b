// Acceptance: hundreds of malformed or hostile Engine API requests against a real swarmd in a swarm.
// Each is refused with a 4xx (or Docker's documented status, e.g. 500 "update out of sequence")
// and a `{"message"}` naming the problem; nothing is written by a refused request (services, node
// specs and the cluster are exactly as before); the daemon stays up. Most cases are generated: for
// every field path of a fully populated, valid ServiceSpec, values of the wrong type.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type ApiResponse, type SwarmdProcess, startSwarmd } from '../helpers/swarmd.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

let swarmd: SwarmdProcess;
/** Distinct refused requests sent (method, path and body), counted for the final assertion. */
const sent = new Set<string>();

const V = '/v1.41';

/** A valid spec touching most fields, so that each wrong-typed field is the only fault. */
function fullSpec(name: string): { [k: string]: Json } {
  return {
    Name: name,
    Labels: { tier: 'front', 'com.example.x': 'y' },
    TaskTemplate: {
      ContainerSpec: {
        Image: 'busybox:latest',
        Labels: { a: 'b' },
        Command: ['sh', '-c'],
        Args: ['sleep', '3600'],
        Hostname: 'h',
        Env: ['A=1', 'B=2'],
        Dir: '/tmp',
        User: 'nobody',
        Groups: ['users'],
        Init: false,
        TTY: false,
        OpenStdin: false,
        ReadOnly: false,
        Mounts: [
          { Type: 'tmpfs', Target: '/scratch', ReadOnly: false, TmpfsOptions: { SizeBytes: 1048576 } },
        ],
        StopSignal: 'SIGTERM',
        StopGracePeriod: 10000000000,
        Healthcheck: { Test: ['CMD', 'true'], Interval: 5000000000, Timeout: 1000000000, Retries: 3 },
        Hosts: ['10.0.0.1 db'],
        DNSConfig: { Nameservers: ['10.0.0.2'], Search: ['example.com'], Options: ['ndots:1'] },
        Sysctls: { 'net.core.somaxconn': '1024' },
        CapabilityAdd: ['CAP_NET_ADMIN'],
        Ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 2048 }],
      },
      Resources: {
        Limits: { NanoCPUs: 500000000, MemoryBytes: 67108864, Pids: 100 },
        Reservations: { NanoCPUs: 100000000, MemoryBytes: 8388608 },
      },
      RestartPolicy: { Condition: 'on-failure', Delay: 5000000000, MaxAttempts: 3, Window: 0 },
      Placement: {
        Constraints: ['node.role==manager'],
        Preferences: [{ Spread: { SpreadDescriptor: 'node.labels.zone' } }],
        MaxReplicas: 2,
      },
      LogDriver: { Name: 'json-file', Options: { 'max-size': '1m' } },
      ForceUpdate: 0,
    },
    Mode: { Replicated: { Replicas: 0 } },
    UpdateConfig: {
      Parallelism: 1,
      Delay: 0,
      FailureAction: 'pause',
      Monitor: 5000000000,
      MaxFailureRatio: 0,
      Order: 'stop-first',
    },
    RollbackConfig: { Parallelism: 1, FailureAction: 'pause', Monitor: 5000000000, Order: 'stop-first' },
    EndpointSpec: { Mode: 'vip', Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishMode: 'host' }] },
  };
}

interface Leaf {
  path: (string | number)[];
  value: Json;
}

/** Every node of a JSON tree (objects, arrays and scalars), root excluded. */
function nodesOf(v: Json, path: (string | number)[] = []): Leaf[] {
  const out: Leaf[] = [];
  if (Array.isArray(v)) {
    v.forEach((x, i) => {
      out.push({ path: [...path, i], value: x }, ...nodesOf(x, [...path, i]));
    });
  } else if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v))
      out.push({ path: [...path, k], value: x }, ...nodesOf(x, [...path, k]));
  }
  return out;
}

function setPath(root: { [k: string]: Json }, path: (string | number)[], value: Json): { [k: string]: Json } {
  const copy = structuredClone(root);
  let cur: Json = copy;
  for (const p of path.slice(0, -1)) cur = (cur as Record<string | number, Json>)[p] as Json;
  (cur as Record<string | number, Json>)[path[path.length - 1] as string | number] = value;
  return copy;
}

/** Values of a JSON type other than the field's, as Go's decoder would refuse them. */
function wrongValues(v: Json): Json[] {
  if (typeof v === 'string') return [42, true, { s: 'x' }, ['x']];
  if (typeof v === 'number') return ['1', true, [1], 1.5];
  if (typeof v === 'boolean') return ['true', 1];
  if (Array.isArray(v)) return ['x', { a: 1 }, 7];
  return ['x', 3, false, ['x']];
}

/** Fields that are unsigned in Docker's API, or that SwarmKit checks are not negative. */
const NON_NEGATIVE = new Set([
  'Replicas',
  'Parallelism',
  'MaxAttempts',
  'Delay',
  'Window',
  'Monitor',
  'MaxFailureRatio',
  'StopGracePeriod',
  'Interval',
  'Timeout',
  'Retries',
  'NanoCPUs',
  'MemoryBytes',
  'Pids',
  'MaxReplicas',
  'ForceUpdate',
  'TargetPort',
  'SizeBytes',
]);

// ---- snapshots: nothing written by a refused request ----

interface Snapshot {
  services: string;
  nodes: string;
  cluster: string;
}

/** The state after the last refused request; cleared by tests that write on purpose. */
let baseline: Snapshot | undefined;

async function snapshot(): Promise<Snapshot> {
  const [s, n, c] = await Promise.all([
    swarmd.api('GET', `${V}/services`),
    swarmd.api('GET', `${V}/nodes`),
    swarmd.api('GET', `${V}/swarm`),
  ]);
  assert.equal(s.status, 200);
  type Obj = { ID: string; Version: { Index: number }; Spec: unknown };
  const services = s.json<Obj[]>().map((x) => ({ ID: x.ID, Version: x.Version, Spec: x.Spec, U: x }));
  services.sort((a, b) => a.ID.localeCompare(b.ID));
  // Nodes: spec only (the node's status may legitimately be refreshed by heartbeats).
  const nodes = n.json<Obj[]>().map((x) => ({ ID: x.ID, Spec: x.Spec }));
  const cl = c.json<Obj>();
  return {
    services: JSON.stringify(services),
    nodes: JSON.stringify(nodes),
    cluster: JSON.stringify({ Version: cl.Version, Spec: cl.Spec }),
  };
}

interface Expect {
  /** Exact status, or by default any 4xx. */
  status?: number;
  /** The message must match (names the problem). */
  message: RegExp | string;
}

async function send(method: string, path: string, body?: unknown, headers?: Record<string, string>) {
  const r = await swarmd.api(method, path, body, headers);
  const key = `${method} ${path} ${typeof body === 'string' || Buffer.isBuffer(body) ? body.toString() : JSON.stringify(body)}`;
  sent.add(key.length > 2000 ? `${key.slice(0, 2000)}#${key.length}` : key);
  return r;
}

function checkRefusal(r: ApiResponse, e: Expect, what: string): void {
  if (e.status !== undefined)
    assert.equal(r.status, e.status, `${what}: status (body ${r.body.slice(0, 300)})`);
  else
    assert.ok(
      r.status >= 400 && r.status < 500,
      `${what}: want 4xx, got ${r.status} ${r.body.slice(0, 300)}`,
    );
  let msg: unknown;
  try {
    msg = r.json<{ message?: unknown }>().message;
  } catch {
    assert.fail(`${what}: body is not JSON: ${r.body.slice(0, 300)}`);
  }
  assert.equal(typeof msg, 'string', `${what}: {"message"} is a string`);
  if (typeof e.message === 'string')
    assert.ok((msg as string).includes(e.message), `${what}: message "${msg}" lacks "${e.message}"`);
  else assert.match(msg as string, e.message, `${what}: message`);
}

/** Sends a request that must be refused, and checks nothing changed. */
async function refused(
  method: string,
  path: string,
  body: unknown,
  e: Expect,
  headers?: Record<string, string>,
): Promise<void> {
  const before = baseline ?? (await snapshot());
  const r = await send(method, path, body, headers);
  checkRefusal(r, e, `${method} ${path}`);
  const afterSnap = await snapshot();
  assert.deepEqual(afterSnap, before, `${method} ${path}: a refused request changed the store`);
  baseline = afterSnap;
}

async function serviceVersion(ref: string): Promise<number> {
  const r = await swarmd.api('GET', `${V}/services/${ref}`);
  assert.equal(r.status, 200, r.body);
  return r.json<{ Version: { Index: number } }>().Version.Index;
}

let fullId = '';
let nodeId = '';

before(async () => {
  swarmd = await startSwarmd({ prefix: 'skt-acc-' });
  const init = await swarmd.api('POST', `${V}/swarm/init`, {
    ListenAddr: `127.0.0.1:${swarmd.listenPort}`,
    AdvertiseAddr: '127.0.0.1',
  });
  assert.equal(init.status, 200, init.body);
  nodeId = init.json<string>();
  // The base of every mutation is itself accepted: a refusal below is due to the mutation alone.
  const full = await swarmd.api('POST', `${V}/services/create`, fullSpec('full'));
  assert.equal(full.status, 201, full.body);
  fullId = full.json<{ ID: string }>().ID;
  for (const name of ['base-a', 'base-b']) {
    const r = await swarmd.api('POST', `${V}/services/create`, {
      Name: name,
      TaskTemplate: { ContainerSpec: { Image: 'busybox' } },
      Mode: { Replicated: { Replicas: 0 } },
    });
    assert.equal(r.status, 201, r.body);
  }
  // The leader's own follow-up writes (allocation, tasks) land before the first baseline is taken.
  let last = await snapshot();
  for (let i = 0; i < 40; i++) {
    await new Promise((r) => setTimeout(r, 250));
    const now = await snapshot();
    if (JSON.stringify(now) === JSON.stringify(last)) break;
    last = now;
  }
});

after(async () => {
  await swarmd?.destroy();
});

describe('hostile requests are refused cleanly, with nothing written', () => {
  test('every field of a ServiceSpec given a value of the wrong type: 400 naming the field (create and update)', async () => {
    const base = fullSpec('mut');
    const leaves = nodesOf(base).filter((l) => l.path[0] !== 'Name');
    let n = 0;
    for (const leaf of leaves) {
      const where = leaf.path.join('.');
      for (const bad of wrongValues(leaf.value)) {
        const spec = setPath(base, leaf.path, bad);
        // Numbers given as floats are accepted where Go takes a float (MaxFailureRatio).
        if (bad === 1.5 && leaf.path.at(-1) === 'MaxFailureRatio') continue;
        await refused('POST', `${V}/services/create`, spec, { status: 400, message: where });
        const version = await serviceVersion(fullId);
        await refused(
          'POST',
          `${V}/services/${fullId}/update?version=${version}`,
          { ...spec, Name: 'full' },
          {
            status: 400,
            message: where,
          },
        );
        n += 2;
      }
      if (typeof leaf.value === 'number' && NON_NEGATIVE.has(String(leaf.path.at(-1)))) {
        await refused('POST', `${V}/services/create`, setPath(base, leaf.path, -1), {
          status: 400,
          message: where,
        });
        n++;
      }
    }
    assert.ok(n >= 150, `generated ${n} wrong-type requests`);
  });

  test('bad service names: slashes, dots, spaces, unicode, empty, 64+ characters', async () => {
    const names: [Json, RegExp][] = [
      ['a/b', /DNS name/],
      ['../etc', /DNS name/],
      ['..', /DNS name/],
      ['.', /DNS name/],
      ['web.1', /DNS name/],
      ['a b', /DNS name/],
      [' web', /DNS name/],
      ['web\n', /DNS name/],
      ['web\t1', /DNS name/],
      ['wéb', /DNS name/],
      ['服务', /DNS name/],
      ['web🙂', /DNS name/],
      ['web\u0000', /DNS name/],
      ['-web', /DNS name/],
      ['web-', /DNS name/],
      ['_web', /DNS name/],
      ['web$', /DNS name/],
      ['web;rm -rf /', /DNS name/],
      ['%2e%2e', /DNS name/],
      ['', /name must be provided/],
      ['a'.repeat(64), /63 characters/],
      ['a'.repeat(1000), /63 characters/],
    ];
    for (const [name, msg] of names) {
      await refused(
        'POST',
        `${V}/services/create`,
        { Name: name, TaskTemplate: { ContainerSpec: { Image: 'busybox' } } },
        { status: 400, message: msg },
      );
    }
    // A missing name altogether.
    await refused(
      'POST',
      `${V}/services/create`,
      { TaskTemplate: { ContainerSpec: { Image: 'busybox' } } },
      {
        status: 400,
        message: /name must be provided/,
      },
    );
  });

  test('bodies that are not a JSON object, on every write endpoint', async () => {
    const version = await serviceVersion(fullId);
    const cluster = (await swarmd.api('GET', `${V}/swarm`)).json<{ Version: { Index: number } }>();
    const node = (await swarmd.api('GET', `${V}/nodes/${nodeId}`)).json<{ Version: { Index: number } }>();
    const endpoints = [
      `${V}/services/create`,
      `${V}/services/${fullId}/update?version=${version}`,
      `${V}/nodes/${nodeId}/update?version=${node.Version.Index}`,
      `${V}/swarm/update?version=${cluster.Version.Index}`,
    ];
    const bodies: [string | Buffer, RegExp][] = [
      ['{', /invalid JSON/],
      ['{"Name":', /invalid JSON/],
      ['{"Name":"x",}', /invalid JSON/],
      ["{'Name':'x'}", /invalid JSON/],
      ['nul', /invalid JSON/],
      ['{"Name":NaN}', /invalid JSON/],
      ['undefined', /invalid JSON/],
      [Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80]), /invalid JSON/],
      ['null', /body is required/],
      ['', /body is required/],
      ['[]', /must be a JSON object/],
      ['[{"Name":"x"}]', /must be a JSON object/],
      ['"service"', /must be a JSON object/],
      ['42', /must be a JSON object/],
      ['true', /must be a JSON object/],
    ];
    for (const path of endpoints) {
      for (const [body, msg] of bodies) await refused('POST', path, body, { status: 400, message: msg });
    }
  });

  test('oversized and deeply nested bodies: 413 or 400, daemon unharmed', async () => {
    const tenMiB = `{"Name":"big","Labels":{"x":"${'a'.repeat(10 * 1024 * 1024)}"}}`;
    await refused('POST', `${V}/services/create`, tenMiB, { status: 413, message: /too large/ });
    const labels: Record<string, string> = {};
    for (let i = 0; i < 40_000; i++) labels[`label-${i}`] = 'v'.repeat(40);
    await refused(
      'POST',
      `${V}/services/create`,
      { Name: 'huge-labels', Labels: labels, TaskTemplate: { ContainerSpec: { Image: 'busybox' } } },
      { status: 413, message: /too large/ },
    );
    const version = await serviceVersion(fullId);
    await refused(
      'POST',
      `${V}/services/${fullId}/update?version=${version}`,
      { ...fullSpec('full'), Labels: labels },
      { status: 413, message: /too large/ },
    );
    const deepObject = `{"Name":"deep","TaskTemplate":{"ContainerSpec":{"Image":"b"}},"Labels":${'{"a":'.repeat(20_000)}1${'}'.repeat(20_001)}`;
    await refused('POST', `${V}/services/create`, deepObject, { status: 400, message: /nested too deeply/ });
    const deepArray = `{"Name":"deep","TaskTemplate":{"ContainerSpec":{"Image":"b","Args":${'['.repeat(50_000)}${']'.repeat(50_000)}}}}`;
    await refused('POST', `${V}/services/create`, deepArray, { status: 400, message: /nested too deeply/ });
    const deepArrayBody = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    await refused('POST', `${V}/services/create`, deepArrayBody, { status: 400, message: /JSON object/ });
    // Numbers no int64 holds exactly, and fractions where integers are due.
    for (const replicas of [1e300, 2 ** 64, Number.MAX_SAFE_INTEGER + 2, 0.5]) {
      await refused(
        'POST',
        `${V}/services/create`,
        {
          Name: 'many',
          TaskTemplate: { ContainerSpec: { Image: 'busybox' } },
          Mode: { Replicated: { Replicas: replicas } },
        },
        { status: 400, message: 'Mode.Replicated.Replicas' },
      );
    }
  });

  test('API versions, query parameters, unknown paths and wrong methods', async () => {
    const cases: [string, string, Expect][] = [
      ['GET', '/v1.99/services', { status: 400, message: /too new/ }],
      ['GET', '/v9/services', { status: 400, message: /too new/ }],
      ['GET', '/v0.1/services', { status: 400, message: /too old/ }],
      ['GET', '/v1.0/services', { status: 400, message: /too old/ }],
      ['POST', '/v1.99/services/create', { status: 400, message: /too new/ }],
      ['GET', '/vabc/services', { status: 404, message: /page not found/ }],
      ['GET', '/v/services', { status: 404, message: /page not found/ }],
      ['GET', '/v1.41.1/services', { status: 404, message: /page not found/ }],
      ['GET', `${V}/services?filters=notjson`, { status: 400, message: /filter/ }],
      ['GET', `${V}/services?filters={`, { status: 400, message: /filter/ }],
      ['GET', `${V}/services?filters=[]`, { status: 400, message: /filter/ }],
      ['GET', `${V}/services?filters=42`, { status: 400, message: /filter/ }],
      ['GET', `${V}/services?filters={"name":"web"}`, { status: 400, message: /filter 'name'/ }],
      ['GET', `${V}/services?filters={"bogus":{"a":true}}`, { status: 400, message: /bogus/ }],
      ['GET', `${V}/services?filters={"mode":{"sometimes":true}}`, { status: 400, message: /mode/ }],
      ['GET', `${V}/services?status=maybe`, { status: 400, message: /status/ }],
      ['GET', `${V}/services/full?insertDefaults=maybe`, { status: 400, message: /insertDefaults/ }],
      ['GET', `${V}/tasks?filters={"bogus":{"a":true}}`, { status: 400, message: /bogus/ }],
      [
        'GET',
        `${V}/tasks?filters={"desired-state":{"dancing":true}}`,
        { status: 400, message: /desired-state/ },
      ],
      ['GET', `${V}/tasks?filters=notjson`, { status: 400, message: /filter/ }],
      ['GET', `${V}/nodes?filters={"bogus":{"a":true}}`, { status: 400, message: /bogus/ }],
      ['GET', `${V}/nodes?filters=notjson`, { status: 400, message: /filter/ }],
      ['GET', `${V}/nope`, { status: 404, message: /page not found/ }],
      ['GET', `${V}/services/full/nope`, { status: 404, message: /page not found/ }],
      ['GET', `${V}/swarm/nope`, { status: 404, message: /page not found/ }],
      ['GET', `${V}/`, { status: 404, message: /page not found/ }],
      ['GET', `${V}/services/nosuch`, { status: 404, message: 'service nosuch not found' }],
      ['GET', `${V}/tasks/nosuch`, { status: 404, message: /nosuch/ }],
      ['GET', `${V}/nodes/nosuch`, { status: 404, message: 'node nosuch not found' }],
      ['DELETE', `${V}/services/nosuch`, { status: 404, message: 'service nosuch not found' }],
      ['DELETE', `${V}/nodes/nosuch`, { status: 404, message: 'node nosuch not found' }],
      ['DELETE', `${V}/nodes/self`, { status: 404, message: 'node self not found' }],
      ['DELETE', `${V}/nodes/${nodeId}`, { status: 400, message: /cluster manager/ }],
      ['PUT', `${V}/services`, { message: /page not found|not allowed/ }],
      ['PATCH', `${V}/services/full`, { message: /page not found|not allowed/ }],
      ['DELETE', `${V}/services`, { message: /page not found|not allowed/ }],
      ['POST', `${V}/services`, { message: /page not found|not allowed/ }],
      ['POST', `${V}/services/full`, { message: /page not found|not allowed/ }],
      ['DELETE', `${V}/swarm`, { message: /page not found|not allowed/ }],
      ['PUT', `${V}/swarm/update`, { message: /page not found|not allowed/ }],
      ['GET', `${V}/swarm/update`, { message: /page not found|not allowed/ }],
      ['DELETE', `${V}/tasks`, { message: /page not found|not allowed/ }],
      ['POST', `${V}/swarm/init`, { status: 503, message: /already part of a swarm/ }],
      ['POST', `${V}/swarm/leave`, { status: 503, message: /last manager/ }],
      ['POST', `${V}/swarm/leave?force=maybe`, { status: 400, message: /force/ }],
    ];
    for (const [method, path, e] of cases) await refused(method, path, undefined, e);
    // Version query parameters of updates.
    const spec = fullSpec('full');
    for (const v of ['abc', '-1', '1.5', '', '1e3', '0x10', '%20']) {
      await refused('POST', `${V}/services/${fullId}/update?version=${v}`, spec, {
        status: 400,
        message: /version/,
      });
    }
    await refused('POST', `${V}/services/${fullId}/update`, spec, { status: 400, message: /version/ });
    await refused(
      'POST',
      `${V}/nodes/${nodeId}/update?version=x`,
      { Role: 'manager', Availability: 'active' },
      {
        status: 400,
        message: /version/,
      },
    );
    await refused('POST', `${V}/swarm/update?version=x`, {}, { status: 400, message: /version/ });
  });

  test('invalid mounts, ports, durations, constraints, modes, resources and images', async () => {
    const t = (patch: (s: { [k: string]: Json }) => void) => {
      const s = fullSpec('bad');
      patch(s);
      return s;
    };
    // biome-ignore lint/suspicious/noExplicitAny: test data is edited by path, typed as JSON above
    type Any = any;
    const cases: [{ [k: string]: Json }, RegExp][] = [
      [
        t((s: Any) => (s.TaskTemplate.ContainerSpec.Mounts = [{ Type: 'tmpfs', Target: 'relative' }])),
        /absolute path/,
      ],
      [
        t(
          (s: Any) => (s.TaskTemplate.ContainerSpec.Mounts = [{ Type: 'bind', Source: 'rel', Target: '/x' }]),
        ),
        /absolute path/,
      ],
      [
        t((s: Any) => (s.TaskTemplate.ContainerSpec.Mounts = [{ Type: 'bind', Target: '/x' }])),
        /bind mount source/,
      ],
      [
        t(
          (s: Any) => (s.TaskTemplate.ContainerSpec.Mounts = [{ Type: 'tmpfs', Source: '/x', Target: '/x' }]),
        ),
        /tmpfs source/,
      ],
      [
        t(
          (s: Any) =>
            (s.TaskTemplate.ContainerSpec.Mounts = [{ Type: 'volume', Source: '/etc', Target: '/x' }]),
        ),
        /volume mount source/,
      ],
      [
        t((s: Any) => (s.TaskTemplate.ContainerSpec.Mounts = [{ Type: 'bogus', Target: '/x' }])),
        /Mounts\.0\.Type/,
      ],
      [t((s: Any) => (s.TaskTemplate.ContainerSpec.Mounts = [{ Type: 'tmpfs', Target: '' }])), /Target/],
      [t((s: Any) => (s.TaskTemplate.ContainerSpec.Mounts = [{ Type: 'tmpfs' }])), /Mounts\.0\.Target/],
      [t((s: Any) => (s.EndpointSpec.Ports = [{ TargetPort: 0 }])), /port target/],
      [t((s: Any) => (s.EndpointSpec.Ports = [{ TargetPort: 70000 }])), /TargetPort/],
      [t((s: Any) => (s.EndpointSpec.Ports = [{ TargetPort: -80 }])), /TargetPort/],
      [t((s: Any) => (s.EndpointSpec.Ports = [{ TargetPort: 80, PublishedPort: 65536 }])), /PublishedPort/],
      [t((s: Any) => (s.EndpointSpec.Ports = [{ TargetPort: 80, Protocol: 'icmp' }])), /Protocol/],
      [
        t((s: Any) => (s.EndpointSpec.Ports = [{ TargetPort: 80, PublishMode: 'everywhere' }])),
        /PublishMode/,
      ],
      [
        t(
          (s: Any) =>
            (s.EndpointSpec.Ports = [
              { TargetPort: 80, PublishedPort: 8080 },
              { TargetPort: 81, PublishedPort: 8080 },
            ]),
        ),
        /duplicate published ports/,
      ],
      [
        t((s: Any) => (s.EndpointSpec = { Mode: 'dnsrr', Ports: [{ TargetPort: 80, PublishedPort: 8080 }] })),
        /dnsrr/,
      ],
      [t((s: Any) => (s.EndpointSpec.Mode = 'roundrobin')), /EndpointSpec\.Mode/],
      [t((s: Any) => (s.TaskTemplate.ContainerSpec.StopGracePeriod = '10s')), /StopGracePeriod/],
      [t((s: Any) => (s.TaskTemplate.ContainerSpec.StopGracePeriod = -1)), /StopGracePeriod/],
      [t((s: Any) => (s.TaskTemplate.RestartPolicy.Delay = '5s')), /RestartPolicy\.Delay/],
      [t((s: Any) => (s.TaskTemplate.RestartPolicy.Condition = 'sometimes')), /Condition/],
      [t((s: Any) => (s.UpdateConfig.Monitor = -5)), /UpdateConfig\.Monitor/],
      [t((s: Any) => (s.UpdateConfig.MaxFailureRatio = 2)), /MaxFailureRatio/],
      [t((s: Any) => (s.UpdateConfig.FailureAction = 'explode')), /FailureAction/],
      [t((s: Any) => (s.UpdateConfig.Order = 'random')), /Order/],
      [t((s: Any) => (s.RollbackConfig.FailureAction = 'explode')), /FailureAction/],
      [t((s: Any) => (s.TaskTemplate.ContainerSpec.Healthcheck.Interval = -1)), /Interval/],
      [t((s: Any) => (s.TaskTemplate.Placement.Constraints = ['node.role'])), /constraint/],
      [t((s: Any) => (s.TaskTemplate.Placement.Constraints = ['node.role=manager'])), /constraint/],
      [t((s: Any) => (s.TaskTemplate.Placement.Constraints = ['=='])), /constraint/],
      [t((s: Any) => (s.TaskTemplate.Placement.Constraints = [''])), /constraint/],
      [t((s: Any) => (s.TaskTemplate.Placement.Constraints = ['node.role<>manager'])), /constraint/],
      [t((s: Any) => (s.Mode = { Replicated: { Replicas: 1 }, Global: {} })), /exactly one/],
      [t((s: Any) => (s.Mode = { Replicated: { Replicas: -1 } })), /Replicas/],
      [t((s: Any) => (s.TaskTemplate.Resources.Limits.NanoCPUs = 1)), /cpu/],
      [t((s: Any) => (s.TaskTemplate.Resources.Limits.MemoryBytes = 1024)), /memory/],
      [t((s: Any) => (s.TaskTemplate.ContainerSpec.Env = ['=oops'])), /environment/],
      [t((s: Any) => (s.TaskTemplate.ContainerSpec.Image = '')), /image/],
      [t((s: Any) => (s.TaskTemplate.ContainerSpec.Image = 'bad image')), /repository/],
      [t((s: Any) => delete s.TaskTemplate.ContainerSpec), /ContainerSpec/],
      [
        t((s: Any) => (s.TaskTemplate.ContainerSpec.Ulimits = [{ Name: 'nofile', Soft: 'a', Hard: 1 }])),
        /Soft/,
      ],
    ];
    for (const [spec, msg] of cases) {
      await refused('POST', `${V}/services/create`, spec, { status: 400, message: msg });
    }
  });

  test('duplicate names, renames, mode changes, missing services, rollback without a previous spec', async () => {
    const create = (name: string) => ({ Name: name, TaskTemplate: { ContainerSpec: { Image: 'busybox' } } });
    await refused('POST', `${V}/services/create`, create('base-a'), {
      status: 409,
      message: /already exists/,
    });
    await refused('POST', `${V}/services/create`, fullSpec('full'), {
      status: 409,
      message: /already exists/,
    });
    const v = await serviceVersion('base-a');
    // Docker answers both with gRPC Unimplemented, HTTP 501 (test/fixtures/docker/error-mode-change.json).
    await refused('POST', `${V}/services/base-a/update?version=${v}`, create('base-b'), {
      status: 501,
      message: /renaming services is not supported/,
    });
    await refused(
      'POST',
      `${V}/services/base-a/update?version=${v}`,
      { ...create('base-a'), Mode: { Global: {} } },
      { status: 501, message: /mode change/ },
    );
    await refused('POST', `${V}/services/base-a/update?version=${v}&rollback=previous`, create('base-a'), {
      status: 400,
      message: /does not have a previous spec/,
    });
    await refused('POST', `${V}/services/nosuch/update?version=${v}`, create('nosuch'), {
      status: 404,
      message: 'service nosuch not found',
    });
    // Node specs: bad role, availability, wrong types, demoting the last manager.
    const nv = (await swarmd.api('GET', `${V}/nodes/${nodeId}`)).json<{ Version: { Index: number } }>()
      .Version.Index;
    const nodeCases: [Json, RegExp | string][] = [
      [{ Role: 'king', Availability: 'active' }, 'Role'],
      [{ Role: 'manager', Availability: 'sleeping' }, 'Availability'],
      [{ Availability: 'active' }, 'Role'],
      [{ Role: 'manager', Availability: 'active', Labels: { a: 1 } }, 'Labels.a'],
      [{ Role: 'manager', Availability: 'active', Labels: 'a=b' }, 'Labels'],
      [{ Role: 'manager', Availability: 'active', Name: 7 }, 'Name'],
      [{ Role: 'worker', Availability: 'active' }, /last manager/],
    ];
    for (const [body, msg] of nodeCases) {
      await refused('POST', `${V}/nodes/${nodeId}/update?version=${nv}`, body, { status: 400, message: msg });
    }
    // Cluster spec: wrong types and a certificate expiry below the minimum.
    const cv = (await swarmd.api('GET', `${V}/swarm`)).json<{ Version: { Index: number } }>().Version.Index;
    const swarmCases: [Json, RegExp | string][] = [
      [{ Orchestration: { TaskHistoryRetentionLimit: 'five' } }, 'TaskHistoryRetentionLimit'],
      [{ CAConfig: { NodeCertExpiry: 1000000000 } }, /certificate expiry/],
      [{ Dispatcher: { HeartbeatPeriod: '5s' } }, 'HeartbeatPeriod'],
      [{ Raft: { ElectionTick: 'x' } }, 'ElectionTick'],
      [{ Labels: ['a'] }, 'Labels'],
    ];
    for (const [body, msg] of swarmCases) {
      await refused('POST', `${V}/swarm/update?version=${cv}`, body, { status: 400, message: msg });
    }
  });

  test('stale and future versions are out of sequence (500, as Docker); nothing written', async () => {
    const v = await serviceVersion('base-b');
    const spec = {
      Name: 'base-b',
      Labels: { x: '1' },
      TaskTemplate: { ContainerSpec: { Image: 'busybox' } },
    };
    for (const stale of [0, 1, v - 1, v + 1, v + 1000]) {
      await refused('POST', `${V}/services/base-b/update?version=${stale}`, spec, {
        status: 500,
        message: 'update out of sequence',
      });
    }
    const nv = (await swarmd.api('GET', `${V}/nodes/${nodeId}`)).json<{ Version: { Index: number } }>()
      .Version.Index;
    await refused(
      'POST',
      `${V}/nodes/${nodeId}/update?version=${nv - 1}`,
      { Role: 'manager', Availability: 'active' },
      {
        status: 500,
        message: 'update out of sequence',
      },
    );
    const cv = (await swarmd.api('GET', `${V}/swarm`)).json<{ Version: { Index: number } }>().Version.Index;
    await refused(
      'POST',
      `${V}/swarm/update?version=${cv - 1}`,
      {},
      { status: 500, message: 'update out of sequence' },
    );
  });

  test('concurrent updates with the same version: exactly one wins, the others are out of sequence', async () => {
    baseline = undefined;
    for (let round = 0; round < 3; round++) {
      const v = await serviceVersion('base-b');
      const results = await Promise.all(
        [0, 1, 2, 3].map((i) =>
          send('POST', `${V}/services/base-b/update?version=${v}`, {
            Name: 'base-b',
            Labels: { writer: `w${round}-${i}` },
            TaskTemplate: { ContainerSpec: { Image: 'busybox' } },
            Mode: { Replicated: { Replicas: 0 } },
          }),
        ),
      );
      const won = results.filter((r) => r.status === 200);
      const lost = results.filter((r) => r.status !== 200);
      assert.equal(won.length, 1, `one winner: ${results.map((r) => `${r.status} ${r.body}`).join(' | ')}`);
      for (const r of lost)
        checkRefusal(r, { status: 500, message: 'update out of sequence' }, 'losing update');
      const after = await swarmd.api('GET', `${V}/services/base-b`);
      const s = after.json<{ Version: { Index: number }; Spec: { Labels: Record<string, string> } }>();
      assert.ok(s.Version.Index > v);
      const winner = results.indexOf(won[0] as ApiResponse);
      assert.deepEqual(s.Spec.Labels, { writer: `w${round}-${winner}` }, 'the stored spec is the winner’s');
    }
  });

  test('the daemon survived: ping answers, the baseline services are intact, 200+ distinct requests were refused', async () => {
    const ping = await swarmd.api('GET', '/_ping');
    assert.equal(ping.status, 200);
    assert.equal(ping.body, 'OK');
    assert.equal(swarmd.child.exitCode, null, 'swarmd still running');
    const names = (await swarmd.api('GET', `${V}/services`))
      .json<{ Spec: { Name: string } }[]>()
      .map((s) => s.Spec.Name)
      .sort();
    assert.deepEqual(names, ['base-a', 'base-b', 'full']);
    assert.ok(sent.size >= 200, `only ${sent.size} distinct hostile requests`);
    console.log(`hostile: ${sent.size} distinct requests refused`);
  });
});
