// Secrets and configs across hosts with the real docker CLI (issue #13): a secret made from stdin,
// mounted twice (default target and target=alt,mode=0400) into a service pinned to worker-1; in the
// task both files hold the payload with the modes asked, on a tmpfs; the API never shows a secret's
// Data; a secret in use cannot be removed; a config template renders per task; worker-2 (no task
// using it) never holds the secret; no state dir, etcd data dir or log holds the payload in clear;
// once the service is gone the files are gone from worker-1.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ApiTask, docker, swarmctl } from '../helpers/cli.js';
import {
  type Cluster,
  type ClusterHost,
  hostOfNode,
  loadBusybox,
  startCluster,
  until,
} from '../helpers/cluster.js';

/** Every regular file under dir whose bytes contain needle (skipping the exec root: a tmpfs by design). */
function filesContaining(dir: string, needle: Buffer, skip: (path: string) => boolean): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    let entries: string[];
    try {
      entries = readdirSync(d);
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e);
      if (skip(p)) continue;
      let st: ReturnType<typeof statSync>;
      try {
        st = statSync(p, { throwIfNoEntry: false }) as ReturnType<typeof statSync>;
      } catch {
        continue;
      }
      if (!st) continue;
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && st.size < 64 * 1024 * 1024) {
        try {
          if (readFileSync(p).includes(needle)) out.push(p);
        } catch {
          // gone meanwhile, or a socket
        }
      }
    }
  };
  walk(dir);
  return out;
}

