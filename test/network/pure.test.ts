// Specifications of the network module's pure decisions: addressing, IPAM, file rendering,
// gateway planning, published-port rules and leftover cleanup. No kernel involved.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { SwarmError } from '../../src/api/errors.js';
import { planLeftovers } from '../../src/network/cleanup.js';
import { renderHostsFile, renderResolvConf } from '../../src/network/container-files.js';
import { planGatewayBridge, renderNatTable } from '../../src/network/gateway.js';
import { emptyIpamState, loadIpamState, nextFreeAddress, saveIpamState } from '../../src/network/ipam.js';
import { intToIp, ipToInt, macForIp, parseSubnet, subnetContains } from '../../src/network/ipv4.js';
import { containerNetnsName, hostVethName, isHostVethName } from '../../src/network/names.js';
import { renderContainerSideBatch, renderHostSideBatch } from '../../src/network/node-network.js';
import { renderPortRules } from '../../src/network/ports.js';

test('a subnet is canonicalised and its gateway is the first host address', () => {
  const s = parseSubnet('172.31.5.9/16');
  assert.equal(s.cidr, '172.31.0.0/16');
  assert.equal(intToIp(s.gateway), '172.31.0.1');
  assert.equal(intToIp(s.broadcast), '172.31.255.255');
  assert.throws(() => parseSubnet('10.0.0.0/31'), SwarmError);
  assert.throws(() => parseSubnet('10.0.0/24'), SwarmError);
  assert.throws(() => parseSubnet('300.0.0.0/24'), SwarmError);
});

test('MACs follow Docker: 02:42 and the four address bytes', () => {
  assert.equal(macForIp('172.31.0.1'), '02:42:ac:1f:00:01');
  assert.equal(macForIp('10.255.1.3'), '02:42:0a:ff:01:03');
});

test('the allocator never hands out a held, network, gateway or broadcast address, and says when full', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 24, max: 30 }),
      fc.array(fc.nat(255), { maxLength: 300 }),
      fc.option(fc.nat(255), { nil: undefined }),
      (prefix, heldOffsets, afterOffset) => {
        const subnet = parseSubnet(`10.1.2.0/${prefix}`);
        const size = subnet.broadcast - subnet.network + 1;
        const used = new Set(heldOffsets.map((o) => intToIp(subnet.network + (o % size))));
        const after = afterOffset === undefined ? undefined : intToIp(subnet.network + (afterOffset % size));
        const ip = nextFreeAddress(subnet, used, after);
        const hosts = [];
        for (let n = subnet.gateway + 1; n < subnet.broadcast; n++) hosts.push(intToIp(n));
        const free = hosts.filter((h) => !used.has(h));
        if (free.length === 0) return ip === null;
        return ip !== null && free.includes(ip) && subnetContains(subnet, ip);
      },
    ),
  );
});

test('the allocator moves on after the last address it gave, wrapping around at the end', () => {
  const subnet = parseSubnet('10.0.0.0/29'); // hosts .2 .. .6 (gateway .1)
  assert.equal(nextFreeAddress(subnet, new Set()), '10.0.0.2');
  assert.equal(nextFreeAddress(subnet, new Set(), '10.0.0.4'), '10.0.0.5');
  assert.equal(nextFreeAddress(subnet, new Set(), '10.0.0.6'), '10.0.0.2');
  assert.equal(nextFreeAddress(subnet, new Set(['10.0.0.5', '10.0.0.6']), '10.0.0.4'), '10.0.0.2');
  assert.equal(ipToInt('10.0.0.2') - ipToInt('10.0.0.0'), 2);
});

test('the allocation file round-trips, and a subnet change is refused while containers hold addresses', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'skt-test-ipam-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'ipam.json');
  const subnet = parseSubnet('172.31.0.0/16');
  assert.deepEqual(await loadIpamState(file, subnet), emptyIpamState(subnet));
  const state = {
    ...emptyIpamState(subnet),
    last: '172.31.0.2',
    attachments: { c1: { ip: '172.31.0.2', netns: 'skt-x-c1', hostVeth: 'skt00000000', hostname: 'c1' } },
  };
  await saveIpamState(file, state);
  assert.deepEqual(await loadIpamState(file, subnet), state);
  await assert.rejects(loadIpamState(file, parseSubnet('10.9.0.0/16')), /subnet changed/);
  await writeFile(file, '{"version": 1}');
  await assert.rejects(loadIpamState(file, subnet), /corrupt IPAM state/);
});

