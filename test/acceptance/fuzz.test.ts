// Acceptance: a property-based fuzzer over every Engine API route of a real swarmd in a swarm.
// Routes come from the route modules themselves (so a new route is fuzzed too); each request has a
// random or real path parameter, random query, a random, mutated or malformed body, and an API
// version prefix of /v1.41, /v1.47, none or an unsupported one. Required: no crash, no hang (the
// response head within REQUEST_TIMEOUT_MS; a complete body unless the route streams), no 500
// except Docker's own (ALLOWED_500), and nothing in the store changed by a refused (4xx) request.
// SKT_FUZZ_RUNS sets the number of requests (default 600), SKT_FUZZ_SEED the seed (printed).
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { clusterRoutes } from '../../src/engineapi/cluster.js';
import { containerRoutes } from '../../src/engineapi/containers.js';
import { eventRoutes } from '../../src/engineapi/events.js';
import { imageRoutes } from '../../src/engineapi/images.js';
import { logRoutes } from '../../src/engineapi/logs.js';
import { networkRoutes } from '../../src/engineapi/networks.js';
import { payloadRoutes } from '../../src/engineapi/payloads.js';
import type { Route } from '../../src/engineapi/router.js';
import { systemRoutes } from '../../src/engineapi/system.js';
import { type SwarmdProcess, startSwarmd } from '../helpers/swarmd.js';

/** A file to which each request is appended as it is sent (to find what preceded a failure). */
const trace = process.env.SKT_FUZZ_TRACE;
const RUNS = Number(process.env.SKT_FUZZ_RUNS ?? 600);
const SEED = Number(process.env.SKT_FUZZ_SEED ?? Date.now() % 2 ** 31);
/** A request with no response head after this long is a hang (prune removes objects one write at a time: seconds on a loaded host). */
const REQUEST_TIMEOUT_MS = 15_000;
/** How long a streaming route's body is read before the fuzzer hangs up (a stream may not end). */
const STREAM_READ_MS = 200;

/**
 * Routes left out, and why: leaving the swarm ends the run (every later request would be a 503);
 * pulling an image reaches out to registries, outside the harness; attach hijacks the connection
 * to a container's stdio (no container runs here, so it is a 404 through the container lookup of
 * the other container routes anyway).
 */
const EXCLUDED = new Set(['POST /swarm/leave', 'POST /images/create', 'POST /containers/:id/attach']);

/** 500s that Docker itself answers, by message: a stale `version` is "update out of sequence". */
const ALLOWED_500 = [/update out of sequence/];

/**
 * The routes as swarmd mounts them. The factories only close over their backend, so a stand-in
 * that is never called lists them (a call would throw and fail the run).
 */
function allRoutes(): Route[] {
  const never: never = new Proxy(() => undefined, {
    get: (_t, p) => (p === 'then' ? undefined : never),
    apply: () => {
      throw new Error('route table stand-in called while listing routes');
    },
  }) as never;
  return [
    ...systemRoutes(never),
    ...clusterRoutes(never),
    ...networkRoutes(never),
    ...payloadRoutes(never),
    ...imageRoutes(never),
    ...containerRoutes(never),
    ...eventRoutes(never),
    ...logRoutes(never),
  ].filter((r) => !EXCLUDED.has(`${r.method} ${r.path}`));
}

let swarmd: SwarmdProcess;
/** Real IDs and names by kind ('services', 'nodes' …, the route's first segment), so path parameters hit real objects too. */
const real = new Map<string, string[]>();

function addReal(kind: string, ...ids: string[]): void {
  const list = real.get(kind) ?? [];
  for (const id of ids) if (id && !list.includes(id)) list.push(id);
  real.set(kind, list);
}

