// Nothing left behind (issue 16): a node that ran tasks — published through the mesh, on an overlay,
// plain — leaves the swarm with --force and stops; then no mount under its state dir, no process
// of it, no network namespace, link or nftables table it made, and no cgroup of it remain. Its
// "host" is a network namespace of its own, empty at the start: only `lo` may be left there.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { mountsUnder } from '../../src/executor/runc/host.js';
import { type E2E, startE2E, WEB_COMMAND, waitFor } from './harness.js';

let e: E2E;
let netnsBefore: Set<string>;
const netnsNames = () => new Set(existsSync('/run/netns') ? readdirSync('/run/netns') : []);

before(async () => {
  e = await startE2E();
  netnsBefore = netnsNames();
});
after(async () => {
  await e?.destroy();
});

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

test('after swarm leave --force and swarmd stopping, nothing of the node is left', async () => {
  const ok = (r: { code: number; stderr: string }) => assert.equal(r.code, 0, r.stderr);
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
  const { createHash } = await import('node:crypto');
  const tag = createHash('sha256').update(e.swarmd.stateDir).digest('hex').slice(0, 6);
  assert.ok(
    cgroupsOf(tag).length > 0,
    'the running tasks have no cgroup named after swarmd: the check below would prove nothing',
  );

  ok(await e.swarmctl(['swarm', 'leave', '--force']));
  await e.swarmd.stop();

  const left: string[] = [];
  for (const m of await mountsUnder(e.swarmd.stateDir)) left.push(`mount ${m}`);
  for (const p of processesMentioning(e.swarmd.stateDir)) left.push(`process ${p}`);
  for (const n of netnsNames()) if (!netnsBefore.has(n)) left.push(`netns ${n}`);
  const links = await e.swarmd.inNetns('ip', ['-o', 'link', 'show']);
  for (const m of links.stdout.matchAll(/^\d+: ([^:@]+)/gm)) if (m[1] !== 'lo') left.push(`link ${m[1]}`);
  const tables = await e.swarmd.inNetns('nft', ['list', 'tables']);
  for (const t of tables.stdout.split('\n').filter(Boolean)) left.push(`nft ${t}`);
  for (const c of cgroupsOf(tag)) left.push(`cgroup ${c}`);
  assert.deepEqual(left, [], 'left behind by the node');
});
