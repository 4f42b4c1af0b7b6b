// Nothing left behind (issue 16). A node that ran tasks — published through the mesh, on an overlay,
// plain — either leaves the swarm with --force and stops, or dies (kill -9, its etcd still running)
// and is removed for good with `swarmd --cleanup` (refused while its containers run, unless
// --force); then no mount under its state dir, no process of it, no network namespace, link or
// nftables table it made and no cgroup of it remain. Its "host" is a network namespace of its
// own, empty at the start: only `lo` may be left there.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { mountsUnder } from '../../src/executor/runc/host.js';
import { netnsPrefix, ownerTag } from '../../src/network/names.js';
import { type E2E, startE2E, WEB_COMMAND, waitFor } from './harness.js';

const root = new URL('../../../', import.meta.url).pathname;
const netnsNames = () => new Set(existsSync('/run/netns') ? readdirSync('/run/netns') : []);

/** Processes (other than zombies) whose command line mentions `text`. */
function processesMentioning(text: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmdline.includes(text)) out.push(`${pid}: ${cmdline.trim()}`);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** cgroup directories named after this swarmd (its runc containers and their parent), any hierarchy. */
function cgroupsOf(tag: string): string[] {
  const out: string[] = [];
  for (const h of readdirSync('/sys/fs/cgroup')) {
    const dir = join('/sys/fs/cgroup', h);
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const n of names) if (n.includes(tag)) out.push(join(dir, n));
  }
  return out;
}

const ok = (r: { code: number; stderr: string }) => assert.equal(r.code, 0, r.stderr);

/** Tasks on the mesh, on an overlay and plain, all running; returns swarmd's tag (names of its objects). */
async function runWorkload(e: E2E): Promise<string> {
  ok(await e.swarmctl(['swarm', 'init', '--advertise-addr', '127.0.0.1']));
  ok(await e.swarmctl(['image', 'load', '-i', e.archive]));
  ok(await e.swarmctl(['network', 'create', '-d', 'overlay', 'backend']));
  const web = ['busybox', ...WEB_COMMAND];
  ok(
    await e.swarmctl([
      'service',
      'create',
      '-d',
      '--name',
      'pub',
      '--replicas',
      '2',
      '-p',
      '8085:80',
      ...web,
    ]),
  );
  ok(await e.swarmctl(['service', 'create', '-d', '--name', 'ov', '--network', 'backend', ...web]));
  ok(await e.swarmctl(['service', 'create', '-d', '--name', 'plain', 'busybox', 'sleep', '3600']));
  await waitFor(
    '4 tasks running',
    async () => {
      const all = [...(await e.tasks('pub')), ...(await e.tasks('ov')), ...(await e.tasks('plain'))];
      return all.filter((t) => t.Status.State === 'running').length === 4 ? true : undefined;
    },
    60_000,
  );
  await waitFor('port 8085 to answer', async () =>
    (await e.curl('127.0.0.1', 8085)).code === 0 ? true : undefined,
  );
  // swarmd names its runc containers, cgroups and netns after a hash of its state dir.
  const tag = createHash('sha256').update(e.swarmd.stateDir).digest('hex').slice(0, 6);
  assert.ok(
    cgroupsOf(tag).length > 0,
    'the tasks have no cgroup named after swarmd: the checks would prove nothing',
  );
  return tag;
}

/** Everything of the node still there: mounts, processes, netns, links, nft tables, cgroups. */
async function leftovers(e: E2E, netnsBefore: Set<string>, tag: string): Promise<string[]> {
  const left: string[] = [];
  for (const m of await mountsUnder(e.swarmd.stateDir)) left.push(`mount ${m}`);
  for (const p of processesMentioning(e.swarmd.stateDir)) left.push(`process ${p}`);
  // The node's network state lives in <exec root>/network; its netns carry that dir's owner tag.
  const ours = netnsPrefix(ownerTag(join(e.swarmd.stateDir, 'exec', 'network')));
  for (const n of netnsNames()) if (!netnsBefore.has(n) && n.startsWith(ours)) left.push(`netns ${n}`);
  const links = await e.swarmd.inNetns('ip', ['-o', 'link', 'show']);
  for (const m of links.stdout.matchAll(/^\d+: ([^:@]+)/gm)) if (m[1] !== 'lo') left.push(`link ${m[1]}`);
  const tables = await e.swarmd.inNetns('nft', ['list', 'tables']);
  for (const t of tables.stdout.split('\n').filter(Boolean)) left.push(`nft ${t}`);
  for (const c of cgroupsOf(tag)) left.push(`cgroup ${c}`);
  return left;
}

/** `swarmd --cleanup --state-dir D [--force]` in the node's namespace. */
function cleanup(e: E2E, force: boolean): Promise<{ code: number; stdout: string; stderr: string }> {
  const args = [
    `--net=/run/netns/${e.swarmd.netns}`,
    process.execPath,
    join(root, 'bin/swarmd'),
    '--cleanup',
  ];
  args.push('--state-dir', e.swarmd.stateDir, ...(force ? ['--force'] : []));
  return new Promise((resolve) => {
    execFile('nsenter', args, { timeout: 120_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** A node of its own for the enclosing suite, and the netns that existed before it started. */
function nodeForSuite(): () => { e: E2E; netnsBefore: Set<string> } {
  let e: E2E | undefined;
  let netnsBefore = new Set<string>();
  before(async () => {
    e = await startE2E();
    netnsBefore = netnsNames();
  });
  after(async () => {
    await e?.destroy();
  });
  return () => {
    if (!e) throw new Error('the node did not start');
    return { e, netnsBefore };
  };
}

describe('swarm leave --force, then swarmd stops', () => {
  const node = nodeForSuite();

  test('nothing of the node is left', async () => {
    const { e, netnsBefore } = node();
    const tag = await runWorkload(e);
    ok(await e.swarmctl(['swarm', 'leave', '--force']));
    await e.swarmd.stop();
    assert.deepEqual(await leftovers(e, netnsBefore, tag), [], 'left behind by the node');
  });
});

describe('swarmd --cleanup of a node killed with its containers running', () => {
  const node = nodeForSuite();

  test('refused while containers run; with --force nothing of the node is left, its state dir neither', async () => {
    const { e, netnsBefore } = node();
    const tag = await runWorkload(e);
    await e.swarmd.kill9(); // its etcd and the containers keep running
    const refused = await cleanup(e, false);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /^swarmd: 4 container\(s\) of this node still run \([0-9a-f]{12}(, [0-9a-f]{12}){3}\): remove the node's services first, or use --force to kill them\n$/,
    );
    const done = await cleanup(e, true);
    assert.equal(done.code, 0, done.stderr);
    assert.equal(done.stdout, `removed every trace of the node in ${e.swarmd.stateDir}\n`);
    assert.deepEqual(await leftovers(e, netnsBefore, tag), [], 'left behind by the node');
    assert.equal(existsSync(e.swarmd.stateDir), false, 'the state dir is still there');
  });
});