/** A real ID or name, read from the live pool (objects made again after a DELETE come in). */
function realId(kind: string): fc.Arbitrary<string> {
  return fc.nat().map((i) => {
    const own = real.get(kind);
    const pool = own?.length ? own : [...real.values()].flat();
    return pool[i % pool.length] as string;
  });
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Valid bodies of each kind, mutated by the fuzzer. */
function validBodies(): Json[] {
  return [
    {
      Name: 'fz-svc',
      Labels: { a: 'b' },
      TaskTemplate: { ContainerSpec: { Image: 'busybox', Command: ['sleep', '1'] } },
      Mode: { Replicated: { Replicas: 0 } },
      EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 8080 }] },
    },
    {
      Name: 'fz-net',
      Driver: 'overlay',
      Attachable: true,
      Labels: { x: 'y' },
      IPAM: { Config: [{ Subnet: '10.9.0.0/24' }] },
    },
    { Name: 'fz-secret', Data: 'aGVsbG8=', Labels: {} },
    { Name: 'fz-vol', Driver: 'local', DriverOpts: { type: 'tmpfs', device: 'tmpfs' } },
    { Availability: 'active', Role: 'manager', Labels: { zone: 'a' } },
    { Orchestration: { TaskHistoryRetentionLimit: 5 }, Dispatcher: { HeartbeatPeriod: 5_000_000_000 } },
    { ListenAddr: '0.0.0.0:2377', AdvertiseAddr: '127.0.0.1', ForceNewCluster: false },
    { Detach: true, Tty: false, Cmd: ['true'], AttachStdout: true },
    { UnlockKey: 'SWMKEY-1-abc' },
    { Version: { Index: 1 }, Spec: {} },
  ];
}

const weird = fc.constantFrom(
  '',
  '..',
  '%2e%2e',
  '%2F',
  'a%00b',
  '%',
  '%zz',
  ' ',
  'x'.repeat(300),
  '\u00e9\u4e2d',
  'null',
  '0',
  '-1',
  'busybox:latest',
  'library/busybox',
  'sha256:',
);

function pathParam(kind: string): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: realId(kind) },
    { weight: 1, arbitrary: realId(kind).map((id) => id.slice(0, 5)) },
    { weight: 1, arbitrary: weird },
    { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
  );
}

function encodePart(s: string): string {
  // Most parameters are sent escaped; some raw (a '%' or '/' of the fuzzer's own stays as it is).
  return /^[%\w.:-]*$/.test(s) ? s : encodeURIComponent(s);
}

const QUERY_KEYS = [
  'filters',
  'version',
  'force',
  'all',
  'since',
  'until',
  'tail',
  'follow',
  'stdout',
  'stderr',
  'timestamps',
  'details',
  'insertDefaults',
  'registryAuthFrom',
  'rollback',
  'rotateWorkerToken',
  'rotateManagerToken',
  'rotateManagerUnlockKey',
  'quiet',
  'status',
  'verbose',
  'scope',
  'signal',
  't',
  'condition',
  'repo',
  'tag',
  'noprune',
  'size',
  'h',
  'w',
];

function queryValue(): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constantFrom(
      '1',
      '0',
      'true',
      'false',
      '',
      '-1',
      '99999999999999999999',
      '1.5',
      'abc',
      '2026-01-01T00:00:00Z',
    ),
    fc.nat({ max: 50 }).map(String),
    fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
    fc
      .dictionary(
        fc.constantFrom(
          ...['name', 'id', 'label', 'role', 'type', 'driver', 'scope', 'dangling', 'until', 'reference'],
          ...['before', 'since', 'desired-state', 'node', 'service', 'membership', 'mode', 'event', 'bogus'],
        ),
        fc.dictionary(
          fc.oneof(
            fc.string({ maxLength: 8 }),
            fc.constantFrom('true', 'false', 'running', 'global', 'manager', 'a=b', '=', '10m', '-1', 'x*'),
          ),
          fc.boolean(),
          { maxKeys: 2 },
        ),
        { maxKeys: 2 },
      )
      .map((v) => JSON.stringify(v)),
    fc.string({ maxLength: 20 }),
  );
}

/** Sets, deletes or retypes one field somewhere in `v`. */
function mutate(v: Json, path: number[], replacement: Json, del: boolean): Json {
  if (v === null || typeof v !== 'object') return replacement;
  const keys = Array.isArray(v) ? v.map((_, i) => i) : Object.keys(v);
  if (keys.length === 0 || path.length === 0) return replacement;
  const key = keys[(path[0] as number) % keys.length] as string | number;
  const copy: Json = Array.isArray(v) ? [...v] : { ...v };
  const child = (copy as Record<string | number, Json>)[key] as Json;
  if (del && path.length === 1 && !Array.isArray(copy)) delete (copy as Record<string, Json>)[key as string];
  else (copy as Record<string | number, Json>)[key] = mutate(child, path.slice(1), replacement, del);
  return copy;
}

