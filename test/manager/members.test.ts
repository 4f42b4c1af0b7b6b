// Specification of the member plan: demoted or removed managers give up their etcd member; a
// learner still joining, the leader itself and the last voter are never removed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Node } from '../../src/api/types.js';
import type { MemberInfo } from '../../src/etcd/membership.js';
import { planMembers } from '../../src/manager/members.js';

function node(id: string, role: 'manager' | 'worker', managerStatus = role === 'manager'): Node {
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: '2026-01-01T00:00:00Z',
    UpdatedAt: '2026-01-01T00:00:00Z',
    Spec: { Labels: {}, Role: role, Availability: 'active' },
    Status: { State: 'ready' },
    ...(managerStatus ? { ManagerStatus: { Reachability: 'reachable', Addr: `${id}:2377` } } : {}),
  } as Node;
}
const member = (name: string, isLearner = false): MemberInfo => ({
  id: `id-${name || 'new'}`,
  name,
  peerURLs: [`https://${name}:2380`],
  isLearner,
});

test('a demoted manager gives up its member, and its manager status once the member is gone', () => {
  const nodes = [node('a', 'manager'), node('b', 'manager'), node('c', 'worker', true)];
  const plan = planMembers(nodes, [member('a'), member('b'), member('c')], 'a');
  assert.deepEqual(
    plan.remove.map((m) => m.name),
    ['c'],
  );
  assert.deepEqual(plan.clearManagerStatus, []);
  const after = planMembers(nodes, [member('a'), member('b')], 'a');
  assert.deepEqual(after, { remove: [], clearManagerStatus: ['c'] });
});

test('a removed node gives up its member; a joining learner without a name is left alone', () => {
  const plan = planMembers([node('a', 'manager')], [member('a'), member('gone'), member('', true)], 'a');
  assert.deepEqual(
    plan.remove.map((m) => m.name),
    ['gone'],
  );
});

test('the leader itself and the last voter are never removed', () => {
  assert.deepEqual(planMembers([node('a', 'worker')], [member('a')], 'a').remove, []);
  assert.deepEqual(planMembers([node('a', 'manager')], [member('x')], 'a').remove, []);
  assert.deepEqual(
    planMembers([node('a', 'manager')], [member('x'), member('y', true)], 'a').remove.map((m) => m.name),
    ['y'],
  );
});
