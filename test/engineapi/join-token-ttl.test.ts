// Join tokens that expire (ours, beyond Docker) through POST /swarm/update and the control API over an
// in-memory store: `joinTokenTTL` is stored outside the spec, refused when invalid with nothing
// written, kept when absent (docker's `swarm update` never sends it), and rotation restarts a token's clock.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, test } from 'node:test';
import { SwarmError } from '../../src/api/errors.js';
import type { Cluster } from '../../src/api/types.js';
import { clusterRoutes } from '../../src/engineapi/cluster.js';
import { EngineServer } from '../../src/engineapi/server.js';
import { ClusterApi } from '../../src/manager/controlapi/cluster.js';
import { NetworkApi } from '../../src/manager/controlapi/networks.js';
import { NodeApi } from '../../src/manager/controlapi/nodes.js';
import { ServiceApi } from '../../src/manager/controlapi/services.js';
import type { ControlStore, Kind, KindMap } from '../../src/manager/controlapi/store.js';
import { TaskApi } from '../../src/manager/controlapi/tasks.js';
import { tables } from '../../src/manager/tables.js';
import { payloadApis } from '../helpers/payloads.js';
import { type ApiResponse, apiCall } from '../helpers/swarmd.js';

/** The control store's contract in memory for the cluster object: schema-checked CAS writes. */
class MemoryStore implements ControlStore {
  readonly objects = new Map<string, unknown>();
  writes = 0;
  private revision = 0;

  private key(kind: Kind, id: string): string {
    return `${kind}/${id}`;
  }
  put<K extends Kind>(kind: K, obj: KindMap[K]): KindMap[K] {
    this.writes++;
    const next = { ...obj, Version: { Index: ++this.revision } };
    const parsed = tables[kind].schema.parse(JSON.parse(JSON.stringify(next))) as KindMap[K];
    this.objects.set(this.key(kind, parsed.ID), parsed);
    return parsed;
  }
  get<K extends Kind>(kind: K, id: string) {
    return this.objects.get(this.key(kind, id)) as KindMap[K] | undefined;
  }
  list<K extends Kind>(kind: K) {
    return [...this.objects.entries()]
      .filter(([k]) => k.startsWith(`${kind}/`))
      .map(([, v]) => v as KindMap[K]);
  }
  tasksOfService() {
    return [];
  }
  resolve<K extends Kind>(kind: K, ref: string): KindMap[K] {
    const hit = this.get(kind, ref);
    if (!hit) throw new SwarmError('NOT_FOUND', `${kind} ${ref} not found`);
    return hit;
  }
  async create<K extends Kind>(kind: K, obj: KindMap[K]) {
    return this.put(kind, obj);
  }
  async update<K extends Kind>(kind: K, obj: KindMap[K]) {
    if (this.get(kind, obj.ID)?.Version.Index !== obj.Version.Index)
      throw new SwarmError('OUT_OF_SEQUENCE', 'update out of sequence');
    return this.put(kind, obj);
  }
  async remove(kind: Kind, id: string) {
    this.objects.delete(this.key(kind, id));
  }
}

