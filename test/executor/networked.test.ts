// Real containers with real networking, as swarmd runs them: the runc runtime over the network
// provider, inside a private "host" netns made by this test. 20 containers from one image each get
// their own netns on the gateway bridge, reach each other over it, and leave nothing once removed.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { z } from 'zod';
import type { ContainerRecord } from '../../src/executor/runc/record.js';
import { run } from '../../src/lib/exec.js';
import { ownerTag } from '../../src/network/names.js';
import { NodeNetwork } from '../../src/network/node-network.js';
import { GATEWAY_NETWORK_NAME, NetworkProviderImpl } from '../../src/network/provider.js';
import { census, type Harness, makeHarness, scrub, until } from './fixtures.js';

const COUNT = 20;
const SUBNET = '172.31.0.0/16';
const BRIDGE = 'sktgw0';
const hostNs = `skt-test-exn-${randomBytes(3).toString('hex')}`;

const linksSchema = z.array(z.object({ ifname: z.string(), master: z.string().optional() }));
const addrsSchema = z.array(
  z.object({
    ifname: z.string(),
    addr_info: z.array(z.object({ family: z.string(), local: z.string(), prefixlen: z.number() })),
  }),
);
const netnsListSchema = z.array(z.object({ name: z.string() }));
const nftTablesSchema = z.object({
  nftables: z.array(
    z.union([z.object({ table: z.object({ family: z.string(), name: z.string() }) }), z.object({})]),
  ),
});
const ipamSchema = z.object({ attachments: z.record(z.unknown()) });

/** `ip -j …` in the test's host netns (or a container netns), parsed. */
async function ipJson(netns: string, args: string[]): Promise<unknown> {
  const r = await run('ip', ['-n', netns, '-j', ...args]);
  return r.stdout.trim() === '' ? [] : JSON.parse(r.stdout);
}

/** Everything of the network side still on the host: tagged netns, veths and nft tables in our host netns. */
async function networkCensus(
  tag: string,
): Promise<{ netns: string[]; veths: string[]; nftTables: string[] }> {
  const listed = (await run('ip', ['-j', 'netns', 'list'])).stdout.trim();
  const netns = netnsListSchema
    .parse(listed === '' ? [] : JSON.parse(listed))
    .map((n) => n.name)
    .filter((n) => n.startsWith(`skt-${tag}-`));
  const veths = linksSchema
    .parse(await ipJson(hostNs, ['link', 'show', 'type', 'veth']))
    .map((l) => l.ifname);
  const tables = nftTablesSchema.parse(
    JSON.parse((await run('ip', ['netns', 'exec', hostNs, 'nft', '-j', 'list', 'tables'])).stdout),
  );
  const nftTables = tables.nftables.flatMap((e) =>
    'table' in e ? [`${e.table.family} ${e.table.name}`] : [],
  );
  return { netns: netns.sort(), veths: veths.sort(), nftTables: nftTables.sort() };
}

