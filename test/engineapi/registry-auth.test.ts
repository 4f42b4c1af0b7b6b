// X-Registry-Auth on POST /services/create and /services/{id}/update, through the Engine API routes
// and the control API over an in-memory store (no etcd): what is stored, what registryAuthFrom
// keeps, what is refused, and that no read ever returns the credentials.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { SwarmError } from '../../src/api/errors.js';
import type { Service, Task } from '../../src/api/types.js';
import { clusterRoutes } from '../../src/engineapi/cluster.js';
import { EngineServer } from '../../src/engineapi/server.js';
import { ClusterApi } from '../../src/manager/controlapi/cluster.js';
import { NetworkApi } from '../../src/manager/controlapi/networks.js';
import { NodeApi } from '../../src/manager/controlapi/nodes.js';
import { ServiceApi } from '../../src/manager/controlapi/services.js';
import type { ControlStore, Kind, KindMap } from '../../src/manager/controlapi/store.js';
import { TaskApi } from '../../src/manager/controlapi/tasks.js';
import { newTask } from '../../src/manager/orchestrator/task.js';
import { tables } from '../../src/manager/tables.js';
import { payloadApis } from '../helpers/payloads.js';
import { type ApiResponse, apiCall } from '../helpers/swarmd.js';

/** The control store's contract in memory: schema-checked writes, CAS on Version.Index. */
class MemoryStore implements ControlStore {
  readonly objects = new Map<Kind, Map<string, unknown>>();
  writes = 0;
  private revision = 0;

  private table<K extends Kind>(kind: K): Map<string, KindMap[K]> {
    const t = this.objects.get(kind) ?? new Map<string, unknown>();
    this.objects.set(kind, t);
    return t as Map<string, KindMap[K]>;
  }
  private stored<K extends Kind>(kind: K, obj: KindMap[K]): KindMap[K] {
    this.writes++;
    const next = { ...obj, Version: { Index: ++this.revision } };
    const parsed = tables[kind].schema.parse(JSON.parse(JSON.stringify(next))) as KindMap[K];
    this.table(kind).set(parsed.ID, parsed);
    return parsed;
  }
  get<K extends Kind>(kind: K, id: string) {
    return this.table(kind).get(id);
  }
  list<K extends Kind>(kind: K) {
    return [...this.table(kind).values()];
  }
  tasksOfService(serviceId: string): Task[] {
    return this.list('task').filter((t) => t.ServiceID === serviceId);
  }
  resolve<K extends Kind>(kind: K, ref: string): KindMap[K] {
    const all = this.list(kind);
    const named = (o: KindMap[K]) => 'Spec' in o && (o.Spec as { Name?: string }).Name === ref;
    const hit = all.find((o) => o.ID === ref) ?? all.find(named);
    if (!hit) throw new SwarmError('NOT_FOUND', `${kind} ${ref} not found`);
    return hit;
  }
  async create<K extends Kind>(kind: K, obj: KindMap[K]) {
    return this.stored(kind, obj);
  }
  async update<K extends Kind>(kind: K, obj: KindMap[K]) {
    if (this.get(kind, obj.ID)?.Version.Index !== obj.Version.Index) {
      throw new SwarmError('OUT_OF_SEQUENCE', 'update out of sequence');
    }
    return this.stored(kind, obj);
  }
  async remove(kind: Kind, id: string) {
    this.table(kind).delete(id);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'skt-regauth-'));
const socket = join(dir, 'api.sock');
let store: MemoryStore;
const server = new EngineServer({
  serverName: 'swarmd-test',
  routes: clusterRoutes({
    control: () => ({
      cluster: new ClusterApi(store, () => 'token'),
      nodes: new NodeApi(store, () => 'self'),
      networks: new NetworkApi(store),
      ...payloadApis(store),
      services: new ServiceApi(store, () => ({})),
      tasks: new TaskApi(store, () => 'self'),
      nodeIsUp: () => true,
    }),
    init: async () => '',
    join: async () => undefined,
    leave: async () => undefined,
    unlock: async () => undefined,
  }),
});

