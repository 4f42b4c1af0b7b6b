// Network benchmark (issue #12): the overlay datapath, the routing mesh, VIPs and the embedded DNS in
// the cluster in a box (1 manager + 2 workers, test/helpers/cluster.ts), driven through the real docker
// CLI. An overlay network `benchnet`; service `api` (busybox httpd answering its hostname, ports
// 8080→80 and 8081→8081 published, pinned to worker-1) and service `client` (busybox sleep, pinned
// to worker-2), both on benchnet. Tools the busybox image lacks run from the host side inside a task's
// network namespace (`nsenter --net=/run/netns/skt-<tag>-<id12>`), which is the task's network stack:
//   1. TCP throughput, iperf3 one stream: task@worker-2 → task@worker-1 over the overlay vs
//      worker-2's netns → worker-1's netns over the underlay;
//   2. req/s with `wrk -t2 -c64 -d5s` from a client netns cabled to the cluster's switch: the
//      published port on the manager (no task there), on worker-1 (the task's node), and the task's
//      gateway address directly (from worker-1's netns, and from the client routed through worker-1);
//      against busybox httpd (fork per connection) and a Node keep-alive server run in the task's netns;
//   3. TCP connect time from the client task's netns to the VIP (and to the task's address);
//   4. DNS: busybox nslookup per process in the client task; the resolver's own answer time with
//      dns-packet queries to 127.0.0.11 from the client task's netns;
//   5. scale api up by one: from the moment the API shows the new task RUNNING until `nslookup
//      tasks.api` in the client lists it, and until the mesh on the manager answers with its hostname.
// Docker's figures come from research/anchors.md ("Docker swarm mode, several nodes").
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { run } from '../src/lib/exec.js';
import { NETNS_DIR, netnsPath } from '../src/network/names.js';
import { DOCKER, docker } from '../test/helpers/cli.js';
import {
  type ClusterHost,
  loadBusybox,
  sleep,
  startCluster,
  until as untilEvery,
} from '../test/helpers/cluster.js';
import { dockerFigure, until } from './lib/box.js';
import { machineLoad, waitForQuietCpu } from './lib/proc.js';
import { ms, row } from './lib/report.js';
import { percentile } from './stats.js';

const NET = 'benchnet';
const IPERF_RUNS = 5;
const IPERF_SECONDS = 4;
const WRK_ARGS = ['-t2', '-c64', '-d5s'];
const CONNECTS = 300;
const LOOKUPS = 200;
const RESOLVER_QUERIES = 500;
const SCALE_RUNS = 3;
/** How often part 5 asks the API whether the new task runs. */
const RUNNING_POLL_MS = 5;
const HTTPD = 'mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www';
const NODE_HTTP_PORT = 8081;

interface NetTask {
  ID: string;
  NodeID?: string;
  DesiredState: string;
  /** Timestamp: when the agent reported the state (its clock is this machine's). */
  Status: { State: string; Timestamp?: string; ContainerStatus?: { ContainerID?: string } };
  NetworksAttachments?: { Network: { Spec: { Name: string } }; Addresses?: string[] }[];
}

interface RunningTask {
  id: string;
  containerId: string;
  /** The task's address on benchnet. */
  overlayIp: string;
  /** Its network namespace on its node (/run/netns). */
  netns: string;
}

/** Epoch milliseconds with sub-ms resolution, comparable across processes on this machine. */
const now = () => performance.timeOrigin + performance.now();
const pct = (v: number) => `${Math.round(v * 100)} %`;
const gbit = (bps: number) => `${(bps / 1e9).toFixed(2)} Gbit/s`;
const msec = (v: number) => `${v.toFixed(v < 10 ? 2 : 1)} ms`;
const signedMs = (v: number) => (v < 0 ? `−${ms(-v)}` : ms(v));
const median = (xs: number[]) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );
const spread = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { p50: percentile(s, 50), p99: percentile(s, 99), min: s[0] ?? Number.NaN, max: s.at(-1) ?? 0 };
};
const NO_IPVS = { value: 'fail', from: 'fails here (no IPVS): anchors.md, several nodes' };

// ---- processes we start (each stopped by its own pid) ------------------------------------------------

const started = new Set<ChildProcess>();

function killStarted(): void {
  for (const c of started)
    try {
      if (c.pid !== undefined) process.kill(c.pid, 'SIGTERM');
    } catch {
      // already gone
    }
}

