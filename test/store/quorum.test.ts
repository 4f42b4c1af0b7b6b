// Quorum loss on a real three-member cluster: with two members killed -9, writes and linearizable
// reads fail within the store's deadline with Docker's "The swarm does not have a leader" while the
// watch cache keeps serving; once the members are back, writes succeed and nothing acknowledged is lost.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { noLeaderMessage, SwarmError } from '../../src/api/errors.js';
import { newId } from '../../src/api/ids.js';
import type { EtcdMember } from '../../src/etcd/supervisor.js';
import { setLogSink } from '../../src/lib/log.js';
import { StoreCache } from '../../src/store/cache.js';
import { ClusterStore } from '../../src/store/store.js';
import { Harness } from '../etcd/harness.js';
import { type TestService, type TestTask, testTables } from './tables.js';

/** Docker answers at once; etcd alone would take ~7 s. The store's deadline is 1.5 s. */
const FAIL_WITHIN_MS = 2500;

function isNoLeader(err: unknown): boolean {
  return err instanceof SwarmError && err.code === 'NO_LEADER' && err.message === noLeaderMessage;
}

/** Runs `fn`, which must fail with the no-leader error within FAIL_WITHIN_MS. */
async function failsFastWithNoLeader(what: string, fn: () => Promise<unknown>): Promise<void> {
  const started = Date.now();
  await assert.rejects(fn(), isNoLeader, `${what}: not the no-leader error`);
  const took = Date.now() - started;
  assert.ok(took < FAIL_WITHIN_MS, `${what} took ${took} ms to fail`);
}

/** kill -9 of a member, its supervisor stopped too (the manager's host is gone): nothing restarts it. */
async function killMember(member: EtcdMember): Promise<void> {
  const pid = member.pid;
  assert.ok(pid, 'member is running');
  process.kill(pid, 'SIGKILL');
  await member.stop();
}

/** Retries `fn` while it fails with the no-leader error (an election after the restart), up to `ms`. */
async function onceQuorate<T>(ms: number, fn: () => Promise<T>): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!isNoLeader(err) || Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe('quorum loss with 2 of 3 members killed', () => {
  const h = new Harness();
  const members: EtcdMember[] = [];
  let store: ClusterStore<typeof testTables>;
  let cache: StoreCache<typeof testTables> | undefined;
  let web: TestService;
  const tasks: TestTask[] = [];

  before(async () => {
    setLogSink(() => undefined);
    const first = await h.singleMember('m1');
    members.push(first.member);
    for (const name of ['m2', 'm3'])
      members.push((await h.join(first.client, name, first.member.config.clusterToken)).member);
    // The client reaches m1 only, as a manager's client reaches its own member: m1 survives.
    store = new ClusterStore(first.client, testTables);
    cache = new StoreCache(store);
    await cache.start();
    web = await store.create('service', { ID: newId(), Spec: { Name: 'web' } });
    for (let slot = 1; slot <= 3; slot++)
      tasks.push(await store.create('task', { ID: newId(), ServiceID: web.ID, Slot: slot }));
    await cache.waitForRevision(tasks[tasks.length - 1]?.Version.Index ?? 0);
  });

  after(async () => {
    await cache?.stop().catch(() => undefined);
    await h.cleanup();
  });

  it("a create and an update fail within 2.5 s with Docker's no-leader error", async () => {
    await killMember(members[1] as EtcdMember);
    await killMember(members[2] as EtcdMember);
    await failsFastWithNoLeader('create', () =>
      store.create('service', { ID: newId(), Spec: { Name: 'db' } }),
    );
    await failsFastWithNoLeader('update', () =>
      store.update('service', { ...web, Spec: { Name: 'web', Labels: { tier: 'front' } } }),
    );
    await failsFastWithNoLeader('batch', async () => {
      const [r] = await store.batch([
        { op: 'create', kind: 'task', object: { ID: newId(), ServiceID: web.ID, Slot: 4 } },
      ]);
      if (r && !r.ok) throw r.error;
    });
  });

  it('a linearizable read fails as fast, with the same error', async () => {
    await failsFastWithNoLeader('get', () => store.get('service', web.ID));
  });

  it('the watch cache still serves every object written before', () => {
    assert.ok(cache);
    assert.equal(cache.byName('service', 'web')?.ID, web.ID);
    assert.deepEqual(
      cache
        .byIndex('task', 'serviceID', web.ID)
        .map((t) => [t.ID, t.Version.Index])
        .sort(),
      tasks.map((t) => [t.ID, t.Version.Index]).sort(),
    );
  });

  it('after the killed members restart, writes succeed and nothing acknowledged is lost', async () => {
    await Promise.all([members[1]?.start(), members[2]?.start()]);
    const db = await onceQuorate(20_000, () =>
      store.create('service', { ID: newId(), Spec: { Name: 'after-recovery' } }),
    );
    await cache?.waitForRevision(db.Version.Index);
    assert.equal(cache?.get('service', db.ID)?.Spec.Name, 'after-recovery');

    // The tasks were not touched since they were acknowledged: same versions.
    for (const t of tasks) assert.equal((await store.get('task', t.ID))?.Version.Index, t.Version.Index);
    // The update refused without a quorum may still have applied (its outcome was never claimed):
    // web is either as acknowledged or as that update left it, never older, never gone.
    const now = await store.mustGet('service', web.ID);
    assert.ok(now.Version.Index >= web.Version.Index);
    assert.equal(now.Spec.Name, 'web');
    const updated = await store.update('service', {
      ...now,
      Spec: { Name: 'web', Labels: { tier: 'back' } },
    });
    assert.deepEqual(updated.Spec.Labels, { tier: 'back' });
  });
});
