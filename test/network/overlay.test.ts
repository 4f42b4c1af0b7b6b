// The overlay datapath of one node: the pure plans (task attachments, devices, peers, cleanup), then
// two "hosts" (netns cabled to a bridge in a "switch" netns of their own) whose tasks reach each
// other over VXLAN network 4097 exactly while each side lists the other as a peer.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { SwarmError } from '../../src/api/errors.js';
import { newId } from '../../src/api/ids.js';
import type { ExecutorTask } from '../../src/executor/types.js';
import { run } from '../../src/lib/exec.js';
import { planOverlayLeftovers } from '../../src/network/cleanup.js';
import {
  containerNetnsName,
  hostVethName,
  netnsPath,
  netnsPrefix,
  overlayAlias,
  overlayAliasNetwork,
  overlayLinkNames,
  ownerTag,
} from '../../src/network/names.js';
import { overlayNetworksOf } from '../../src/network/network-attachments.js';
import { NodeNetwork } from '../../src/network/node-network.js';
import { staleHolders } from '../../src/network/node-overlays.js';
import {
  type ObservedOverlayLink,
  type OverlayEndpoint,
  type OverlaySpec,
  observeOverlay,
  observePeerTable,
  parsePeerTable,
  peerTableFor,
  planOverlayNetwork,
  planPeers,
  renderOverlayHostSide,
  renderOverlayTaskSide,
} from '../../src/network/overlay.js';
import { attachRequestFor, NetworkProviderImpl } from '../../src/network/provider.js';
import { ipJson, netnsList } from '../../src/network/shell.js';

const NET = 'qsxm2ngxafq3shxqrd8oue4ne';
const NET2 = 'ri4v7ghq2bkxlj1gjhzqfm0bn';

/** One entry of Docker's Task.NetworksAttachments. */
function networkAttachment(o: { id: string; name: string; vni: number; subnet: string; address: string }) {
  return {
    Network: {
      ID: o.id,
      Spec: { Name: o.name, Labels: {} },
      DriverState: {
        Name: 'overlay',
        Options: { 'com.docker.network.driver.overlay.vxlanid_list': String(o.vni) },
      },
      IPAMOptions: {
        Driver: { Name: 'default' },
        Configs: [{ Subnet: o.subnet, Gateway: o.subnet.replace(/\.0\/\d+$/, '.1') }],
      },
    },
    Addresses: [o.address],
  };
}

const onNet = (address: string) =>
  networkAttachment({ id: NET, name: 'backend', vni: 4097, subnet: '10.0.1.0/24', address });
const onNet2 = (address: string) =>
  networkAttachment({ id: NET2, name: 'frontend', vni: 4098, subnet: '10.0.2.0/24', address });

function overlayTask(attachments: unknown[]): ExecutorTask & { NetworksAttachments: unknown[] } {
  return {
    ID: newId(),
    ServiceID: 's1',
    ServiceName: 'web',
    Slot: 1,
    NodeID: 'n1',
    Spec: { ContainerSpec: { Image: 'busybox' } },
    NetworksAttachments: attachments,
  };
}