const INIT = '2030-01-01T00:00:00.000Z';
const DAY_NS = 24 * 3600e9;
const dir = mkdtempSync(join(tmpdir(), 'skt-tokenttl-'));
const socket = join(dir, 'api.sock');
let store: MemoryStore;
let now: Date;
let minted: number;
const server = new EngineServer({
  serverName: 'swarmd-test',
  routes: clusterRoutes({
    control: () => ({
      cluster: new ClusterApi(
        store,
        () => `SWMTKN-1-new-${++minted}`,
        () => now,
      ),
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

function storeWithCluster(extra: Partial<Cluster>): MemoryStore {
  const s = new MemoryStore();
  s.put('cluster', {
    ID: 'cluster1',
    Version: { Index: 0 },
    CreatedAt: INIT,
    UpdatedAt: INIT,
    Spec: { Name: 'default' },
    TLSInfo: { TrustRoot: '', CertIssuerSubject: '', CertIssuerPublicKey: '' },
    RootRotationInProgress: false,
    DefaultAddrPool: ['10.0.0.0/8'],
    SubnetSize: 24,
    DataPathPort: 4789,
    JoinTokens: { Worker: 'SWMTKN-1-worker', Manager: 'SWMTKN-1-manager' },
    ...extra,
  });
  s.writes = 0;
  return s;
}

before(() => server.listen(socket));
after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  store = storeWithCluster({ JoinTokensIssuedAt: { Worker: INIT, Manager: INIT } });
  now = new Date('2030-01-05T00:00:00.000Z');
  minted = 0;
});

function cluster(): Cluster {
  const [c] = store.list('cluster');
  assert.ok(c, 'the cluster object is stored');
  return c;
}

/** POST /swarm/update as the docker CLI does (the spec echoed back), plus our query parameters. */
function update(query: string): Promise<ApiResponse> {
  const c = cluster();
  return apiCall(socket, 'POST', `/v1.41/swarm/update?version=${c.Version.Index}${query}`, c.Spec);
}

test('joinTokenTTL is stored outside the spec; the tokens keep their issue times and GET /swarm shows it', async () => {
  const r = await update(`&joinTokenTTL=${DAY_NS}`);
  assert.equal(r.status, 200, r.body);
  assert.equal(cluster().JoinTokenTTL, DAY_NS);
  assert.deepEqual(cluster().JoinTokens, { Worker: 'SWMTKN-1-worker', Manager: 'SWMTKN-1-manager' });
  assert.deepEqual(cluster().JoinTokensIssuedAt, { Worker: INIT, Manager: INIT });
  assert.equal('JoinTokenTTL' in cluster().Spec, false);
  const swarm = (await apiCall(socket, 'GET', '/v1.41/swarm')).json<Cluster>();
  assert.equal(swarm.JoinTokenTTL, DAY_NS);
});

test("an update without joinTokenTTL (docker's swarm update) keeps it; 0 turns expiry off", async () => {
  assert.equal((await update(`&joinTokenTTL=${DAY_NS}`)).status, 200);
  assert.equal((await update('&rotateWorkerToken=false')).status, 200);
  assert.equal(cluster().JoinTokenTTL, DAY_NS);
  assert.equal((await update('&joinTokenTTL=0')).status, 200);
  assert.equal(cluster().JoinTokenTTL, undefined);
});

test('a bad joinTokenTTL is a 400 with a clear message and nothing is written', async () => {
  const cases: [string, RegExp][] = [
    ['abc', /invalid value for joinTokenTTL: abc \(expected an integer\)/],
    ['1.5', /invalid value for joinTokenTTL/],
    ['-60000000000', /invalid join token TTL -60000000000/],
    ['59000000000', /join token TTL must be at least 1m0s/],
    ['1', /join token TTL must be at least 1m0s/],
    ['99999999999999999999', /invalid join token TTL/],
  ];
  for (const [value, message] of cases) {
    const r = await update(`&joinTokenTTL=${value}&rotateWorkerToken=true`);
    assert.equal(r.status, 400, `${value}: ${r.body}`);
    assert.match(r.json<{ message: string }>().message, message, value);
  }
  assert.equal(store.writes, 0);
  assert.equal(minted, 0, 'no token was rotated');
});

test("rotating a token restarts that token's clock only", async () => {
  assert.equal((await update(`&joinTokenTTL=${DAY_NS}&rotateWorkerToken=true`)).status, 200);
  assert.deepEqual(cluster().JoinTokensIssuedAt, { Worker: now.toISOString(), Manager: INIT });
  assert.equal(cluster().JoinTokens.Worker, 'SWMTKN-1-new-1');
  now = new Date('2030-01-06T00:00:00.000Z');
  assert.equal((await update('&rotateManagerToken=true')).status, 200);
  assert.deepEqual(cluster().JoinTokensIssuedAt, {
    Worker: '2030-01-05T00:00:00.000Z',
    Manager: '2030-01-06T00:00:00.000Z',
  });
});

test('a cluster from before TTLs gets an issue time only for the token it rotates', async () => {
  store = storeWithCluster({});
  assert.equal((await update(`&joinTokenTTL=${DAY_NS}&rotateManagerToken=true`)).status, 200);
  assert.deepEqual(cluster().JoinTokensIssuedAt, { Manager: now.toISOString() });
  assert.equal(cluster().JoinTokenTTL, DAY_NS);
});