/** A long-running process whose stdout is read line by line while it runs. */
class Background {
  readonly lines: string[] = [];
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;
  private stderr = '';
  private waiters: (() => void)[] = [];

  constructor(
    readonly what: string,
    cmd: string,
    args: string[],
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    started.add(this.child);
    let partial = '';
    this.child.stdout?.on('data', (b: Buffer) => {
      const parts = (partial + b.toString()).split('\n');
      partial = parts.pop() ?? '';
      this.lines.push(...parts.filter((l) => l.trim() !== ''));
      for (const w of this.waiters.splice(0)) w();
    });
    this.child.stderr?.on('data', (b: Buffer) => {
      this.stderr += b.toString();
    });
    this.child.stdin?.on('error', () => undefined);
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code) => {
        started.delete(this.child);
        if (partial.trim() !== '') this.lines.push(partial);
        for (const w of this.waiters.splice(0)) w();
        resolve(code);
      });
      this.child.on('error', () => resolve(null));
    });
  }

  /** The first line (from `from` on) that `match` accepts; throws after `timeoutMs` or if it exits. */
  async line(match: (l: string) => boolean, timeoutMs: number, from = 0): Promise<string> {
    const end = performance.now() + timeoutMs;
    let done = false;
    void this.exited.then(() => {
      done = true;
    });
    for (;;) {
      const hit = this.lines.slice(from).find(match);
      if (hit !== undefined) return hit;
      if (done) throw new Error(`${this.what} exited: ${this.stderr.trim().slice(0, 300)}`);
      const left = end - performance.now();
      if (left <= 0) throw new Error(`${this.what}: nothing expected within ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Ends its stdin (our probes exit on that), then SIGTERM by pid if it is still there after 2 s. */
  async stop(): Promise<void> {
    this.child.stdin?.end();
    const gone = await Promise.race([this.exited.then(() => true), sleep(2000).then(() => false)]);
    if (!gone && this.child.pid !== undefined) {
      process.kill(this.child.pid, 'SIGTERM');
      await this.exited;
    }
  }
}

/** A command in a network namespace, run to its end. */
function inNetns(netns: string, cmd: string, args: string[], timeoutMs = 60_000) {
  return run('nsenter', [`--net=${netnsPath(netns)}`, cmd, ...args], { timeoutMs });
}

function inNetnsBackground(what: string, netns: string, cmd: string, args: string[]): Background {
  return new Background(what, 'nsenter', [`--net=${netnsPath(netns)}`, cmd, ...args]);
}

/** Node running `script` (CommonJS, `process.argv[1…]` = args) in a network namespace. */
function nodeIn(what: string, netns: string, script: string, args: string[]): Background {
  return inNetnsBackground(what, netns, process.execPath, ['-e', script, ...args]);
}

// ---- the probes run inside namespaces ---------------------------------------------------------------

/**
 * TCP connect times (ms) to host:port, sequential with a 1 ms pause, after 20 unrecorded ones; one
 * JSON array. Aimed at the keep-alive server: busybox httpd accepts slower than connects arrive, its
 * backlog fills and a SYN waits out the 1 s retransmit (seen: p99 1011 ms), which is not the network.
 */
const CONNECT_PROBE = `const net = require('node:net');
const [host, port, n] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])];
const one = () => new Promise((resolve, reject) => {
  const t0 = performance.now();
  const s = net.connect({ host, port });
  s.setTimeout(3000, () => { s.destroy(); reject(new Error('connect timeout')); });
  s.once('connect', () => { const dt = performance.now() - t0; s.destroy(); resolve(dt); });
  s.once('error', reject);
});
(async () => {
  const out = [];
  for (let i = 0; i < n + 20; i++) {
    const dt = await one();
    if (i >= 20) out.push(dt);
    await new Promise((r) => setTimeout(r, 1));
  }
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e.message); process.exit(1); });`;

/** Times (ms) of A queries for a name to server:53 with dns-packet, sequential; answers checked. */
const DNS_PROBE = `const dgram = require('node:dgram');
const dnsPacket = require(process.argv[1]);
const [server, name, n] = [process.argv[2], process.argv[3], Number(process.argv[4])];
const s = dgram.createSocket('udp4');
let pending;
s.on('message', (m) => { const p = pending; if (!p) return; const r = dnsPacket.decode(m); if (r.id === p.id) { pending = undefined; p.done(r); } });
const ask = (id) => new Promise((resolve, reject) => {
  const t = setTimeout(() => { pending = undefined; reject(new Error('no answer in 1 s')); }, 1000);
  const t0 = performance.now();
  pending = { id, done: (r) => { clearTimeout(t); resolve({ ms: performance.now() - t0, answers: r.answers.length }); } };
  s.send(dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name }] }), 53, server);
});
(async () => {
  const out = [];
  let lost = 0, empty = 0;
  for (let i = 0; i < n + 20; i++) {
    try { const r = await ask((i % 65535) + 1); if (r.answers === 0) empty++; if (i >= 20) out.push(r.ms); } catch { lost++; }
  }
  console.log(JSON.stringify({ out, lost, empty }));
  s.close();
})();`;

/** GETs url every 5 ms; prints {t, body} the first time each body is seen, {polls} when stdin ends. */
const MESH_WATCH = `const http = require('node:http');
const url = process.argv[1];
const seen = new Set();
const now = () => performance.timeOrigin + performance.now();
let stop = false;
process.stdin.on('end', () => { stop = true; });
process.stdin.resume();
const get = () => new Promise((resolve) => {
  const r = http.get(url, { agent: false, timeout: 1000 }, (m) => {
    let b = '';
    m.on('data', (c) => { b += c; });
    m.on('end', () => resolve(b.trim()));
    m.on('error', () => resolve(undefined));
  });
  r.on('timeout', () => r.destroy());
  r.on('error', () => resolve(undefined));
});
(async () => {
  let polls = 0;
  const t0 = now();
  while (!stop) {
    const b = await get();
    polls++;
    if (b && !seen.has(b)) { seen.add(b); console.log(JSON.stringify({ t: now(), body: b })); }
    await new Promise((r) => setTimeout(r, 5));
  }
  console.log(JSON.stringify({ polls, ms: now() - t0 }));
  process.exit(0);
})();`;

/** A keep-alive HTTP server answering `argv[1]`, on port argv[2]; exits when stdin ends. */
const KEEPALIVE_SERVER = `const http = require('node:http');
const body = process.argv[1] + '\\n';
const server = http.createServer((q, s) => {
  s.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
  s.end(body);
});
server.keepAliveTimeout = 30000;
server.listen(Number(process.argv[2]), () => console.log('listening'));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();`;

/**
 * busybox sh in the client task: `tasks.api` looked up in a loop (a process each); prints
 * "<epoch s> <addresses>" whenever the task addresses change (the server's `ip:53` left out), and "done <lookups> <epoch s>" once more than
 * $1 task addresses are listed (or "timeout" after 20 s).
 */
const NSLOOKUP_WATCH = `want=$1; end=$(( \${EPOCHREALTIME%.*} + 20 )); prev=x; i=0; echo "start $EPOCHREALTIME"
while [ \${EPOCHREALTIME%.*} -lt $end ]; do
  out=$(nslookup tasks.api 127.0.0.11 2>/dev/null); i=$((i+1)); ips=; next=0
  for w in $out; do
    if [ $next = 1 ]; then case $w in *:*) ;; *) ips="$ips $w" ;; esac; fi
    next=0; [ "$w" = Address: ] && next=1
  done
  if [ "$ips" != "$prev" ]; then echo "$EPOCHREALTIME$ips"; prev=$ips; fi
  set -- $ips; if [ $# -gt $want ]; then echo "done $i $EPOCHREALTIME"; exit 0; fi
done
echo "timeout $i"`;

/** busybox sh: runs "$@" N times, printing "<start> <end>" epoch seconds of each run. */
const TIMED_LOOP = `n=$1; shift; i=0
while [ $i -lt $n ]; do s=$EPOCHREALTIME; "$@" >/dev/null 2>&1 || echo "fail $?"; e=$EPOCHREALTIME; echo "$s $e"; i=$((i+1)); done`;

// ---- cluster helpers --------------------------------------------------------------------------------

/** The network namespace of a container (named by the first 12 characters of its ID). */
function netnsOf(containerId: string): string {
  const suffix = `-${containerId.slice(0, 12)}`;
  const found = readdirSync(NETNS_DIR).filter((n) => n.startsWith('skt-') && n.endsWith(suffix));
  if (found.length !== 1) throw new Error(`netns of ${containerId.slice(0, 12)}: found ${found.join(', ')}`);
  return found[0] as string;
}

async function tasksOf(manager: ClusterHost, service: string): Promise<NetTask[]> {
  const r = await manager.api(
    'GET',
    `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [service] }))}`,
  );
  if (r.status !== 200) throw new Error(`GET /tasks: ${r.status} ${r.body}`);
  return r.json<NetTask[]>();
}

const isRunning = (t: NetTask) => t.DesiredState === 'running' && t.Status.State === 'running';

function runningTask(t: NetTask): RunningTask {
  const containerId = t.Status.ContainerStatus?.ContainerID;
  const addr = t.NetworksAttachments?.find((a) => a.Network.Spec.Name === NET)?.Addresses?.[0];
  if (!containerId || !addr) throw new Error(`task ${t.ID} has no container or no ${NET} address`);
  return { id: t.ID, containerId, overlayIp: addr.replace(/\/\d+$/, ''), netns: netnsOf(containerId) };
}

async function cli(host: ClusterHost, args: string[], timeoutMs = 90_000): Promise<string> {
  const r = await docker(host, args, timeoutMs);
  if (r.code !== 0) throw new Error(`docker ${args.slice(0, 3).join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** `docker exec` into a task's container on its node, its output read while it runs. */
function execBackground(host: ClusterHost, containerId: string, args: string[]): Background {
  return new Background(`docker exec ${args.slice(0, 3).join(' ')}`, DOCKER, ['exec', containerId, ...args], {
    ...process.env,
    DOCKER_HOST: `unix://${host.socket}`,
  });
}

/** Per-run times (ms) of a TIMED_LOOP run in a task; failures counted. */
async function timedLoop(host: ClusterHost, containerId: string, n: number, cmd: string[]) {
  const out = await cli(
    host,
    ['exec', containerId, 'sh', '-c', TIMED_LOOP, 'sh', String(n), ...cmd],
    120_000,
  );
  const times: number[] = [];
  let failed = 0;
  for (const line of out.split('\n')) {
    if (line.startsWith('fail')) failed++;
    const m = /^(\d+\.\d+) (\d+\.\d+)$/.exec(line.trim());
    if (m) times.push((Number(m[2]) - Number(m[1])) * 1000);
  }
  return { times, failed };
}

/** The client netns: a veth on the cluster's switch, an address at .200, the gateway subnet via `via`. */
async function clientNetns(switchNetns: string, hostIp: string, via: string): Promise<string> {
  const id = randomBytes(3).toString('hex');
  const name = `skt-bench-client-${id}`;
  await run('ip', ['netns', 'add', name]);
  const ip = hostIp.replace(/\.\d+$/, '.200');
  await run('ip', ['-n', switchNetns, '-batch', '-'], {
    input: [`link add c-${id} type veth peer name eth0 netns ${name}`, `link set c-${id} master br0 up`].join(
      '\n',
    ),
  });
  await run('ip', ['-n', name, '-batch', '-'], {
    input: [
      'link set lo up',
      `addr add ${ip}/24 dev eth0`,
      'link set eth0 up',
      `route add 172.31.0.0/16 via ${via}`,
    ].join('\n'),
  });
  return name;
}

// ---- measurements -----------------------------------------------------------------------------------

async function iperf(serverNs: string, clientNs: string, addr: string): Promise<number> {
  const server = inNetnsBackground('iperf3 -s', serverNs, 'iperf3', ['-s', '-1', '--forceflush']);
  try {
    await server.line((l) => l.includes('Server listening'), 10_000);
    const r = await inNetns(
      clientNs,
      'iperf3',
      ['-c', addr, '-t', String(IPERF_SECONDS), '-J'],
      (IPERF_SECONDS + 20) * 1000,
    );
    const bps = (JSON.parse(r.stdout) as { end?: { sum_received?: { bits_per_second?: number } } }).end
      ?.sum_received?.bits_per_second;
    if (!bps) throw new Error(`iperf3 to ${addr}: no result`);
    return bps;
  } finally {
    await server.stop();
  }
}

interface WrkResult {
  rps: number;
  latency: string;
  errors: string;
}

async function wrk(netns: string, url: string): Promise<WrkResult> {
  const r = await inNetns(netns, 'wrk', [...WRK_ARGS, url], 60_000);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1] ?? Number.NaN);
  const latency = /Latency\s+(\S+)/.exec(r.stdout)?.[1] ?? '?';
  const notes = [
    /Socket errors: (.*)/.exec(r.stdout)?.[1],
    /Non-2xx or 3xx responses: (\d+)/.exec(r.stdout)?.[1]?.replace(/^/, 'non-2xx '),
  ].filter((x): x is string => x !== undefined);
  return { rps, latency, errors: notes.join('; ') };
}