test('names are derived from the owner tag and the container ID and fit Linux limits', () => {
  const veth = hostVethName('abc123', 'k7p3ryzm0q8w6v1x2c4b5n9ld');
  assert.ok(isHostVethName(veth) && veth.length <= 15, veth);
  assert.notEqual(veth, hostVethName('def456', 'k7p3ryzm0q8w6v1x2c4b5n9ld'));
  assert.equal(containerNetnsName('abc123', 'K7p3ryzm0q8w6v1x2c4b5n9ld'), 'skt-abc123-k7p3ryzm0q8w');
  assert.ok(!isHostVethName('sktgw0'));
});

test('the hosts file has localhost, the extra hosts and the container itself; bad extra hosts are refused', () => {
  const text = renderHostsFile('172.31.0.5', 'web1', ['10.0.0.9 db db.local']);
  const lines = text.trim().split('\n');
  assert.equal(lines[0], '127.0.0.1\tlocalhost');
  assert.ok(lines.includes('10.0.0.9\tdb db.local'));
  assert.equal(lines.at(-1), '172.31.0.5\tweb1');
  assert.throws(() => renderHostsFile('172.31.0.5', 'web1', ['db:10.0.0.9']), /invalid extra host/);
});

test('resolv.conf drops loopback and IPv6 resolvers, falls back to public ones, and honours DNS settings', () => {
  const host = '# generated\nnameserver 127.0.0.53\nnameserver ::1\nsearch corp.example\noptions edns0\n';
  assert.equal(
    renderResolvConf(host),
    'search corp.example\nnameserver 8.8.8.8\nnameserver 8.8.4.4\noptions edns0\n',
  );
  assert.equal(
    renderResolvConf('nameserver 10.255.255.53\nnameserver fd00::1\n'),
    'nameserver 10.255.255.53\n',
  );
  assert.equal(
    renderResolvConf(host, { nameservers: ['1.1.1.1'], search: [], options: ['ndots:0'] }),
    'nameserver 1.1.1.1\noptions ndots:0\n',
  );
});

test('the gateway plan creates a missing bridge fully and is empty for a correct one', () => {
  const spec = { bridge: 'sktgw0', subnet: parseSubnet('172.31.0.0/16') };
  assert.deepEqual(planGatewayBridge(null, spec), [
    'link add sktgw0 type bridge',
    'link set dev sktgw0 address 02:42:ac:1f:00:01',
    'addr add 172.31.0.1/16 dev sktgw0',
    'link set dev sktgw0 up',
  ]);
  const good = {
    ifname: 'sktgw0',
    flags: ['BROADCAST', 'UP'],
    address: '02:42:ac:1f:00:01',
    linkinfo: { info_kind: 'bridge' },
    addr_info: [{ family: 'inet', local: '172.31.0.1', prefixlen: 16 }],
  };
  assert.deepEqual(planGatewayBridge(good, spec), []);
  const moved = { ...good, addr_info: [{ family: 'inet', local: '10.1.0.1', prefixlen: 24 }] };
  assert.deepEqual(planGatewayBridge(moved, spec), [
    'addr del 10.1.0.1/24 dev sktgw0',
    'addr add 172.31.0.1/16 dev sktgw0',
  ]);
  assert.throws(() => planGatewayBridge({ ...good, linkinfo: { info_kind: 'veth' } }, spec), /not a bridge/);
});