describe('runc executor with the gateway network', { timeout: 120_000 }, () => {
  let h: Harness | undefined;
  let netDir = '';
  let net: NodeNetwork | undefined;
  let tag = '';

  before(async () => {
    await run('ip', ['netns', 'add', hostNs]);
    await run('ip', ['-n', hostNs, 'link', 'set', 'dev', 'lo', 'up']);
    netDir = mkdtempSync('/tmp/skt-exec-net-');
    tag = ownerTag(netDir);
    net = new NodeNetwork({ stateDir: netDir, hostNetns: hostNs, subnet: SUBNET, bridge: BRIDGE });
    h = await makeHarness({}, { network: new NetworkProviderImpl(net) });
  });

  after(async () => {
    if (h) {
      h.runtime.close();
      for (const c of h.runtime.list()) await h.runtime.remove(c.Id, { force: true }).catch(() => undefined);
      scrub(h);
    }
    await net?.cleanupLeftovers({ keep: new Set(), full: true }).catch(() => undefined);
    await run('ip', ['netns', 'del', hostNs], { okCodes: [0, 1, 255] });
    if (netDir) rmSync(netDir, { recursive: true, force: true });
  });

  test('20 networked containers each get their own netns on the bridge, reach each other, and leave nothing once removed', async () => {
    assert.ok(h && net);
    const harness = h;
    const runtime = h.runtime;
    // Every container serves its own hostname (= first 12 of its id), so an answer names who gave it.
    const recs: ContainerRecord[] = await Promise.all(
      Array.from({ length: COUNT }, (_, i) =>
        runtime.create({
          name: `net-${i}`,
          spec: {
            Image: 'bb',
            Args: [
              'sh',
              '-c',
              'mkdir /tmp/www && hostname > /tmp/www/index.html && exec httpd -f -p 80 -h /tmp/www',
            ],
          },
        }),
      ),
    );
    for (const r of recs) await runtime.start(r.Id);

    const ips = new Set<string>();
    const netnsNames = new Set<string>();
    const netnsInodes = new Set<number>();
    for (const r of recs) {
      const rec = runtime.get(r.Id);
      assert.equal(rec.State.Status, 'running');
      const addr = rec.Network?.networks?.[GATEWAY_NETWORK_NAME];
      assert.ok(addr, `container ${rec.Name} has a ${GATEWAY_NETWORK_NAME} address`);
      assert.match(addr.IPAddress, /^172\.31\.\d+\.\d+$/);
      assert.equal(addr.IPPrefixLen, 16);
      assert.notEqual(addr.IPAddress, net.gateway);
      ips.add(addr.IPAddress);
      const nsPath = rec.Network?.netnsPath ?? '';
      const ns = basename(nsPath);
      assert.ok(ns.startsWith(`skt-${tag}-`), ns);
      netnsNames.add(ns);
      // The container's process really lives in that netns, not in one runc made for it.
      const procNs = readlinkSync(`/proc/${rec.State.Pid}/ns/net`);
      assert.equal(procNs, `net:[${statSync(nsPath).ino}]`, `${rec.Name} runs in ${ns}`);
      netnsInodes.add(statSync(nsPath).ino);
      const eth0 = addrsSchema.parse(await ipJson(ns, ['addr', 'show', 'dev', 'eth0']));
      assert.deepEqual(
        eth0[0]?.addr_info.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`),
        [`${addr.IPAddress}/16`],
      );
    }
    assert.equal(ips.size, COUNT, 'addresses are distinct');
    assert.equal(netnsNames.size, COUNT, 'netns names are distinct');
    assert.equal(netnsInodes.size, COUNT, 'network namespaces are distinct');
    const onBridge = linksSchema
      .parse(await ipJson(hostNs, ['link', 'show', 'master', BRIDGE]))
      .filter((l) => /^skt[0-9a-f]{8}$/.test(l.ifname));
    assert.equal(onBridge.length, COUNT, 'one host veth per container on the gateway bridge');

    // Two pairs talk over the bridge: the answer is the target's own hostname.
    const addressOf = (r: ContainerRecord) =>
      runtime.get(r.Id).Network?.networks?.[GATEWAY_NETWORK_NAME]?.IPAddress;
    const fetch = async (from: ContainerRecord, to: ContainerRecord): Promise<string> => {
      // busybox-static's wget -T segfaults here: `timeout` bounds a hung request instead.
      const r = await runtime.execSync(from.Id, [
        'timeout',
        '5',
        'wget',
        '-q',
        '-O-',
        `http://${addressOf(to)}/`,
      ]);
      return r.exitCode === 0 ? r.stdout.trim() : `exit ${r.exitCode}: ${r.stderr.trim()}`;
    };
    for (const [from, to] of [
      [recs[1], recs[0]],
      [recs[0], recs[COUNT - 1]],
    ] as const) {
      assert.ok(from && to);
      let answer = '';
      await until(
        async () => {
          answer = await fetch(from, to);
          return answer === to.Id.slice(0, 12);
        },
        10_000,
        `${from.Name} to reach ${to.Name}'s httpd (last answer: ${answer})`,
      );
    }

    await Promise.all(recs.map((r) => runtime.remove(r.Id, { force: true })));
    assert.deepEqual(runtime.list(), []);
    await until(() => census(harness).conmons.length === 0, 5000, 'conmon processes to exit');
    assert.deepEqual(census(h), { mounts: [], cgroups: [], conmons: [], bundles: [] });
    assert.deepEqual(readdirSync(join(h.stateDir, 'exec', 'exits')), []);
    assert.deepEqual(readdirSync(join(h.stateDir, 'exec', 'socks')), []);
    // Only the gateway's own objects remain: its NAT table (and the bridge itself, no veths on it).
    assert.deepEqual(await networkCensus(tag), { netns: [], veths: [], nftTables: ['ip skt_nat'] });
    assert.deepEqual(readdirSync(join(netDir, 'containers')), []);
    assert.deepEqual(
      ipamSchema.parse(JSON.parse(readFileSync(join(netDir, 'gateway-ipam.json'), 'utf8'))).attachments,
      {},
    );
    // Crash recovery finds nothing of ours left; a full cleanup takes the gateway away too.
    assert.deepEqual(await net.cleanupLeftovers({ keep: new Set(), full: true }), {
      released: [],
      netns: [],
      hostVeths: [],
    });
    assert.deepEqual(await networkCensus(tag), { netns: [], veths: [], nftTables: [] });
    assert.deepEqual(
      linksSchema.parse(await ipJson(hostNs, ['link', 'show'])).map((l) => l.ifname),
      ['lo'],
    );
    await run('ip', ['netns', 'del', hostNs]);
    const left = (await run('ip', ['-j', 'netns', 'list'])).stdout;
    assert.ok(!left.includes(`"${hostNs}"`), 'the test host netns is gone');
  });
});
