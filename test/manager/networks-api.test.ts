// The control API's networks over an in-memory store: create (Docker's refusals, each writing
// nothing), list filters, lookup, remove and prune guarded by the services that use a network, the
// ingress network swarm init makes, and services whose attachments are stored as network IDs.
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { SwarmError } from '../../src/api/errors.js';
import { VXLANID_LIST_OPTION } from '../../src/api/types.js';
import { ingressNetwork, NetworkApi } from '../../src/manager/controlapi/networks.js';
import { ServiceApi } from '../../src/manager/controlapi/services.js';
import { MemoryStore } from './memory-store.js';

const NOW = new Date('2030-01-01T00:00:00.000Z');
let store: MemoryStore;
let networks: NetworkApi;
let services: ServiceApi;
let ingressId: string;

function withCluster(s: MemoryStore, pool = ['10.0.0.0/8'], size = 24): void {
  s.put('cluster', {
    ID: 'cluster1',
    Version: { Index: 0 },
    CreatedAt: NOW.toISOString(),
    UpdatedAt: NOW.toISOString(),
    Spec: { Name: 'default' },
    TLSInfo: { TrustRoot: '', CertIssuerSubject: '', CertIssuerPublicKey: '' },
    RootRotationInProgress: false,
    DefaultAddrPool: pool,
    SubnetSize: size,
    DataPathPort: 4789,
    JoinTokens: { Worker: 'w', Manager: 'm' },
  });
}

const overlay = (Name: string, extra: object = {}) => ({ Name, Driver: 'overlay', ...extra });
const serviceSpec = (Name: string, extra: object = {}) => ({
  Name,
  TaskTemplate: { ContainerSpec: { Image: 'busybox' }, ...extra },
});

/** Asserts the promise rejects with a SwarmError of this code and message, and nothing was written. */
async function refuses(
  p: Promise<unknown>,
  code: SwarmError['code'],
  message: string | RegExp,
): Promise<void> {
  const before = store.writes;
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof SwarmError, `a SwarmError, got ${String(e)}`);
    assert.equal(e.code, code);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
  assert.equal(store.writes, before, 'a refused request writes nothing');
}

beforeEach(() => {
  store = new MemoryStore();
  withCluster(store);
  ingressId = store.put('network', {
    ...ingressNetwork('ingressid000000000000000', { DefaultAddrPool: ['10.0.0.0/8'], SubnetSize: 24 }),
    Version: { Index: 0 },
    CreatedAt: NOW.toISOString(),
    UpdatedAt: NOW.toISOString(),
  }).ID;
  networks = new NetworkApi(store, () => NOW);
  services = new ServiceApi(store, () => ({}));
});

describe('the ingress network of swarm init', () => {
  it('is an overlay on the first subnet of the pool with VNI 4096, and no labels', () => {
    const n = ingressNetwork('x', { DefaultAddrPool: ['10.0.0.0/8'], SubnetSize: 24 });
    assert.equal(n.Name, 'ingress');
    assert.equal(n.Ingress, true);
    assert.equal(n.Driver, 'overlay');
    assert.equal(n.Scope, 'swarm');
    assert.deepEqual(n.IPAM.Config, [{ Subnet: '10.0.0.0/24', Gateway: '10.0.0.1' }]);
    assert.deepEqual(n.Options, { [VXLANID_LIST_OPTION]: '4096' });
    assert.deepEqual(n.Labels, {});
  });

  it('follows a custom pool', () => {
    const n = ingressNetwork('x', { DefaultAddrPool: ['172.20.0.0/16'], SubnetSize: 26 });
    assert.deepEqual(n.IPAM.Config, [{ Subnet: '172.20.0.0/26', Gateway: '172.20.0.1' }]);
  });
});