test('egress NAT masquerades the subnet leaving by any interface but the bridge, replacing the table', () => {
  const script = renderNatTable({ bridge: 'sktgw0', subnet: parseSubnet('172.31.0.0/16') });
  assert.match(script, /^table ip skt_nat\ndelete table ip skt_nat\ntable ip skt_nat \{/);
  assert.match(script, /ip saddr 172\.31\.0\.0\/16 oifname != "sktgw0" masquerade/);
});

test('attach batches create eth0 directly in the netns, with hairpin, address and default route', () => {
  assert.deepEqual(
    renderHostSideBatch({
      netns: 'skt-t-c1',
      hostVeth: 'skt0011aabb',
      mac: '02:42:ac:1f:00:02',
      bridge: 'sktgw0',
    }),
    [
      'link add skt0011aabb type veth peer name eth0 address 02:42:ac:1f:00:02 netns skt-t-c1',
      'link set dev skt0011aabb master sktgw0',
      'link set dev skt0011aabb type bridge_slave hairpin on',
      'link set dev skt0011aabb up',
    ],
  );
  assert.deepEqual(renderContainerSideBatch({ ip: '172.31.0.2', prefixLength: 16, gateway: '172.31.0.1' }), [
    'link set dev lo up',
    'addr add 172.31.0.2/16 dev eth0',
    'link set dev eth0 up',
    'route add default via 172.31.0.1 dev eth0',
  ]);
});

test('port rules: one chain per published port, numgen over several backends, plain DNAT for one', () => {
  const script = renderPortRules({
    ingress: [
      {
        protocol: 'tcp',
        publishedPort: 8080,
        backends: [
          { ip: '172.31.0.2', port: 80 },
          { ip: '10.255.0.7', port: 80 },
        ],
      },
      { protocol: 'udp', publishedPort: 5353, backends: [{ ip: '172.31.0.3', port: 53 }] },
      { protocol: 'tcp', publishedPort: 8081, backends: [] },
    ],
    host: [{ protocol: 'tcp', publishedPort: 9090, backend: { ip: '172.31.0.2', port: 80 } }],
  });
  assert.match(script, /^table ip skt_ports\ndelete table ip skt_ports\ntable ip skt_ports \{/);
  assert.match(
    script,
    /chain ingress_tcp_8080 \{\n {4}meta l4proto tcp dnat ip to numgen inc mod 2 map \{ 0 : 172\.31\.0\.2 \. 80, 1 : 10\.255\.0\.7 \. 80 \}/,
  );
  assert.match(script, /meta l4proto udp dnat ip to 172\.31\.0\.3:53/);
  assert.match(script, /chain host_tcp_9090 \{\n {4}meta l4proto tcp dnat ip to 172\.31\.0\.2:80/);
  assert.match(
    script,
    /elements = \{ tcp \. 8080 : jump ingress_tcp_8080, udp \. 5353 : jump ingress_udp_5353, tcp \. 9090 : jump host_tcp_9090 \}/,
  );
  assert.doesNotMatch(script, /8081 : jump/, 'a port without backends is not forwarded');
  assert.match(script, /set ingress_tcp \{\n {4}type inet_service\n {4}elements = \{ 8080, 8081 \}/);
});

test('port rules refuse a port published twice and malformed backends', () => {
  const b = { ip: '172.31.0.2', port: 80 };
  assert.throws(
    () =>
      renderPortRules({
        ingress: [{ protocol: 'tcp', publishedPort: 80, backends: [b] }],
        host: [{ protocol: 'tcp', publishedPort: 80, backend: b }],
      }),
    /published twice/,
  );
  assert.throws(
    () => renderPortRules({ host: [{ protocol: 'tcp', publishedPort: 0, backend: b }] }),
    SwarmError,
  );
  assert.throws(
    () => renderPortRules({ host: [{ protocol: 'tcp', publishedPort: 80, backend: { ip: 'x', port: 80 } }] }),
    /IPv4/,
  );
  assert.doesNotThrow(() => renderPortRules({}));
});

test('cleanup planning removes only our unkept objects', () => {
  const tag = 'a1b2c3';
  const keepId = 'keepme';
  const goneId = 'goneaway';
  const records = {
    [keepId]: {
      ip: '172.31.0.2',
      netns: containerNetnsName(tag, keepId),
      hostVeth: hostVethName(tag, keepId),
      hostname: 'k',
    },
    [goneId]: {
      ip: '172.31.0.3',
      netns: containerNetnsName(tag, goneId),
      hostVeth: hostVethName(tag, goneId),
      hostname: 'g',
    },
  };
  const plan = planLeftovers(
    tag,
    'sktgw0',
    records,
    {
      netns: [
        containerNetnsName(tag, keepId),
        containerNetnsName(tag, goneId),
        'skt-ffffff-other',
        'unrelated',
      ],
      hostVeths: [
        { name: hostVethName(tag, keepId), master: 'sktgw0' },
        { name: hostVethName(tag, goneId), master: 'sktgw0' },
        { name: 'skt0badf00d', master: null },
        { name: 'skt12345678', master: 'otherbr' },
        { name: 'veth1234', master: 'sktgw0' },
      ],
      fileDirs: [keepId, goneId],
    },
    new Set([keepId]),
  );
  assert.deepEqual(plan, {
    release: [goneId],
    netns: [containerNetnsName(tag, goneId)],
    hostVeths: [hostVethName(tag, goneId), 'skt0badf00d'],
    fileDirs: [goneId],
  });
});
