// `swarmctl network …` against the Engine API's network routes over an in-memory control store (no
// swarmd): Docker's responses (201 {Id, Warning}, 204, 404, 409, 503 off a manager), the local
// networks listed beside the swarm's, and the CLI's output (ls table, create ID, rm name, prune
// report, inspect JSON and errors).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { notManager } from '../../src/api/errors.js';
import { type ControlApis, clusterRoutes } from '../../src/engineapi/cluster.js';
import { localNetworks, networkRoutes } from '../../src/engineapi/networks.js';
import { EngineServer } from '../../src/engineapi/server.js';
import { ClusterApi } from '../../src/manager/controlapi/cluster.js';
import { ingressNetwork, NetworkApi } from '../../src/manager/controlapi/networks.js';
import { NodeApi } from '../../src/manager/controlapi/nodes.js';
import { ServiceApi } from '../../src/manager/controlapi/services.js';
import { TaskApi } from '../../src/manager/controlapi/tasks.js';
import { NETWORK_RESOURCE_KEYS } from '../helpers/cli.js';
import { payloadApis } from '../helpers/payloads.js';
import { apiCall } from '../helpers/swarmd.js';
import { MemoryStore } from '../manager/memory-store.js';
import { runSwarmctl } from './fakeengine.js';

const dir = mkdtempSync(join(tmpdir(), 'skt-networks-'));
const socket = join(dir, 'api.sock');
const STATE_DIR = '/var/lib/swarmd-test';
const T0 = '2030-01-01T00:00:00.000Z';
let store: MemoryStore;
let isManager = true;

function controlApis(): ControlApis {
  if (!isManager) throw notManager('notInSwarm');
  return {
    cluster: new ClusterApi(store, () => 'SWMTKN-1-x'),
    nodes: new NodeApi(store, () => 'self'),
    networks: new NetworkApi(store),
    ...payloadApis(store),
    services: new ServiceApi(store, () => ({})),
    tasks: new TaskApi(store, () => 'self'),
    nodeIsUp: () => true,
  };
}

const backend = {
  control: controlApis,
  stateDir: STATE_DIR,
  init: async () => '',
  join: async () => undefined,
  leave: async () => undefined,
  unlock: async () => undefined,
};
const server = new EngineServer({
  serverName: 'swarmd-test',
  routes: [...clusterRoutes(backend), ...networkRoutes(backend)],
});

const swarmctl = (...args: string[]) => runSwarmctl(['--socket', socket, ...args]);
const api = (method: string, path: string, body?: unknown) => apiCall(socket, method, `/v1.41${path}`, body);
const localId = (name: string) => localNetworks(STATE_DIR, T0).find((n) => n.Name === name)?.Id ?? '';

before(() => server.listen(socket));
after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  isManager = true;
  store = new MemoryStore();
  store.put('network', {
    ...ingressNetwork('yuocgjmuu9b65oo870yxhnrqp', { DefaultAddrPool: ['10.0.0.0/8'], SubnetSize: 24 }),
    Version: { Index: 0 },
    CreatedAt: T0,
    UpdatedAt: T0,
  });
});

