import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { SwarmError } from '../../src/api/errors.js';
import type { Node, Task } from '../../src/api/types.js';
import { parseConstraints, validateConstraints } from '../../src/manager/scheduler/constraint.js';
import { schedule, schedulingUpdates } from '../../src/manager/scheduler/scheduler.js';
import { node, service, T0, task } from './fixtures.js';

function pending(n: number, svc = service('web'), extra: Partial<Task> = {}): Task[] {
  return Array.from({ length: n }, (_, i) => ({
    ...task(`t${String(i).padStart(5, '0')}`, svc, { slot: i + 1, state: 'pending' }),
    ...extra,
  }));
}

function countByNode(placements: { nodeId: string }[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const p of placements) m.set(p.nodeId, (m.get(p.nodeId) ?? 0) + 1);
  return m;
}

test('tasks are spread evenly over identical nodes', () => {
  const nodes = [node('n1'), node('n2'), node('n3')];
  const r = schedule(nodes, pending(7), { now: T0 });
  assert.equal(r.placements.length, 7);
  assert.deepEqual([...countByNode(r.placements).values()].sort(), [2, 2, 3]);
});

test('nodes already running tasks of the service get fewer new ones', () => {
  const svc = service('web');
  const nodes = [node('n1'), node('n2')];
  const running = [task('r1', svc, { node: 'n1', slot: 10 }), task('r2', svc, { node: 'n1', slot: 11 })];
  const r = schedule(nodes, [...running, ...pending(2, svc)], { now: T0 });
  assert.deepEqual(
    r.placements.map((p) => p.nodeId),
    ['n2', 'n2'],
  );
});

test('property: no task is ever placed on a down, drained or paused node, and spread is balanced ±1', () => {
  const nodeArb = fc.record({
    state: fc.constantFrom('ready', 'ready', 'down', 'unknown' as const),
    availability: fc.constantFrom('active', 'active', 'drain', 'pause' as const),
  });
  fc.assert(
    fc.property(
      fc.array(nodeArb, { minLength: 1, maxLength: 12 }),
      fc.integer({ min: 1, max: 60 }),
      (specs, n) => {
        const nodes = specs.map((s, i) =>
          node(`n${i}`, { state: s.state as Node['Status']['State'], availability: s.availability }),
        );
        const r = schedule(nodes, pending(n), { now: T0 });
        const usable = nodes.filter((x) => x.Status.State === 'ready' && x.Spec.Availability === 'active');
        for (const p of r.placements) assert.ok(usable.some((u) => u.ID === p.nodeId));
        if (usable.length === 0) {
          assert.equal(r.placements.length, 0);
          assert.equal(r.unplaced.length, n);
          return;
        }
        assert.equal(r.placements.length, n);
        const counts = usable.map((u) => countByNode(r.placements).get(u.ID) ?? 0);
        assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `unbalanced: ${counts}`);
      },
    ),
    { numRuns: 200 },
  );
});

test('property: MaxReplicas per node is never exceeded', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 8 }),
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 1, max: 40 }),
      (nn, max, n) => {
        const svc = service('web', {
          TaskTemplate: { ContainerSpec: { Image: 'b' }, Placement: { MaxReplicas: max } },
        });
        const nodes = Array.from({ length: nn }, (_, i) => node(`n${i}`));
        const r = schedule(nodes, pending(n, svc), { now: T0 });
        for (const c of countByNode(r.placements).values()) assert.ok(c <= max);
        assert.equal(r.placements.length, Math.min(n, nn * max));
        if (n > nn * max) {
          assert.equal(r.unplaced[0]?.message, 'no suitable node (max replicas per node limit exceed)');
        }
      },
    ),
    { numRuns: 150 },
  );
});

test('unplaceable tasks explain per filter, most rejected first, in SwarmKit words', () => {
  const svc = service('web', {
    TaskTemplate: {
      ContainerSpec: { Image: 'b' },
      Resources: { Reservations: { MemoryBytes: 4 * 2 ** 30 } },
    },
  });
  const nodes = [
    node('n1', { state: 'down' }),
    node('n2', { availability: 'drain' }),
    node('n3', { memory: 2 ** 30 }),
  ];
  const r = schedule(nodes, pending(1, svc), { now: T0 });
  assert.deepEqual(r.unplaced, [
    {
      taskId: 't00000',
      message: 'no suitable node (2 nodes not available for new tasks; insufficient resources on 1 node)',
    },
  ]);
});

