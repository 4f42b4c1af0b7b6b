// The node datapath against the real kernel, inside a private "host" netns made by this test (plus a
// "client" netns standing for the outside world), with busybox httpd in container netns as backends.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { newId } from '../../src/api/ids.js';
import { run } from '../../src/lib/exec.js';
import { observeLink, planGatewayBridge } from '../../src/network/gateway.js';
import { containerNetnsName, hostVethName, ownerTag } from '../../src/network/names.js';
import { type ContainerAttachment, NodeNetwork } from '../../src/network/node-network.js';

const rand = randomBytes(3).toString('hex');
const hostNs = `skt-test-host-${rand}`;
const clientNs = `skt-test-cli-${rand}`;
const uplink = `sktup${rand}`;
const HOST_UPLINK_IP = '10.213.0.1';
const CLIENT_IP = '10.213.0.2';

const servers: { child: ChildProcess; exited: Promise<unknown> }[] = [];
let stateDir = '';
let net: NodeNetwork;

/** busybox httpd serving `name` at / and the caller's address at /cgi-bin/ip. */
async function startHttpd(netns: string, name: string, listen = '80'): Promise<void> {
  const dir = join(stateDir, 'www', `${name}-${listen.replace(/\W/g, '_')}`);
  await mkdir(join(dir, 'cgi-bin'), { recursive: true });
  await writeFile(join(dir, 'index.html'), `${name}\n`);
  const cgi = join(dir, 'cgi-bin', 'ip');
  await writeFile(cgi, '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n%s\\n" "$REMOTE_ADDR"\n');
  await chmod(cgi, 0o755);
  const child = spawn('ip', ['netns', 'exec', netns, 'busybox', 'httpd', '-f', '-p', listen, '-h', dir], {
    stdio: 'ignore',
  });
  servers.push({ child, exited: new Promise((r) => child.once('exit', r)) });
  const url = `http://${listen.includes(':') ? listen : `127.0.0.1:${listen}`}/`;
  for (let i = 0; i < 40; i++) {
    if ((await wget(netns, url)) === name) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`httpd ${name} in ${netns} did not come up`);
}

/** The body fetched from inside `netns`, trimmed, or null when the request failed. */
async function wget(netns: string, url: string): Promise<string | null> {
  const r = await run('ip', ['netns', 'exec', netns, 'timeout', '5', 'busybox', 'wget', '-q', '-O-', url], {
    okCodes: [0, 1, 124, 143],
  });
  return r.code === 0 ? r.stdout.trim() : null;
}

async function tally(netns: string, url: string, n: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const body = (await wget(netns, url)) ?? 'FAILED';
    counts.set(body, (counts.get(body) ?? 0) + 1);
  }
  return counts;
}

/** busybox reports IPv4 peers as [::ffff:a.b.c.d]. */
function peer(body: string | null): string | null {
  return body?.replace(/^\[::ffff:(.*)\]$/, '$1') ?? null;
}

async function linkExists(name: string): Promise<boolean> {
  return (await observeLink(name, hostNs)) !== null;
}

async function nftTables(netns: string): Promise<string> {
  return (await run('ip', ['netns', 'exec', netns, 'nft', 'list', 'tables'])).stdout;
}