describe('Engine API', () => {
  it('POST /networks/create answers 201 {Id, Warning}; GET /networks/{id} has the keys of Docker, in its order', async () => {
    const r = await api('POST', '/networks/create', {
      Name: 'skynet',
      Driver: 'overlay',
      CheckDuplicate: true,
    });
    assert.equal(r.status, 201, r.body);
    const { Id, Warning } = r.json<{ Id: string; Warning: string }>();
    assert.equal(Warning, '');
    const got = await api('GET', `/networks/skynet?verbose=false`);
    assert.equal(got.status, 200);
    const n = got.json<Record<string, unknown>>();
    assert.deepEqual(Object.keys(n), NETWORK_RESOURCE_KEYS);
    assert.equal(n.Id, Id);
    assert.deepEqual(n.IPAM, {
      Driver: 'default',
      Options: {},
      Config: [{ Subnet: '10.0.1.0/24', Gateway: '10.0.1.1' }],
    });
    assert.deepEqual(n.Options, { 'com.docker.network.driver.overlay.vxlanid_list': '4097' });
    assert.deepEqual(n.Containers, {});
    assert.equal((await api('GET', `/networks/${Id.slice(0, 5)}?scope=swarm`)).status, 200);
  });

  it('lists the local bridge, host and none beside the swarm networks; scope and type filter them', async () => {
    const all = (await api('GET', '/networks')).json<{ Name: string; Scope: string; Driver: string }[]>();
    assert.deepEqual(
      all.map((n) => `${n.Name}/${n.Driver}/${n.Scope}`),
      ['bridge/bridge/local', 'host/host/local', 'none/null/local', 'ingress/overlay/swarm'],
    );
    const filter = (f: object) => `/networks?filters=${encodeURIComponent(JSON.stringify(f))}`;
    const swarmOnly = (await api('GET', filter({ scope: { swarm: true } }))).json<{ Name: string }[]>();
    assert.deepEqual(
      swarmOnly.map((n) => n.Name),
      ['ingress'],
    );
    const builtin = (await api('GET', filter({ type: { builtin: true } }))).json<{ Name: string }[]>();
    assert.deepEqual(
      builtin.map((n) => n.Name),
      ['bridge', 'host', 'none'],
    );
    assert.equal((await api('GET', filter({ bogus: { x: true } }))).status, 400);
  });

  it('a local network is found by name or ID, not with scope=swarm, and cannot be removed', async () => {
    assert.equal((await api('GET', '/networks/bridge')).json<{ Id: string }>().Id, localId('bridge'));
    assert.equal(
      (await api('GET', `/networks/${localId('host').slice(0, 12)}`)).json<{ Name: string }>().Name,
      'host',
    );
    const swarmScoped = await api('GET', '/networks/bridge?scope=swarm');
    assert.equal(swarmScoped.status, 404);
    assert.equal(swarmScoped.json<{ message: string }>().message, 'network bridge not found');
    const rm = await api('DELETE', '/networks/bridge');
    assert.equal(rm.status, 403);
    assert.equal(
      rm.json<{ message: string }>().message,
      'bridge is a pre-defined network and cannot be removed',
    );
  });

  it('DELETE answers 204 without a body; prune answers {NetworksDeleted}', async () => {
    await api('POST', '/networks/create', { Name: 'a', Driver: 'overlay' });
    const rm = await api('DELETE', '/networks/a');
    assert.equal(rm.status, 204);
    assert.equal(rm.body, '');
    await api('POST', '/networks/create', { Name: 'b', Driver: 'overlay' });
    const pruned = await api('POST', '/networks/prune');
    assert.deepEqual(pruned.json(), { NetworksDeleted: ['b'] });
  });

  it('off a manager: only local networks, and an overlay create is a 503 in Docker words', async () => {
    isManager = false;
    const all = (await api('GET', '/networks')).json<{ Name: string }[]>();
    assert.deepEqual(
      all.map((n) => n.Name),
      ['bridge', 'host', 'none'],
    );
    const r = await api('POST', '/networks/create', { Name: 'skynet', Driver: 'overlay' });
    assert.equal(r.status, 503);
    assert.match(r.json<{ message: string }>().message, /^This node is not a swarm manager\./);
    const bridge = await api('POST', '/networks/create', { Name: 'mine', Driver: 'bridge' });
    assert.equal(bridge.status, 400);
    assert.match(bridge.json<{ message: string }>().message, /network driver "bridge" is not supported/);
    assert.equal((await api('GET', '/networks/ingress')).status, 404);
    assert.deepEqual((await api('POST', '/networks/prune')).json(), { NetworksDeleted: [] });
  });
});