test('a single unavailable node is named in the singular; no node at all is the bare message', () => {
  assert.equal(
    schedule([node('n1', { availability: 'pause' })], pending(1), { now: T0 }).unplaced[0]?.message,
    'no suitable node (1 node not available for new tasks)',
  );
  assert.equal(schedule([], pending(1), { now: T0 }).unplaced[0]?.message, 'no suitable node');
});

test('constraints select nodes by label, role, hostname, platform; unmatched gives the constraint message', () => {
  const nodes = [
    node('n1', { labels: { zone: 'east' }, role: 'manager', hostname: 'alpha' }),
    node('n2', { labels: { zone: 'west' }, hostname: 'beta', engineLabels: { disk: 'ssd' } }),
  ];
  const place = (constraints: string[]) => {
    const svc = service('web', {
      TaskTemplate: { ContainerSpec: { Image: 'b' }, Placement: { Constraints: constraints } },
    });
    return schedule(nodes, pending(2, svc), { now: T0 });
  };
  assert.deepEqual(
    new Set(place(['node.labels.zone==east']).placements.map((p) => p.nodeId)),
    new Set(['n1']),
  );
  assert.deepEqual(
    new Set(place(['node.labels.zone!=east']).placements.map((p) => p.nodeId)),
    new Set(['n2']),
  );
  assert.deepEqual(new Set(place(['node.role==worker']).placements.map((p) => p.nodeId)), new Set(['n2']));
  assert.deepEqual(new Set(place(['node.hostname==ALPHA']).placements.map((p) => p.nodeId)), new Set(['n1']));
  assert.deepEqual(
    new Set(place(['engine.labels.disk==ssd']).placements.map((p) => p.nodeId)),
    new Set(['n2']),
  );
  assert.deepEqual(
    new Set(place(['node.id==n2', 'node.platform.os==linux']).placements.map((p) => p.nodeId)),
    new Set(['n2']),
  );
  assert.equal(place(['node.platform.arch==x86_64']).placements.length, 2);
  // A missing label is "": != matches it, == does not.
  assert.equal(place(['node.labels.rack!=r1']).placements.length, 2);
  const none = place(['node.labels.zone==north']);
  assert.equal(none.placements.length, 0);
  assert.equal(
    none.unplaced[0]?.message,
    'no suitable node (scheduling constraints not satisfied on 2 nodes)',
  );
  assert.equal(place(['some.other==x']).placements.length, 0);
});

test('constraint parse errors carry SwarmKit messages; the scheduler rejects such tasks', () => {
  assert.throws(
    () => parseConstraints(['node.labels.zone>east']),
    /^Error: constraint expected one operator from ==, !=$/,
  );
  assert.throws(() => parseConstraints(['no de==x']), /key 'no de' is invalid/);
  assert.throws(() => parseConstraints(['node.id==a<b']), /value 'a<b' is invalid/);
  assert.deepEqual(parseConstraints([' node.labels.a == b c ']), [
    { key: 'node.labels.a', op: '==', value: 'b c' },
  ]);
  assert.throws(
    () => validateConstraints(['x']),
    (e: unknown) => e instanceof SwarmError && e.code === 'INVALID_ARGUMENT',
  );
  const svc = service('web', {
    TaskTemplate: { ContainerSpec: { Image: 'b' }, Placement: { Constraints: ['bad'] } },
  });
  const r = schedule([node('n1')], pending(1, svc), { now: T0 });
  assert.deepEqual(r.rejected, [
    { taskId: 't00000', message: 'constraint expected one operator from ==, !=' },
  ]);
  assert.equal(r.placements.length, 0);
});

