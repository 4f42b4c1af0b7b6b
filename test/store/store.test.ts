// The store's write path against a real single-member etcd: CAS, name index, batches, fencing.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Etcd3 } from 'etcd3';
import { SwarmError } from '../../src/api/errors.js';
import { newId } from '../../src/api/ids.js';
import { setLogSink } from '../../src/lib/log.js';
import { ClusterStore, isNotLeader } from '../../src/store/store.js';
import { Harness } from '../etcd/harness.js';
import { testTables } from './tables.js';

describe('cluster store writes', () => {
  const h = new Harness();
  let client: Etcd3;
  let store: ClusterStore<typeof testTables>;
  before(async () => {
    setLogSink(() => undefined);
    ({ client } = await h.singleMember());
    store = new ClusterStore(client, testTables);
  });
  after(() => h.cleanup());

  it('creates an object whose Version.Index is its mod_revision and reads it back', async () => {
    const id = newId();
    const created = await store.create('service', { ID: id, Spec: { Name: 'web' } });
    assert.ok(created.Version.Index > 0);
    assert.equal(created.CreatedAt, created.UpdatedAt);
    const raw = await client.get(`/swarm/service/${id}`).exec();
    assert.equal(Number(raw.kvs[0]?.mod_revision), created.Version.Index);
    assert.equal(
      JSON.parse(raw.kvs[0]?.value.toString() ?? '{}').Version,
      undefined,
      'Version is not stored',
    );
    assert.deepEqual(await store.get('service', id), created);
    assert.equal(await client.get('/swarm/names/service/web').string(), id);
  });

  it("refuses a second object with the same name with Docker's wording", async () => {
    await assert.rejects(store.create('service', { ID: newId(), Spec: { Name: 'web' } }), (err: unknown) => {
      assert.ok(err instanceof SwarmError);
      assert.equal(err.code, 'ALREADY_EXISTS');
      assert.equal(err.message, 'name conflicts with an existing object: service web already exists');
      return true;
    });
  });

  it('updates with the current version and refuses a stale one as out of sequence', async () => {
    const s = await store.create('service', { ID: newId(), Spec: { Name: 'api' } });
    const u = await store.update('service', { ...s, Spec: { Name: 'api', Labels: { a: 'b' } } });
    assert.ok(u.Version.Index > s.Version.Index);
    assert.equal(u.CreatedAt, s.CreatedAt);
    await assert.rejects(
      store.update('service', { ...s, Spec: { Name: 'api', Labels: { c: 'd' } } }),
      (err: unknown) => {
        assert.ok(err instanceof SwarmError);
        assert.equal(err.code, 'OUT_OF_SEQUENCE');
        assert.equal(err.message, 'update out of sequence');
        return true;
      },
    );
    assert.deepEqual((await store.get('service', s.ID))?.Spec.Labels, { a: 'b' });
  });

  it('renames keep the name index consistent; a rename onto a taken name fails', async () => {
    const s = await store.create('service', { ID: newId(), Spec: { Name: 'old-name' } });
    const r = await store.update('service', { ...s, Spec: { Name: 'new-name' } });
    assert.equal(await client.get('/swarm/names/service/new-name').string(), s.ID);
    assert.equal(await client.get('/swarm/names/service/old-name').string(), null);
    await assert.rejects(store.update('service', { ...r, Spec: { Name: 'web' } }), /name conflicts/);
    // the freed name is usable again
    await store.create('service', { ID: newId(), Spec: { Name: 'old-name' } });
  });

  it('deletes an object with its name key; a missing one is not found', async () => {
    const s = await store.create('service', { ID: newId(), Spec: { Name: 'doomed' } });
    await store.delete('service', s.ID);
    assert.equal(await store.get('service', s.ID), undefined);
    assert.equal(await client.get('/swarm/names/service/doomed').string(), null);
    await assert.rejects(store.delete('service', s.ID), /service .* not found/);
  });

  it('a delete with a stale version is out of sequence', async () => {
    const s = await store.create('service', { ID: newId(), Spec: { Name: 'keep' } });
    await store.update('service', { ...s, Spec: { Name: 'keep', Labels: { x: 'y' } } });
    await assert.rejects(store.delete('service', s.ID, { version: s.Version.Index }), /out of sequence/);
  });

  it('rejects an object that fails the schema as invalid argument', async () => {
    await assert.rejects(store.create('service', { ID: newId(), Spec: { Name: '' } }), (err: unknown) => {
      assert.ok(err instanceof SwarmError);
      assert.equal(err.code, 'INVALID_ARGUMENT');
      return true;
    });
  });

  it('writes 300 tasks in one batch split into transactions of at most 128 ops', async () => {
    const serviceID = newId();
    const before = await store.revision();
    const results = await store.batch(
      Array.from({ length: 300 }, (_, i) => ({
        op: 'create' as const,
        kind: 'task' as const,
        object: { ID: newId(), ServiceID: serviceID, Slot: i + 1 },
      })),
    );
    assert.equal(results.length, 300);
    assert.ok(results.every((r) => r.ok));
    const revisions = new Set(results.map((r) => (r.ok ? r.revision : 0)));
    assert.equal(revisions.size, 3, '300 ops → 3 transactions (128 + 128 + 44)');
    assert.equal(Math.max(...revisions) - before, 3);
    const tasks = (await store.list('task')).filter((t) => t.ServiceID === serviceID);
    assert.equal(tasks.length, 300);
  });

  it('a failing op in a batch does not fail the others', async () => {
    const a = await store.create('task', { ID: newId(), ServiceID: 's1' });
    const stale = { ...a };
    await store.update('task', { ...a, NodeID: 'n1' });
    const results = await store.batch([
      { op: 'create', kind: 'task', object: { ID: newId(), ServiceID: 's1' } },
      { op: 'update', kind: 'task', object: { ...stale, NodeID: 'n2' } },
      { op: 'create', kind: 'service', object: { ID: newId(), Spec: { Name: 'web' } } },
      { op: 'delete', kind: 'task', id: a.ID },
    ]);
    assert.deepEqual(
      results.map((r) => (r.ok ? 'ok' : r.error.code)),
      ['ok', 'OUT_OF_SEQUENCE', 'ALREADY_EXISTS', 'ok'],
    );
  });

  it('ops sharing an atomic key stand or fall together; other ops are written', async () => {
    const old = await store.create('task', { ID: newId(), ServiceID: 'upd', Slot: 1 });
    const stale = { ...old };
    await store.update('task', { ...old, NodeID: 'status-report' }); // a concurrent write wins
    const replacement = newId();
    const other = newId();
    const results = await store.batch([
      { op: 'create', kind: 'task', object: { ID: replacement, ServiceID: 'upd', Slot: 1 }, atomic: 'upd/1' },
      { op: 'create', kind: 'task', object: { ID: other, ServiceID: 'upd', Slot: 2 }, atomic: 'upd/2' },
      { op: 'update', kind: 'task', object: { ...stale, Payload: 'shutdown' }, atomic: 'upd/1' },
    ]);
    assert.deepEqual(
      results.map((r) => (r.ok ? 'ok' : r.error.code)),
      ['CONFLICT', 'ok', 'OUT_OF_SEQUENCE'],
    );
    assert.equal(await store.get('task', replacement), undefined, 'the partner was not written');
    assert.equal((await store.get('task', other))?.Slot, 2);
    // An op refused before any transaction (invalid) voids its partners too.
    const refused = await store.batch([
      { op: 'create', kind: 'task', object: { ID: newId(), ServiceID: 'upd', Slot: 3 }, atomic: 'upd/3' },
      { op: 'create', kind: 'service', object: { ID: newId(), Spec: { Name: '' } }, atomic: 'upd/3' },
    ]);
    assert.deepEqual(
      refused.map((r) => (r.ok ? 'ok' : r.error.code)),
      ['CONFLICT', 'INVALID_ARGUMENT'],
    );
  });

  it('two creates of the same name in one batch: the first wins', async () => {
    const results = await store.batch([
      { op: 'create', kind: 'service', object: { ID: newId(), Spec: { Name: 'twin' } } },
      { op: 'create', kind: 'service', object: { ID: newId(), Spec: { Name: 'twin' } } },
    ]);
    assert.deepEqual(
      results.map((r) => (r.ok ? 'ok' : r.error.code)),
      ['ok', 'ALREADY_EXISTS'],
    );
  });

  it('a fenced write succeeds while the fence key is unchanged and fails with NotLeaderError after', async () => {
    const put = await client.put('/swarm/leader').value('node-a').exec();
    const fence = { key: '/swarm/leader', createRevision: Number(put.header.revision) };
    const t = await store.create('task', { ID: newId(), ServiceID: 'fenced' }, { fence });
    await client.delete().key('/swarm/leader').exec();
    await client.put('/swarm/leader').value('node-b').exec();
    await assert.rejects(store.update('task', { ...t, NodeID: 'x' }, { fence }), (err: unknown) => {
      assert.ok(isNotLeader(err));
      assert.equal((err as SwarmError).code, 'FAILED_PRECONDITION');
      return true;
    });
    assert.equal((await store.get('task', t.ID))?.NodeID, undefined);
  });
});