before(() => server.listen(socket));
after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  store = new MemoryStore();
});

const encode = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const CREDS_A = { username: 'skt', password: 'sekret-a', serveraddress: '127.0.0.1:5000' };
const CREDS_B = { username: 'skt', password: 'sekret-b', serveraddress: '127.0.0.1:5000' };

function spec(env: string[] = []): Record<string, unknown> {
  return { Name: 'web', TaskTemplate: { ContainerSpec: { Image: '127.0.0.1:5000/bb:1', Env: env } } };
}

function ok(r: ApiResponse, what: string): ApiResponse {
  assert.ok(r.status >= 200 && r.status < 300, `${what}: HTTP ${r.status} ${r.body}`);
  return r;
}

async function create(headers: Record<string, string> = {}, body: unknown = spec()): Promise<string> {
  const r = ok(await apiCall(socket, 'POST', '/v1.41/services/create', body, headers), 'create');
  return r.json<{ ID: string }>().ID;
}

async function update(id: string, query: string, headers: Record<string, string> = {}, env: string[] = []) {
  const version = stored(id).Version.Index;
  return apiCall(
    socket,
    'POST',
    `/v1.41/services/${id}/update?version=${version}${query}`,
    spec(env),
    headers,
  );
}

function stored(id: string): Service {
  const s = store.get('service', id);
  assert.ok(s, `service ${id} is stored`);
  return s;
}

/** The stored auth of a spec, decoded (undefined: none). */
function authOf(s: Service['Spec'] | undefined): unknown {
  const a = s?.TaskTemplate.ContainerSpec?.PullOptions?.RegistryAuth;
  return a === undefined ? undefined : JSON.parse(Buffer.from(a, 'base64url').toString());
}