describe('node datapath in a private host netns', { timeout: 120_000 }, () => {
  let a: ContainerAttachment;
  let b: ContainerAttachment;
  const idA = newId();
  const idB = newId();

  before(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'skt-test-net-'));
    await run('ip', ['netns', 'add', hostNs]);
    await run('ip', ['netns', 'add', clientNs]);
    await run('ip', ['-n', hostNs, '-batch', '-'], {
      input: [
        'link set dev lo up',
        `link add ${uplink} type veth peer name eth0 netns ${clientNs}`,
        `addr add ${HOST_UPLINK_IP}/24 dev ${uplink}`,
        `link set dev ${uplink} up`,
        '',
      ].join('\n'),
    });
    await run('ip', ['-n', clientNs, '-batch', '-'], {
      input: ['link set dev lo up', `addr add ${CLIENT_IP}/24 dev eth0`, 'link set dev eth0 up', ''].join(
        '\n',
      ),
    });
    net = new NodeNetwork({
      stateDir: join(stateDir, 'network'),
      hostNetns: hostNs,
      subnet: '172.31.0.0/16',
    });
  });

  after(async () => {
    for (const s of servers) s.child.kill('SIGKILL');
    await Promise.all(servers.map((s) => s.exited));
    await net?.cleanupLeftovers({ keep: new Set(), full: true }).catch(() => undefined);
    await run('ip', ['netns', 'del', clientNs], { okCodes: [0, 1, 255] });
    await run('ip', ['netns', 'del', hostNs], { okCodes: [0, 1, 255] });
    await rm(stateDir, { recursive: true, force: true });
  });

  test('the gateway bridge gets its address, forwarding and egress NAT, and ensuring it again changes nothing', async () => {
    await net.ensureGatewayBridge();
    const link = await observeLink('sktgw0', hostNs);
    assert.ok(link?.flags.includes('UP'));
    assert.equal(link?.address, '02:42:ac:1f:00:01');
    assert.deepEqual(
      link?.addr_info.filter((x) => x.family === 'inet').map((x) => `${x.local}/${x.prefixlen}`),
      ['172.31.0.1/16'],
    );
    const sysctl = await run('ip', ['netns', 'exec', hostNs, 'cat', '/proc/sys/net/ipv4/ip_forward']);
    assert.equal(sysctl.stdout.trim(), '1');
    const nat = await run('ip', ['netns', 'exec', hostNs, 'nft', 'list', 'table', 'ip', 'skt_nat']);
    assert.match(nat.stdout, /ip saddr 172\.31\.0\.0\/16 oifname != "sktgw0" masquerade/);

    await net.ensureGatewayBridge();
    assert.deepEqual(
      planGatewayBridge(await observeLink('sktgw0', hostNs), { bridge: 'sktgw0', subnet: net.subnet }),
      [],
    );
    assert.equal((await nftTables(hostNs)).match(/table ip skt_nat/g)?.length, 1);
  });

  test('attached containers get distinct addresses and their files, reach each other, the gateway and outside via NAT', async () => {
    let t0 = performance.now();
    a = await net.attachContainer({ containerId: idA, hostname: 'taska', extraHosts: ['10.9.9.9 db'] });
    const attachA = performance.now() - t0;
    t0 = performance.now();
    b = await net.attachContainer({ containerId: idB, hostname: 'taskb' });
    const attachB = performance.now() - t0;
    console.log(
      `attach latency: first ${attachA.toFixed(1)} ms, second ${attachB.toFixed(1)} ms (target <= 30 ms)`,
    );

    assert.notEqual(a.ip, b.ip);
    assert.equal(a.gateway, '172.31.0.1');
    assert.ok(existsSync(a.netnsPath));
    const hosts = await readFile(a.hostsFile, 'utf8');
    assert.match(hosts, /^127\.0\.0\.1\tlocalhost$/m);
    assert.match(hosts, /^10\.9\.9\.9\tdb$/m);
    assert.ok(hosts.trimEnd().endsWith(`${a.ip}\ttaska`));
    assert.match(await readFile(a.resolvConfFile, 'utf8'), /^nameserver /m);
    assert.equal(await readFile(a.hostnameFile, 'utf8'), 'taska\n');

    await startHttpd(a.netns, 'A');
    await startHttpd(b.netns, 'B');
    assert.equal(await wget(a.netns, `http://${b.ip}/`), 'B');
    assert.equal(await wget(b.netns, `http://${a.ip}/`), 'A');
    await run('ip', ['netns', 'exec', a.netns, 'busybox', 'ping', '-c', '1', '-W', '2', a.gateway]);

    // The client netns has no route back to 172.31/16: only a masqueraded request gets an answer.
    await startHttpd(clientNs, 'outside');
    assert.equal(peer(await wget(a.netns, `http://${CLIENT_IP}/cgi-bin/ip`)), HOST_UPLINK_IP);
  });

  test('an ingress port spreads connections over both backends, from the node itself and from outside', async () => {
    await net.applyPortRules({
      ingress: [
        {
          protocol: 'tcp',
          publishedPort: 8080,
          backends: [
            { ip: a.ip, port: 80 },
            { ip: b.ip, port: 80 },
          ],
        },
      ],
    });
    for (const [from, url] of [
      [hostNs, 'http://127.0.0.1:8080/'],
      [hostNs, `http://${HOST_UPLINK_IP}:8080/`],
      [clientNs, `http://${HOST_UPLINK_IP}:8080/`],
      [a.netns, `http://${a.gateway}:8080/`], // a task reaching its own service: hairpin
    ] as const) {
      const counts = await tally(from, url, 20);
      assert.deepEqual(
        [...counts.keys()].sort(),
        ['A', 'B'],
        `${from} -> ${url}: ${JSON.stringify([...counts])}`,
      );
    }
    // Mesh connections are masqueraded: the backend sees the node, so replies come back through it.
    assert.equal(peer(await wget(clientNs, `http://${HOST_UPLINK_IP}:8080/cgi-bin/ip`)), a.gateway);
  });

  test('replacing the backends sends every new connection to the remaining one', async () => {
    await net.applyPortRules({
      ingress: [{ protocol: 'tcp', publishedPort: 8080, backends: [{ ip: b.ip, port: 80 }] }],
    });
    assert.deepEqual([...(await tally(clientNs, `http://${HOST_UPLINK_IP}:8080/`, 10))], [['B', 10]]);
    assert.deepEqual([...(await tally(hostNs, 'http://127.0.0.1:8080/', 10))], [['B', 10]]);
    const table = await run('ip', ['netns', 'exec', hostNs, 'nft', 'list', 'table', 'ip', 'skt_ports']);
    assert.doesNotMatch(table.stdout, new RegExp(a.ip.replaceAll('.', '\\.')));
  });

  test('a host-mode port reaches the local task only and keeps the client address; an unpublished port is refused', async () => {
    await net.applyPortRules({
      host: [{ protocol: 'tcp', publishedPort: 9090, backend: { ip: a.ip, port: 80 } }],
    });
    assert.deepEqual([...(await tally(clientNs, `http://${HOST_UPLINK_IP}:9090/`, 6))], [['A', 6]]);
    assert.equal(await wget(hostNs, 'http://127.0.0.1:9090/'), 'A');
    assert.equal(peer(await wget(clientNs, `http://${HOST_UPLINK_IP}:9090/cgi-bin/ip`)), CLIENT_IP);
    assert.equal(await wget(clientNs, `http://${HOST_UPLINK_IP}:8080/`), null);
  });

  test('the allocation survives a restart: a new instance on the same state dir gives a new address', async () => {
    const restarted = new NodeNetwork({
      stateDir: join(stateDir, 'network'),
      hostNetns: hostNs,
      subnet: '172.31.0.0/16',
    });
    assert.deepEqual(await restarted.attachment(idA), a);
    const c = await restarted.attachContainer({ containerId: newId(), hostname: 'taskc' });
    assert.ok(![a.ip, b.ip].includes(c.ip), c.ip);
    assert.deepEqual(await restarted.attachContainer({ containerId: c.containerId, hostname: 'taskc' }), c);
    const renamed = await restarted.attachContainer({ containerId: c.containerId, hostname: 'taskc2' });
    assert.deepEqual({ ...renamed, hostname: 'taskc' }, c, 'same address and netns, new hostname');
    assert.ok((await readFile(renamed.hostsFile, 'utf8')).trimEnd().endsWith(`${c.ip}\ttaskc2`));
    assert.equal((await restarted.attachment(c.containerId))?.hostname, 'taskc2');
    await restarted.detachContainer(c.containerId);
  });

  test('detach removes the veth, the netns and the files and frees the address; detaching again is fine', async () => {
    const timings: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const d = await net.attachContainer({ containerId: newId(), hostname: `lat${i}` });
      const t1 = performance.now();
      await net.detachContainer(d.containerId);
      timings.push(t1 - t0, performance.now() - t1);
      assert.ok(!existsSync(d.netnsPath));
      assert.equal(await linkExists(d.hostVeth), false);
      assert.ok(!existsSync(d.hostsFile));
      assert.equal(await net.attachment(d.containerId), null);
      await net.detachContainer(d.containerId);
    }
    const attach = timings.filter((_, i) => i % 2 === 0).sort((x, y) => x - y);
    const detach = timings.filter((_, i) => i % 2 === 1).sort((x, y) => x - y);
    console.log(
      `attach median ${attach[2]?.toFixed(1)} ms (max ${attach[4]?.toFixed(1)}), detach median ${detach[2]?.toFixed(1)} ms over 5`,
    );
  });

  test('concurrent attaches get distinct addresses and all work', async () => {
    const ids = [newId(), newId(), newId(), newId()];
    const attached = await Promise.all(
      ids.map((id, i) => net.attachContainer({ containerId: id, hostname: `par${i}` })),
    );
    try {
      assert.equal(new Set(attached.map((x) => x.ip)).size, ids.length);
      for (const x of attached) {
        await run('ip', ['netns', 'exec', x.netns, 'busybox', 'ping', '-c', '1', '-W', '2', x.gateway]);
      }
    } finally {
      await Promise.all(ids.map((id) => net.detachContainer(id)));
    }
    for (const x of attached) assert.equal(await net.attachment(x.containerId), null);
  });

  test('cleanupLeftovers removes leaked netns, veths and records but keeps the given containers and other owners', async () => {
    const tag = ownerTag(join(stateDir, 'network'));
    const leakedNetns = containerNetnsName(tag, 'leakednetns1');
    const leakedVeth = hostVethName(tag, 'leakedveth1');
    const otherOwnerNetns = containerNetnsName(ownerTag(join(stateDir, 'elsewhere')), 'theirs');
    await run('ip', ['netns', 'add', leakedNetns]);
    await run('ip', ['netns', 'add', otherOwnerNetns]);
    try {
      await run('ip', ['-n', hostNs, '-batch', '-'], {
        input: `link add ${leakedVeth} type veth peer name sktlk${rand}\nlink set dev ${leakedVeth} master sktgw0\n`,
      });
      const recorded = await net.attachContainer({ containerId: newId(), hostname: 'crashed' });

      const report = await net.cleanupLeftovers({ keep: new Set([idA, idB]) });
      assert.deepEqual(report.released, [recorded.containerId]);
      assert.deepEqual(report.netns.sort(), [leakedNetns, recorded.netns].sort());
      assert.deepEqual(report.hostVeths.sort(), [leakedVeth, recorded.hostVeth].sort());
      assert.ok(!existsSync(`/run/netns/${leakedNetns}`));
      assert.ok(existsSync(`/run/netns/${otherOwnerNetns}`), "another owner's netns is left alone");
      assert.equal(await linkExists(leakedVeth), false);
      assert.equal(await net.attachment(recorded.containerId), null);
      assert.equal(await wget(a.netns, `http://${b.ip}/`), 'B', 'kept containers still work');
    } finally {
      await run('ip', ['netns', 'del', otherOwnerNetns], { okCodes: [0, 1, 255] });
      await run('ip', ['netns', 'del', leakedNetns], { okCodes: [0, 1, 255] });
    }
  });

  test('full teardown removes containers, the port and NAT tables and the bridge', async () => {
    for (const s of servers) s.child.kill('SIGKILL');
    await Promise.all(servers.map((s) => s.exited));
    await net.cleanupLeftovers({ keep: new Set(), full: true });
    assert.ok(!existsSync(a.netnsPath) && !existsSync(b.netnsPath));
    assert.doesNotMatch(await nftTables(hostNs), /skt_/);
    assert.equal(await linkExists('sktgw0'), false);
    assert.equal(await net.attachment(idA), null);
  });
});
