// Leader election on a real single-member etcd: a leader whose watch on its own key ends early
// (a watch error, a reconnect) goes round its campaign loop again and must find that it still leads.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Etcd3 } from 'etcd3';
import { setLogSink } from '../../src/lib/log.js';
import { LeaderElection } from '../../src/store/election.js';
import { Harness } from '../etcd/harness.js';

describe('leader election', () => {
  const h = new Harness();
  let client: Etcd3;
  before(async () => {
    setLogSink(() => undefined);
    ({ client } = await h.singleMember());
  });
  after(() => h.cleanup());

  it('keeps leadership and its fence when the watch on its own key ends early', async () => {
    const e = new LeaderElection(client, 'node-a', { key: '/test/leader-watch' });
    const changes: boolean[] = [];
    e.onChange((s) => changes.push(s.isLeader));
    e.start();
    try {
      assert.equal(await e.waitForLeader(), 'node-a');
      const fence = e.fence();
      assert.ok(fence);
      for (let round = 0; round < 3; round++) {
        // What a watch error does: wake the loop, which campaigns again under the same lease.
        (e as unknown as { wake?: () => void }).wake?.();
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(e.isLeader, true, `round ${round}: still the leader`);
        assert.deepEqual(e.fence(), fence, `round ${round}: same fence`);
      }
      assert.deepEqual(
        changes.filter((x) => !x),
        [],
        'never stepped down',
      );
      const held = await client.get('/test/leader-watch').string();
      assert.equal(held, 'node-a');
    } finally {
      await e.stop();
    }
    assert.equal(await client.get('/test/leader-watch').string(), null, 'resigning deletes the key');
  });
});