test('node.ip matches an address or a CIDR; a malformed one never matches', () => {
  const nodes = [node('n1')];
  const place = (c: string) => {
    const svc = service('web', {
      TaskTemplate: { ContainerSpec: { Image: 'b' }, Placement: { Constraints: [c] } },
    });
    return schedule(nodes, pending(1, svc), { now: T0 }).placements.length;
  };
  assert.equal(place('node.ip==10.0.0.1'), 1);
  assert.equal(place('node.ip==10.0.0.0/24'), 1);
  assert.equal(place('node.ip==10.1.0.0/16'), 0);
  assert.equal(place('node.ip!=10.1.0.0/16'), 1);
  assert.equal(place('node.ip==10.0.0.999'), 0);
});

test('reservations use what is left after tasks already on the node', () => {
  const svc = service('web', {
    TaskTemplate: { ContainerSpec: { Image: 'b' }, Resources: { Reservations: { NanoCPUs: 1e9 } } },
  });
  const nodes = [node('n1', { cpus: 2 }), node('n2', { cpus: 1 })];
  const held = task('held', svc, { node: 'n1', slot: 9 });
  const r = schedule(nodes, [held, ...pending(3, svc)], { now: T0 });
  assert.equal(r.placements.length, 2);
  assert.deepEqual([...countByNode(r.placements).entries()].sort(), [
    ['n1', 1],
    ['n2', 1],
  ]);
  assert.equal(r.unplaced[0]?.message, 'no suitable node (insufficient resources on 2 nodes)');
});

test('host-mode published ports never clash on a node', () => {
  const svc = service(
    'web',
    {
      EndpointSpec: {
        Ports: [{ TargetPort: 80, PublishedPort: 8080, PublishMode: 'host', Protocol: 'tcp' }],
      },
    },
    { Endpoint: { Ports: [{ TargetPort: 80, PublishedPort: 8080, PublishMode: 'host', Protocol: 'tcp' }] } },
  );
  const r = schedule([node('n1'), node('n2')], pending(3, svc), { now: T0 });
  assert.deepEqual([...countByNode(r.placements).values()], [1, 1]);
  assert.equal(r.unplaced[0]?.message, 'no suitable node (host-mode port already in use on 2 nodes)');
});

test('platform filter matches the node platform, x86_64 being amd64', () => {
  const svc = service('web', {
    TaskTemplate: {
      ContainerSpec: { Image: 'b' },
      Placement: { Platforms: [{ OS: 'linux', Architecture: 'amd64' }] },
    },
  });
  const r = schedule([node('n1'), node('n2', { arch: 'aarch64' })], pending(2, svc), { now: T0 });
  assert.deepEqual([...countByNode(r.placements).entries()], [['n1', 2]]);
});

test('spread preferences split tasks evenly over label values, unlabelled nodes forming their own group', () => {
  const svc = service('web', {
    TaskTemplate: {
      ContainerSpec: { Image: 'b' },
      Placement: { Preferences: [{ Spread: { SpreadDescriptor: 'node.labels.zone' } }] },
    },
  });
  const nodes = [
    node('e1', { labels: { zone: 'east' } }),
    node('e2', { labels: { zone: 'east' } }),
    node('e3', { labels: { zone: 'east' } }),
    node('w1', { labels: { zone: 'west' } }),
    node('x1'),
  ];
  const r = schedule(nodes, pending(9, svc), { now: T0 });
  const byZone = new Map<string, number>();
  for (const p of r.placements) {
    const zone = nodes.find((n) => n.ID === p.nodeId)?.Spec.Labels?.zone ?? '';
    byZone.set(zone, (byZone.get(zone) ?? 0) + 1);
  }
  assert.deepEqual([...byZone.values()].sort(), [3, 3, 3]);
  // Within "east" the three tasks go to three different nodes.
  assert.equal(new Set(r.placements.filter((p) => p.nodeId.startsWith('e')).map((p) => p.nodeId)).size, 3);
});