describe('network create', () => {
  it('stores a swarm overlay network with the next subnet and VNI, the labels and flags given', async () => {
    const n = await networks.create(
      overlay('skynet', {
        Attachable: true,
        Internal: true,
        Labels: { team: 'a' },
        Options: { mtu: '1400' },
      }),
    );
    assert.match(n.ID, /^[0-9a-z]{25}$/);
    assert.equal(n.Scope, 'swarm');
    assert.equal(n.Driver, 'overlay');
    assert.deepEqual(n.IPAM, {
      Driver: 'default',
      Options: {},
      Config: [{ Subnet: '10.0.1.0/24', Gateway: '10.0.1.1' }],
    });
    assert.deepEqual(n.Options, { mtu: '1400', [VXLANID_LIST_OPTION]: '4097' });
    assert.deepEqual(n.Labels, { team: 'a' });
    assert.equal(n.Attachable, true);
    assert.equal(n.Internal, true);
    assert.equal(n.Ingress, false);
    assert.equal(n.CreatedAt, NOW.toISOString());
  });

  it('takes the docker CLI body as sent (nulls, CheckDuplicate, empty IPAM)', async () => {
    const n = await networks.create({
      CheckDuplicate: true,
      Driver: 'overlay',
      Scope: '',
      EnableIPv6: false,
      IPAM: { Driver: 'default', Options: {}, Config: [{ Subnet: '10.42.0.0/16', Gateway: '10.42.0.254' }] },
      Internal: false,
      Attachable: false,
      Ingress: false,
      ConfigOnly: false,
      ConfigFrom: null,
      Options: null,
      Labels: {},
      Name: 'net1',
    });
    assert.deepEqual(n.IPAM.Config, [{ Subnet: '10.42.0.0/16', Gateway: '10.42.0.254' }]);
  });

  it('concurrent creates never share a subnet or a VNI', async () => {
    const made = await Promise.all(['a', 'b', 'c'].map((name) => networks.create(overlay(name))));
    assert.deepEqual(made.map((n) => n.IPAM.Config[0]?.Subnet).sort(), [
      '10.0.1.0/24',
      '10.0.2.0/24',
      '10.0.3.0/24',
    ]);
    assert.deepEqual(made.map((n) => n.Options[VXLANID_LIST_OPTION]).sort(), ['4097', '4098', '4099']);
  });

  it('uses the cluster pool and subnet size', async () => {
    store = new MemoryStore();
    withCluster(store, ['192.168.128.0/17'], 28);
    networks = new NetworkApi(store, () => NOW);
    const n = await networks.create(overlay('small'));
    assert.deepEqual(n.IPAM.Config, [{ Subnet: '192.168.128.0/28', Gateway: '192.168.128.1' }]);
  });

  it("refuses predefined names with Docker's 403", async () => {
    for (const name of ['bridge', 'host', 'none', 'default']) {
      await refuses(
        networks.create(overlay(name)),
        'PERMISSION_DENIED',
        `${name} is a pre-defined network and cannot be created`,
      );
    }
  });

  it("refuses a duplicate name with Docker's 409, ingress included", async () => {
    await networks.create(overlay('skynet'));
    await refuses(
      networks.create(overlay('skynet')),
      'ALREADY_EXISTS',
      'network with name skynet already exists',
    );
    await refuses(
      networks.create(overlay('ingress')),
      'ALREADY_EXISTS',
      'network with name ingress already exists',
    );
  });

  it('refuses "ingress" as a name for a network that is not the ingress network', async () => {
    await networks.remove('ingress');
    await refuses(
      networks.create(overlay('ingress')),
      'PERMISSION_DENIED',
      'ingress is a pre-defined network and cannot be created',
    );
  });

  it('allows one ingress network only, never attachable', async () => {
    await refuses(
      networks.create(overlay('mesh', { Ingress: true })),
      'ALREADY_EXISTS',
      `rpc error: code = AlreadyExists desc = ingress network (${ingressId}) is already present`,
    );
    await networks.remove('ingress');
    await refuses(
      networks.create(overlay('mesh', { Ingress: true, Attachable: true })),
      'INVALID_ARGUMENT',
      'rpc error: code = InvalidArgument desc = ingress network cannot be attachable',
    );
    const mesh = await networks.create(overlay('mesh', { Ingress: true }));
    assert.equal(mesh.Ingress, true);
    assert.equal(mesh.IPAM.Config[0]?.Subnet, '10.0.0.0/24');
  });

  it('refuses what swarmd does not build with a 400 saying so', async () => {
    await refuses(
      networks.create({ Name: 'b' }),
      'INVALID_ARGUMENT',
      /network driver "bridge" is not supported/,
    );
    await refuses(
      networks.create({ Name: 'm', Driver: 'macvlan' }),
      'INVALID_ARGUMENT',
      /network driver "macvlan" is not supported/,
    );
    await refuses(
      networks.create(overlay('l', { Scope: 'local' })),
      'INVALID_ARGUMENT',
      /scope "local" is not supported/,
    );
    await refuses(
      networks.create(overlay('v6', { EnableIPv6: true })),
      'INVALID_ARGUMENT',
      /IPv6 networks are not supported/,
    );
    await refuses(
      networks.create(overlay('enc', { Options: { encrypted: '' } })),
      'INVALID_ARGUMENT',
      /encrypted overlay networks \(--opt encrypted\) are not supported yet/,
    );
    for (const mtu of ['abc', '100', '9001', '1400.5']) {
      await refuses(
        networks.create(overlay('m', { Options: { 'com.docker.network.driver.mtu': mtu } })),
        'INVALID_ARGUMENT',
        /invalid com\.docker\.network\.driver\.mtu .*a whole number from 576 to 8950/,
      );
    }
    await refuses(
      networks.create(overlay('c', { ConfigOnly: true })),
      'INVALID_ARGUMENT',
      /configuration-only networks/,
    );
    await refuses(
      networks.create(overlay('i', { IPAM: { Driver: 'dhcp' } })),
      'INVALID_ARGUMENT',
      /IPAM driver "dhcp" is not supported/,
    );
  });

  it('refuses bad names, bodies, subnets and the predefined label', async () => {
    await refuses(
      networks.create(overlay('my.net')),
      'INVALID_ARGUMENT',
      'rpc error: code = InvalidArgument desc = name must be valid as a DNS name component',
    );
    await refuses(networks.create(overlay('')), 'INVALID_ARGUMENT', /meta: name must be provided/);
    await refuses(networks.create([]), 'INVALID_ARGUMENT', /must be a JSON object/);
    await refuses(
      networks.create(overlay('x', { Internal: 'yes' })),
      'INVALID_ARGUMENT',
      /Internal: expected boolean/,
    );
    await refuses(
      networks.create(overlay('x', { IPAM: { Config: [{ Subnet: '10.0.0.0/16' }] } })),
      'INVALID_ARGUMENT',
      /overlaps with subnet 10\.0\.0\.0\/24 of network ingress/,
    );
    await refuses(
      networks.create(overlay('x', { Labels: { 'com.docker.swarm.predefined': 'true' } })),
      'PERMISSION_DENIED',
      /label com\.docker\.swarm\.predefined is for internally created predefined networks/,
    );
  });
});

