// The runc executor against real runc + conmon (needs root): lifecycle, exit codes, logs, limits,
// mounts, health, exec, and that removing containers leaves nothing behind on the host.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ContainerRecord } from '../../src/executor/runc/record.js';
import type { ContainerSpec, HealthState, LogEntry } from '../../src/executor/types.js';
import { census, type Harness, makeHarness, scrub, until } from './fixtures.js';

const ms = 1_000_000;

describe('runc executor', () => {
  let h: Harness;
  before(async () => {
    h = await makeHarness();
  });
  after(async () => {
    if (!h) return;
    h.runtime.close();
    for (const c of h.runtime.list()) await h.runtime.remove(c.Id, { force: true }).catch(() => undefined);
    scrub(h);
  });

  async function runToExit(
    spec: Omit<ContainerSpec, 'Image'>,
    extra: Partial<Parameters<Harness['runtime']['create']>[0]> = {},
  ) {
    const c = await h.runtime.create({ spec: { Image: 'bb', ...spec }, ...extra });
    await h.runtime.start(c.Id);
    return h.runtime.waitExit(c.Id);
  }
  async function collect(it: AsyncIterable<LogEntry>): Promise<LogEntry[]> {
    const out: LogEntry[] = [];
    for await (const e of it) out.push(e);
    return out;
  }

  test('20 containers run from one image whose layer is shared, not copied', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const c = await h.runtime.create({ name: `many-${i}`, spec: { Image: 'bb', Args: ['sleep', '1000'] } });
      ids.push(c.Id);
    }
    for (const id of ids) await h.runtime.start(id);
    for (const id of ids) {
      assert.equal(h.runtime.get(id).State.Status, 'running');
      const dir = h.runtime.containerDir(id);
      assert.equal(readlinkSync(join(dir, 'l', '0')), h.layer);
      // The upper dir holds only runc's stubs for the /etc bind mounts: nothing of the image.
      assert.deepEqual(
        readdirSync(join(dir, 'upper')).filter((n) => n !== 'etc'),
        [],
      );
    }
    await Promise.all(ids.map((id) => h.runtime.remove(id, { force: true })));
    assert.deepEqual(
      h.runtime.list().filter((c) => c.Name.startsWith('many-')),
      [],
    );
  });

  test("a process's exit code is reported: sh -c 'exit 3' → 3", async () => {
    const r = await runToExit({ Args: ['sh', '-c', 'exit 3'] });
    assert.equal(r.State.Status, 'exited');
    assert.equal(r.State.ExitCode, 3);
    assert.equal(r.State.OOMKilled, false);
    assert.notEqual(r.State.FinishedAt, '0001-01-01T00:00:00Z');
    await h.runtime.remove(r.Id);
  });

  test('logs keep stdout and stderr lines with timestamps, and honour tail and since', async () => {
    const r = await runToExit({
      Args: ['sh', '-c', 'echo one; echo two >&2; printf "part"; echo ial; sleep 1.2; echo three'],
    });
    const all = await collect(h.runtime.logs(r.Id, {}));
    // Order *between* the two pipes is not preserved by conmon; within each it is.
    assert.deepEqual(
      all.filter((e) => e.stream === 'stdout').map((e) => e.line),
      ['one\n', 'partial\n', 'three\n'],
    );
    assert.deepEqual(
      all.filter((e) => e.stream === 'stderr').map((e) => e.line),
      ['two\n'],
    );
    for (const e of all) assert.match(e.time, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d+/);
    const tail = await collect(h.runtime.logs(r.Id, { tail: 1 }));
    assert.deepEqual(
      tail.map((e) => e.line),
      ['three\n'],
    );
    const stderrOnly = await collect(h.runtime.logs(r.Id, { stdout: false }));
    assert.deepEqual(
      stderrOnly.map((e) => e.line),
      ['two\n'],
    );
    const partial = all.find((e) => e.line === 'partial\n') as LogEntry;
    const since = Number(partial.timeNs / 1000n) / 1e6 + 0.5;
    const late = await collect(h.runtime.logs(r.Id, { since }));
    assert.deepEqual(
      late.map((e) => e.line),
      ['three\n'],
    );
    await h.runtime.remove(r.Id);
  });

  test('following logs streams new lines and ends when the container exits', async () => {
    const c = await h.runtime.create({
      spec: { Image: 'bb', Args: ['sh', '-c', 'echo a; sleep 0.5; echo b'] },
    });
    await h.runtime.start(c.Id);
    const lines = (await collect(h.runtime.logs(c.Id, { follow: true }))).map((e) => e.line);
    assert.deepEqual(lines, ['a\n', 'b\n']);
    await h.runtime.remove(c.Id);
  });

  test('a process over its memory limit is OOM-killed and reported as OOMKilled with exit 137', async () => {
    const r = await runToExit(
      { Args: ['awk', 'BEGIN { s = "xxxxxxxxxxxxxxxx"; while (1) s = s s }'] },
      { resources: { Limits: { MemoryBytes: 32 * 1024 * 1024 } } },
    );
    assert.equal(r.State.ExitCode, 137);
    assert.equal(r.State.OOMKilled, true);
    await h.runtime.remove(r.Id);
  });

  test('CPU and pids limits land in the cgroup', async () => {
    const c = await h.runtime.create({
      spec: { Image: 'bb', Args: ['sleep', '1000'] },
      resources: { Limits: { NanoCPUs: 500_000_000, Pids: 64, MemoryBytes: 64 * 1024 * 1024 } },
    });
    await h.runtime.start(c.Id);
    const cg = (ctrl: string, file: string) =>
      readFileSync(join('/sys/fs/cgroup', ctrl, 'skt', c.RuncId, file), 'utf8').trim();
    assert.equal(cg('cpu', 'cpu.cfs_quota_us'), '50000');
    assert.equal(cg('cpu', 'cpu.cfs_period_us'), '100000');
    assert.equal(cg('pids', 'pids.max'), '64');
    assert.equal(cg('memory', 'memory.limit_in_bytes'), String(64 * 1024 * 1024));
    await h.runtime.remove(c.Id, { force: true });
  });

  test('tmpfs, bind and volume mounts appear inside; a named volume outlives its container', async () => {
    const hostDir = join(h.dir, 'bind-src');
    mkdirSync(hostDir);
    writeFileSync(join(hostDir, 'in'), 'from-host\n');
    const r = await runToExit({
      Args: [
        'sh',
        '-c',
        'grep -q " /scratch tmpfs " /proc/mounts && cat /data/in > /data/out && echo kept > /vol/file && touch /ro/x 2>/dev/null; echo ro=$?',
      ],
      Mounts: [
        { Type: 'tmpfs', Target: '/scratch', TmpfsOptions: { SizeBytes: 1 << 20 } },
        { Type: 'bind', Source: hostDir, Target: '/data' },
        { Type: 'bind', Source: hostDir, Target: '/ro', ReadOnly: true },
        { Type: 'volume', Source: 'v1', Target: '/vol' },
      ],
    });
    assert.equal(r.State.ExitCode, 0);
    assert.equal(readFileSync(join(hostDir, 'out'), 'utf8'), 'from-host\n');
    const logs = await collect(h.runtime.logs(r.Id, {}));
    assert.deepEqual(
      logs.map((e) => e.line),
      ['ro=1\n'],
    );
    await h.runtime.remove(r.Id);
    assert.equal(readFileSync(join(h.stateDir, 'volumes', 'v1', '_data', 'file'), 'utf8'), 'kept\n');
    const again = await runToExit({
      Args: ['sh', '-c', 'exit $(grep -c kept /vol/file | sed s/1/42/)'],
      Mounts: [{ Type: 'volume', Source: 'v1', Target: '/vol' }],
    });
    assert.equal(again.State.ExitCode, 42);
    await h.runtime.remove(again.Id);
  });

  test('user, workdir, env merge, hostname, read-only rootfs and Init take effect', async () => {
    const r = await runToExit({
      Args: [
        'sh',
        '-c',
        'echo $(id -u):$(id -g):$(id -G) $(pwd) $FROM_IMAGE$X $(hostname) $(cat /proc/1/comm); touch /f 2>/dev/null || echo ro',
      ],
      User: 'app',
      Dir: '/tmp',
      Env: ['X=2'],
      Hostname: 'myhost',
      ReadOnly: true,
      Init: true,
    });
    const lines = (await collect(h.runtime.logs(r.Id, {}))).map((e) => e.line);
    assert.deepEqual(lines, ['1000:1000:1000 2000 /tmp 12 myhost docker-init\n', 'ro\n']);
    await h.runtime.remove(r.Id);
  });

  test('stop sends the stop signal, then SIGKILL after the grace period when PID 1 ignores it', async () => {
    const c = await h.runtime.create({ spec: { Image: 'bb', Args: ['sleep', '1000'] } });
    await h.runtime.start(c.Id);
    const t0 = Date.now();
    await h.runtime.stop(c.Id, 300);
    assert.ok(Date.now() - t0 >= 300);
    assert.equal(h.runtime.get(c.Id).State.ExitCode, 137);
    const d = await h.runtime.create({
      spec: { Image: 'bb', Args: ['sh', '-c', 'trap "exit 42" TERM; while true; do sleep 0.1; done'] },
    });
    await h.runtime.start(d.Id);
    await new Promise((r) => setTimeout(r, 200)); // let the shell install its trap
    await h.runtime.stop(d.Id, 5000);
    assert.equal(h.runtime.get(d.Id).State.ExitCode, 42);
    await h.runtime.remove(c.Id);
    await h.runtime.remove(d.Id);
  });

  test('exec passes output and the exit code through; exec into a stopped container is refused', async () => {
    const c = await h.runtime.create({ spec: { Image: 'bb', Args: ['sleep', '1000'] } });
    await h.runtime.start(c.Id);
    const r = await h.runtime.execSync(c.Id, ['sh', '-c', 'echo out; echo err >&2; exit 7']);
    assert.deepEqual(r, { exitCode: 7, stdout: 'out\n', stderr: 'err\n' });
    await h.runtime.kill(c.Id, 'KILL');
    await h.runtime.waitExit(c.Id);
    assert.throws(() => h.runtime.createExec(c.Id, { Cmd: ['true'] }), /is not running/);
    await h.runtime.remove(c.Id);
  });

  test('health goes starting → healthy → unhealthy as the probe starts and stops passing', async () => {
    const c = await h.runtime.create({
      spec: {
        Image: 'bb',
        Args: ['sleep', '1000'],
        Healthcheck: {
          Test: ['CMD-SHELL', 'test -f /tmp/ok'],
          Interval: 150 * ms,
          Timeout: 2000 * ms,
          Retries: 2,
          StartPeriod: 60_000 * ms,
        },
      },
    });
    const seen: HealthState['Status'][] = [];
    const off = h.runtime.onHealth((rec: ContainerRecord, s) => {
      if (rec.Id === c.Id) seen.push(s.Status);
    });
    try {
      await h.runtime.start(c.Id);
      await until(() => (h.runtime.healthOf(c.Id)?.Log.length ?? 0) >= 2, 10_000, 'two probes');
      assert.equal(h.runtime.healthOf(c.Id)?.Status, 'starting'); // failures inside the start period do not count
      await h.runtime.execSync(c.Id, ['touch', '/tmp/ok']);
      await until(() => h.runtime.healthOf(c.Id)?.Status === 'healthy', 10_000, 'healthy');
      await h.runtime.execSync(c.Id, ['rm', '/tmp/ok']);
      await until(() => h.runtime.healthOf(c.Id)?.Status === 'unhealthy', 10_000, 'unhealthy');
      const hs = h.runtime.healthOf(c.Id);
      assert.ok((hs?.FailingStreak ?? 0) >= 2);
      assert.ok((hs?.Log.length ?? 0) <= 5);
      assert.deepEqual(seen, ['healthy', 'unhealthy']);
    } finally {
      off();
      await h.runtime.remove(c.Id, { force: true });
    }
  });

  test('a failing create leaves nothing behind and says why', async () => {
    await assert.rejects(
      h.runtime.create({
        spec: {
          Image: 'bb',
          Args: ['true'],
          Mounts: [{ Type: 'bind', Source: '/nonexistent-skt', Target: '/x' }],
        },
      }),
      /bind source path does not exist/,
    );
    const c = await h.runtime.create({ spec: { Image: 'bb', Args: ['/nonexistent'] } });
    await assert.rejects(h.runtime.start(c.Id), /nonexistent/);
    await h.runtime.remove(c.Id);
    await assert.rejects(
      h.runtime.create({ spec: { Image: 'nosuch', Args: ['true'] } }),
      /No such image: nosuch/,
    );
  });

  test('after removing every container nothing is left: no mount, cgroup dir, conmon or bundle', async () => {
    for (const c of h.runtime.list()) await h.runtime.remove(c.Id, { force: true });
    await until(() => census(h).conmons.length === 0, 5000, 'conmon processes to exit');
    assert.deepEqual(census(h), { mounts: [], cgroups: [], conmons: [], bundles: [] });
    assert.equal(existsSync(join(h.stateDir, 'volumes', 'v1', '_data', 'file')), true);
    assert.deepEqual(readdirSync(join(h.stateDir, 'exec', 'exits')), []);
  });
});