test('spread preferences fill the emptier branch first when tasks already run', () => {
  const svc = service('web', {
    TaskTemplate: {
      ContainerSpec: { Image: 'b' },
      Placement: { Preferences: [{ Spread: { SpreadDescriptor: 'node.labels.zone' } }] },
    },
  });
  const nodes = [node('e1', { labels: { zone: 'east' } }), node('w1', { labels: { zone: 'west' } })];
  const running = [1, 2, 3].map((i) => task(`r${i}`, svc, { node: 'e1', slot: 100 + i }));
  const r = schedule(nodes, [...running, ...pending(5, svc)], { now: T0 });
  assert.deepEqual([...countByNode(r.placements).entries()].sort(), [
    ['e1', 1],
    ['w1', 4],
  ]);
});

test('a node where the service failed 5 times in 5 minutes is tried last', () => {
  const svc = service('web');
  const failures = [1, 2, 3, 4, 5].map((i) =>
    task(`f${i}`, svc, { node: 'n1', slot: i, state: 'failed', desired: 'shutdown', at: T0 - 60_000 }),
  );
  const r = schedule([node('n1'), node('n2')], [...failures, ...pending(1, svc)], { now: T0 });
  assert.deepEqual(r.placements, [{ taskId: 't00000', nodeId: 'n2' }]);
});

test('pre-assigned (global) tasks are checked against their node only, with a bare explanation', () => {
  const svc = service('g', { Mode: { Global: {} } });
  const ok = { ...task('a', svc, { node: 'n1', state: 'pending', slot: 0 }) };
  const blocked = { ...task('b', svc, { node: 'n2', state: 'pending', slot: 0 }) };
  const r = schedule([node('n1'), node('n2', { availability: 'pause' })], [ok, blocked], { now: T0 });
  assert.deepEqual(r.placements, [{ taskId: 'a', nodeId: 'n1' }]);
  assert.deepEqual(r.unplaced, [{ taskId: 'b', message: '1 node not available for new tasks' }]);
});

test('only pending tasks that are still wanted are scheduled', () => {
  const svc = service('web');
  const tasks = [
    task('new', svc, { state: 'new' }),
    task('gone', svc, { state: 'pending', desired: 'shutdown' }),
    task('job', svc, { state: 'pending', desired: 'complete' }),
  ];
  const r = schedule([node('n1')], tasks, { now: T0 });
  assert.deepEqual(r.placements, [{ taskId: 'job', nodeId: 'n1' }]);
});

test('scheduling updates assign with SwarmKit message and only rewrite a changed Err', () => {
  const svc = service('web');
  const [a, b] = pending(2, svc);
  const tasks = new Map([a!, b!].map((t) => [t.ID, t]));
  const updates = schedulingUpdates(
    {
      placements: [{ taskId: a!.ID, nodeId: 'n1' }],
      unplaced: [{ taskId: b!.ID, message: 'no suitable node' }],
      rejected: [],
    },
    tasks,
    T0,
  );
  assert.deepEqual(updates[0], {
    ID: a!.ID,
    NodeID: 'n1',
    Status: {
      Timestamp: new Date(T0).toISOString(),
      State: 'assigned',
      Message: 'scheduler assigned task to node',
    },
  });
  assert.equal(updates[1]?.Status?.Err, 'no suitable node');
  assert.equal(updates[1]?.Status?.State, 'pending');
  tasks.set(b!.ID, { ...b!, Status: { ...b!.Status, Err: 'no suitable node' } });
  assert.equal(
    schedulingUpdates(
      { placements: [], unplaced: [{ taskId: b!.ID, message: 'no suitable node' }], rejected: [] },
      tasks,
      T0,
    ).length,
    0,
  );
});

test('1,000 nodes × 20,000 tasks of 20 services are all placed, evenly, within a few seconds', () => {
  const nodes = Array.from({ length: 1000 }, (_, i) => node(`n${i}`));
  const tasks: Task[] = [];
  for (let s = 0; s < 20; s++)
    tasks.push(...pending(1000, service(`svc${s}`)).map((t) => ({ ...t, ID: `s${s}-${t.ID}` })));
  const started = performance.now();
  const r = schedule(nodes, tasks, { now: T0 });
  const ms = performance.now() - started;
  assert.equal(r.placements.length, 20_000);
  const counts = countByNode(r.placements);
  assert.equal(counts.size, 1000);
  for (const c of counts.values()) assert.equal(c, 20);
  assert.ok(ms < 5000, `took ${ms} ms`);
});
