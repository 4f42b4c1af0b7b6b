// Specifications of the published-port decisions (portStateFor), the publisher's apply discipline
// (skip unchanged, one at a time, bursts coalesced) and the provider's attach request. No kernel.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { SwarmError } from '../../src/api/errors.js';
import type { PortConfig, TaskState } from '../../src/api/types.js';
import { TASK_STATES } from '../../src/api/types.js';
import type { ExecutorTask } from '../../src/executor/types.js';
import type { ContainerAttachment } from '../../src/network/node-network.js';
import { type PortState, renderPortRules } from '../../src/network/ports.js';
import { attachRequestFor, GATEWAY_NETWORK_NAME, preparedNetworkFor } from '../../src/network/provider.js';
import { isServing, KEEP_SOURCE_LABEL, portStateFor, type TaskAddress } from '../../src/network/publish.js';
import { PortPublisher } from '../../src/network/publisher.js';
import { hostPort, ingressPort, service, task } from './fixtures.js';

describe('portStateFor', () => {
  test('an ingress port forwards to every running task of its service, at the TargetPort', () => {
    const web = service('web', [ingressPort(8080, 80)]);
    const api = service('api', [ingressPort(9000, 3000, 'udp')]);
    const state = portStateFor(
      [web, api],
      [
        { task: task('w2', 'web'), ip: '172.31.0.10' },
        { task: task('w1', 'web'), ip: '172.31.0.9' },
        { task: task('a1', 'api'), ip: '172.31.0.11' },
      ],
    );
    assert.deepEqual(state, {
      ingress: [
        {
          protocol: 'tcp',
          publishedPort: 8080,
          backends: [
            { ip: '172.31.0.9', port: 80 },
            { ip: '172.31.0.10', port: 80 },
          ],
        },
        { protocol: 'udp', publishedPort: 9000, backends: [{ ip: '172.31.0.11', port: 3000 }] },
      ],
      host: [],
    });
  });

  test('tasks that are not running, or are being stopped, are not backends', () => {
    const web = service('web', [ingressPort(8080, 80)]);
    const state = portStateFor(
      [web],
      [
        { task: task('starting', 'web', { state: 'starting' }), ip: '172.31.0.2' },
        { task: task('draining', 'web', { desired: 'shutdown' }), ip: '172.31.0.3' },
        { task: task('failed', 'web', { state: 'failed', desired: 'shutdown' }), ip: '172.31.0.4' },
        { task: task('done', 'web', { state: 'complete' }), ip: '172.31.0.5' },
        { task: task('up', 'web'), ip: '172.31.0.6' },
      ],
    );
    assert.deepEqual(state.ingress?.[0]?.backends, [{ ip: '172.31.0.6', port: 80 }]);
  });

  test('an ingress port whose service has no serving task stays published with no backends', () => {
    const state = portStateFor([service('web', [ingressPort(8080, 80)])], []);
    assert.deepEqual(state.ingress, [{ protocol: 'tcp', publishedPort: 8080, backends: [] }]);
  });

  test('remote tasks are ingress backends too, but never bind host ports', () => {
    const web = service('web', [ingressPort(8080, 80), hostPort(9090, 90)]);
    const remoteTask = task('r1', 'web', { ports: [hostPort(9090, 90)] });
    const state = portStateFor(
      [web],
      [{ task: task('l1', 'web'), ip: '172.31.0.2' }],
      [{ task: remoteTask, ip: '10.0.0.7' }],
    );
    assert.deepEqual(state.ingress?.[0]?.backends, [
      { ip: '10.0.0.7', port: 80 },
      { ip: '172.31.0.2', port: 80 },
    ]);
    assert.deepEqual(state.host, []);
  });

  test('host mode: each running local task binds its own fixed host ports; dynamic ones are not published', () => {
    const ports = [hostPort(9090, 90), hostPort(0, 91), hostPort(5353, 53, 'udp')];
    const state = portStateFor(
      [service('dns', ports)],
      [
        { task: task('t1', 'dns', { ports }), ip: '172.31.0.2' },
        { task: task('t0', 'dns', { ports, state: 'shutdown', desired: 'shutdown' }), ip: '172.31.0.3' },
      ],
    );
    assert.deepEqual(state, {
      ingress: [],
      host: [
        { protocol: 'tcp', publishedPort: 9090, backend: { ip: '172.31.0.2', port: 90 } },
        { protocol: 'udp', publishedPort: 5353, backend: { ip: '172.31.0.2', port: 53 } },
      ],
    });
  });

  test("host ports come from the task's own endpoint, so a task still on the old spec keeps the old port", () => {
    const state = portStateFor(
      [service('web', [hostPort(9091, 80)])],
      [
        { task: task('old', 'web', { ports: [hostPort(9090, 80)] }), ip: '172.31.0.2' },
        { task: task('new', 'web', { ports: [hostPort(9091, 80)] }), ip: '172.31.0.3' },
      ],
    );
    assert.deepEqual(
      state.host?.map((h) => [h.publishedPort, h.backend.ip]),
      [
        [9090, '172.31.0.2'],
        [9091, '172.31.0.3'],
      ],
    );
  });

  test('conflicts are settled, never thrown: first service keeps an ingress port, ingress beats host, newest task keeps a host port', () => {
    const a = service('a', [ingressPort(8080, 80)]);
    const b = service('b', [ingressPort(8080, 81)]);
    const c = service('c', [hostPort(8080, 82), hostPort(7000, 83)]);
    const ports = c.Endpoint?.Ports ?? [];
    const state = portStateFor(
      [b, c, a],
      [
        { task: task('a1', 'a'), ip: '172.31.0.2' },
        { task: task('b1', 'b'), ip: '172.31.0.3' },
        { task: task('c-old', 'c', { ports, at: '2024-01-01T00:00:01Z' }), ip: '172.31.0.4' },
        { task: task('c-new', 'c', { ports, at: '2024-01-01T00:00:02Z' }), ip: '172.31.0.5' },
      ],
    );
    assert.deepEqual(state.ingress, [
      { protocol: 'tcp', publishedPort: 8080, backends: [{ ip: '172.31.0.2', port: 80 }] },
    ]);
    assert.deepEqual(state.host, [
      { protocol: 'tcp', publishedPort: 7000, backend: { ip: '172.31.0.5', port: 83 } },
    ]);
    assert.doesNotThrow(() => renderPortRules(state));
  });

  test('defaults follow Docker (tcp, ingress); sctp and unallocated ports are left out', () => {
    const ports: PortConfig[] = [
      { TargetPort: 80, PublishedPort: 8080 },
      { Protocol: 'sctp', TargetPort: 80, PublishedPort: 8081 },
      { Protocol: 'tcp', TargetPort: 80 },
      { Protocol: 'tcp', PublishedPort: 8082 },
    ];
    const state = portStateFor([service('web', ports)], [{ task: task('t', 'web'), ip: '172.31.0.2' }]);
    assert.deepEqual(state.ingress, [
      { protocol: 'tcp', publishedPort: 8080, backends: [{ ip: '172.31.0.2', port: 80 }] },
    ]);
  });

  test('a task without a usable IPv4 address is skipped rather than breaking the node', () => {
    const state = portStateFor(
      [service('web', [ingressPort(8080, 80)])],
      [
        { task: task('t1', 'web'), ip: '' },
        { task: task('t2', 'web'), ip: 'fd00::2' },
      ],
    );
    assert.deepEqual(state.ingress?.[0]?.backends, []);
  });

  const stateArb = fc.constantFrom<TaskState>(...TASK_STATES);
  const portArb = fc.record({
    Protocol: fc.constantFrom<PortConfig['Protocol']>('tcp', 'udp', 'sctp', undefined),
    PublishedPort: fc.constantFrom(0, 80, 8080, 8081, 30000),
    TargetPort: fc.constantFrom(0, 80, 443),
    PublishMode: fc.constantFrom<PortConfig['PublishMode']>('ingress', 'host', undefined),
  });
  const serviceIds = ['s1', 's2', 's3'];
  const scenarioArb = fc.record({
    services: fc.uniqueArray(
      fc.record({ id: fc.constantFrom(...serviceIds), ports: fc.array(portArb, { maxLength: 3 }) }),
      { selector: (s) => s.id, maxLength: 3 },
    ),
    tasks: fc.uniqueArray(
      fc.record({
        id: fc.string({ minLength: 1, maxLength: 4 }),
        serviceId: fc.constantFrom(...serviceIds),
        state: stateArb,
        desired: stateArb,
        ip: fc.constantFrom('172.31.0.2', '172.31.0.3', '10.0.0.4', 'bad'),
        ports: fc.option(fc.array(portArb, { maxLength: 3 }), { nil: undefined }),
        second: fc.integer({ min: 0, max: 59 }),
        remote: fc.boolean(),
      }),
      { selector: (t) => t.id, maxLength: 8 },
    ),
  });
  type Scenario = typeof scenarioArb extends fc.Arbitrary<infer S> ? S : never;

  function build(s: Scenario) {
    const services = s.services.map((x) => service(x.id, x.ports));
    const addresses = s.tasks.map((t) => ({
      remote: t.remote,
      address: {
        task: task(t.id, t.serviceId, {
          state: t.state,
          desired: t.desired,
          ...(t.ports ? { ports: t.ports } : {}),
          at: `2024-01-01T00:00:${String(t.second).padStart(2, '0')}Z`,
        }),
        ip: t.ip,
      },
    }));
    const local = addresses.filter((a) => !a.remote).map((a) => a.address);
    const remote = addresses.filter((a) => a.remote).map((a) => a.address);
    return { services, local, remote };
  }

  test('property: the state always renders, and every backend is a serving task of the port owner', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const { services, local, remote } = build(s);
        const state = portStateFor(services, local, remote);
        renderPortRules(state); // throws on duplicates or invalid values
        for (const p of state.ingress ?? []) {
          // Two services claiming one port cannot pass the allocator, but the generator makes
          // them: the backends must then belong to one of the claimants.
          const owners = services.filter((svc) =>
            (svc.Endpoint?.Ports ?? []).some(
              (q) =>
                (q.PublishMode ?? 'ingress') === 'ingress' &&
                (q.Protocol ?? 'tcp') === p.protocol &&
                q.PublishedPort === p.publishedPort,
            ),
          );
          assert.ok(owners.length > 0);
          for (const b of p.backends) {
            assert.ok(
              [...local, ...remote].some(
                (t) => t.ip === b.ip && isServing(t.task) && owners.some((o) => o.ID === t.task.ServiceID),
              ),
            );
          }
        }
        for (const h of state.host ?? []) {
          const claimed = local.some(
            (t) =>
              t.ip === h.backend.ip &&
              isServing(t.task) &&
              (t.task.Endpoint?.Ports ?? []).some(
                (q) =>
                  q.PublishMode === 'host' &&
                  (q.Protocol ?? 'tcp') === h.protocol &&
                  q.PublishedPort === h.publishedPort &&
                  q.TargetPort === h.backend.port,
              ),
          );
          assert.ok(claimed, 'a host port is bound only for a serving local task that publishes it');
        }
      }),
      { numRuns: 300 },
    );
  });

  test('property: the state does not depend on the order of services and tasks', () => {
    fc.assert(
      fc.property(scenarioArb, fc.integer(), (s, seed) => {
        const { services, local, remote } = build(s);
        const shuffle = <T>(xs: readonly T[]): T[] => {
          const out = [...xs];
          let r = seed;
          for (let i = out.length - 1; i > 0; i--) {
            r = (r * 1103515245 + 12345) & 0x7fffffff;
            const j = r % (i + 1);
            [out[i], out[j]] = [out[j] as T, out[i] as T];
          }
          return out;
        };
        assert.deepEqual(
          portStateFor(shuffle(services), shuffle(local), shuffle(remote)),
          portStateFor(services, local, remote),
        );
      }),
      { numRuns: 300 },
    );
  });
});

