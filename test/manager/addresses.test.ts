// Addresses on swarm networks (pure): tasks get the lowest free host address of each network of their
// service (ingress too when they publish through the mesh), services in vip mode one VIP per network,
// addresses come back once a task has finished, and a full network makes a task wait.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Network, NetworkAttachment, Service, Task } from '../../src/api/types.js';
import {
  addressesInUse,
  serviceVirtualIPs,
  taskAttachments,
  virtualIPsAllocated,
} from '../../src/manager/allocator/addresses.js';
import { allocateTasks } from '../../src/manager/allocator/tasks.js';
import { iso, service, T0, task } from './fixtures.js';

function network(id: string, subnet: string, gateway: string, extra: Partial<Network> = {}): Network {
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: iso(T0),
    UpdatedAt: iso(T0),
    Name: id,
    Scope: 'swarm',
    Driver: 'overlay',
    EnableIPv6: false,
    IPAM: { Driver: 'default', Options: {}, Config: [{ Subnet: subnet, Gateway: gateway }] },
    Internal: false,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Options: { 'com.docker.network.driver.overlay.vxlanid_list': '4097' },
    Labels: {},
    ...extra,
  };
}

const skynet = network('skynet', '10.0.1.0/29', '10.0.1.1');
const ingress = network('ingress', '10.0.0.0/24', '10.0.0.1', { Ingress: true });
const networks = new Map([
  [skynet.ID, skynet],
  [ingress.ID, ingress],
]);
const onSkynet = (extra: Partial<Service['Spec']> = {}) =>
  service('api', {
    TaskTemplate: { ContainerSpec: { Image: 'busybox' }, Networks: [{ Target: 'skynet' }] },
    ...extra,
  });

test('a service in vip mode gets one VIP per network, the lowest free host address after the gateway', () => {
  const s = onSkynet();
  assert.equal(virtualIPsAllocated(s, networks), false);
  const used = addressesInUse([], [s]);
  assert.deepEqual(serviceVirtualIPs(s, networks, used), [{ NetworkID: 'skynet', Addr: '10.0.1.2/29' }]);
  const done = { ...s, Endpoint: { VirtualIPs: [{ NetworkID: 'skynet', Addr: '10.0.1.2/29' }] } };
  assert.equal(virtualIPsAllocated(done, networks), true);
  assert.equal(serviceVirtualIPs(done, networks, addressesInUse([], [done])), undefined, 'unchanged');
  const dnsrr = onSkynet({ EndpointSpec: { Mode: 'dnsrr' } });
  assert.equal(virtualIPsAllocated(dnsrr, networks), true);
  assert.equal(serviceVirtualIPs(dnsrr, networks, new Map()), undefined);
});

test('publishing through the mesh joins the ingress network too', () => {
  const s = onSkynet({ EndpointSpec: { Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080 }] } });
  const vips = serviceVirtualIPs(s, networks, new Map()) ?? [];
  assert.deepEqual(
    vips.map((v) => v.NetworkID),
    ['skynet', 'ingress'],
  );
  const hostMode = onSkynet({
    EndpointSpec: { Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'host' }] },
  });
  assert.deepEqual(
    (serviceVirtualIPs(hostMode, networks, new Map()) ?? []).map((v) => v.NetworkID),
    ['skynet'],
  );
});

test('tasks get distinct addresses, skipping VIPs and live tasks; a finished task gives its address back', () => {
  const s = { ...onSkynet(), Endpoint: { VirtualIPs: [{ NetworkID: 'skynet', Addr: '10.0.1.2/29' }] } };
  const withAddr = (id: string, addr: string, state: Task['Status']['State']): Task => ({
    ...task(id, s, { state }),
    NetworksAttachments: [{ Network: { ID: 'skynet' }, Addresses: [addr] }] as unknown as NetworkAttachment[],
  });
  const live = withAddr('t1', '10.0.1.3/29', 'running');
  const dead = withAddr('t0', '10.0.1.4/29', 'failed');
  const used = addressesInUse([live, dead], [s]);
  const a = taskAttachments(s, networks, used);
  assert.deepEqual(
    a?.map((x) => x.Addresses[0]),
    ['10.0.1.4/29'],
  );
  assert.equal(a?.[0]?.Network.DriverState.Options['com.docker.network.driver.overlay.vxlanid_list'], '4097');
  assert.deepEqual(
    taskAttachments(s, networks, used)?.map((x) => x.Addresses[0]),
    ['10.0.1.5/29'],
  );
  assert.deepEqual(
    taskAttachments(s, networks, used)?.map((x) => x.Addresses[0]),
    ['10.0.1.6/29'],
  );
  assert.equal(
    taskAttachments(s, networks, used),
    undefined,
    'a /29 has 5 host addresses besides the gateway',
  );
});

test('allocateTasks: NEW tasks wait for the VIPs, then move to PENDING with their addresses', () => {
  const s = onSkynet();
  const t = task('t1', s, { state: 'new' });
  assert.deepEqual(allocateTasks([t], new Map([[s.ID, s]]), T0, { networks, used: new Map() }), []);
  const ready = { ...s, Endpoint: { VirtualIPs: [{ NetworkID: 'skynet', Addr: '10.0.1.2/29' }] } };
  const [u] = allocateTasks([t], new Map([[s.ID, ready]]), T0, {
    networks,
    used: addressesInUse([], [ready]),
  });
  assert.equal(u?.Status?.State, 'pending');
  const attachments = (u?.NetworksAttachments ?? []) as NetworkAttachment[];
  assert.deepEqual(
    attachments.map((a) => [a.Network.Spec.Name, a.Addresses[0]]),
    [['skynet', '10.0.1.3/29']],
  );
  assert.deepEqual(u?.Endpoint?.VirtualIPs, ready.Endpoint.VirtualIPs);
});