describe('swarmctl network', () => {
  it('create prints the full ID; the driver defaults to overlay; IPAM flags reach the network', async () => {
    const r = await swarmctl('network', 'create', 'skynet');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${store.resolve('network', 'skynet').ID}\n`);
    const net2 = await swarmctl(
      'network',
      'create',
      '-d',
      'overlay',
      '--subnet',
      '10.9.0.0/16',
      '--gateway',
      '10.9.0.254',
      '--ip-range',
      '10.9.8.0/24',
      '--label',
      'team=a',
      '-o',
      'com.docker.network.driver.mtu=1400',
      '--attachable',
      'net2',
    );
    assert.equal(net2.code, 0, net2.stderr);
    const n = store.resolve('network', 'net2');
    assert.deepEqual(n.IPAM.Config, [
      { Subnet: '10.9.0.0/16', Gateway: '10.9.0.254', IPRange: '10.9.8.0/24' },
    ]);
    assert.deepEqual(n.Labels, { team: 'a' });
    assert.equal(n.Options['com.docker.network.driver.mtu'], '1400');
    assert.equal(n.Attachable, true);
  });

  it("create errors: the daemon's 409 and the CLI's own IPAM checks", async () => {
    await swarmctl('network', 'create', 'skynet');
    const dup = await swarmctl('network', 'create', 'skynet');
    assert.equal(dup.code, 1);
    assert.equal(dup.stderr, 'Error response from daemon: network with name skynet already exists\n');
    const lonely = await swarmctl('network', 'create', '--gateway', '10.0.0.1', 'x');
    assert.equal(lonely.stderr, 'every ip-range or gateway must have a corresponding subnet\n');
    const wrong = await swarmctl(
      'network',
      'create',
      '--subnet',
      '10.5.0.0/24',
      '--gateway',
      '10.6.0.1',
      'x',
    );
    assert.equal(wrong.stderr, 'no matching subnet for gateway 10.6.0.1\n');
    const bridge = await swarmctl('network', 'create', '-d', 'bridge', 'x');
    assert.match(bridge.stderr, /^Error response from daemon: network driver "bridge" is not supported/);
  });

  it("ls prints Docker's table sorted by name; -q, --no-trunc, --filter and --format", async () => {
    await swarmctl('network', 'create', 'skynet');
    const sky = store.resolve('network', 'skynet').ID;
    const ls = await swarmctl('network', 'ls');
    assert.equal(ls.code, 0, ls.stderr);
    const row = (id: string, name: string, driver: string, scope: string) =>
      `${id.slice(0, 12)}   ${name.padEnd(7)}   ${driver.padEnd(7)}   ${scope}\n`;
    assert.equal(
      ls.stdout,
      'NETWORK ID     NAME      DRIVER    SCOPE\n' +
        row(localId('bridge'), 'bridge', 'bridge', 'local') +
        row(localId('host'), 'host', 'host', 'local') +
        row('yuocgjmuu9b65oo870yxhnrqp', 'ingress', 'overlay', 'swarm') +
        row(localId('none'), 'none', 'null', 'local') +
        row(sky, 'skynet', 'overlay', 'swarm'),
    );
    const quiet = await swarmctl('network', 'ls', '-q', '--no-trunc', '--filter', 'driver=overlay');
    assert.equal(quiet.stdout, `yuocgjmuu9b65oo870yxhnrqp\n${sky}\n`);
    const fmt = await swarmctl(
      'network',
      'ls',
      '-f',
      'name=sky',
      '--format',
      '{{.Name}} {{.Internal}} {{.Labels}}',
    );
    assert.equal(fmt.stdout, 'skynet false \n');
  });

  it("inspect prints the JSON array or a template; a missing network is the daemon's 404", async () => {
    await swarmctl('network', 'create', 'skynet');
    const r = await swarmctl('network', 'inspect', 'skynet');
    assert.equal(r.code, 0, r.stderr);
    const [n] = JSON.parse(r.stdout) as Record<string, unknown>[];
    assert.equal(n?.Name, 'skynet');
    assert.equal(n?.Scope, 'swarm');
    assert.match(r.stdout, /^\[\n {4}\{\n {8}"Name": "skynet",\n {8}"Id": /);
    const t = await swarmctl(
      'network',
      'inspect',
      '-f',
      '{{.Driver}} {{index .Options "com.docker.network.driver.overlay.vxlanid_list"}}',
      'skynet',
      'ingress',
    );
    assert.equal(t.stdout, 'overlay 4097\noverlay 4096\n');
    const missing = await swarmctl('network', 'inspect', 'nosuch');
    assert.equal(missing.code, 1);
    assert.equal(missing.stdout, '[]\n');
    assert.equal(missing.stderr, 'Error response from daemon: network nosuch not found\n');
  });

  it('rm prints each name removed and the daemon error for one in use; prune -f reports what went', async () => {
    await swarmctl('network', 'create', 'skynet');
    await swarmctl('network', 'create', 'idle');
    const net = store.resolve('network', 'skynet');
    const svc = await controlApis().services.create({
      Name: 'web',
      TaskTemplate: { ContainerSpec: { Image: 'busybox' }, Networks: [{ Target: 'skynet' }] },
    });
    const inUse = await swarmctl('network', 'rm', 'skynet', 'nosuch');
    assert.equal(inUse.code, 1);
    assert.equal(inUse.stdout, '');
    assert.equal(
      inUse.stderr,
      `Error response from daemon: rpc error: code = FailedPrecondition desc = network ${net.ID} is in use by service ${svc.ID}\n` +
        'Error response from daemon: network nosuch not found\nexit status 1\n',
    );
    const pruned = await swarmctl('network', 'prune', '-f');
    assert.equal(pruned.code, 0, pruned.stderr);
    assert.equal(pruned.stdout, 'Deleted Networks:\nidle\n\n');
    assert.equal((await swarmctl('network', 'prune', '--force')).stdout, '');
    await controlApis().services.remove('web');
    const rm = await swarmctl('network', 'rm', 'skynet');
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal(rm.stdout, 'skynet\n');
  });
});