describe('PortPublisher', () => {
  /** A target whose applies finish only when the test says so, recording what it was given. */
  function gatedTarget() {
    const applied: PortState[] = [];
    const gates: { open: () => void; fail: (e: Error) => void }[] = [];
    let active = 0;
    let maxActive = 0;
    return {
      applied,
      gates,
      get maxActive() {
        return maxActive;
      },
      applyPortRules(state: PortState): Promise<void> {
        active++;
        maxActive = Math.max(maxActive, active);
        applied.push(state);
        return new Promise<void>((resolve, reject) => {
          gates.push({
            open: () => {
              active--;
              resolve();
            },
            fail: (e) => {
              active--;
              reject(e);
            },
          });
        });
      },
    };
  }
  const tick = () => new Promise((r) => setImmediate(r));
  const web = service('web', [ingressPort(8080, 80)]);
  const at = (ip: string): TaskAddress => ({ task: task(ip, 'web'), ip });

  test('a state identical to the last applied one is not applied again', async () => {
    const target = gatedTarget();
    const publisher = new PortPublisher(target);
    const first = publisher.update([web], [at('172.31.0.2')]);
    await tick();
    target.gates[0]?.open();
    await first;
    await publisher.update([web], [at('172.31.0.2')]);
    assert.equal(target.applied.length, 1);
  });

  test('a burst during an apply is folded into one apply of the latest state, never two at once', async () => {
    const target = gatedTarget();
    const publisher = new PortPublisher(target);
    const done: Promise<void>[] = [publisher.update([web], [at('172.31.0.2')])];
    await tick();
    for (let i = 3; i <= 7; i++) done.push(publisher.update([web], [at(`172.31.0.${i}`)]));
    target.gates[0]?.open();
    await tick();
    assert.equal(target.applied.length, 2);
    assert.deepEqual(target.applied[1]?.ingress?.[0]?.backends, [{ ip: '172.31.0.7', port: 80 }]);
    target.gates[1]?.open();
    await Promise.all(done);
    assert.equal(target.maxActive, 1);
  });

  test('a failed apply rejects its callers, and the next update applies again even if identical', async () => {
    const target = gatedTarget();
    const publisher = new PortPublisher(target);
    const failing = publisher.update([web], [at('172.31.0.2')]);
    await tick();
    target.gates[0]?.fail(new SwarmError('INTERNAL', 'nft exploded'));
    await assert.rejects(failing, /nft exploded/);
    const retry = publisher.update([web], [at('172.31.0.2')]);
    await tick();
    assert.equal(target.applied.length, 2);
    target.gates[1]?.open();
    await retry;
  });
});

