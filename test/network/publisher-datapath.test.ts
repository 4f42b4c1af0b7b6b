// The executor's network seam (NetworkProviderImpl) and the port publisher against the real kernel,
// inside a private "host" netns made by this test, with busybox httpd in the container netns as tasks.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { newId } from '../../src/api/ids.js';
import type { Task } from '../../src/api/types.js';
import type { PreparedNetwork } from '../../src/executor/types.js';
import { run } from '../../src/lib/exec.js';
import { NodeNetwork } from '../../src/network/node-network.js';
import { GATEWAY_NETWORK_NAME, NetworkProviderImpl } from '../../src/network/provider.js';
import type { TaskAddress } from '../../src/network/publish.js';
import { addressTasks, PortPublisher } from '../../src/network/publisher.js';
import { ingressPort, service, task } from './fixtures.js';

const rand = randomBytes(3).toString('hex');
const hostNs = `skt-test-pub-${rand}`;
const URL = 'http://127.0.0.1:8080/';

interface Server {
  child: ChildProcess;
  exited: Promise<unknown>;
}
const children: Server[] = [];
let stateDir = '';
let net: NodeNetwork;
let provider: NetworkProviderImpl;
let publisher: PortPublisher;

function spawnTracked(args: string[]): Server & { stdout: string[] } {
  const child = spawn('ip', args, { stdio: ['ignore', 'pipe', 'ignore'] });
  const stdout: string[] = [];
  let partial = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    stdout.push(...lines);
  });
  const server = { child, exited: new Promise((r) => child.once('exit', r)), stdout };
  children.push(server);
  return server;
}

async function stop(server: Server): Promise<void> {
  server.child.kill('SIGKILL');
  await server.exited;
}

/** The body fetched from inside `netns`, trimmed, or null when the request failed. */
async function wget(netns: string, url: string): Promise<string | null> {
  const r = await run('ip', ['netns', 'exec', netns, 'timeout', '5', 'busybox', 'wget', '-q', '-O-', url], {
    okCodes: [0, 1, 124, 143],
  });
  return r.code === 0 ? r.stdout.trim() : null;
}

async function tally(n: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const body = (await wget(hostNs, URL)) ?? 'FAILED';
    counts.set(body, (counts.get(body) ?? 0) + 1);
  }
  return counts;
}

/** A "container": its network from the provider and busybox httpd serving `name` on port 80. */
async function startContainer(name: string): Promise<{ id: string; net: PreparedNetwork; httpd: Server }> {
  const id = newId();
  const prepared = await provider.prepareNetwork(id);
  const netns = basename(prepared.netnsPath ?? '');
  const dir = join(stateDir, 'www', name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'index.html'), `${name}\n`);
  const httpd = spawnTracked(['netns', 'exec', netns, 'busybox', 'httpd', '-f', '-p', '80', '-h', dir]);
  for (let i = 0; i < 40; i++) {
    if ((await wget(netns, 'http://127.0.0.1/')) === name) return { id, net: prepared, httpd };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`httpd ${name} did not come up`);
}

async function addressed(t: Task, containerId: string): Promise<TaskAddress> {
  const ip = await provider.addressOf(containerId);
  assert.ok(ip, `container ${containerId} has an address`);
  return { task: t, ip };
}