const rpsText = (w: WrkResult) => `${Math.round(w.rps)} req/s`;
const wrkNote = (w: WrkResult) =>
  `    (mean latency ${w.latency}${w.errors ? `; socket errors: ${w.errors}` : ''})`;

export async function main(): Promise<void> {
  console.log(
    'network benchmark: 1 manager + 2 workers, each swarmd in its own netns, one overlay network (2 cores shared)',
  );
  const cluster = await startCluster({ workers: 2 });
  const { manager } = cluster;
  const [w1, w2] = cluster.workers as [ClusterHost, ClusterHost];
  let client: string | undefined;
  // An interrupted run: the cluster helper tears the cluster down and exits; this takes the rest.
  const onExit = () => {
    killStarted();
    if (client) spawnSync('ip', ['netns', 'del', client]);
  };
  process.once('exit', onExit);
  const headline: string[] = [];
  try {
    await loadBusybox(cluster.hosts);
    await cli(manager, ['network', 'create', '-d', 'overlay', NET]);
    await cli(manager, [
      'service',
      'create',
      '-d',
      '--name',
      'api',
      '--network',
      NET,
      '--publish',
      '8080:80',
      '--publish',
      `${NODE_HTTP_PORT}:${NODE_HTTP_PORT}`,
      '--constraint',
      `node.hostname==${w1.name}`,
      'busybox',
      'sh',
      '-c',
      HTTPD,
    ]);
    await cli(manager, [
      'service',
      'create',
      '-d',
      '--name',
      'client',
      '--network',
      NET,
      '--constraint',
      `node.hostname==${w2.name}`,
      'busybox',
      'sleep',
      '3600',
    ]);
    const [apiTask, clientTask] = await until('api and client running', async () => {
      const a = (await tasksOf(manager, 'api')).filter(isRunning);
      const c = (await tasksOf(manager, 'client')).filter(isRunning);
      return a[0] && c[0] ? [runningTask(a[0]), runningTask(c[0])] : undefined;
    });
    const gwIp = (
      JSON.parse(
        (await run('ip', ['-n', apiTask.netns, '-j', '-4', 'addr', 'show', 'dev', 'eth0'])).stdout,
      ) as {
        addr_info: { local: string }[];
      }[]
    )[0]?.addr_info[0]?.local;
    if (!gwIp) throw new Error("no address on the api task's eth0");
    const vip = (
      await manager
        .api('GET', '/services/api')
        .then((r) => r.json<{ Endpoint?: { VirtualIPs?: { NetworkID: string; Addr: string }[] } }>())
    ).Endpoint?.VirtualIPs;
    const netId = (await cli(manager, ['network', 'inspect', '-f', '{{.Id}}', NET])).trim();
    const apiVip = vip?.find((v) => v.NetworkID === netId)?.Addr.replace(/\/\d+$/, '');
    if (!apiVip) throw new Error(`api has no VIP on ${NET}`);
    const clientNs = await clientNetns(cluster.switchNetns, manager.ip, w1.ip);
    client = clientNs;
    await until('the mesh answering on every node', async () => {
      for (const h of cluster.hosts)
        if ((await inNetns(clientNs, 'curl', ['-s', '-m', '2', `http://${h.ip}:8080/`])).stdout.trim() === '')
          return undefined;
      return true;
    });
    console.log(
      `  api task ${apiTask.containerId.slice(0, 12)} on ${w1.name} (overlay ${apiTask.overlayIp}, gateway ${gwIp}, VIP ${apiVip}); ` +
        `client task on ${w2.name}; ${machineLoad()}`,
    );

    // 1. TCP throughput
    console.log(
      `\n  1. TCP throughput, iperf3 one stream, ${IPERF_RUNS} × ${IPERF_SECONDS} s alternating, median:`,
    );
    const overlay: number[] = [];
    const direct: number[] = [];
    for (let i = 0; i < IPERF_RUNS; i++) {
      await waitForQuietCpu(0.3, 3_000);
      overlay.push(await iperf(apiTask.netns, clientTask.netns, apiTask.overlayIp));
      await waitForQuietCpu(0.3, 3_000);
      direct.push(await iperf(w1.netns, w2.netns, w1.ip));
    }
    const range = (xs: number[]) =>
      `${(Math.min(...xs) / 1e9).toFixed(1)}–${(Math.max(...xs) / 1e9).toFixed(1)}`;
    row(
      `overlay task@${w2.name} → task@${w1.name} (VXLAN)`,
      gbit(median(overlay)),
      dockerFigure('TCP task → task over the overlay', { part: 0 }),
    );
    row(
      `direct ${w2.name} netns → ${w1.name} netns (underlay)`,
      gbit(median(direct)),
      dockerFigure('TCP task → task over the overlay', { part: 1 }),
    );
    const ratio = median(overlay) / median(direct);
    row('overlay ÷ direct (target ≥ 80 %)', pct(ratio), {
      value: '63 %',
      from: 'anchors.md, several nodes (8.61 / 13.73)',
    });
    console.log(`    (runs: overlay ${range(overlay)}, direct ${range(direct)} Gbit/s)`);
    headline.push(`overlay TCP ${pct(ratio)} of direct (Docker 63 %)`);

    // 2. routing mesh vs direct
    console.log(`\n  2. routing mesh, wrk ${WRK_ARGS.join(' ')} from a client netns on the switch:`);
    const wrkSet = async (port: number, targetPort: number) => {
      await waitForQuietCpu(0.3, 3_000);
      const a = await wrk(clientNs, `http://${manager.ip}:${port}/`);
      await waitForQuietCpu(0.3, 3_000);
      const b = await wrk(clientNs, `http://${w1.ip}:${port}/`);
      await waitForQuietCpu(0.3, 3_000);
      const c = await wrk(w1.netns, `http://${gwIp}:${targetPort}/`);
      await waitForQuietCpu(0.3, 3_000);
      const d = await wrk(clientNs, `http://${gwIp}:${targetPort}/`);
      return { a, b, c, d };
    };
    const printSet = (s: Awaited<ReturnType<typeof wrkSet>>, port: number, targetPort: number) => {
      row(`(a) mesh via ${manager.name}:${port} (no task there)`, rpsText(s.a), NO_IPVS);
      console.log(wrkNote(s.a));
      row(`(b) mesh via ${w1.name}:${port} (the task's node)`, rpsText(s.b), NO_IPVS);
      console.log(wrkNote(s.b));
      row(`(c) direct ${gwIp}:${targetPort} from ${w1.name}'s netns`, rpsText(s.c));
      console.log(wrkNote(s.c));
      row(`(c') direct ${gwIp}:${targetPort} routed via ${w1.name}`, rpsText(s.d));
      console.log(wrkNote(s.d));
      row(
        'mesh ÷ direct (c), (a) / (b) (target ≥ 90 %)',
        `${pct(s.a.rps / s.c.rps)} / ${pct(s.b.rps / s.c.rps)}`,
      );
      row(
        "mesh ÷ direct (c'), (a) / (b) (same client path)",
        `${pct(s.a.rps / s.d.rps)} / ${pct(s.b.rps / s.d.rps)}`,
      );
    };
    console.log('   busybox httpd in the task (forks per connection: it is the bottleneck, research §6):');
    const httpd = await wrkSet(8080, 80);
    printSet(httpd, 8080, 80);
    console.log(
      `   Node keep-alive server started in the api task's netns on :${NODE_HTTP_PORT} (nsenter; the image has no node):`,
    );
    const keepAlive = nodeIn('keep-alive server', apiTask.netns, KEEPALIVE_SERVER, [
      apiTask.containerId.slice(0, 12),
      String(NODE_HTTP_PORT),
    ]);
    // Left running for the connects of part 3 (the outer finally stops it on a failure).
    await keepAlive.line((l) => l === 'listening', 10_000);
    const ka = await wrkSet(NODE_HTTP_PORT, NODE_HTTP_PORT);
    printSet(ka, NODE_HTTP_PORT, NODE_HTTP_PORT);
    headline.push(
      `mesh ${pct(ka.a.rps / ka.c.rps)}/${pct(ka.b.rps / ka.c.rps)} of direct (keep-alive; Docker: no mesh here)`,
    );

    // 3. VIP connection setup
    console.log(
      `\n  3. VIP connection setup from the client task (${w2.name}) to api (${w1.name}), ${CONNECTS} connects each:`,
    );
    const connects = async (addr: string) => {
      const p = nodeIn('connect probe', clientTask.netns, CONNECT_PROBE, [
        addr,
        String(NODE_HTTP_PORT),
        String(CONNECTS),
      ]);
      const line = await p.line((l) => l.startsWith('['), 60_000);
      await p.stop();
      return spread(JSON.parse(line) as number[]);
    };
    await waitForQuietCpu(0.3, 3_000);
    const viaVip = await connects(apiVip);
    const viaTask = await connects(apiTask.overlayIp);
    await keepAlive.stop();
    row(
      `TCP connect to the VIP ${apiVip}:${NODE_HTTP_PORT}, p50 / p99`,
      `${msec(viaVip.p50)} / ${msec(viaVip.p99)}`,
      NO_IPVS,
    );
    row(
      `TCP connect to the task ${apiTask.overlayIp}:${NODE_HTTP_PORT}, p50 / p99`,
      `${msec(viaTask.p50)} / ${msec(viaTask.p99)}`,
    );
    console.log(
      "    (Node net.connect() in the client task's netns, SYN → established, sequential, to the keep-alive server; " +
        'the VIP is DNATed in the client netns by nftables)',
    );
    const wgets = await timedLoop(w2, clientTask.containerId, 100, ['wget', '-qO-', 'http://api/']);
    const wg = spread(wgets.times);
    row('wget -qO- http://api/ in the client task, p50 / p99', `${msec(wg.p50)} / ${msec(wg.p99)}`, NO_IPVS);
    console.log(
      `    (per request, one busybox wget process each: DNS lookup + connect + httpd fork + reply; ` +
        `timed with $EPOCHREALTIME in the task, ${wgets.times.length} runs, ${wgets.failed} failed)`,
    );
    headline.push(`VIP connect p99 ${msec(viaVip.p99)}`);

    // 4. DNS
    console.log('\n  4. embedded DNS from the client task:');
    const lookups = await timedLoop(w2, clientTask.containerId, LOOKUPS, ['nslookup', 'api', '127.0.0.11']);
    const lk = spread(lookups.times);
    const noDnsFigure = { value: 'n/a', from: 'not in anchors.md' };
    row('nslookup api 127.0.0.11 (a process), p50 / p99', `${msec(lk.p50)} / ${msec(lk.p99)}`, noDnsFigure);
    console.log(
      `    (${lookups.times.length} busybox nslookup processes (A + AAAA each), timed with $EPOCHREALTIME in the task; ` +
        `${lookups.failed} failed)`,
    );
    const dnsPacketPath = createRequire(import.meta.url).resolve('dns-packet');
    const probe = nodeIn('dns probe', clientTask.netns, DNS_PROBE, [
      dnsPacketPath,
      '127.0.0.11',
      'api',
      String(RESOLVER_QUERIES),
    ]);
    const res = JSON.parse(await probe.line((l) => l.startsWith('{'), 60_000)) as {
      out: number[];
      lost: number;
      empty: number;
    };
    await probe.stop();
    const rs = spread(res.out);
    row(
      'resolver, one UDP query, p50 / p99 (target ≤ 2 ms)',
      `${msec(rs.p50)} / ${msec(rs.p99)}`,
      noDnsFigure,
    );
    console.log(
      `    (dns-packet A queries for "api" to 127.0.0.11:53 from the client task's netns, as a task sends them, ` +
        `sequential, ${res.out.length} timed, ${res.lost} lost, ${res.empty} without an answer; from the node's own ` +
        'netns the DNS would not know the client and would forward upstream)',
    );
    headline.push(`DNS answer p99 ${msec(rs.p99)}`);

    // 5. new task reachable after RUNNING
    console.log(
      `\n  5. scale api up by one (${SCALE_RUNS} runs): from the API showing the new task RUNNING until`,
    );
    const dnsDelays: number[] = [];
    const meshDelays: number[] = [];
    const reportLags: number[] = [];
    const fromReport = { dns: [] as number[], mesh: [] as number[] };
    for (let i = 0; i < SCALE_RUNS; i++) {
      const before = (await tasksOf(manager, 'api')).filter(isRunning);
      const known = new Set(before.map((t) => t.ID));
      const dnsWatch = execBackground(w2, clientTask.containerId, [
        'sh',
        '-c',
        NSLOOKUP_WATCH,
        'sh',
        String(before.length),
      ]);
      const meshWatch = nodeIn('mesh watch', clientNs, MESH_WATCH, [`http://${manager.ip}:8080/`]);
      try {
        await dnsWatch.line((l) => /^\d+\.\d+( |$)/.test(l), 10_000);
        await until('the mesh watcher seeing every task', async () =>
          meshWatch.lines.length >= before.length ? true : undefined,
        );
        const svc = (await manager.api('GET', '/services/api')).json<{
          ID: string;
          Version: { Index: number };
          Spec: { Mode: { Replicated: { Replicas: number } } };
        }>();
        const r = await manager.api('POST', `/services/${svc.ID}/update?version=${svc.Version.Index}`, {
          ...svc.Spec,
          Mode: { Replicated: { Replicas: before.length + 1 } },
        });
        if (r.status !== 200) throw new Error(`scale api: ${r.status} ${r.body}`);
        const fresh = await untilEvery(
          'the new task RUNNING',
          async () => {
            const t = (await tasksOf(manager, 'api')).find((x) => !known.has(x.ID) && isRunning(x));
            return t
              ? { at: now(), reported: Date.parse(t.Status.Timestamp ?? ''), task: runningTask(t) }
              : undefined;
          },
          30_000,
          RUNNING_POLL_MS,
        );
        const ipSeen = await dnsWatch.line((l) => l.split(' ').includes(fresh.task.overlayIp), 25_000);
        const dnsAt = Number(ipSeen.split(' ')[0]) * 1000;
        const done = await dnsWatch.line((l) => l.startsWith('done') || l.startsWith('timeout'), 25_000);
        const host = fresh.task.containerId.slice(0, 12);
        const hit = JSON.parse(await meshWatch.line((l) => l.includes(`"body":"${host}"`), 15_000)) as {
          t: number;
        };
        await meshWatch.stop();
        const polls = JSON.parse(meshWatch.lines.at(-1) ?? '{}') as { polls?: number; ms?: number };
        dnsDelays.push(dnsAt - fresh.at);
        meshDelays.push(hit.t - fresh.at);
        reportLags.push(fresh.at - fresh.reported);
        fromReport.dns.push(dnsAt - fresh.reported);
        fromReport.mesh.push(hit.t - fresh.reported);
        const lookupsDone = Number(done.split(' ')[1] ?? 0);
        const first = Number((dnsWatch.lines[0] ?? '').split(' ')[1] ?? 0) * 1000;
        const last = Number(done.split(' ')[2] ?? 0) * 1000;
        console.log(
          `    run ${i + 1} (${before.length} → ${before.length + 1}): tasks.api lists it ${signedMs(dnsAt - fresh.at)}, ` +
            `the mesh on ${manager.name} answers from it ${signedMs(hit.t - fresh.at)} ` +
            `(nslookup every ${msec((last - first) / Math.max(1, lookupsDone))}, HTTP every ` +
            `${msec((polls.ms ?? 0) / Math.max(1, polls.polls ?? 1))}; the API showed RUNNING ` +
            `${signedMs(fresh.at - fresh.reported)} after the agent's report timestamp)`,
        );
      } finally {
        await meshWatch.stop();
        await dnsWatch.stop();
      }
    }
    row('(a) nslookup tasks.api in the client lists it (target ≤ 200 ms)', signedMs(median(dnsDelays)), {
      ...dockerFigure('dnsrr service create'),
      from: 'anchors.md: dnsrr create → nslookup answers on another node, not from RUNNING',
    });
    row(
      `(b) the mesh on ${manager.name} answers from it (target ≤ 200 ms)`,
      signedMs(median(meshDelays)),
      NO_IPVS,
    );
    console.log(
      `    (medians; RUNNING = the first GET /tasks on the manager showing it, polled every ${RUNNING_POLL_MS} ms ` +
        `(plus the call); a negative time means reachable before the API showed RUNNING. From the agent's own ` +
        `RUNNING timestamp instead: DNS ${signedMs(median(fromReport.dns))}, mesh ` +
        `${signedMs(median(fromReport.mesh))}; report → API ${signedMs(median(reportLags))})`,
    );
    headline.push(
      `new task in DNS ${signedMs(median(dnsDelays))}, in the mesh ${signedMs(median(meshDelays))}`,
    );
    console.log(`\n${headline.join('; ')}`);
  } finally {
    killStarted();
    if (client) await run('ip', ['netns', 'del', client], { okCodes: [0, 1, 255] });
    process.off('exit', onExit);
    await cluster.destroy();
  }
}
