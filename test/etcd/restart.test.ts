// A manager restarted after kill -9 (of swarmd, and of etcd too) starts the same member again from
// <stateDir>/etcd/member.json, and every acknowledged object is there with the same ID and version.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { EtcdMember, readMemberConfig } from '../../src/etcd/supervisor.js';
import { setLogSink } from '../../src/lib/log.js';
import { ClusterStore } from '../../src/store/store.js';
import { testTables } from '../store/tables.js';
import { clientFor, Harness, type PreparedMember } from './harness.js';

interface HostReport {
  etcdPid: number;
  written: ({ id: string; index: number } | null)[];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs the stand-in swarmd until it reports, and returns its pid and report. */
async function runHost(
  h: Harness,
  stateDir: string,
  count: number,
): Promise<{ pid: number; report: HostReport }> {
  const here = fileURLToPath(import.meta.url);
  const ts = here.endsWith('.ts');
  const script = here.replace(/restart\.test\.(ts|js)$/, `fixtures/member-host.${ts ? 'ts' : 'js'}`);
  const child = spawn(
    process.execPath,
    [...(ts ? ['--import', 'tsx'] : []), script, stateDir, String(count)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const pid = child.pid;
  assert.ok(pid);
  h.pids.push(pid);
  const report = await new Promise<HostReport>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('member host did not report in 30 s')), 30_000);
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(JSON.parse(out.slice(0, nl)));
      }
    });
    child.on('exit', (code) => reject(new Error(`member host exited ${code}`)));
  });
  child.stdout.destroy();
  child.removeAllListeners('exit');
  return { pid, report };
}

describe('restart after kill -9', () => {
  const h = new Harness();
  let p: PreparedMember;
  let written: { id: string; index: number }[] = [];
  before(async () => {
    setLogSink(() => undefined);
    p = await h.prepare('m1');
    await EtcdMember.create(p.stateDir, {
      name: 'm1',
      peerIP: '127.0.0.1',
      clientPort: p.clientPort,
      peerPort: p.peerPort,
      metricsPort: p.metricsPort,
      initialCluster: `m1=${p.peerURL}`,
      clusterState: 'new',
      clusterToken: 'restart-test',
    });
  });
  after(() => h.cleanup());

  async function expectAllObjects(): Promise<void> {
    const client = h.track(await clientFor(p.stateDir, p.clientPort));
    const store = new ClusterStore(client, testTables);
    const tasks = new Map((await store.list('task')).map((t) => [t.ID, t.Version.Index]));
    assert.equal(tasks.size, 50);
    for (const w of written) assert.equal(tasks.get(w.id), w.index, `task ${w.id}`);
    client.close();
  }

  it('kill -9 of swarmd and etcd: a new supervisor starts the same member with all 50 objects', async () => {
    const { pid, report } = await runHost(h, p.stateDir, 50);
    written = report.written.filter((w) => w !== null);
    assert.equal(written.length, 50);
    assert.equal((await readMemberConfig(p.stateDir))?.clusterState, 'existing');
    process.kill(pid, 'SIGKILL');
    process.kill(report.etcdPid, 'SIGKILL');
    const member = await EtcdMember.load(p.stateDir);
    assert.ok(member);
    h.members.push(member);
    await member.start();
    await expectAllObjects();
    await member.stop();
  });

  it('kill -9 of swarmd alone: the next supervisor kills the etcd it left running and takes over', async () => {
    const { pid, report } = await runHost(h, p.stateDir, 0);
    process.kill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(alive(report.etcdPid), 'etcd outlives a killed swarmd');
    const member = await EtcdMember.load(p.stateDir);
    assert.ok(member);
    h.members.push(member);
    await member.start();
    assert.equal(alive(report.etcdPid), false, 'the leftover etcd was killed');
    assert.notEqual(member.pid, report.etcdPid);
    await expectAllObjects();
  });
});
