import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  formatMessageTty,
  PlainProgressWriter,
  type ProgressMessage,
  ReplicatedProgress,
  rootRotationProgress,
  watchServiceProgress,
} from '../../src/cli/progress.js';
import { type Service, ServiceSchema, type Task, TaskSchema } from '../../src/cli/types.js';
import { serviceLsItem, taskRunning } from './fixtures.js';

const service: Service = ServiceSchema.parse(serviceLsItem);
const NODE = 'esllzp6ulhjbq2vgojw97rby5';

function task(slot: number, state: string, desired = 'running'): Task {
  const base = TaskSchema.parse(taskRunning);
  return {
    ...base,
    ID: `task${slot}`,
    Slot: slot,
    DesiredState: desired,
    Status: { ...base.Status, State: state },
  };
}

/** The screen a terminal would show: one line per id, in first-seen order. */
function screen(messages: ProgressMessage[], previous = new Map<string, string>()): string {
  for (const m of messages) previous.set(m.id, formatMessageTty(m));
  return [...previous.values()].join('\n');
}

test('pending and running tasks draw the bars docker draws (frame t=0.0s and final frame)', () => {
  const p = new ReplicatedProgress();
  const lines = new Map<string, string>();
  const first = p.update(service, [task(1, 'pending'), task(2, 'pending')], new Set([NODE]), false);
  assert.equal(
    screen(first.messages, lines),
    'overall progress: 0 out of 2 tasks \n' +
      '1/2: pending   [================>                                  ] \n' +
      '2/2: pending   [================>                                  ] ',
  );
  assert.equal(first.converged, false);
  const last = p.update(service, [task(1, 'running'), task(2, 'running')], new Set([NODE]), false);
  assert.equal(last.converged, true);
  assert.equal(
    screen(last.messages, lines),
    'overall progress: 2 out of 2 tasks \n' +
      '1/2: running   [==================================================>] \n' +
      '2/2: running   [==================================================>] ',
  );
});

test('assigned and starting fill 22 and 44 cells', () => {
  const p = new ReplicatedProgress();
  const r = p.update(service, [task(1, 'assigned'), task(2, 'starting')], new Set([NODE]), false);
  const lines = r.messages.filter((m) => m.current !== undefined).map(formatMessageTty);
  assert.deepEqual(lines, [
    '1/2: assigned  [======================>                            ] ',
    '2/2: starting  [============================================>      ] ',
  ]);
});

test('a scheduling error replaces the bar with the reason', () => {
  const p = new ReplicatedProgress();
  const t = task(1, 'pending');
  t.Status.Err = 'no suitable node (scheduling constraints not satisfied on 1 node)';
  const one = ServiceSchema.parse({
    ...serviceLsItem,
    Spec: { ...serviceLsItem.Spec, Mode: { Replicated: { Replicas: 1 } } },
  });
  const r = p.update(one, [t], new Set([NODE]), false);
  assert.deepEqual(r.messages.map(formatMessageTty), [
    'overall progress: 0 out of 1 tasks ',
    '1/1:   ',
    '1/1: no suitable node (scheduling constraints not satisfied on 1 node) ',
    'overall progress: 0 out of 1 tasks ',
  ]);
});

test('during a rollback the overall line says so and bars count down as in docker 20.10', () => {
  const p = new ReplicatedProgress();
  const r = p.update(service, [task(1, 'pending'), task(2, 'running')], new Set([NODE]), true);
  assert.deepEqual(r.messages.slice(3).map(formatMessageTty), [
    '1/2: pending   [=================================>                 ] ',
    '2/2: running   [>                                                  ] ',
    'overall progress: rolling back update: 1 out of 2 tasks ',
  ]);
});

test('tasks on nodes that are down are not counted', () => {
  const p = new ReplicatedProgress();
  const r = p.update(service, [task(1, 'running'), task(2, 'running')], new Set(), false);
  assert.equal(r.converged, false);
});

test('the loop counts the monitor period down and then says "Service converged" (plain output)', async () => {
  let now = 0;
  let polls = 0;
  const out: string[] = [];
  const result = await watchServiceProgress(
    {
      service: async () => service,
      tasks: async () => {
        polls++;
        return polls < 2
          ? [task(1, 'starting'), task(2, 'running')]
          : [task(1, 'running'), task(2, 'running')];
      },
      activeNodes: async () => new Set([NODE]),
    },
    new PlainProgressWriter((s) => out.push(s)),
    {
      now: () => now,
      sleep: async (ms) => {
        now += ms;
        return true;
      },
    },
  );
  assert.equal(result, 'converged');
  const text = out.join('');
  assert.ok(
    text.startsWith(
      'overall progress: 0 out of 2 tasks\n1/2:  \n2/2:  \noverall progress: 1 out of 2 tasks\noverall progress: 2 out of 2 tasks\n',
    ),
    text,
  );
  for (const n of [5, 4, 3, 2, 1])
    assert.ok(text.includes(`verify: Waiting ${n} seconds to verify that tasks are stable...\n`), `${n}`);
  assert.ok(text.endsWith('verify: Service converged\n'));
  assert.ok(
    !text.includes('overall progress: 2 out of 2 tasks\noverall progress'),
    'overall line stops once converged',
  );
});

test('Ctrl-C ends the loop without error', async () => {
  const result = await watchServiceProgress(
    { service: async () => service, tasks: async () => [], activeNodes: async () => new Set() },
    new PlainProgressWriter(() => {}),
    { now: () => 0, sleep: async () => false },
  );
  assert.equal(result, 'interrupted');
});

test('root rotation progress: certificates first, trust roots once the rotation is no longer in progress', () => {
  const want = { TrustRoot: 'NEW', CertIssuerSubject: 's', CertIssuerPublicKey: 'new-key' };
  const node = (root: string, key: string) => ({
    Description: { TLSInfo: { TrustRoot: root, CertIssuerSubject: 's', CertIssuerPublicKey: key } },
  });
  const mid = rootRotationProgress(
    { TLSInfo: want, RootRotationInProgress: true },
    [node('OLD', 'new-key'), node('OLD', 'old-key')],
    'sha256:x',
  );
  assert.deepEqual(
    mid.messages.map((m) => m.action.replace(/\[[^\]]*\] /, '')),
    ['sha256:x', '1/2 nodes', ' 0/2 nodes'],
  );
  assert.equal(mid.done, false);
  const certsDone = rootRotationProgress(
    { TLSInfo: want, RootRotationInProgress: false },
    [node('OLD', 'new-key'), node('NEW', 'new-key')],
    'sha256:x',
  );
  assert.equal(certsDone.messages[2]?.action.trim().replace(/\[[^\]]*\] /, ''), '1/2 nodes');
  assert.equal(certsDone.done, false);
  const done = rootRotationProgress(
    { TLSInfo: want },
    [node('NEW', 'new-key'), node('NEW', 'new-key')],
    'sha256:x',
  );
  assert.equal(done.done, true);
  assert.match(done.messages[1]?.action ?? '', /^\[={51}\] 2\/2 nodes$/);
});