describe('network list and inspect', () => {
  beforeEach(async () => {
    await networks.create(overlay('front', { Labels: { tier: 'web' } }));
    await networks.create(overlay('back', { Labels: { tier: 'db', secret: '' } }));
  });
  const names = (filters: Record<string, string[]>) =>
    networks
      .list(new Map(Object.entries(filters)))
      .map((n) => n.Name)
      .sort();

  it("filters as Docker's network filters do", async () => {
    assert.deepEqual(names({}), ['back', 'front', 'ingress']);
    assert.deepEqual(names({ name: ['ront'] }), ['front']);
    assert.deepEqual(names({ name: ['^front$', 'back'] }), ['back', 'front']);
    assert.deepEqual(names({ name: ['^in'] }), ['ingress']);
    assert.deepEqual(names({ name: ['ss$'] }), ['ingress']);
    assert.deepEqual(names({ name: ['^fron$'] }), []);
    assert.deepEqual(names({ name: ['(a+)+$'] }), [], 'a pattern is text, never a backtracking regex');
    assert.deepEqual(names({ label: ['tier=db'] }), ['back']);
    assert.deepEqual(names({ label: ['secret'] }), ['back']);
    assert.deepEqual(names({ driver: ['overlay'], scope: ['swarm'] }), ['back', 'front', 'ingress']);
    assert.deepEqual(names({ driver: ['bridge'] }), []);
    assert.deepEqual(names({ type: ['custom'] }), ['back', 'front', 'ingress']);
    assert.deepEqual(names({ type: ['builtin'] }), []);
    assert.deepEqual(names({ id: [ingressId.slice(0, 6)] }), ['ingress']);
    await services.create(serviceSpec('web', { Networks: [{ Target: 'front' }] }));
    assert.deepEqual(names({ dangling: ['true'] }), ['back', 'ingress']);
  });

  it('refuses unknown filters and values', () => {
    assert.throws(() => networks.list(new Map([['colour', ['x']]])), /invalid filter 'colour'/);
    assert.throws(() => networks.list(new Map([['type', ['odd']]])), /Invalid filter 'type'='odd'/);
  });

  it('finds a network by ID, name or unique ID prefix', async () => {
    const front = networks.get('front');
    assert.equal(networks.get(front.ID).Name, 'front');
    assert.equal(networks.get(front.ID.slice(0, 10)).Name, 'front');
    assert.throws(
      () => networks.get('nosuch'),
      (e: unknown) =>
        e instanceof SwarmError && e.code === 'NOT_FOUND' && e.message === 'network nosuch not found',
    );
  });
});