describe('secrets and configs across hosts', { timeout: 300_000 }, () => {
  let cluster: Cluster;
  let manager: ClusterHost;
  let w1: ClusterHost;
  let w2: ClusterHost;
  const payload = `pw-${randomBytes(12).toString('hex')}`;
  let task: { container: string; id: string };

  const running = async (service: string) =>
    (await manager.api('GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [service] }))}`))
      .json<ApiTask[]>()
      .filter((t) => t.DesiredState === 'running' && t.Status.State === 'running');
  const inTask = (args: string[]) => docker(w1, ['exec', task.container, ...args]);
  const hostOf = (nodeId: string) => hostOfNode(cluster, nodeId);

  before(async () => {
    cluster = await startCluster({ workers: 2 });
    manager = cluster.manager;
    [w1, w2] = cluster.workers as [ClusterHost, ClusterHost];
    await loadBusybox(cluster.hosts);
    const s = await docker(manager, ['secret', 'create', 'db_pw', '-'], 30_000, payload);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout.trim(), /^[a-z0-9]{25}$/);
    const c = await docker(
      manager,
      ['config', 'create', '--template-driver', 'golang', 'app_conf', '-'],
      30_000,
      'service={{ .Service.Name }} slot={{ .Task.Slot }}\n',
    );
    assert.equal(c.code, 0, c.stderr);
    const r = await docker(manager, [
      'service',
      'create',
      '-d',
      '--name',
      'db',
      '--constraint',
      `node.hostname==${w1.name}`,
      '--secret',
      'db_pw',
      '--secret',
      'source=db_pw,target=alt,mode=0400',
      '--config',
      'source=app_conf,target=/etc/app.conf',
      'busybox',
      'sleep',
      '3600',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const [t] = await until('db running', async () => {
      const ts = await running('db');
      return ts.length === 1 ? ts : undefined;
    });
    assert.ok(t?.Status.ContainerStatus?.ContainerID);
    task = { container: t.Status.ContainerStatus.ContainerID, id: t.ID };
  });
  after(async () => {
    await cluster?.destroy();
  });

  it('the task reads the secret at both targets, with the modes asked, on a tmpfs', async () => {
    assert.equal((await inTask(['cat', '/run/secrets/db_pw'])).stdout, payload);
    assert.equal((await inTask(['cat', '/run/secrets/alt'])).stdout, payload);
    const modes = await inTask(['stat', '-c', '%a %u %g', '/run/secrets/db_pw', '/run/secrets/alt']);
    assert.deepEqual(modes.stdout.trim().split('\n'), ['444 0 0', '400 0 0']);
    const fs = await inTask(['stat', '-f', '-c', '%T', '/run/secrets/db_pw']);
    assert.equal(fs.stdout.trim(), 'tmpfs');
    const write = await inTask(['sh', '-c', 'echo x > /run/secrets/db_pw']);
    assert.notEqual(write.code, 0, 'read-only');
  });

  it('a config template renders the service name and slot', async () => {
    assert.equal((await inTask(['cat', '/etc/app.conf'])).stdout, 'service=db slot=1\n');
    const pretty = await docker(manager, ['config', 'inspect', '--pretty', 'app_conf']);
    assert.equal(pretty.code, 0, pretty.stderr);
    assert.match(pretty.stdout, /service=\{\{ \.Service\.Name \}\}/);
  });

  it("the API never shows the secret; removing it while in use is refused with Docker's error", async () => {
    const inspect = await docker(manager, ['secret', 'inspect', 'db_pw']);
    assert.equal(inspect.code, 0, inspect.stderr);
    const [obj] = JSON.parse(inspect.stdout) as { Spec: Record<string, unknown> }[];
    assert.equal(obj?.Spec.Name, 'db_pw');
    assert.ok(!('Data' in (obj?.Spec ?? {})), 'no Data');
    assert.ok(!inspect.stdout.includes(payload));
    const rm = await docker(manager, ['secret', 'rm', 'db_pw']);
    assert.notEqual(rm.code, 0);
    assert.match(rm.stderr, /secret 'db_pw' is in use by the following service: db/);
    const ls = await docker(manager, ['secret', 'ls', '--format', '{{.Name}}']);
    assert.equal(ls.stdout.trim(), 'db_pw');
  });

  it("bad input gets Docker's errors and creates nothing", async () => {
    const big = await docker(manager, ['secret', 'create', 'big', '-'], 30_000, 'x'.repeat(600 * 1024));
    assert.notEqual(big.code, 0);
    assert.match(big.stderr, /secret data must be larger than 0 and less than 512000 bytes/);
    const bad = await docker(manager, ['secret', 'create', 'bad_', '-'], 30_000, 'x');
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /invalid name, only 64 \[a-zA-Z0-9-_.\] characters allowed/);
    const nofile = await docker(manager, ['secret', 'create', 'nofile', '/nonexistent/pw.txt']);
    assert.notEqual(nofile.code, 0);
    assert.match(nofile.stderr, /no such file or directory/);
    const nofile2 = await swarmctl(manager, ['secret', 'create', 'nofile', '/nonexistent/pw.txt']);
    assert.notEqual(nofile2.code, 0);
    assert.match(nofile2.stderr, /no such file or directory/);
    const missing = await docker(manager, [
      'service',
      'create',
      '-d',
      '--secret',
      'nosuch',
      'busybox',
      'true',
    ]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /secret not found: nosuch/);
    const ls = await docker(manager, ['secret', 'ls', '--format', '{{.Name}}']);
    assert.equal(ls.stdout.trim(), 'db_pw');
  });

  it('a worker with no task using the secret never holds it; nothing on disk or in logs holds the payload', async () => {
    const holds = (h: ClusterHost) =>
      h
        .logs()
        .split('\n')
        .filter((l) => l.includes('secrets and configs held'));
    assert.ok(
      holds(w1).some((l) => /"secrets":\["[a-z0-9]{25}"\]/.test(l)),
      'worker-1 holds it',
    );
    assert.ok(holds(w2).length > 0, 'worker-2 reports what it holds');
    assert.ok(
      holds(w2).every((l) => l.includes('"secrets":[]')),
      `worker-2 never held a secret: ${holds(w2).join(' | ')}`,
    );
    // In clear, or as the API's base64 (what an unsealed store would hold).
    const b64 = Buffer.from(payload).toString('base64');
    for (const h of cluster.hosts) {
      assert.ok(!h.logs().includes(payload) && !h.logs().includes(b64), `${h.name}: no payload in its log`);
      // The exec root is swarmd's tmpfs (it holds the task's files by design); everything else is
      // disk, etcd's data dir included (under the manager's state dir).
      for (const needle of [Buffer.from(payload), Buffer.from(b64)]) {
        const found = filesContaining(h.stateDir, needle, (p) => p.endsWith('/exec'));
        assert.deepEqual(found, [], `${h.name}: the payload in clear on disk`);
      }
    }
  });

  it('beyond Docker: secret update rolls a new value out with the update config, one task down at most', async () => {
    const mk = await docker(manager, ['secret', 'create', 'rot_pw', '-'], 30_000, 'v1');
    assert.equal(mk.code, 0, mk.stderr);
    const svc = await docker(manager, [
      'service',
      'create',
      '-d',
      '--name',
      'rot',
      '--replicas',
      '4',
      '--update-parallelism',
      '1',
      '--secret',
      'source=rot_pw,target=pw',
      'busybox',
      'sleep',
      '3600',
    ]);
    assert.equal(svc.code, 0, svc.stderr);
    const first = await until('4 rot tasks running', async () => {
      const ts = await running('rot');
      return ts.length === 4 ? ts : undefined;
    });
    const firstIds = new Set(first.map((t) => t.ID));
    const r = await swarmctl(manager, ['secret', 'update', 'rot_pw', '--data-file', '-'], 30_000, 'v2');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /rolling out to service: rot/);
    let fewest = 4;
    const last = await until(
      'every rot task replaced',
      async () => {
        const ts = await running('rot');
        fewest = Math.min(fewest, ts.length);
        return ts.length === 4 && ts.every((t) => !firstIds.has(t.ID)) ? ts : undefined;
      },
      90_000,
      100,
    );
    assert.ok(fewest >= 3, `at most one task down at a time (fewest running: ${fewest})`);
    for (const t of last) {
      const host = await hostOf(t.NodeID ?? '');
      const cat = await docker(host, [
        'exec',
        t.Status.ContainerStatus?.ContainerID ?? '',
        'cat',
        '/run/secrets/pw',
      ]);
      assert.equal(cat.stdout, 'v2', `task ${t.ID}`);
    }
    // The replaced version keeps a name of its own until removed; the new one has the name.
    const ls = await docker(manager, ['secret', 'ls', '--format', '{{.Name}}']);
    const retired = ls.stdout.split('\n').find((n) => n.startsWith('rot_pw.'));
    assert.ok(retired, ls.stdout);
    assert.ok(ls.stdout.split('\n').includes('rot_pw'));
    const rmOld = await docker(manager, ['secret', 'rm', retired]);
    assert.equal(rmOld.code, 0, rmOld.stderr);
    assert.equal((await docker(manager, ['service', 'rm', 'rot'])).code, 0);
  });

  it('after service rm the files are gone from the node', async () => {
    const rm = await docker(manager, ['service', 'rm', 'db']);
    assert.equal(rm.code, 0, rm.stderr);
    await until('the task container gone from worker-1', async () => {
      const ps = await docker(w1, ['ps', '-aq', '--no-trunc']);
      return ps.stdout.includes(task.container) ? undefined : true;
    });
    const left = filesContaining(w1.stateDir, Buffer.from(payload), () => false);
    assert.deepEqual(left, [], 'no file holds the payload any more');
    const gone = await docker(manager, ['secret', 'rm', 'db_pw']);
    assert.equal(gone.code, 0, gone.stderr);
  });
});
