// Autolock through the real docker CLI, two managers in a cluster in a box: `swarm init --autolock`
// prints the unlock key; every manager's secret files are wrapped with it (no private key, data key
// or unlock key in clear in the state dir or etcd's data); a restarted manager is locked (docker info
// says so, cluster commands refuse in Docker's words) until `swarm unlock` is given the key (a wrong
// key changes nothing); `unlock-key --rotate` makes the old key fail at the next restart; autolock off
// puts the keys back in clear and a restart no longer locks.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseUnlockKey } from '../../src/ca/unlock-key.js';
import { checkUnlockKey, nodeKeyLocked, secretFiles } from '../../src/daemon/lock.js';
import { isWrapped } from '../../src/lib/keyring.js';
import { docker } from '../helpers/cli.js';
import { type Cluster, type ClusterHost, startCluster, until } from '../helpers/cluster.js';

/** Files under the state dir, on disk: `exec` is swarmd's tmpfs (memory), left out. */
function diskFiles(stateDir: string): string[] {
  return readdirSync(stateDir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .filter((f) => !f.startsWith(join(stateDir, 'exec')));
}

const KEY = /SWMKEY-1-[A-Za-z0-9+/]{43}/;

describe('autolock', { timeout: 300_000 }, () => {
  let cluster: Cluster;
  let m1: ClusterHost;
  let m2: ClusterHost;
  let key1 = '';

  const state = async (h: ClusterHost) =>
    (await docker(h, ['info', '--format', '{{.Swarm.LocalNodeState}}'])).stdout.trim();
  /** Every secret file of the host is wrapped with `key` (the manager has rewrapped them). */
  const wrappedWith = async (h: ClusterHost, key: string) => {
    await checkUnlockKey(h.stateDir, parseUnlockKey(key));
    return secretFiles(h.stateDir).every((f) => {
      try {
        return isWrapped(readFileSync(f, 'utf8'));
      } catch {
        return true; // a file this node does not have
      }
    });
  };

  before(async () => {
    cluster = await startCluster({ workers: 1, join: false });
    [m1, m2] = cluster.hosts as [ClusterHost, ClusterHost];
  });
  after(async () => {
    await cluster?.destroy();
  });

  it('swarm init --autolock prints the key; a joining manager wraps its keys too; nothing in clear', async () => {
    assert.equal((await docker(m1, ['swarm', 'leave', '--force'])).code, 0);
    const init = await docker(m1, ['swarm', 'init', '--autolock', '--advertise-addr', m1.ip]);
    assert.equal(init.code, 0, init.stderr);
    assert.match(init.stdout, /To unlock a swarm manager after it restarts, run the `docker swarm unlock`/);
    key1 = init.stdout.match(KEY)?.[0] ?? '';
    assert.ok(key1, init.stdout);
    assert.equal((await docker(m1, ['swarm', 'unlock-key', '-q'])).stdout.trim(), key1);
    await cluster.join(m2, { role: 'manager' });
    for (const h of [m1, m2])
      await until(`${h.name} wrapped`, async () => ((await wrappedWith(h, key1)) ? true : undefined));
    for (const h of [m1, m2]) {
      for (const f of diskFiles(h.stateDir)) {
        const bytes = readFileSync(f);
        assert.ok(
          !/-----BEGIN (EC )?PRIVATE KEY-----/.test(bytes.toString('latin1')),
          `${f}: private key in clear`,
        );
        assert.ok(!bytes.includes(key1), `${f}: unlock key in clear`);
      }
    }
    // The API never shows the sealed key.
    assert.ok(!(await docker(m1, ['swarm', 'inspect'])).stdout.includes('UnlockKey'));
  });

  it('a restarted manager is locked until swarm unlock is given the key; a wrong key changes nothing', async () => {
    await m1.stop();
    await m1.restart();
    assert.equal(await state(m1), 'locked');
    const ls = await docker(m1, ['node', 'ls']);
    assert.notEqual(ls.code, 0);
    assert.match(ls.stderr, /Swarm is encrypted and needs to be unlocked before it can be used/);
    const wrong = await docker(
      m1,
      ['swarm', 'unlock'],
      30_000,
      'SWMKEY-1-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n',
    );
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /swarm could not be unlocked: invalid key provided/);
    assert.equal(await state(m1), 'locked');
    const ok = await docker(m1, ['swarm', 'unlock'], 60_000, `${key1}\n`);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(await state(m1), 'active');
    await until('node ls through the unlocked manager', async () => {
      const r = await docker(m1, ['node', 'ls', '--format', '{{.Hostname}} {{.Status}}']);
      return r.code === 0 && r.stdout.includes('Ready') ? r : undefined;
    });
    const again = await docker(m1, ['swarm', 'unlock'], 30_000, `${key1}\n`);
    assert.match(again.stderr, /swarm is not locked/);
  });

  it('unlock-key --rotate: the other manager rewraps, and after its restart only the new key unlocks it', async () => {
    const r = await docker(m1, ['swarm', 'unlock-key', '--rotate']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Successfully rotated manager unlock key\.\nTo unlock/);
    const key2 = r.stdout.match(KEY)?.[0] ?? '';
    assert.ok(key2 && key2 !== key1);
    for (const h of [m1, m2])
      await until(`${h.name} rewrapped`, async () =>
        (await wrappedWith(h, key2).catch(() => false)) ? true : undefined,
      );
    await m2.stop();
    await m2.restart();
    assert.equal(await state(m2), 'locked');
    const old = await docker(m2, ['swarm', 'unlock'], 30_000, `${key1}\n`);
    assert.match(old.stderr, /invalid key provided/);
    const ok = await docker(m2, ['swarm', 'unlock'], 60_000, `${key2}\n`);
    assert.equal(ok.code, 0, ok.stderr);
    await until('both managers reachable', async () => {
      const ls = await docker(m1, ['node', 'ls', '--format', '{{.ManagerStatus}}']);
      return ls.stdout.split('\n').filter((l) => /Leader|Reachable/.test(l)).length === 2 ? true : undefined;
    });
  });

  it('autolock off: keys back in clear, no key to show, a restart does not lock', async () => {
    const r = await docker(m1, ['swarm', 'update', '--autolock=false']);
    assert.equal(r.code, 0, r.stderr);
    for (const h of [m1, m2])
      await until(`${h.name} in clear`, async () => ((await nodeKeyLocked(h.stateDir)) ? undefined : true));
    const none = await docker(m1, ['swarm', 'unlock-key']);
    assert.match(none.stderr, /no unlock key is set/);
    await m1.stop();
    await m1.restart();
    assert.equal(await state(m1), 'active');
  });
});
