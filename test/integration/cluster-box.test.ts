// The cluster-in-a-box helper itself: hosts in their own namespaces on one switch, each with a
// swarmd; the manager inits; a cut link is silent and restorable; destroy leaves nothing behind.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { type Cluster, startCluster } from '../helpers/cluster.js';

function processesMentioning(texts: string[]): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (texts.some((t) => cmd.includes(t))) found.push(`${pid}: ${cmd}`);
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

describe('cluster in a box', { timeout: 90_000 }, () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster({ workers: 2, join: false });
  });
  after(async () => {
    await cluster?.destroy();
  });

  it('runs one swarmd per host, each in its own namespace with its own address', async () => {
    assert.deepEqual(
      cluster.hosts.map((h) => h.name),
      ['manager', 'worker-1', 'worker-2'],
    );
    assert.equal(new Set(cluster.hosts.map((h) => h.netns)).size, 3);
    for (const h of cluster.hosts) {
      const ping = await h.api('GET', '/_ping');
      assert.equal(ping.status, 200, `${h.name} answers /_ping`);
      const addr = await h.inNetns('ip', ['-4', '-o', 'addr', 'show', 'dev', 'eth0']);
      assert.match(addr.stdout, new RegExp(`inet ${h.ip.replaceAll('.', '\\.')}/24`));
    }
  });

  it('the manager has initialised a swarm whose worker token the cluster hands out', async () => {
    const info = (await cluster.manager.api('GET', '/info')).json<{ Swarm: { LocalNodeState: string } }>();
    assert.equal(info.Swarm.LocalNodeState, 'active');
    assert.match(await cluster.workerToken(), /^SWMTKN-1-/);
    for (const w of cluster.workers) {
      const winfo = (await w.api('GET', '/info')).json<{ Swarm: { LocalNodeState: string } }>();
      assert.equal(winfo.Swarm.LocalNodeState, 'inactive', `${w.name} has not joined`);
    }
  });

  it('every host reaches every other one over the switch', async () => {
    // canReach counts a refused connection as reached: the RST proves the packets went both ways.
    for (const from of cluster.hosts)
      for (const to of cluster.hosts)
        if (from !== to) assert.ok(await from.canReach(to.ip), `${from.name} reaches ${to.name}`);
  });

  it('a cut link silences one host both ways until it is restored; the others are unaffected', async () => {
    const [w1, w2] = cluster.workers;
    assert.ok(w1 && w2);
    await w1.cutLink();
    assert.equal(await cluster.manager.canReach(w1.ip), false, 'manager → cut worker');
    assert.equal(await w1.canReach(cluster.manager.ip), false, 'cut worker → manager');
    assert.ok(await cluster.manager.canReach(w2.ip), 'manager → other worker');
    const link = await w1.inNetns('ip', ['-o', 'link', 'show', 'dev', 'eth0']);
    assert.match(link.stdout, /state UP/, 'silent: the cut host sees its link up');
    await w1.restoreLink();
    assert.ok(await cluster.manager.canReach(w1.ip), 'manager → restored worker');
    assert.ok(await w1.canReach(cluster.manager.ip), 'restored worker → manager');
  });

  it('destroy leaves no namespace, process, mount or state dir behind', async () => {
    const netns = [cluster.switchNetns, ...cluster.hosts.map((h) => h.netns)];
    const dirs = cluster.hosts.map((h) => h.stateDir);
    await cluster.destroy();
    const listed = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    for (const n of netns) assert.ok(!listed.includes(n), `netns ${n} is gone`);
    assert.deepEqual(processesMentioning(dirs), []);
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
    for (const t of [...dirs, ...netns]) assert.ok(!mounts.includes(t), `no mount mentions ${t}`);
    for (const d of dirs) assert.equal(existsSync(d), false, `${d} is removed`);
  });
});