describe('X-Registry-Auth on services', () => {
  test('create stores it in the task template, tasks carry it, and no read returns it', async () => {
    const id = await create({ 'X-Registry-Auth': encode({ ...CREDS_A, email: 'ignored@example.com' }) });
    assert.deepEqual(authOf(stored(id).Spec), CREDS_A, 'stored re-encoded, known fields only');
    const svc = stored(id);
    const t = newTask(svc, { slot: 1, desiredState: 'running' }, { now: Date.now(), newId: () => 'task1' });
    await store.create('task', { ...t, Version: { Index: 0 } });
    assert.deepEqual(authOf({ ...svc.Spec, TaskTemplate: store.get('task', 'task1')!.Spec }), CREDS_A);
    ok(await update(id, '', { 'X-Registry-Auth': encode(CREDS_B) }), 'update');

    for (const path of [
      '/services',
      '/services?status=true',
      `/services/${id}`,
      `/services/${id}?insertDefaults=true`,
      '/tasks',
      '/tasks/task1',
    ]) {
      const r = ok(await apiCall(socket, 'GET', `/v1.41${path}`), path);
      assert.doesNotMatch(r.body, /PullOptions|RegistryAuth|sekret/, `${path} returns no credentials`);
      assert.match(r.body, /127\.0\.0\.1:5000\/bb:1/, `${path} still returns the spec`);
    }
  });

  test('a body cannot set it, and an empty header or {} means none', async () => {
    const body = spec();
    const cs = (body.TaskTemplate as { ContainerSpec: Record<string, unknown> }).ContainerSpec;
    cs.PullOptions = { RegistryAuth: encode(CREDS_A) };
    const id = await create({}, body);
    assert.equal(authOf(stored(id).Spec), undefined);
    await store.remove('service', id);
    for (const header of ['', encode({})]) {
      const other = await create({ 'X-Registry-Auth': header });
      assert.equal(authOf(stored(other).Spec), undefined, `header ${JSON.stringify(header)}`);
      await store.remove('service', other);
    }
  });

  test('update without the header keeps the current spec auth (registryAuthFrom=spec, the default)', async () => {
    const id = await create({ 'X-Registry-Auth': encode(CREDS_A) });
    ok(await update(id, '', {}, ['X=1']), 'update without registryAuthFrom');
    assert.deepEqual(authOf(stored(id).Spec), CREDS_A);
    ok(await update(id, '&registryAuthFrom=spec', {}, ['X=2']), 'update with registryAuthFrom=spec');
    assert.deepEqual(authOf(stored(id).Spec), CREDS_A);
    ok(await update(id, '&registryAuthFrom=spec', { 'X-Registry-Auth': encode(CREDS_B) }), 'new header');
    assert.deepEqual(authOf(stored(id).Spec), CREDS_B, 'a header replaces it');
    assert.deepEqual(authOf(stored(id).PreviousSpec), CREDS_A);
  });

  test("registryAuthFrom=previous-spec takes the previous spec's auth; a rollback swaps them", async () => {
    const id = await create({ 'X-Registry-Auth': encode(CREDS_A) });
    ok(await update(id, '', { 'X-Registry-Auth': encode(CREDS_B) }, ['X=1']), 'update to B');
    ok(await update(id, '&registryAuthFrom=previous-spec', {}, ['X=2']), 'update from previous');
    assert.deepEqual(authOf(stored(id).Spec), CREDS_A);
    assert.deepEqual(authOf(stored(id).PreviousSpec), CREDS_B);
    ok(await update(id, '&rollback=previous'), 'rollback');
    assert.deepEqual(authOf(stored(id).Spec), CREDS_B);
    assert.deepEqual(authOf(stored(id).PreviousSpec), CREDS_A);
  });

  test('new credentials leave a running task up to date (no redeploy); a task still to pull is not', async () => {
    const id = await create({ 'X-Registry-Auth': encode(CREDS_A) });
    for (const [n, state] of [
      [1, 'running'],
      [2, 'pending'],
    ] as const) {
      const t = newTask(stored(id), { slot: n, desiredState: 'running' }, { now: 0, newId: () => `t${n}` });
      await store.create('task', { ...t, Version: { Index: 0 }, Status: { ...t.Status, State: state } });
    }
    ok(await update(id, '', { 'X-Registry-Auth': encode(CREDS_B) }), 'update to B');
    const filters = encodeURIComponent(
      JSON.stringify({ service: { [id]: true }, '_up-to-date': { true: true } }),
    );
    const upToDate = ok(await apiCall(socket, 'GET', `/v1.41/tasks?filters=${filters}`), 'list').json<
      Task[]
    >();
    assert.deepEqual(
      upToDate.map((t) => t.ID),
      ['t1'],
    );
  });

  test('malformed headers and bad registryAuthFrom values are 400 and write nothing', async () => {
    for (const header of ['!!!not-base64!!!', encode('a string'), encode([1]), encode({ username: 7 })]) {
      const r = await apiCall(socket, 'POST', '/v1.41/services/create', spec(), {
        'X-Registry-Auth': header,
      });
      assert.equal(r.status, 400, header);
      assert.match(r.json<{ message: string }>().message, /^invalid X-Registry-Auth header: /);
    }
    assert.equal(store.writes, 0, 'no create was written');

    const id = await create({ 'X-Registry-Auth': encode(CREDS_A) });
    const before = JSON.stringify(stored(id));
    const writes = store.writes;
    const refused: [string, Record<string, string>, RegExp][] = [
      ['', { 'X-Registry-Auth': '{"username":"x"}' }, /^invalid X-Registry-Auth header: /],
      ['&registryAuthFrom=bogus', {}, /^unsupported registryAuthFrom value$/],
      ['&registryAuthFrom=previous-spec', {}, /^service does not have a previous spec$/],
    ];
    for (const [query, headers, message] of refused) {
      const r = await update(id, query, headers, ['X=1']);
      assert.equal(r.status, 400, `${query} ${JSON.stringify(headers)}: ${r.body}`);
      assert.match(r.json<{ message: string }>().message, message);
    }
    assert.equal(store.writes, writes, 'no update was written');
    assert.equal(JSON.stringify(stored(id)), before);
  });
});
