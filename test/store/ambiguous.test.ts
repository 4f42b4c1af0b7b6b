// Writes whose outcome is unknown: etcd is frozen (SIGSTOP) past the call deadline, then thawed. The
// store must read back and report the write as done exactly once, never a conflict with itself.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Etcd3 } from 'etcd3';
import { newId } from '../../src/api/ids.js';
import { createEtcdClient } from '../../src/etcd/client.js';
import type { EtcdMember } from '../../src/etcd/supervisor.js';
import { memberPaths } from '../../src/etcd/supervisor.js';
import { loadClientCredentials } from '../../src/etcd/tls.js';
import { setLogSink } from '../../src/lib/log.js';
import { ClusterStore } from '../../src/store/store.js';
import { Harness } from '../etcd/harness.js';
import { testTables } from './tables.js';

describe('writes with an unknown outcome', () => {
  const h = new Harness();
  let member: EtcdMember;
  let client: Etcd3;
  let store: ClusterStore<typeof testTables>;
  const logs: string[] = [];
  before(async () => {
    setLogSink((l) => logs.push(l));
    ({ member } = await h.singleMember());
    client = h.track(
      createEtcdClient({
        endpoints: [member.clientURL],
        ...(await loadClientCredentials(memberPaths(member.stateDir).tlsDir)),
      }),
    );
    // Calls time out at 300 ms while the write's deadline (5 s) outlasts the freeze: the read-back
    // answers after the thaw, and a resend still fits.
    store = new ClusterStore(client, testTables, { callTimeoutMs: 300, deadlineMs: 5000 });
  });
  after(async () => {
    if (member.pid) process.kill(member.pid, 'SIGCONT');
    await h.cleanup();
  });

  async function frozenFor<T>(ms: number, write: () => Promise<T>): Promise<T> {
    const pid = member.pid;
    assert.ok(pid);
    process.kill(pid, 'SIGSTOP');
    // kill() returns before the process is stopped: wait until it is, or a loaded machine lets
    // the write through first and the test proves nothing.
    while (!/^State:\s+T/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'))) {
      await new Promise((r) => setTimeout(r, 1));
    }
    const thaw = setTimeout(() => process.kill(pid, 'SIGCONT'), ms);
    try {
      return await write();
    } finally {
      clearTimeout(thaw);
      process.kill(pid, 'SIGCONT');
    }
  }

  it('a create that timed out is read back and reported created, once', async () => {
    logs.length = 0;
    const id = newId();
    const created = await frozenFor(1000, () =>
      store.create('service', { ID: id, Spec: { Name: 'frozen' } }),
    );
    assert.ok(
      logs.some((l) => l.includes('write outcome unknown')),
      'the first attempt timed out',
    );
    const stored = await store.get('service', id);
    assert.equal(stored?.Version.Index, created.Version.Index);
    assert.equal((await store.list('service')).filter((s) => s.Spec.Name === 'frozen').length, 1);
  });

  it('an update that timed out is reported applied, not out of sequence', async () => {
    const s = await store.create('service', { ID: newId(), Spec: { Name: 'thaw' } });
    logs.length = 0;
    const u = await frozenFor(1000, () =>
      store.update('service', { ...s, Spec: { Name: 'thaw', Labels: { k: 'v' } } }),
    );
    assert.ok(
      logs.some((l) => l.includes('write outcome unknown')),
      logs.join('\n'),
    );
    assert.deepEqual((await store.get('service', s.ID))?.Spec.Labels, { k: 'v' });
    assert.equal((await store.get('service', s.ID))?.Version.Index, u.Version.Index);
  });
});