function link(o: Partial<ObservedOverlayLink> & { ifname: string }): ObservedOverlayLink {
  return { flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'], ...o };
}

const spec: OverlaySpec = {
  vni: 4097,
  mtu: 1450,
  port: 'sktov01234567',
  vxlan: 'sktvx01234567',
  alias: 'skt-abc123:overlay:net1',
  portMac: '02:42:0a:00:01:01',
  underlay: '10.99.0.1',
};

/** The devices as the kernel reports them once spec is built. */
function built(s: OverlaySpec) {
  return {
    port: link({
      ifname: s.port,
      mtu: 1450,
      address: s.portMac,
      ifalias: s.alias,
      link: s.vxlan,
      linkinfo: { info_kind: 'macvlan', info_data: { mode: 'bridge' } },
    }),
    vxlan: link({
      ifname: s.vxlan,
      mtu: 1450,
      ifalias: s.alias,
      linkinfo: {
        info_kind: 'vxlan',
        info_data: { id: s.vni, local: s.underlay, port: 4789, learning: false, proxy: true },
      },
    }),
  };
}

const endpoint: OverlayEndpoint = {
  networkId: NET,
  networkName: 'backend',
  ifname: 'eth1',
  ip: '10.0.1.3',
  prefixLength: 24,
  mac: '02:42:0a:00:01:03',
  mtu: 1450,
};

describe('overlay plans (no kernel)', () => {
  test("a task's NetworksAttachments become overlay requests, in order, with VNI, gateway and address", () => {
    const task = overlayTask([onNet('10.0.1.3/24'), onNet2('10.0.2.7/24')]);
    assert.deepEqual(overlayNetworksOf(task), [
      {
        networkId: NET,
        name: 'backend',
        vni: 4097,
        gateway: '10.0.1.1',
        ip: '10.0.1.3',
        prefixLength: 24,
        internal: false,
        mtu: 1450,
      },
      {
        networkId: NET2,
        name: 'frontend',
        vni: 4098,
        gateway: '10.0.2.1',
        ip: '10.0.2.7',
        prefixLength: 24,
        internal: false,
        mtu: 1450,
      },
    ]);
    assert.deepEqual(overlayNetworksOf(overlayTask([])), []);
    assert.deepEqual(overlayNetworksOf(undefined), []);
    // No Gateway in the IPAM config: the first host address, as Docker's IPAM picks it.
    const noGateway = onNet('10.0.1.3/24');
    noGateway.Network.IPAMOptions.Configs = [{ Subnet: '10.0.1.0/24', Gateway: '' }];
    assert.equal(overlayNetworksOf(overlayTask([noGateway]))[0]?.gateway, '10.0.1.1');
    // Docker's MTU option on the network: its devices and the task's interface take it.
    const withMtu = (mtu: string) => {
      const a = onNet('10.0.1.3/24');
      const options: Record<string, string> = { ...a.Network.DriverState.Options };
      options['com.docker.network.driver.mtu'] = mtu;
      return { ...a, Network: { ...a.Network, DriverState: { ...a.Network.DriverState, Options: options } } };
    };
    assert.equal(overlayNetworksOf(overlayTask([withMtu('1400')]))[0]?.mtu, 1400);
    assert.throws(() => overlayNetworksOf(overlayTask([withMtu('99999')])), SwarmError);
    assert.deepEqual(
      renderOverlayHostSide({ ...endpoint, mtu: 1400 }, { netns: 'ns', vxlan: 'sktvx01234567' }),
      [
        'link add link sktvx01234567 name eth1 netns ns mtu 1400 address 02:42:0a:00:01:03 type macvlan mode bridge',
      ],
    );
    const lowered = planOverlayNetwork(built(spec), { ...spec, mtu: 1400 });
    assert.deepEqual(lowered.lines, [
      'link set dev sktvx01234567 mtu 1400',
      'link set dev sktov01234567 mtu 1400',
    ]);
  });

  test('an attachment this node cannot build is refused: another driver, no VXLAN ID, no IPv4 address', () => {
    const other = onNet('10.0.1.3/24');
    other.Network.DriverState.Name = 'macvlan';
    const noVni = onNet('10.0.1.3/24');
    noVni.Network.DriverState.Options = { 'com.docker.network.driver.overlay.vxlanid_list': '' };
    const noAddress = { ...onNet('10.0.1.3/24'), Addresses: ['fd00::3/64'] };
    const badId = networkAttachment({
      id: 'a b',
      name: 'x',
      vni: 1,
      subnet: '10.0.1.0/24',
      address: '10.0.1.3/24',
    });
    for (const a of [other, noVni, noAddress, badId, { Network: {} }]) {
      assert.throws(() => overlayNetworksOf(overlayTask([a])), SwarmError);
    }
  });

  test('the attach request carries the overlays; a task without any has none', () => {
    const containerId = 'f3a9c2d1b0e4aa';
    const request = attachRequestFor(containerId, overlayTask([onNet('10.0.1.3/24')]));
    assert.deepEqual(request.overlays, overlayNetworksOf(overlayTask([onNet('10.0.1.3/24')])));
    assert.equal(attachRequestFor(containerId, overlayTask([])).overlays, undefined);
  });

  test('overlay devices are named skt…, fit IFNAMSIZ, differ per owner, and carry an alias only their owner reads', () => {
    const mine = overlayLinkNames('abc123', NET);
    const theirs = overlayLinkNames('def456', NET);
    assert.match(mine.port, /^sktov[0-9a-f]{8}$/);
    assert.equal(mine.vxlan, mine.port.replace('sktov', 'sktvx'));
    assert.notEqual(mine.port, theirs.port);
    assert.notEqual(mine.port, overlayLinkNames('abc123', NET2).port);
    assert.notEqual(mine.port, hostVethName('abc123', 'c1'));
    assert.equal(overlayAliasNetwork('abc123', overlayAlias('abc123', NET)), NET);
    assert.equal(overlayAliasNetwork('def456', overlayAlias('abc123', NET)), null);
    assert.equal(overlayAliasNetwork('abc123', undefined), null);
    assert.equal(overlayAliasNetwork('abc123', 'skt-abc123:overlay:../x'), null);
  });

  test("a network is built as a nolearning proxy VXLAN device with the node's macvlan port on it (fixed MAC), MTU 1450; built, it plans nothing", () => {
    assert.deepEqual(planOverlayNetwork({ port: null, vxlan: null }, spec), {
      lines: [
        'link add sktvx01234567 mtu 1450 type vxlan id 4097 dstport 4789 local 10.99.0.1 nolearning proxy',
        'link set dev sktvx01234567 alias skt-abc123:overlay:net1',
        'link set dev sktvx01234567 up',
        'link add link sktvx01234567 name sktov01234567 mtu 1450 address 02:42:0a:00:01:01 type macvlan mode bridge',
        'link set dev sktov01234567 alias skt-abc123:overlay:net1',
        'link set dev sktov01234567 up',
      ],
      vxlanCreated: true,
    });
    assert.deepEqual(planOverlayNetwork(built(spec), spec), { lines: [], vxlanCreated: false });
    const down = built(spec);
    down.port.flags = ['BROADCAST'];
    down.port.address = '06:00:00:00:00:01';
    assert.deepEqual(planOverlayNetwork(down, spec).lines, [
      'link set dev sktov01234567 address 02:42:0a:00:01:01',
      'link set dev sktov01234567 up',
    ]);
  });

  test('a port that is not a bridge-mode macvlan on the VXLAN device (a bridge from an older swarmd) is replaced', () => {
    const old = { ...built(spec), port: link({ ifname: spec.port, linkinfo: { info_kind: 'bridge' } }) };
    const plan = planOverlayNetwork(old, spec);
    assert.equal(plan.vxlanCreated, false);
    assert.deepEqual(plan.lines.slice(0, 2), [
      'link del dev sktov01234567',
      'link add link sktvx01234567 name sktov01234567 mtu 1450 address 02:42:0a:00:01:01 type macvlan mode bridge',
    ]);
  });

  test('a VXLAN device bound to another underlay address or VNI is replaced; a foreign device under our name is refused', () => {
    const moved = planOverlayNetwork(built(spec), { ...spec, underlay: '10.99.0.7' });
    assert.equal(moved.vxlanCreated, true);
    // The port goes first (deleting the VXLAN device would take it along) and is made again on the new one.
    assert.deepEqual(moved.lines.slice(0, 3), [
      'link del dev sktov01234567',
      'link del dev sktvx01234567',
      'link add sktvx01234567 mtu 1450 type vxlan id 4097 dstport 4789 local 10.99.0.7 nolearning proxy',
    ]);
    assert.ok(
      moved.lines.includes(
        'link add link sktvx01234567 name sktov01234567 mtu 1450 address 02:42:0a:00:01:01 type macvlan mode bridge',
      ),
    );
    assert.equal(planOverlayNetwork(built(spec), { ...spec, vni: 4100 }).vxlanCreated, true);
    const notVxlan = { ...built(spec), vxlan: link({ ifname: spec.vxlan, linkinfo: { info_kind: 'veth' } }) };
    assert.throws(() => planOverlayNetwork(notVxlan, spec), SwarmError);
  });

  test("a task's overlay interface is a macvlan on the VXLAN device made straight into its netns, MAC 02:42+IP, MTU 1450, and no route", () => {
    assert.deepEqual(renderOverlayHostSide(endpoint, { netns: 'skt-abc123-c1', vxlan: 'sktvx01234567' }), [
      'link add link sktvx01234567 name eth1 netns skt-abc123-c1 mtu 1450 address 02:42:0a:00:01:03 type macvlan mode bridge',
    ]);
    assert.deepEqual(renderOverlayTaskSide(endpoint), [
      'addr add 10.0.1.3/24 dev eth1',
      'link set dev eth1 up',
    ]);
  });

  test('peers become one FDB and one neighbour entry each; peers on this node and malformed entries are left out', () => {
    const table = peerTableFor(
      [
        { ip: '10.0.1.3', nodeAddr: '10.99.0.2' },
        { ip: '10.0.1.4', nodeAddr: '10.99.0.1' }, // this node
        { ip: 'x', nodeAddr: '10.99.0.2' },
        { ip: '10.0.1.5', nodeAddr: '' },
        { ip: '10.0.1.6', nodeAddr: '0.0.0.0' },
      ],
      '10.99.0.1',
    );
    assert.deepEqual([...table.fdb], [['02:42:0a:00:01:03', '10.99.0.2']]);
    assert.deepEqual([...table.neigh], [['10.0.1.3', '02:42:0a:00:01:03']]);
  });

  test('peer programming replaces what differs and deletes what is extra, and nothing when in step', () => {
    const current = peerTableFor(
      [
        { ip: '10.0.1.3', nodeAddr: '10.99.0.2' },
        { ip: '10.0.1.4', nodeAddr: '10.99.0.2' },
      ],
      undefined,
    );
    const desired = peerTableFor(
      [
        { ip: '10.0.1.3', nodeAddr: '10.99.0.3' }, // moved node
        { ip: '10.0.1.5', nodeAddr: '10.99.0.2' },
      ],
      undefined,
    );
    assert.deepEqual(planPeers(current, desired, 'sktvx0'), {
      bridge: [
        'fdb replace 02:42:0a:00:01:03 dev sktvx0 dst 10.99.0.3 self permanent',
        'fdb replace 02:42:0a:00:01:05 dev sktvx0 dst 10.99.0.2 self permanent',
        'fdb del 02:42:0a:00:01:04 dev sktvx0 self',
      ],
      ip: [
        'neigh replace 10.0.1.5 lladdr 02:42:0a:00:01:05 dev sktvx0 nud permanent',
        'neigh del 10.0.1.4 dev sktvx0',
      ],
    });
    assert.deepEqual(planPeers(desired, desired, 'sktvx0'), { bridge: [], ip: [] });
  });

  test('whatever is programmed, applying the plan leaves exactly the desired entries', () => {
    const peers = fc.array(
      fc.record({
        ip: fc.integer({ min: 2, max: 20 }).map((n) => `10.0.1.${n}`),
        nodeAddr: fc.integer({ min: 1, max: 4 }).map((n) => `10.99.0.${n}`),
      }),
      { maxLength: 12 },
    );
    fc.assert(
      fc.property(peers, peers, (from, to) => {
        const current = peerTableFor(from, undefined);
        const desired = peerTableFor(to, '10.99.0.1');
        const plan = planPeers(current, desired, 'vx');
        const fdb = new Map(current.fdb);
        const neigh = new Map(current.neigh);
        for (const line of plan.bridge) {
          const [, op, mac, , , , dst] = line.split(' ');
          if (op === 'replace') fdb.set(mac ?? '', dst ?? '');
          else fdb.delete(mac ?? '');
        }
        for (const line of plan.ip) {
          const [, op, ip, , mac] = line.split(' ');
          if (op === 'replace') neigh.set(ip ?? '', mac ?? '');
          else neigh.delete(ip ?? '');
        }
        const sorted = (m: ReadonlyMap<string, string>) => [...m].sort();
        assert.deepEqual(sorted(fdb), sorted(desired.fdb));
        assert.deepEqual(sorted(neigh), sorted(desired.neigh));
      }),
    );
  });

  test("the programmed table is read back from the kernel's JSON: the device's own remote entries only", () => {
    const fdb = [
      { mac: '82:fb:e1:38:4e:55', flags: [], master: 'sktbr1', state: 'permanent' },
      { mac: '02:42:0a:00:01:03', flags: [], master: 'sktbr1', state: '' }, // learned by the bridge
      { mac: '02:42:0A:00:01:04', dst: '10.99.0.3', flags: ['self'], state: 'permanent' },
    ];
    const neigh = [
      { dst: '10.0.1.4', lladdr: '02:42:0a:00:01:04', state: ['PERMANENT'] },
      { dst: '10.0.1.9', state: ['FAILED'] },
    ];
    const table = parsePeerTable(fdb, neigh);
    assert.deepEqual([...table.fdb], [['02:42:0a:00:01:04', '10.99.0.3']]);
    assert.deepEqual([...table.neigh], [['10.0.1.4', '02:42:0a:00:01:04']]);
  });

  test("an address given again takes the interface of the ended task that held it (a macvlan's MAC cannot be shared)", () => {
    const rec = (ifname: string, ip: string, networkId = NET) => ({
      networkId,
      networkName: 'backend',
      vni: 4097,
      gateway: '10.0.1.1',
      ifname,
      ip,
      prefixLength: 24,
      mac: '02:42:00:00:00:00',
      mtu: 1450,
    });
    const containers = {
      old: [rec('eth1', '10.0.1.3'), rec('eth2', '10.0.2.3', NET2)],
      other: [rec('eth1', '10.0.1.4')],
    };
    assert.deepEqual(staleHolders(containers, 'new', [rec('eth1', '10.0.1.3')]), [
      { containerId: 'old', networkId: NET, ifname: 'eth1', ip: '10.0.1.3' },
    ]);
    assert.deepEqual(staleHolders(containers, 'old', [rec('eth1', '10.0.1.3')]), [], 'its own is not stale');
    assert.deepEqual(
      staleHolders(containers, 'new', [rec('eth1', '10.0.2.3')]),
      [],
      'same address, other network',
    );
  });

  test('overlay cleanup keeps the networks of kept containers and removes only devices of ours (and an older bridge)', () => {
    const tag = 'abc123';
    const kept = overlayLinkNames(tag, NET);
    const gone = overlayLinkNames(tag, NET2);
    const unnamed = overlayLinkNames(tag, 'crashedbeforealias'); // created, crash before its alias
    const plan = planOverlayLeftovers(
      tag,
      {
        links: [
          { name: kept.port, alias: overlayAlias(tag, NET) },
          { name: kept.vxlan, alias: overlayAlias(tag, NET) },
          { name: 'sktbr0a0b0c0d', alias: overlayAlias(tag, NET) }, // the bridge of an older swarmd
          { name: gone.port, alias: overlayAlias(tag, NET2) },
          { name: gone.vxlan, alias: overlayAlias(tag, NET2) },
          { name: unnamed.vxlan, alias: null },
          { name: 'sktbrffffffff', alias: overlayAlias('def456', NET2) }, // another owner's
          { name: 'eth0', alias: null },
        ],
        endpoints: {
          keep1: [{ networkId: NET, ifname: 'eth1' }],
          gone1: [
            { networkId: NET2, ifname: 'eth1' },
            { networkId: 'crashedbeforealias', ifname: 'eth2' },
          ],
        },
      },
      new Set(['keep1']),
    );
    assert.deepEqual(plan.release, ['gone1']);
    assert.deepEqual(plan.macvlans, [
      { netns: containerNetnsName(tag, 'gone1'), ifname: 'eth1' },
      { netns: containerNetnsName(tag, 'gone1'), ifname: 'eth2' },
    ]);
    assert.deepEqual(plan.devices.sort(), [gone.port, gone.vxlan, unnamed.vxlan, 'sktbr0a0b0c0d'].sort());
    assert.deepEqual(plan.networks.sort(), [NET2, 'crashedbeforealias'].sort());
  });
});

// --- the real kernel ----------------------------------------------------------------------------

const rand = randomBytes(3).toString('hex');
const switchNs = `skt-test-sw-${rand}`;
const hosts = {
  a: { netns: `skt-test-ha-${rand}`, underlay: '10.214.0.1', port: `sktpa${rand}` },
  b: { netns: `skt-test-hb-${rand}`, underlay: '10.214.0.2', port: `sktpb${rand}` },
};
const TASK_A_IP = '10.0.1.2';
const TASK_B_IP = '10.0.1.3';

/** Runs in a netns without `ip netns exec` (which remounts /sys). */
function inNetns(netns: string, cmd: string[], okCodes = [0]) {
  return run('nsenter', [`--net=${netnsPath(netns)}`, ...cmd], { okCodes, timeoutMs: 15_000 });
}

/** One ICMP echo from `netns` to `ip` answered within a second, trying up to `tries` times. */
async function pings(netns: string, ip: string, tries = 1): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    const r = await inNetns(netns, ['busybox', 'ping', '-c', '1', '-W', '1', ip], [0, 1]);
    if (r.code === 0) return true;
  }
  return false;
}