async function waitFor(cond: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('provider and port publisher in a private host netns', { timeout: 120_000 }, () => {
  const web = service('web', [ingressPort(8080, 80)]);
  let a: Awaited<ReturnType<typeof startContainer>>;
  let b: Awaited<ReturnType<typeof startContainer>>;

  before(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'skt-test-pub-'));
    await run('ip', ['netns', 'add', hostNs]);
    await run('ip', ['-n', hostNs, 'link', 'set', 'dev', 'lo', 'up']);
    net = new NodeNetwork({
      stateDir: join(stateDir, 'network'),
      hostNetns: hostNs,
      subnet: '172.31.0.0/16',
    });
    provider = new NetworkProviderImpl(net);
    publisher = new PortPublisher(net);
  });

  after(async () => {
    await Promise.all(children.map(stop));
    await net?.cleanupLeftovers({ keep: new Set(), full: true }).catch(() => undefined);
    await run('ip', ['netns', 'del', hostNs], { okCodes: [0, 1, 255] });
    await rm(stateDir, { recursive: true, force: true });
  });

  test('prepareNetwork gives a container its netns, files, hostname and address; preparing again changes nothing', async () => {
    a = await startContainer('A');
    const ip = await provider.addressOf(a.id);
    assert.ok(ip);
    assert.ok(existsSync(a.net.netnsPath ?? ''));
    assert.equal(a.net.hostname, a.id.slice(0, 12));
    assert.deepEqual(a.net.networks?.[GATEWAY_NETWORK_NAME]?.IPAddress, ip);
    assert.ok(
      (await readFile(a.net.hostsFile ?? '', 'utf8')).trimEnd().endsWith(`${ip}\t${a.id.slice(0, 12)}`),
    );
    assert.match(await readFile(a.net.resolvConf ?? '', 'utf8'), /^nameserver /m);
    assert.deepEqual(await provider.prepareNetwork(a.id), a.net);
  });

  test('prepare and release of one container take effect in call order, even when issued together', async () => {
    const id = newId();
    const [first, second] = await Promise.all([provider.prepareNetwork(id), provider.prepareNetwork(id)]);
    assert.deepEqual(first, second);
    await Promise.all([
      provider.releaseNetwork(id),
      provider.prepareNetwork(id),
      provider.releaseNetwork(id),
    ]);
    assert.equal(await provider.addressOf(id), undefined);
    assert.ok(!existsSync(first.netnsPath ?? ''));
  });

  test('an ingress port reaches both running tasks from the node', async () => {
    b = await startContainer('B');
    const local = await addressTasks(
      [
        task('tA', 'web', { containerId: a.id }),
        task('tB', 'web', { containerId: b.id }),
        task('tGone', 'web', { containerId: newId() }),
        task('tNew', 'web', { state: 'pending' }),
      ],
      (id) => provider.addressOf(id),
    );
    assert.deepEqual(
      local.map((t) => t.task.ID),
      ['tA', 'tB'],
      'tasks without an attached container are left out',
    );
    await publisher.update([web], local);
    const counts = await tally(20);
    assert.deepEqual([...counts.keys()].sort(), ['A', 'B'], JSON.stringify([...counts]));
  });

  test('a task that leaves RUNNING is removed from the backends while its process still answers', async () => {
    const failed = task('tB', 'web', { state: 'failed', desired: 'shutdown' });
    await publisher.update([web], [await addressed(task('tA', 'web'), a.id), await addressed(failed, b.id)]);
    assert.deepEqual([...(await tally(10))], [['A', 10]]);
    const bIp = await provider.addressOf(b.id);
    assert.equal(await wget(hostNs, `http://${bIp}/`), 'B', 'the rule, not the process, stopped B');
    await stop(b.httpd);
    await provider.releaseNetwork(b.id);
    await provider.releaseNetwork(b.id);
    assert.equal(await provider.addressOf(b.id), undefined);
    assert.ok(!existsSync(b.net.netnsPath ?? ''));
  });

  test('a start-first replacement never refuses a connection while a client keeps requesting', async () => {
    const loop = spawnTracked([
      'netns',
      'exec',
      hostNs,
      'busybox',
      'sh',
      '-c',
      // busybox-static's wget segfaults with -T; coreutils timeout bounds a hung request instead.
      `while :; do timeout 3 busybox wget -q -O- ${URL} || echo FAILED; busybox usleep 10000; done`,
    ]);
    const seen = (name: string) => loop.stdout.filter((l) => l === name).length;
    await waitFor(() => seen('A') >= 10, 'the client to reach A');

    const c = await startContainer('C');
    const tA = await addressed(task('tA', 'web'), a.id);
    const tC = await addressed(task('tC', 'web'), c.id);
    await publisher.update([web], [tA, tC]);
    await waitFor(() => seen('C') >= 3, 'the client to reach C as well');

    await publisher.update([web], [{ ...tA, task: task('tA', 'web', { desired: 'shutdown' }) }, tC]);
    // Requests begun before the swap may still finish on A; let their output arrive first.
    await new Promise((r) => setTimeout(r, 300));
    const drained = loop.stdout.length;
    await waitFor(() => loop.stdout.length >= drained + 3, 'requests after the drain');
    await stop(a.httpd);
    await provider.releaseNetwork(a.id);
    await publisher.update([web], [tC]);
    const killed = loop.stdout.length;
    await waitFor(() => loop.stdout.length >= killed + 15, 'requests after the old task is gone');
    await stop(loop);

    assert.equal(seen('FAILED'), 0, `refused or failed requests: ${loop.stdout.join(',')}`);
    assert.ok(
      loop.stdout.every((l) => ['A', 'C'].includes(l)),
      loop.stdout.join(','),
    );
    assert.deepEqual(
      new Set(loop.stdout.slice(drained)),
      new Set(['C']),
      'no request reaches A once drained',
    );
  });
});
