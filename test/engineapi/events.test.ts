// The event stream's pure parts: store changes → Docker's messages (names, .old/.new attributes,
// node writes that change nothing visible make no event), container events, filters, times, the
// kept log; and `swarmctl events`' line as the docker CLI prints it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Node, Service } from '../../src/api/types.js';
import { eventLine, eventTimeArg, parseEventLine } from '../../src/cli/commands/events.js';
import {
  containerEvent,
  type EngineEvent,
  EventLog,
  encodeEvent,
  eventMatches,
  parseEventTime,
  swarmEvent,
} from '../../src/engineapi/events.js';

const NOW = 1_800_000_000_000_000_000n;
const meta = {
  Version: { Index: 5 },
  CreatedAt: '2026-12-07T10:00:00.123456789Z',
  UpdatedAt: '2026-12-07T10:00:01Z',
};
const service = (image: string, replicas: number, state?: 'updating' | 'completed'): Service => ({
  ID: 'svc1',
  ...meta,
  Spec: {
    Name: 'web',
    TaskTemplate: { ContainerSpec: { Image: image } },
    Mode: { Replicated: { Replicas: replicas } },
  },
  ...(state ? { UpdateStatus: { State: state } } : {}),
});
const node = (availability: 'active' | 'drain', addr = '10.0.0.1'): Node => ({
  ID: 'node1',
  ...meta,
  Spec: { Role: 'manager', Availability: availability },
  Description: {
    Hostname: 'host-1',
    Resources: { NanoCPUs: 2e9, MemoryBytes: 1 << 30 },
    Platform: { Architecture: 'x86_64', OS: 'linux' },
    Engine: { EngineVersion: 'x' },
  },
  Status: { State: 'ready', Addr: addr },
});

test('service create, update and remove: Docker’s message with name, image/replicas/updatestate changes', () => {
  const created = swarmEvent({ kind: 'service', action: 'create', object: service('a:1', 1) }, NOW);
  assert.deepEqual(created, {
    Type: 'service',
    Action: 'create',
    Actor: { ID: 'svc1', Attributes: { name: 'web' } },
    scope: 'swarm',
    time: 1796637600,
    timeNano: 1796637600123456789n,
  });
  const updated = swarmEvent(
    { kind: 'service', action: 'update', object: service('a:2', 3, 'updating'), previous: service('a:1', 1) },
    NOW,
  );
  assert.deepEqual(updated?.Actor.Attributes, {
    name: 'web',
    'image.old': 'a:1',
    'image.new': 'a:2',
    'replicas.old': '1',
    'replicas.new': '3',
    'updatestate.new': 'updating',
  });
  const removed = swarmEvent({ kind: 'service', action: 'delete', object: service('a:2', 3) }, NOW);
  assert.equal(removed?.Action, 'remove');
  assert.equal(removed?.timeNano, NOW, 'a removal is stamped now');
  assert.match(encodeEvent(created as EngineEvent), /"timeNano":1796637600123456789}\n$/);
});

test('node updates: availability shows old/new; a write that changes nothing visible makes no event', () => {
  const drained = swarmEvent(
    { kind: 'node', action: 'update', object: node('drain'), previous: node('active') },
    NOW,
  );
  assert.deepEqual(drained?.Actor.Attributes, {
    name: 'host-1',
    'availability.old': 'active',
    'availability.new': 'drain',
  });
  const same = { ...node('active'), Version: { Index: 9 }, UpdatedAt: '2026-12-07T10:05:00Z' };
  assert.equal(
    swarmEvent({ kind: 'node', action: 'update', object: same, previous: node('active') }, NOW),
    undefined,
  );
});

test('container events carry Docker’s deprecated status/id/from and the labels as attributes', () => {
  const e = containerEvent(
    'die',
    {
      Id: 'c1',
      Name: 'web.1.x',
      Image: 'busybox:latest',
      Labels: { 'com.docker.swarm.service.name': 'web' },
    },
    NOW,
    { exitCode: '137' },
  );
  assert.equal(e.status, 'die');
  assert.equal(e.from, 'busybox:latest');
  assert.deepEqual(e.Actor.Attributes, {
    'com.docker.swarm.service.name': 'web',
    exitCode: '137',
    image: 'busybox:latest',
    name: 'web.1.x',
  });
  assert.equal(e.scope, 'local');
});

test('filters: type, event, service by name or ID prefix, label, scope; values of one filter are alternatives', () => {
  const e = swarmEvent({ kind: 'service', action: 'create', object: service('a:1', 1) }, NOW) as EngineEvent;
  const f = (o: Record<string, string[]>) => eventMatches(e, new Map(Object.entries(o)));
  assert.ok(f({}));
  assert.ok(f({ type: ['service'] }));
  assert.ok(!f({ type: ['node'] }));
  assert.ok(f({ type: ['node', 'service'] }));
  assert.ok(f({ event: ['create'] }) && !f({ event: ['remove'] }));
  assert.ok(f({ service: ['web'] }) && f({ service: ['svc'] }) && !f({ service: ['db'] }));
  assert.ok(!f({ container: ['web'] }), 'a container filter keeps container events only');
  assert.ok(f({ scope: ['swarm'] }) && !f({ scope: ['local'] }));
  assert.ok(f({ label: ['name=web'] }) && !f({ label: ['name=db'] }));
});

test('times: Unix seconds with a fraction or RFC 3339; the log keeps the last N and replays from since', () => {
  assert.equal(parseEventTime('1700000000.5', 'since'), 1_700_000_000_500_000_000n);
  assert.equal(parseEventTime('2026-12-07T10:00:00Z', 'until'), 1_796_637_600_000_000_000n);
  assert.throws(() => parseEventTime('yesterday', 'since'), /invalid value for since/);
  const log = new EventLog(3);
  for (let i = 1; i <= 5; i++)
    log.publish({
      Type: 'x',
      Action: 'a',
      Actor: { ID: String(i), Attributes: {} },
      scope: 'local',
      time: i,
      timeNano: BigInt(i) * 1_000_000_000n,
    });
  assert.deepEqual(
    log.since(4_000_000_000n).map((e) => e.Actor.ID),
    ['4', '5'],
  );
  assert.deepEqual(
    log.since(0n).map((e) => e.Actor.ID),
    ['3', '4', '5'],
    'only the last 3 are kept',
  );
});

test('swarmctl events: the docker CLI’s line (nanosecond UTC time, sorted attributes) and --since forms', () => {
  assert.equal(
    eventLine(
      parseEventLine(
        '{"Type":"service","Action":"update","Actor":{"ID":"svc1","Attributes":{"replicas.old":"1","name":"web","replicas.new":"3"}},"scope":"swarm","time":1796637600,"timeNano":1796637600123456789}',
      ) ?? assert.fail('not parsed'),
    ),
    '2026-12-07T10:00:00.123456789Z service update svc1 (name=web, replicas.new=3, replicas.old=1)',
  );
  const now = Date.parse('2026-12-07T10:00:00Z');
  assert.equal(eventTimeArg('1700000000', 'since', now), '1700000000');
  assert.equal(eventTimeArg('10m', 'since', now), ((now - 600_000) / 1000).toFixed(9));
  assert.equal(eventTimeArg('1h30m', 'since', now), ((now - 5_400_000) / 1000).toFixed(9));
  assert.equal(eventTimeArg('2026-12-07T09:00:00Z', 'until', now), ((now - 3_600_000) / 1000).toFixed(9));
  assert.throws(() => eventTimeArg('soon', 'until', now), /invalid value for --until/);
});