async function linkNames(netns?: string): Promise<string[]> {
  const raw = await ipJson(['link', 'show'], netns);
  return Array.isArray(raw) ? raw.map((l: { ifname?: unknown }) => String(l.ifname)) : [];
}

describe('two nodes whose tasks talk over a VXLAN overlay (real kernel)', { timeout: 120_000 }, () => {
  let stateDir = '';
  const nets: NodeNetwork[] = [];
  let netA: NodeNetwork;
  let netB: NodeNetwork;
  let providerA: NetworkProviderImpl;
  let providerB: NetworkProviderImpl;
  const idA = newId();
  const idB = newId();
  const devA = () => overlayLinkNames(ownerTag(join(stateDir, 'a')), NET);
  const devB = () => overlayLinkNames(ownerTag(join(stateDir, 'b')), NET);
  const taskNetns = (net: NodeNetwork, id: string) => net.attachment(id).then((x) => x?.netns ?? '');

  before(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'skt-test-overlay-'));
    await run('ip', ['netns', 'add', switchNs]);
    await run('ip', ['-n', switchNs, '-batch', '-'], {
      input: 'link set lo up\nlink add br0 type bridge\nlink set br0 up\n',
    });
    for (const h of Object.values(hosts)) {
      await run('ip', ['netns', 'add', h.netns]);
      await run('ip', ['-n', switchNs, '-batch', '-'], {
        input: `link add ${h.port} type veth peer name eth0 netns ${h.netns}\nlink set ${h.port} master br0 up\n`,
      });
      await run('ip', ['-n', h.netns, '-batch', '-'], {
        input: `link set lo up\naddr add ${h.underlay}/24 dev eth0\nlink set eth0 up\n`,
      });
    }
    netA = new NodeNetwork({ stateDir: join(stateDir, 'a'), hostNetns: hosts.a.netns });
    netB = new NodeNetwork({ stateDir: join(stateDir, 'b'), hostNetns: hosts.b.netns });
    nets.push(netA, netB);
    providerA = new NetworkProviderImpl(netA);
    providerB = new NetworkProviderImpl(netB);
  });

  after(async () => {
    for (const net of nets)
      await net.cleanupLeftovers({ keep: new Set(), full: true }).catch(() => undefined);
    const ours = [netnsPrefix(ownerTag(join(stateDir, 'a'))), netnsPrefix(ownerTag(join(stateDir, 'b')))];
    for (const ns of await netnsList()) {
      if (ours.some((p) => ns.startsWith(p))) await run('ip', ['netns', 'del', ns], { okCodes: [0, 1, 255] });
    }
    for (const ns of [hosts.a.netns, hosts.b.netns, switchNs]) {
      await run('ip', ['netns', 'del', ns], { okCodes: [0, 1, 255] });
    }
    await rm(stateDir, { recursive: true, force: true });
    const left = (await netnsList()).filter((ns) => ns.includes(rand) || ours.some((p) => ns.startsWith(p)));
    assert.deepEqual(left, [], 'no netns of this test is left');
    assert.deepEqual(
      (await linkNames()).filter((l) => l.includes(rand)),
      [],
      'nothing of this test in the machine netns',
    );
  });

  test('a task with overlays on a node without an underlay address is refused and leaves nothing behind', async () => {
    await assert.rejects(providerA.prepareNetwork(idA, overlayTask([onNet(`${TASK_A_IP}/24`)])), /underlay/);
    assert.equal(await netA.attachment(idA), null);
    assert.deepEqual(
      (await linkNames(hosts.a.netns)).filter((l) => l.startsWith('skt') && l !== 'sktgw0'),
      [],
    );
  });

  test('peers given before the first local task are applied when the network is built; tasks on two nodes reach each other', async () => {
    await providerA.setNetworkPeers(NET, [{ ip: TASK_B_IP, nodeAddr: hosts.b.underlay }]);
    await netA.setUnderlayAddress(hosts.a.underlay);
    await netB.setUnderlayAddress(hosts.b.underlay);
    const preparedA = await providerA.prepareNetwork(idA, overlayTask([onNet(`${TASK_A_IP}/24`)]));
    await providerB.prepareNetwork(idB, overlayTask([onNet(`${TASK_B_IP}/24`)]));
    await providerB.setNetworkPeers(NET, [
      { ip: TASK_A_IP, nodeAddr: hosts.a.underlay },
      { ip: TASK_B_IP, nodeAddr: hosts.b.underlay }, // itself: left out
    ]);
    // docker inspect's NetworkSettings.Networks: the gateway network and each overlay by its name.
    assert.deepEqual(Object.keys(preparedA.networks ?? {}), ['docker_gwbridge', 'backend']);
    assert.deepEqual(preparedA.networks?.backend, {
      IPAddress: TASK_A_IP,
      IPPrefixLen: 24,
      MacAddress: '02:42:0a:00:01:02',
      NetworkID: NET,
    });

    const nsA = await taskNetns(netA, idA);
    const eth1 = await ipJson(['-d', 'addr', 'show', 'dev', 'eth1'], nsA);
    assert.ok(Array.isArray(eth1));
    assert.equal(eth1[0].mtu, 1450);
    assert.equal(eth1[0].address, '02:42:0a:00:01:02');
    assert.deepEqual(
      eth1[0].addr_info
        .filter((x: { family: string }) => x.family === 'inet')
        .map((x: { local: string }) => x.local),
      [TASK_A_IP],
    );
    const routes = await ipJson(['route', 'show', 'default'], nsA);
    assert.ok(Array.isArray(routes));
    assert.deepEqual(
      routes.map((r: { dev: string }) => r.dev),
      ['eth0'],
      'egress stays on eth0',
    );

    assert.ok(await pings(nsA, TASK_B_IP, 3), 'A reaches B');
    assert.ok(await pings(await taskNetns(netB, idB), TASK_A_IP, 3), 'B reaches A');
  });

  test('the devices are as planned (ensuring again plans nothing) and the VXLAN device holds exactly the peers', async () => {
    const { port, vxlan } = devA();
    const observed = await observeOverlay(devA(), hosts.a.netns);
    const specA: OverlaySpec = {
      vni: 4097,
      mtu: 1450,
      port,
      vxlan,
      alias: overlayAlias(ownerTag(join(stateDir, 'a')), NET),
      portMac: '02:42:0a:00:01:01',
      underlay: hosts.a.underlay,
    };
    assert.deepEqual(planOverlayNetwork(observed, specA), { lines: [], vxlanCreated: false });
    // The task's interface is a bridge-mode macvlan on the VXLAN device.
    const eth1 = await ipJson(['-d', 'link', 'show', 'dev', 'eth1'], await taskNetns(netA, idA));
    assert.ok(Array.isArray(eth1));
    assert.equal(eth1[0].linkinfo?.info_kind, 'macvlan');
    assert.equal(eth1[0].linkinfo?.info_data?.mode, 'bridge');
    const table = await observePeerTable(vxlan, hosts.a.netns);
    assert.deepEqual([...(table?.fdb ?? [])], [['02:42:0a:00:01:03', hosts.b.underlay]]);
    assert.deepEqual([...(table?.neigh ?? [])], [[TASK_B_IP, '02:42:0a:00:01:03']]);
    const tableB = await observePeerTable(devB().vxlan, hosts.b.netns);
    assert.deepEqual([...(tableB?.fdb ?? [])], [['02:42:0a:00:01:02', hosts.a.underlay]]);
  });

  test('a peer removed from the set is unreachable at once; given back, it is reachable again', async () => {
    const nsA = await taskNetns(netA, idA);
    await providerA.setNetworkPeers(NET, []);
    assert.equal(await pings(nsA, TASK_B_IP), false);
    const table = await observePeerTable(devA().vxlan, hosts.a.netns);
    assert.equal(table?.fdb.size, 0);
    assert.equal(table?.neigh.size, 0);
    await providerA.setNetworkPeers(NET, [{ ip: TASK_B_IP, nodeAddr: hosts.b.underlay }]);
    assert.ok(await pings(nsA, TASK_B_IP, 3));
  });

  test('a restarted node reads the programmed entries back from the kernel: it keeps the task reachable and can still remove them', async () => {
    const restarted = new NodeNetwork({ stateDir: join(stateDir, 'a'), hostNetns: hosts.a.netns });
    nets.push(restarted);
    assert.equal((await restarted.attachment(idA))?.overlays?.[0]?.ip, TASK_A_IP);
    await restarted.setUnderlayAddress(hosts.a.underlay);
    const nsA = await taskNetns(restarted, idA);
    await restarted.setNetworkPeers(NET, [
      { ip: TASK_B_IP, nodeAddr: hosts.b.underlay },
      { ip: '10.0.1.9', nodeAddr: '10.214.0.9' },
    ]);
    assert.equal((await observePeerTable(devA().vxlan, hosts.a.netns))?.fdb.size, 2);
    assert.ok(await pings(nsA, TASK_B_IP, 3));
    // Entries the previous instance made go too: the new one read them back from the kernel.
    await restarted.setNetworkPeers(NET, []);
    assert.equal((await observePeerTable(devA().vxlan, hosts.a.netns))?.fdb.size, 0);
    assert.equal(await pings(nsA, TASK_B_IP), false);
    await restarted.setNetworkPeers(NET, [{ ip: TASK_B_IP, nodeAddr: hosts.b.underlay }]);
    assert.ok(await pings(nsA, TASK_B_IP, 3));
  });

  test("a new underlay address rebuilds the VXLAN device and makes the surviving task's interface again", async () => {
    const moved = '10.214.0.11';
    await run('ip', ['-n', hosts.a.netns, 'addr', 'add', `${moved}/24`, 'dev', 'eth0']);
    try {
      await netA.setUnderlayAddress(moved);
      await providerB.setNetworkPeers(NET, [{ ip: TASK_A_IP, nodeAddr: moved }]);
      const nsA = await taskNetns(netA, idA);
      const eth1 = await ipJson(['-4', 'addr', 'show', 'dev', 'eth1'], nsA);
      assert.ok(Array.isArray(eth1) && eth1.length === 1, 'eth1 is there again');
      assert.ok(await pings(nsA, TASK_B_IP, 3), 'A reaches B from its new address');
    } finally {
      await netA.setUnderlayAddress(hosts.a.underlay);
      await providerB.setNetworkPeers(NET, [{ ip: TASK_A_IP, nodeAddr: hosts.a.underlay }]);
      await run('ip', ['-n', hosts.a.netns, 'addr', 'del', `${moved}/24`, 'dev', 'eth0']);
    }
    assert.ok(await pings(await taskNetns(netA, idA), TASK_B_IP, 3));
  });

  test("crash cleanup removes the overlays no surviving task needs, and nothing of another owner's", async () => {
    const idC = newId();
    const c = await providerB.prepareNetwork(idC, overlayTask([onNet2('10.0.2.5/24'), onNet('10.0.1.5/24')]));
    assert.deepEqual(Object.keys(c.networks ?? {}).sort(), ['backend', 'docker_gwbridge', 'frontend']);
    const cAttachment = await netB.attachment(idC);
    assert.deepEqual(
      cAttachment?.overlays?.map((e) => `${e.ifname}:${e.networkName}`),
      ['eth1:frontend', 'eth2:backend'],
    );
    const net2 = overlayLinkNames(ownerTag(join(stateDir, 'b')), NET2);
    const foreign = overlayLinkNames(ownerTag(join(stateDir, 'elsewhere')), NET2);
    await run('ip', ['-n', hosts.b.netns, '-batch', '-'], {
      input: `link add ${foreign.port} type bridge\nlink set dev ${foreign.port} alias ${overlayAlias('ffffff', NET2)}\n`,
    });
    assert.ok((await linkNames(hosts.b.netns)).includes(net2.vxlan));

    // swarmd on B is kill -9'ed; the new one keeps only task B.
    const restarted = new NodeNetwork({ stateDir: join(stateDir, 'b'), hostNetns: hosts.b.netns });
    nets.push(restarted);
    await restarted.cleanupLeftovers({ keep: new Set([idB]) });
    const links = await linkNames(hosts.b.netns);
    assert.ok(!links.includes(net2.port) && !links.includes(net2.vxlan), 'the unused network is gone');
    assert.ok(links.includes(devB().port) && links.includes(devB().vxlan), "B's network stays");
    assert.ok(links.includes(foreign.port), "another owner's device is left alone");
    assert.ok(!existsSync(netnsPath(cAttachment?.netns ?? 'x')));
    assert.equal(await restarted.attachment(idC), null);
    assert.ok(await pings(await taskNetns(netA, idA), TASK_B_IP, 3), 'the kept task is still reachable');
    await run('ip', ['-n', hosts.b.netns, 'link', 'del', foreign.port]);
  });

  test("the last local task leaving takes the VXLAN device and the node's port with it", async () => {
    await providerA.releaseNetwork(idA);
    await providerB.releaseNetwork(idB);
    for (const [h, dev] of [
      [hosts.a, devA()],
      [hosts.b, devB()],
    ] as const) {
      const links = await linkNames(h.netns);
      assert.ok(!links.includes(dev.port) && !links.includes(dev.vxlan), `${h.netns}: ${links.join(' ')}`);
      assert.deepEqual(
        links.filter((l) => l !== 'lo' && l !== 'eth0' && l !== 'sktgw0'),
        [],
      );
    }
    assert.equal(await netA.attachment(idA), null);
  });
});
