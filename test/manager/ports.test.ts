import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PortConfig, Service } from '../../src/api/types.js';
import { allocatePorts, checkPortConflicts } from '../../src/manager/allocator/ports.js';
import { allocateTasks } from '../../src/manager/allocator/tasks.js';
import { service, T0, task } from './fixtures.js';

function withPorts(id: string, name: string, ports: PortConfig[], allocated?: PortConfig[]): Service {
  const s = service(id, { Name: name, EndpointSpec: { Ports: ports } });
  if (allocated) s.Endpoint = { Ports: allocated };
  return s;
}

test('an ingress port used by another service is refused with Docker message', () => {
  const web = withPorts(
    'nwphrulo5b98trsx5f4dbwttr',
    'web',
    [{ TargetPort: 80, PublishedPort: 8081 }],
    [{ TargetPort: 80, PublishedPort: 8081, Protocol: 'tcp', PublishMode: 'ingress' }],
  );
  const other = withPorts('other', 'api', [{ TargetPort: 8080, PublishedPort: 8081 }]);
  const r = allocatePorts(other, [web, other]);
  assert.ok('error' in r);
  assert.equal(r.error.code, 'INVALID_ARGUMENT');
  assert.equal(
    r.error.message,
    "port '8081' is already in use by service 'web' (nwphrulo5b98trsx5f4dbwttr) as an ingress port",
  );
  // Another protocol on the same number is fine.
  const udp = withPorts('udp', 'dns', [{ TargetPort: 53, PublishedPort: 8081, Protocol: 'udp' }]);
  assert.ok('ports' in allocatePorts(udp, [web, udp]));
});

test('an ingress port that another service publishes in host mode is refused; host ports may repeat', () => {
  const hosted = withPorts('h1', 'edge', [{ TargetPort: 80, PublishedPort: 9000, PublishMode: 'host' }]);
  const ingress = withPorts('i1', 'web', [{ TargetPort: 80, PublishedPort: 9000 }]);
  assert.equal(
    checkPortConflicts(ingress.Spec, ingress.ID, [hosted])?.message,
    "port '9000' is already in use by service 'edge' (h1) as a host-published port",
  );
  const hosted2 = withPorts('h2', 'edge2', [{ TargetPort: 81, PublishedPort: 9000, PublishMode: 'host' }]);
  assert.equal(checkPortConflicts(hosted2.Spec, hosted2.ID, [hosted]), undefined);
  const r = allocatePorts(hosted2, [hosted, hosted2]);
  assert.ok('ports' in r);
  assert.deepEqual(r.ports, [{ TargetPort: 81, PublishedPort: 9000, PublishMode: 'host', Protocol: 'tcp' }]);
});

test('duplicate published ports in one spec are refused', () => {
  const s = withPorts('s', 'web', [
    { TargetPort: 80, PublishedPort: 8080 },
    { TargetPort: 81, PublishedPort: 8080 },
  ]);
  const r = allocatePorts(s, [s]);
  assert.ok('error' in r);
  assert.equal(r.error.message, 'EndpointSpec: duplicate published ports provided');
});

test('ingress ports without a published port get the lowest free one from 30000, kept across updates', () => {
  const taken = withPorts(
    'a',
    'a',
    [{ TargetPort: 80 }],
    [{ TargetPort: 80, PublishedPort: 30000, Protocol: 'tcp', PublishMode: 'ingress' }],
  );
  const s = withPorts('s', 'web', [
    { TargetPort: 80 },
    { TargetPort: 443 },
    { TargetPort: 53, Protocol: 'udp' },
  ]);
  const r = allocatePorts(s, [taken, s]);
  assert.ok('ports' in r);
  assert.deepEqual(
    r.ports.map((p) => [p.TargetPort, p.Protocol, p.PublishedPort, p.PublishMode]),
    [
      [80, 'tcp', 30001, 'ingress'],
      [443, 'tcp', 30002, 'ingress'],
      [53, 'udp', 30000, 'ingress'],
    ],
  );
  // After an update adding a port, the dynamic ports already given stay.
  const updated = withPorts('s', 'web', [{ TargetPort: 8443 }, { TargetPort: 443 }], r.ports);
  const r2 = allocatePorts(updated, [taken, updated]);
  assert.ok('ports' in r2);
  assert.deepEqual(
    r2.ports.map((p) => [p.TargetPort, p.PublishedPort]),
    [
      [8443, 30001],
      [443, 30002],
    ],
  );
});

test('NEW tasks become PENDING once their service ports are allocated, carrying the Endpoint', () => {
  const ready = withPorts(
    's',
    'web',
    [{ TargetPort: 80 }],
    [{ TargetPort: 80, PublishedPort: 30000, Protocol: 'tcp', PublishMode: 'ingress' }],
  );
  const waiting = withPorts('w', 'wait', [{ TargetPort: 80 }]);
  const tasks = [
    task('a', ready, { state: 'new' }),
    task('b', waiting, { state: 'new' }),
    task('c', ready, { state: 'pending' }),
  ];
  const updates = allocateTasks(tasks, new Map([ready, waiting].map((s) => [s.ID, s])), T0);
  assert.equal(updates.length, 1);
  assert.equal(updates[0]?.ID, 'a');
  assert.equal(updates[0]?.Status?.State, 'pending');
  assert.equal(updates[0]?.Status?.Message, 'pending task scheduling');
  assert.equal(updates[0]?.Endpoint?.Ports?.[0]?.PublishedPort, 30000);
});