/** A minimal ustar archive of text files (an image load body whose tar is fine and whose contents are not). */
function tarOf(files: [string, string][]): Buffer {
  const blocks: Buffer[] = [];
  for (const [name, content] of files) {
    const data = Buffer.from(content);
    const h = Buffer.alloc(512);
    h.write(name.slice(0, 99), 0, 'ascii');
    h.write('0000644\0', 100, 'ascii');
    h.write('0000000\0', 108, 'ascii');
    h.write('0000000\0', 116, 'ascii');
    h.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124, 'ascii');
    h.write('00000000000\0', 136, 'ascii');
    h.write('        ', 148, 'ascii');
    h.write('0', 156, 'ascii');
    h.write('ustar\x0000', 257, 'ascii');
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
    blocks.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

function imageArchive(): fc.Arbitrary<Buffer> {
  const name = fc.constantFrom(
    'manifest.json',
    'index.json',
    'oci-layout',
    'config.json',
    'layer.tar',
    '../x',
    'a/b',
  );
  const content = fc.oneof(
    fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
    fc.constantFrom(
      '[{"Config":"config.json","RepoTags":["x:1"],"Layers":["layer.tar"]}]',
      '[{"Config":"../../etc/passwd","Layers":[]}]',
      '{"imageLayoutVersion":"1.0.0"}',
      '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:00","size":2}]}',
      '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}',
      '{',
    ),
    fc.string({ maxLength: 40 }),
  );
  return fc.array(fc.tuple(name, content), { maxLength: 4 }).map((files) => tarOf(files));
}

function body(): fc.Arbitrary<string | Buffer | undefined> {
  const valids = validBodies();
  return fc.oneof(
    fc.constant(undefined),
    fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
    fc
      .record({
        base: fc.constantFrom(...valids),
        path: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
        replacement: fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>,
        del: fc.boolean(),
      })
      .map(({ base, path, replacement, del }) => JSON.stringify(mutate(base, path, replacement, del))),
    fc.constantFrom(...valids).map((v) => JSON.stringify(v)),
    // Nesting deep enough to overflow a recursive parser or validator.
    fc
      .integer({ min: 1_000, max: 100_000 })
      .map(
        (n) =>
          `{"Name":"deep","Labels":${'{"a":'.repeat(n)}1${'}'.repeat(n)},"x":${'['.repeat(n)}${']'.repeat(n)}}`,
      ),
    fc.constantFrom(
      '{',
      '[',
      '{"Name":',
      'null',
      '""',
      '\u0000',
      '{"a":1}{"b":2}',
      '1e999',
      '{"Name":"\ud800"}',
    ),
    fc.string({ maxLength: 60 }),
  );
}

interface FuzzRequest {
  method: string;
  path: string;
  body: string | Buffer | undefined;
  contentType: string | undefined;
  registryAuth: string | undefined;
  /** Sent this many times at once. */
  copies: number;
  route: Route;
}

function fuzzRequest(routes: Route[]): fc.Arbitrary<FuzzRequest> {
  return fc
    .record({
      // Mostly the route's own method and a supported version, so that most requests reach a handler.
      otherMethod: fc.oneof(
        { weight: 9, arbitrary: fc.constant(undefined) },
        { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD') },
      ),
      version: fc.oneof(
        { weight: 9, arbitrary: fc.constantFrom('', '/v1.41', '/v1.47', '/v1.24') },
        { weight: 1, arbitrary: fc.constantFrom('/v1.12', '/v1.99', '/v1.4x', '/v2') },
      ),
      route_params: fc.constantFrom(...routes).chain((route) =>
        fc.tuple(
          fc.constant(route),
          fc.array(pathParam(route.path.split('/')[1] ?? ''), { minLength: 3, maxLength: 3 }),
          // An image load is mostly a well-formed tar with broken contents, to get past the tar parser.
          route.path === '/images/load' ? fc.oneof(imageArchive(), imageArchive(), body()) : body(),
        ),
      ),
      query: fc.array(fc.tuple(fc.constantFrom(...QUERY_KEYS), queryValue()), { maxLength: 4 }),
      contentType: fc.constantFrom('application/json', 'application/json', 'text/plain', undefined),
      copies: fc.oneof({ weight: 19, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.constant(3) }),
      registryAuth: fc.option(
        fc.oneof(
          fc.string({ maxLength: 30 }),
          fc.jsonValue({ maxDepth: 2 }).map((v) => Buffer.from(JSON.stringify(v)).toString('base64url')),
        ),
        { freq: 5 },
      ),
    })
    .map(
      ({
        route_params: [route, params, body],
        otherMethod,
        version,
        query,
        contentType,
        registryAuth,
        copies,
      }) => {
        let i = 0;
        const path = route.path
          .split('/')
          .map((seg) => (seg.startsWith(':') ? encodePart(params[i++ % params.length] as string) : seg))
          .join('/');
        const qs = new URLSearchParams(query).toString();
        return {
          method: otherMethod ?? route.method,
          path: `${version}${path}${qs ? `?${qs}` : ''}`,
          body,
          contentType,
          registryAuth: registryAuth ?? undefined,
          copies,
          route,
        };
      },
    );
}

interface Outcome {
  /** 0: no response at all (connection closed first). */
  status: number;
  body: string;
  /** The body was cut off by the fuzzer (a stream that did not end). */
  streaming: boolean;
}

const keepAlive = new Agent({ keepAlive: true, maxSockets: 8 });

function send(r: FuzzRequest): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (r.contentType && r.body !== undefined) headers['Content-Type'] = r.contentType;
    // Only printable ASCII can be a header value; other strings are sent escaped.
    if (r.registryAuth !== undefined) headers['X-Registry-Auth'] = encodeURIComponent(r.registryAuth);
    // Framed always (Node sends a GET's body unframed). Keep-alive connections, as the docker CLI
    // uses: a body the route does not read is drained by the server and the answer arrives (with
    // `Connection: close` the server closes at once after answering, as Go's server does past 256 KiB,
    // and the client may see a reset while still sending).
    if (r.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(r.body));
    const req = request({
      socketPath: swarmd.socket,
      method: r.method,
      path: r.path,
      headers,
      agent: keepAlive,
    });
    const hang = setTimeout(() => {
      req.destroy();
      reject(new Error(`no response head within ${REQUEST_TIMEOUT_MS} ms`));
    }, REQUEST_TIMEOUT_MS);
    req.on('response', (res) => {
      clearTimeout(hang);
      let text = '';
      const cut = setTimeout(
        () => {
          req.destroy();
          resolve({ status: res.statusCode ?? 0, body: text, streaming: true });
        },
        r.route.stream ? STREAM_READ_MS : REQUEST_TIMEOUT_MS,
      );
      res.on('data', (c: Buffer) => {
        if (text.length < 4096) text += c.toString('utf8');
      });
      res.on('end', () => {
        clearTimeout(cut);
        resolve({ status: res.statusCode ?? 0, body: text, streaming: false });
      });
      res.on('error', () => {
        clearTimeout(cut);
        resolve({ status: res.statusCode ?? 0, body: text, streaming: true });
      });
    });
    req.on('error', (e) => {
      clearTimeout(hang);
      reject(e);
    });
    req.end(r.body);
  });
}

