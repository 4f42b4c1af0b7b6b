// Three members on loopback, built the way managers join (learner → start → promote), then lease
// election among three managers: one leader, failover after its lease dies, a deposed leader's fenced
// write refused, and a removed member that the supervisor never restarts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Etcd3 } from 'etcd3';
import { newId } from '../../src/api/ids.js';
import { listMembers, localMemberId, removeMember } from '../../src/etcd/membership.js';
import { EtcdMember, readMemberConfig } from '../../src/etcd/supervisor.js';
import { setLogSink } from '../../src/lib/log.js';
import { LeaderElection } from '../../src/store/election.js';
import { ClusterStore, isNotLeader } from '../../src/store/store.js';
import { testTables } from '../store/tables.js';
import { Harness } from './harness.js';

async function waitFor(what: string, timeoutMs: number, fn: () => boolean): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (fn()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('three-member cluster on loopback', () => {
  const h = new Harness();
  const members: EtcdMember[] = [];
  const clients: Etcd3[] = [];
  const elections: LeaderElection[] = [];
  before(async () => {
    setLogSink(() => undefined);
    const first = await h.singleMember('m1');
    members.push(first.member);
    clients.push(first.client);
  });
  after(async () => {
    await Promise.all(elections.map((e) => e.stop().catch(() => undefined)));
    await h.cleanup();
  });

  it('joins two managers as learners and promotes them to voters', async () => {
    const token = members[0]?.config.clusterToken ?? '';
    for (const name of ['m2', 'm3']) {
      const joined = await h.join(clients[0] as Etcd3, name, token);
      members.push(joined.member);
      clients.push(joined.client);
    }
    const list = await listMembers(clients[0] as Etcd3);
    assert.equal(list.length, 3);
    assert.ok(list.every((m) => !m.isLearner));
    assert.deepEqual(list.map((m) => m.name).sort(), ['m1', 'm2', 'm3']);
  });

  it('elects exactly one leader among three managers', async () => {
    clients.forEach((c, i) => {
      const e = new LeaderElection(c, `node-${i + 1}`);
      elections.push(e);
      e.start();
    });
    await waitFor('all to agree on a leader', 10_000, () => {
      const ids = new Set(elections.map((e) => e.leaderId));
      return ids.size === 1 && !ids.has(undefined);
    });
    assert.equal(elections.filter((e) => e.isLeader).length, 1);
  });

  it('after the leader loses its lease another manager leads within seconds; the old fence is refused', async () => {
    const leader = elections.find((e) => e.isLeader);
    assert.ok(leader);
    const fence = leader.fence();
    assert.ok(fence);
    const leaderIdx = elections.indexOf(leader);
    const store = new ClusterStore(clients[leaderIdx] as Etcd3, testTables);
    const t = await store.create('task', { ID: newId(), ServiceID: 's' }, { fence });

    // Kill the lease from another manager's client, as etcd would when the leader stops heartbeating.
    const other = clients[(leaderIdx + 1) % 3] as Etcd3;
    const kv = (await other.get(leader.key).exec()).kvs[0];
    assert.ok(kv);
    const started = Date.now();
    await other.leaseClient.leaseRevoke({ ID: kv.lease });
    await waitFor('a new leader', 8000, () =>
      elections.some((e) => e !== leader && e.isLeader && elections.every((x) => x.leaderId === e.nodeId)),
    );
    const failoverMs = Date.now() - started;
    assert.ok(failoverMs < 5000, `failover took ${failoverMs} ms`);
    assert.equal(elections.filter((e) => e.isLeader).length, 1);
    await assert.rejects(store.update('task', { ...t, NodeID: 'stale-leader' }, { fence }), (err: unknown) =>
      isNotLeader(err),
    );
  });

  it('a removed member exits, is reported removed and is never restarted on its data dir', async () => {
    const victim = members[2] as EtcdMember;
    const victimId = await localMemberId(clients[2] as Etcd3);
    await elections[2]?.stop();
    await removeMember(clients[0] as Etcd3, victimId);
    await waitFor('member removed', 10_000, () => victim.state === 'removed');
    assert.equal(victim.pid, undefined);
    assert.equal((await readMemberConfig(victim.stateDir))?.removed, true);
    const again = await EtcdMember.load(victim.stateDir);
    await assert.rejects(again?.start() ?? Promise.reject(new Error('no config')), /removed/);
    assert.equal((await listMembers(clients[0] as Etcd3)).length, 2);
  });
});