describe('network rm and prune', () => {
  it("refuses to remove a network a service uses, in SwarmKit's words, and removes it once unused", async () => {
    const net = await networks.create(overlay('skynet'));
    const svc = await services.create(serviceSpec('web', { Networks: [{ Target: 'skynet' }] }));
    await refuses(
      networks.remove('skynet'),
      'FAILED_PRECONDITION',
      `rpc error: code = FailedPrecondition desc = network ${net.ID} is in use by service ${svc.ID}`,
    );
    await services.remove('web');
    await networks.remove('skynet');
    assert.equal(store.get('network', net.ID), undefined);
  });

  it('keeps the ingress network while a service publishes a port through it', async () => {
    const svc = await services.create({
      ...serviceSpec('pub'),
      EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 8080 }] },
    });
    await refuses(
      networks.remove('ingress'),
      'FAILED_PRECONDITION',
      `rpc error: code = FailedPrecondition desc = ingress network cannot be removed because service ${svc.ID} depends on it`,
    );
    await services.remove('pub');
    await services.create({
      ...serviceSpec('hostmode'),
      EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 8080, PublishMode: 'host' }] },
    });
    await networks.remove(ingressId);
  });

  it('prune removes the unused custom networks (never ingress) and says which', async () => {
    await networks.create(overlay('used'));
    await networks.create(overlay('idle1', { Labels: { keep: 'yes' } }));
    await networks.create(overlay('idle2'));
    await services.create(serviceSpec('web', { Networks: [{ Target: 'used' }] }));
    assert.deepEqual(await networks.prune(new Map([['label!', ['keep=yes']]])), ['idle2']);
    assert.deepEqual(await networks.prune(new Map([['until', ['1h']]])), []);
    assert.deepEqual(await networks.prune(new Map()), ['idle1']);
    assert.deepEqual(
      store
        .list('network')
        .map((n) => n.Name)
        .sort(),
      ['ingress', 'used'],
    );
    await assert.rejects(networks.prune(new Map([['name', ['x']]])), /invalid filter 'name'/);
  });
});

describe('services attach networks by ID', () => {
  it('stores the ID of a network given by name or ID prefix, aliases kept', async () => {
    const net = await networks.create(overlay('skynet'));
    const a = await services.create(serviceSpec('a', { Networks: [{ Target: 'skynet', Aliases: ['x'] }] }));
    assert.deepEqual(a.Spec.TaskTemplate.Networks, [{ Target: net.ID, Aliases: ['x'] }]);
    const b = await services.create({ ...serviceSpec('b'), Networks: [{ Target: net.ID.slice(0, 8) }] });
    assert.deepEqual(b.Spec.Networks, [{ Target: net.ID }]);
  });

  it('resolves the networks of an update too', async () => {
    const net = await networks.create(overlay('skynet'));
    const s = await services.create(serviceSpec('web'));
    const updated = await services.update(
      'web',
      s.Version.Index,
      serviceSpec('web', { Networks: [{ Target: 'skynet' }] }),
    );
    assert.deepEqual(updated.Spec.TaskTemplate.Networks, [{ Target: net.ID }]);
  });

  it('refuses an unknown network, the ingress network and a local network, writing nothing', async () => {
    await refuses(
      services.create(serviceSpec('web', { Networks: [{ Target: 'nosuch' }] })),
      'NOT_FOUND',
      'network nosuch not found',
    );
    await refuses(
      services.create(serviceSpec('web', { Networks: [{ Target: 'ingress' }] })),
      'INVALID_ARGUMENT',
      'rpc error: code = InvalidArgument desc = Service cannot be explicitly attached to the ingress network "ingress"',
    );
    await refuses(
      services.create(serviceSpec('web', { Networks: [{ Target: 'bridge' }] })),
      'PERMISSION_DENIED',
      'The network bridge cannot be used with services. Only networks scoped to the swarm can be used, such as those created with the overlay driver.',
    );
  });
});