/** The store's user-visible contents, without what the cluster changes on its own (status, heartbeats, tasks). */
async function dump(): Promise<string> {
  const get = async (path: string) => {
    const r = await swarmd.api('GET', `/v1.47${path}`);
    assert.equal(r.status, 200, `GET ${path}: ${r.body}`);
    return r.json<Record<string, unknown>[] | Record<string, unknown>>();
  };
  const [services, networks, secrets, configs, nodes, swarm, volumes] = await Promise.all([
    get('/services'),
    get('/networks'),
    get('/secrets'),
    get('/configs'),
    get('/nodes'),
    get('/swarm'),
    get('/volumes'),
  ]);
  const pick = (list: unknown, keys: string[]) =>
    (list as Record<string, unknown>[])
      .map((o) => keys.map((k) => o[k]))
      .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  const sw = swarm as Record<string, unknown>;
  return JSON.stringify({
    services: pick(services, ['ID', 'Version', 'Spec']),
    networks: pick(networks, ['Id', 'Name', 'Driver', 'Labels', 'Options', 'IPAM', 'Attachable', 'Ingress']),
    secrets: pick(secrets, ['ID', 'Version', 'Spec']),
    configs: pick(configs, ['ID', 'Version', 'Spec']),
    nodes: pick(nodes, ['ID', 'Spec']),
    swarm: [sw.Version, sw.Spec, sw.JoinTokens],
    volumes: pick((volumes as { Volumes: unknown }).Volumes ?? [], ['Name', 'Driver', 'Labels', 'Options']),
  });
}