describe('provider decisions', () => {
  const containerId = 'f3a9c2d1b0e4a5f6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0';
  const executorTask = (spec: Record<string, unknown>): ExecutorTask => ({
    ID: 't1',
    ServiceID: 's1',
    ServiceName: 'web',
    Slot: 1,
    NodeID: 'n1',
    Spec: { ContainerSpec: { Image: 'busybox', ...spec } },
  });

  test("the hostname is the spec's Hostname, else the container ID's first 12 characters, as Docker does", () => {
    assert.equal(attachRequestFor(containerId).hostname, 'f3a9c2d1b0e4');
    assert.equal(attachRequestFor(containerId, executorTask({ Hostname: '' })).hostname, 'f3a9c2d1b0e4');
    assert.equal(attachRequestFor(containerId, executorTask({ Hostname: 'db-1' })).hostname, 'db-1');
  });

  test("the spec's extra hosts and DNS settings are carried into the attach request", () => {
    const task = executorTask({
      Hosts: ['10.0.0.5 db db.local'],
      DNSConfig: { Nameservers: ['10.0.0.53'], Search: ['example.org'] },
    });
    assert.deepEqual(attachRequestFor(containerId, task), {
      containerId,
      hostname: 'f3a9c2d1b0e4',
      extraHosts: ['10.0.0.5 db db.local'],
      dns: { nameservers: ['10.0.0.53'], search: ['example.org'] },
    });
    assert.throws(() => attachRequestFor(containerId, executorTask({ Hosts: 'nope' })), SwarmError);
  });

  test('a prepared network names the netns, the files, the hostname and the docker inspect entry', () => {
    const a: ContainerAttachment = {
      containerId,
      netns: 'skt-abc123-f3a9c2d1b0e4',
      netnsPath: '/run/netns/skt-abc123-f3a9c2d1b0e4',
      ip: '172.31.0.2',
      prefixLength: 16,
      gateway: '172.31.0.1',
      mac: '02:42:ac:1f:00:02',
      hostVeth: 'skt01234567',
      hostname: 'f3a9c2d1b0e4',
      hostsFile: '/s/containers/x/hosts',
      resolvConfFile: '/s/containers/x/resolv.conf',
      hostnameFile: '/s/containers/x/hostname',
    };
    assert.deepEqual(preparedNetworkFor(a), {
      netnsPath: a.netnsPath,
      hostsFile: a.hostsFile,
      resolvConf: a.resolvConfFile,
      hostname: a.hostname,
      networks: {
        [GATEWAY_NETWORK_NAME]: { IPAddress: '172.31.0.2', IPPrefixLen: 16, MacAddress: '02:42:ac:1f:00:02' },
      },
    });
  });
});

test('keep-source-ip: a labelled service forwards to local tasks only and is not masqueraded', () => {
  const web = service('web', [ingressPort(8080, 80)]);
  web.Spec.Labels = { [KEEP_SOURCE_LABEL]: 'true' };
  const state = portStateFor(
    [web],
    [{ task: task('w1', 'web'), ip: '172.31.0.9' }],
    [{ task: task('w2', 'web'), ip: '10.0.0.7' }],
  );
  assert.deepEqual(state.ingress, [
    { protocol: 'tcp', publishedPort: 8080, backends: [{ ip: '172.31.0.9', port: 80 }], keepSource: true },
  ]);
  const rules = renderPortRules(state);
  // Masqueraded only from loopback, as host-mode ports are.
  assert.match(rules, /set host_tcp \{\n\s+type inet_service\n\s+elements = \{ 8080 \}/);
  assert.doesNotMatch(rules, /set ingress_tcp \{\n\s+type inet_service\n\s+elements/);
});
