// The watch cache against a real etcd: every change becomes one event, indexes follow, compaction
// forces a re-list whose differences are emitted, corrupt values are skipped and logged.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Etcd3 } from 'etcd3';
import { newId } from '../../src/api/ids.js';
import { setLogSink } from '../../src/lib/log.js';
import { StoreCache, type StoreEvent } from '../../src/store/cache.js';
import { ClusterStore } from '../../src/store/store.js';
import { Harness } from '../etcd/harness.js';
import { testTables } from './tables.js';

type Ev = StoreEvent<typeof testTables>;
const brief = (e: Ev) => `${e.action} ${e.kind} ${e.kind === 'service' ? e.object.Spec.Name : e.object.ID}`;

describe('store cache', () => {
  const h = new Harness();
  let client: Etcd3;
  let store: ClusterStore<typeof testTables>;
  let cache: StoreCache<typeof testTables>;
  const logs: string[] = [];
  before(async () => {
    setLogSink((l) => logs.push(l));
    ({ client } = await h.singleMember());
    store = new ClusterStore(client, testTables);
    await store.create('service', { ID: newId(), Spec: { Name: 'preexisting' } });
    cache = new StoreCache(store);
    await cache.start();
  });
  after(async () => {
    await cache.stop();
    await h.cleanup();
  });

  it('starts with what the store holds', () => {
    assert.equal(cache.byName('service', 'preexisting')?.Spec.Name, 'preexisting');
    assert.ok(cache.revision > 0);
  });

  it("emits every change in order and reflects the writer's revision", async () => {
    const events: Ev[] = [];
    const off = cache.subscribe((e) => events.push(e));
    const a = await store.create('service', { ID: newId(), Spec: { Name: 'a' } });
    const a2 = await store.update('service', { ...a, Spec: { Name: 'a2' } });
    const t = await store.create('task', { ID: newId(), ServiceID: a.ID, NodeID: 'n1' });
    const rev = await store.delete('service', a.ID);
    await cache.waitForRevision(rev);
    off();
    assert.deepEqual(events.map(brief), [
      'create service a',
      'update service a2',
      `create task ${t.ID}`,
      'delete service a2',
    ]);
    assert.equal(events[1]?.previous?.Version.Index, a.Version.Index);
    assert.equal(events[1]?.object.Version.Index, a2.Version.Index);
    assert.equal(events[3]?.revision, rev);
    assert.equal(cache.byName('service', 'a'), undefined);
    assert.equal(cache.byName('service', 'a2'), undefined);
    assert.deepEqual(
      cache.byIndex('task', 'nodeID', 'n1').map((x) => x.ID),
      [t.ID],
    );
  });

  it('sees all 300 tasks of a batch and serves them by index in well under a millisecond', async () => {
    const serviceID = newId();
    const results = await store.batch(
      Array.from({ length: 300 }, (_, i) => ({
        op: 'create' as const,
        kind: 'task' as const,
        object: { ID: newId(), ServiceID: i < 100 ? serviceID : newId(), NodeID: `node-${i % 3}` },
      })),
    );
    const maxRev = Math.max(...results.map((r) => (r.ok ? r.revision : 0)));
    await cache.waitForRevision(maxRev);
    const t0 = process.hrtime.bigint();
    const tasks = cache.byIndex('task', 'serviceID', serviceID);
    const elapsedMs = Number(process.hrtime.bigint() - t0) / 1e6;
    assert.equal(tasks.length, 100);
    assert.ok(elapsedMs < 1, `byIndex took ${elapsedMs} ms`);
    assert.ok(Object.isFrozen(tasks[0]), 'cached objects are frozen');
  });

  it('after compaction past its revision it re-lists and emits exactly the differences', async () => {
    const keep = await store.create('service', { ID: newId(), Spec: { Name: 'keep' } });
    const change = await store.create('service', { ID: newId(), Spec: { Name: 'change' } });
    const gone = await store.create('service', { ID: newId(), Spec: { Name: 'gone' } });
    await cache.waitForRevision(gone.Version.Index);
    await cache.stop();
    const listsBefore = cache.listCount;
    const added = await store.create('service', { ID: newId(), Spec: { Name: 'added' } });
    await store.update('service', { ...change, Spec: { Name: 'change', Labels: { v: '2' } } });
    await store.delete('service', gone.ID);
    const rev = await store.revision();
    await client.kv.compact({ revision: rev, physical: true });
    const events: Ev[] = [];
    const off = cache.subscribe((e) => events.push(e));
    await cache.start();
    await cache.waitForRevision(rev);
    off();
    assert.equal(cache.listCount, listsBefore + 1, 'one re-list');
    assert.deepEqual(events.map(brief).sort(), [
      'create service added',
      'delete service gone',
      'update service change',
    ]);
    assert.equal(cache.get('service', added.ID)?.Spec.Name, 'added');
    assert.equal(cache.get('service', keep.ID)?.Version.Index, keep.Version.Index);
    assert.deepEqual(cache.byName('service', 'change')?.Spec.Labels, { v: '2' });
    // and the watch continues afterwards
    const after = await store.create('service', { ID: newId(), Spec: { Name: 'after-relist' } });
    await cache.waitForRevision(after.Version.Index);
    assert.ok(cache.byName('service', 'after-relist'));
  });

  it('skips and logs a corrupt value instead of crashing, on watch and on list', async () => {
    const id = newId();
    logs.length = 0;
    const put = await client.put(`/swarm/service/${id}`).value('{not json').exec();
    await cache.waitForRevision(Number(put.header.revision));
    assert.equal(cache.get('service', id), undefined);
    assert.ok(logs.some((l) => l.includes('corrupt object') && l.includes(id)));
    assert.equal(await store.get('service', id), undefined);
    const second = new StoreCache(store);
    await second.start();
    await second.stop();
    assert.equal(second.get('service', id), undefined);
    assert.ok(second.byName('service', 'keep'));
  });

  it('waitForRevision fails with UNAVAILABLE when the revision never comes', async () => {
    await assert.rejects(cache.waitForRevision(cache.revision + 1000, 100), /did not reach revision/);
  });
});