/** Waits until the cluster's own follow-up writes (allocation, orchestration) are done. */
async function settle(): Promise<string> {
  let last = await dump();
  for (let i = 0; i < 40; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const now = await dump();
    if (now === last) return now;
    last = now;
  }
  return last;
}

/** The objects path parameters should be able to hit; made again if a fuzzed DELETE removed them. */
async function ensureObjects(): Promise<void> {
  const make = async (list: string, create: string, name: string, spec: Json) => {
    const have = (await swarmd.api('GET', `/v1.47${list}`)).json<Record<string, unknown>[]>();
    const found = have.find(
      (o) => (o.Spec as { Name?: string } | undefined)?.Name === name || o.Name === name,
    );
    const id = found
      ? ((found.ID ?? found.Id) as string)
      : (await swarmd.api('POST', `/v1.47${create}`, spec)).json<{ ID?: string; Id?: string }>();
    addReal(list.slice(1), typeof id === 'string' ? id : (id.ID ?? id.Id ?? ''), name);
  };
  await make('/services', '/services/create', 'fz-real-svc', {
    Name: 'fz-real-svc',
    TaskTemplate: { ContainerSpec: { Image: 'busybox' } },
    Mode: { Replicated: { Replicas: 0 } },
  });
  await make('/networks', '/networks/create', 'fz-real-net', {
    Name: 'fz-real-net',
    Driver: 'overlay',
    Attachable: true,
  });
  await make('/secrets', '/secrets/create', 'fz-real-secret', { Name: 'fz-real-secret', Data: 'c2VjcmV0' });
  await make('/configs', '/configs/create', 'fz-real-config', { Name: 'fz-real-config', Data: 'Y29uZmln' });
}

function isDockerError(text: string): boolean {
  try {
    const v = JSON.parse(text) as { message?: unknown };
    return typeof v.message === 'string' && v.message.length > 0;
  } catch {
    return false;
  }
}

interface Figures {
  requests: number;
  crashes: number;
  hangs: number;
  noResponse: number;
  /** Extra copies sent concurrently (beside `requests`). */
  duplicates: number;
  unexpected500: number;
  /** Refusals whose body is not Docker's `{"message": "..."}`. */
  badErrorBodies: number;
  changedObjects: number;
  byStatus: Record<string, number>;
  byRoute: Record<string, Record<number, number>>;
  failures: string[];
}

