// The etcd supervisor against a real /usr/bin/etcd: start, health, restart after kill -9, clean stop.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { createEtcdClient } from '../../src/etcd/client.js';
import { type EtcdMember, etcdArgs, type MemberState, memberPaths } from '../../src/etcd/supervisor.js';
import { createEtcdCA, issueMemberCerts, loadClientCredentials } from '../../src/etcd/tls.js';
import { setLogSink } from '../../src/lib/log.js';
import { clientFor, Harness } from './harness.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(what: string, timeoutMs: number, fn: () => boolean | Promise<boolean>): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('etcd supervisor', () => {
  const h = new Harness();
  let member: EtcdMember;
  const logs: string[] = [];
  before(async () => {
    setLogSink((l) => logs.push(l));
    ({ member } = await h.singleMember());
  });
  after(() => h.cleanup());

  it('starts a healthy member with mTLS on loopback and writes its pid file', async () => {
    assert.equal(member.state, 'running');
    assert.equal(await member.health(), true);
    const pid = Number((await readFile(memberPaths(member.stateDir).pidFile, 'utf8')).trim());
    assert.equal(pid, member.pid);
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    assert.match(cmdline, /--client-cert-auth/);
    assert.match(cmdline, /--listen-client-urls=https:\/\/127\.0\.0\.1:/);
    const env = await readFile(`/proc/${pid}/environ`, 'utf8');
    assert.deepEqual(env.split('\0').filter(Boolean), ['PATH=/usr/bin:/bin']);
  });

  it('persists state "existing" once the new cluster is bootstrapped', async () => {
    const cfg = JSON.parse(await readFile(memberPaths(member.stateDir).configFile, 'utf8'));
    assert.equal(cfg.clusterState, 'existing');
  });

  it('restarts etcd after kill -9 and the data survives', async () => {
    const client = h.track(await clientFor(member.stateDir, member.config.clientPort));
    await client.put('/test/survivor').value('yes');
    const states: MemberState[] = [];
    const off = member.onStateChange((s) => states.push(s));
    const oldPid = member.pid;
    assert.ok(oldPid);
    process.kill(oldPid, 'SIGKILL');
    await waitFor('restart', 20_000, () => member.state === 'running' && member.pid !== oldPid);
    off();
    assert.deepEqual(states, ['restarting', 'running']);
    assert.equal(await client.get('/test/survivor').string(), 'yes');
  });

  it('refuses a client whose certificate another CA signed', async () => {
    const otherCA = await createEtcdCA('other');
    const certs = await issueMemberCerts(otherCA, { name: 'intruder', peerIP: '127.0.0.1' });
    const ours = await loadClientCredentials(memberPaths(member.stateDir).tlsDir);
    const intruder = h.track(
      createEtcdClient({
        endpoints: [member.clientURL],
        caPem: ours.caPem,
        certPem: certs.client.certPem,
        keyPem: certs.client.keyPem,
        callTimeoutMs: 1000,
      }),
    );
    await assert.rejects(intruder.get('/swarm/anything').string());
  });

  it('stop() leaves no etcd process and no pid file', async () => {
    const pid = member.pid;
    assert.ok(pid);
    await member.stop();
    assert.equal(member.state, 'stopped');
    assert.equal(alive(pid), false);
    await assert.rejects(readFile(memberPaths(member.stateDir).pidFile, 'utf8'), /ENOENT/);
  });

  it('builds the flags the research asks for', () => {
    const args = etcdArgs(member.config, memberPaths(member.stateDir));
    for (const flag of [
      '--pre-vote',
      '--snapshot-count=10000',
      '--peer-client-cert-auth',
      '--peer-cert-allowed-cn=etcd-peer',
      '--auto-compaction-mode=revision',
    ]) {
      assert.ok(args.includes(flag), flag);
    }
    assert.equal(args.includes('--force-new-cluster'), false, 'only when asked, once');
    const rebuild = etcdArgs({ ...member.config, forceNewCluster: true }, memberPaths(member.stateDir));
    assert.ok(rebuild.includes('--force-new-cluster'));
  });
});