describe('Engine API fuzzer on a real swarmd', { timeout: 3_600_000 }, () => {
  before(async () => {
    swarmd = await startSwarmd({ prefix: 'skt-acc-' });
    const init = await swarmd.api('POST', '/v1.47/swarm/init', {
      ListenAddr: `127.0.0.1:${swarmd.listenPort}`,
      AdvertiseAddr: '127.0.0.1',
    });
    assert.equal(init.status, 200, init.body);
    addReal('nodes', init.json<string>(), 'node-1');
    // The change detector sees a write: a secret made and removed changes the dump and restores it.
    const empty = await settle();
    const made = await swarmd.api('POST', '/v1.47/secrets/create', { Name: 'fz-probe', Data: 'eA==' });
    assert.notEqual(await dump(), empty);
    await swarmd.api('DELETE', `/v1.47/secrets/${made.json<{ ID: string }>().ID}`);
    assert.equal(await settle(), empty);
    await ensureObjects();
    const tasks = (await swarmd.api('GET', '/v1.47/tasks')).json<{ ID: string }[]>();
    addReal('tasks', ...tasks.map((t) => t.ID));
    addReal('volumes', 'fz-real-vol');
    assert.equal((await swarmd.api('POST', '/v1.47/volumes/create', { Name: 'fz-real-vol' })).status, 201);
  });

  after(async () => {
    keepAlive.destroy();
    await swarmd?.destroy();
  });

  test(`${RUNS} random requests: no crash, hang, unexpected 500, or change by a refused request`, async () => {
    const routes = allRoutes();
    assert.ok(routes.length > 40, `only ${routes.length} routes listed`);
    const f: Figures = {
      requests: 0,
      crashes: 0,
      hangs: 0,
      noResponse: 0,
      duplicates: 0,
      unexpected500: 0,
      badErrorBodies: 0,
      changedObjects: 0,
      byStatus: {},
      byRoute: {},
      failures: [],
    };
    const started = Date.now();
    console.log(
      `fuzz: seed ${SEED} (SKT_FUZZ_SEED=${SEED} to replay), ${RUNS} requests over ${routes.length} routes`,
    );
    let before = await settle();
    const what = (r: FuzzRequest) =>
      `${r.method} ${r.path} body=${JSON.stringify(r.body?.toString('latin1').slice(0, 300))} auth=${JSON.stringify(r.registryAuth)}`;
    await fc.assert(
      fc.asyncProperty(fuzzRequest(routes), async (r) => {
        f.requests++;
        if (f.requests % 50 === 0) {
          await ensureObjects();
          before = await settle();
        }
        // Sometimes the same request several times at once: races must not give a 500 or a half write.
        if (r.copies > 1) f.duplicates += r.copies - 1;
        if (trace)
          appendFileSync(
            trace,
            `${new Date().toISOString()} ${f.requests} x${r.copies} ${what(r).slice(0, 400)}\n`,
          );
        const settled = await Promise.allSettled(Array.from({ length: r.copies }, () => send(r)));
        let refusedAll = true;
        for (const s of settled) {
          if (s.status === 'rejected') {
            const msg = (s.reason as Error).message;
            if (swarmd.child.exitCode !== null || swarmd.child.signalCode !== null) {
              f.crashes++;
              f.failures.push(`crash: ${what(r)}\n${swarmd.logs().slice(-3000)}`);
              return false;
            }
            if (/no response head/.test(msg)) f.hangs++;
            else f.noResponse++;
            f.failures.push(`${msg}: ${what(r)}`);
            refusedAll = false;
            continue;
          }
          const out = s.value;
          f.byStatus[out.status] = (f.byStatus[out.status] ?? 0) + 1;
          const rk = `${r.route.method} ${r.route.path}`;
          const counts = f.byRoute[rk] ?? {};
          counts[out.status] = (counts[out.status] ?? 0) + 1;
          f.byRoute[rk] = counts;
          if (out.status === 500 && !ALLOWED_500.some((re) => re.test(out.body))) {
            f.unexpected500++;
            f.failures.push(`500 ${out.body.trim()}: ${what(r)}`);
          }
          if (out.status >= 400 && r.method !== 'HEAD' && !isDockerError(out.body)) {
            f.badErrorBodies++;
            f.failures.push(
              `${out.status} without a {"message"} body (${JSON.stringify(out.body.slice(0, 200))}): ${what(r)}`,
            );
          }
          if (out.status < 400 || out.status >= 500) refusedAll = false;
        }
        if (refusedAll) {
          const now = await dump();
          if (now !== before) {
            // Only a change that stays is the request's doing (the cluster may still be settling).
            const later = await settle();
            if (later !== before) {
              f.changedObjects++;
              f.failures.push(`refused but the store changed: ${what(r)}`);
            }
            before = later;
          }
        } else if (r.method !== 'GET' && r.method !== 'HEAD') {
          before = await settle();
        }
        return true;
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.log(
      `fuzz: ${f.requests} requests (+${f.duplicates} concurrent copies), ${f.crashes} crashes, ${f.hangs} hangs, ${f.noResponse} without a response, ` +
        `${f.unexpected500} unexpected 500s, ${f.badErrorBodies} errors without a message, ${f.changedObjects} changed objects, ${seconds} s (seed ${SEED})`,
    );
    console.log(`fuzz: statuses ${JSON.stringify(f.byStatus)}`);
    if (process.env.SKT_FUZZ_VERBOSE)
      for (const [k, v] of Object.entries(f.byRoute)) console.log(`fuzz: ${k} ${JSON.stringify(v)}`);
    assert.deepEqual(f.failures, [], `seed ${SEED}:\n${f.failures.slice(0, 20).join('\n')}`);
  });
});
