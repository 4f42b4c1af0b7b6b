// Benchmark "Real containers": the runc + conmon runtime driven directly (no swarm), every container
// with its own netns and veth on a gateway bridge (NodeNetwork inside a private host netns).
// Figures: start latency p50/p99 (create + start, until the runtime reports running), sequential and
// 2-way parallel starts per second, memory per running container (conmon + any other per-container
// runtime process; the container's own process is excluded), teardown time. Docker's figure beside
// ours comes from research/anchors.md (its containerd-shim per task).
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ImageStore } from '../src/executor/images/store.js';
import { ContainerRuntime } from '../src/executor/runc/runtime.js';
import type { ContainerSpec, ExecutorTask, NetworkProvider, PreparedNetwork } from '../src/executor/types.js';
import { setLogLevel } from '../src/lib/log.js';
import { NodeNetwork } from '../src/network/node-network.js';
import { NetworkProviderImpl } from '../src/network/provider.js';
import { buildBusyboxDockerArchive } from '../test/helpers/images.js';
import { withCleanup } from './lib/cleanup.js';
import { scrubRuntime } from './lib/containers.js';
import { benchNetns } from './lib/netns.js';
import { childrenOf, commOf, machineLoad, vmRssKiB } from './lib/proc.js';
import { installSpawnProfile, printProfile, profiling, resetProfile } from './lib/profile.js';
import { anchor, mib, ms, row } from './lib/report.js';
import { percentile } from './stats.js';

const N = 50;
const TARGET_STARTS_PER_S = 15;
const TARGET_MIB_PER_CONTAINER = 3;
const SPEC: ContainerSpec = { Image: 'busybox:latest', Command: ['sleep', '100000'] };

/** Times each network prepare/release the runtime asks for (the attach share of a start). */
class TimedProvider implements NetworkProvider {
  readonly prepareMs: number[] = [];
  readonly releaseMs: number[] = [];
  constructor(private readonly inner: NetworkProvider) {}
  async prepareNetwork(containerId: string, task?: ExecutorTask): Promise<PreparedNetwork> {
    const t0 = performance.now();
    try {
      return await this.inner.prepareNetwork(containerId, task);
    } finally {
      this.prepareMs.push(performance.now() - t0);
    }
  }
  async releaseNetwork(containerId: string): Promise<void> {
    const t0 = performance.now();
    try {
      await this.inner.releaseNetwork(containerId);
    } finally {
      this.releaseMs.push(performance.now() - t0);
    }
  }
  reset(): void {
    this.prepareMs.length = 0;
    this.releaseMs.length = 0;
  }
}

interface StartSample {
  id: string;
  createMs: number;
  startMs: number;
  totalMs: number;
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const p50 = (xs: number[]) => percentile(sorted(xs), 50);
const p99 = (xs: number[]) => percentile(sorted(xs), 99);

/** Runs `jobs` with `width` workers; resolves when all are done (the first error is rethrown). */
async function inParallel<T>(width: number, count: number, job: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) {
        const i = next++;
        out[i] = await job(i);
      }
    }),
  );
  return out;
}

export async function main(): Promise<void> {
  setLogLevel('warn');
  if (profiling) installSpawnProfile();
  await withCleanup(async (cleanup) => {
    const rand = randomBytes(3).toString('hex');
    const dir = await mkdtemp('/tmp/skt-bench-exec-');
    cleanup.defer(`rm ${dir}`, () => rm(dir, { recursive: true, force: true }));
    const hostNetns = await benchNetns(cleanup, 'exec');
    const prefix = `skt-bench-${rand}-`;
    const cgroupParent = `skt-bench-${rand}`;
    const runcRoot = join(dir, 'state', 'exec', 'runc');
    cleanup.defer('scrub leftovers', async () => {
      const left = await scrubRuntime({ dir, runcRoot, prefix, cgroupParent });
      if (left.length > 0) console.error(`scrubbed ${left.length} leftovers (e.g. ${left[0]})`);
    });

    const net = new NodeNetwork({ stateDir: join(dir, 'network'), hostNetns });
    cleanup.defer('network leftovers', () => net.cleanupLeftovers({ keep: new Set(), full: true }));
    const provider = new TimedProvider(new NetworkProviderImpl(net));

    const images = new ImageStore(join(dir, 'images'));
    await buildBusyboxDockerArchive(join(dir, 'busybox.tar'), { tag: 'busybox:latest' });
    await images.load(join(dir, 'busybox.tar'));

    const runtime = new ContainerRuntime({
      stateDir: join(dir, 'state'),
      images,
      network: provider,
      runcRoot,
      namePrefix: prefix,
      cgroupParent,
    });
    await runtime.adopt();
    cleanup.defer('runtime close', () => runtime.close());
    cleanup.defer('remove containers', async () => {
      for (const r of runtime.list()) await runtime.remove(r.Id, { force: true }).catch(() => undefined);
    });

    let seq = 0;
    const startOne = async (): Promise<StartSample> => {
      const t0 = performance.now();
      const rec = await runtime.create({ name: `bench-${rand}-${seq++}`, spec: SPEC });
      const t1 = performance.now();
      await runtime.start(rec.Id);
      const t2 = performance.now();
      if (runtime.get(rec.Id).State.Status !== 'running')
        throw new Error(`container ${rec.Name} not running`);
      return { id: rec.Id, createMs: t1 - t0, startMs: t2 - t1, totalMs: t2 - t0 };
    };
    const removeAll = async (ids: string[], width: number): Promise<number> => {
      const t0 = performance.now();
      await inParallel(width, ids.length, (i) => runtime.remove(ids[i] ?? '', { force: true }));
      return performance.now() - t0;
    };

    console.log(`executor benchmark: runc + conmon, netns + veth per container; ${machineLoad()}`);
    // Warm-up: the first start creates the bridge and pulls runc/conmon into the page cache.
    const warm = await inParallel(1, 3, () => startOne());
    await removeAll(
      warm.map((s) => s.id),
      1,
    );
    provider.reset();
    resetProfile();

    // 1. Sequential starts.
    const seqStarted = performance.now();
    const samples: StartSample[] = [];
    for (let i = 0; i < N; i++) samples.push(await startOne());
    const seqMs = performance.now() - seqStarted;
    const netPrepare = [...provider.prepareMs];
    printProfile(`${N} sequential starts`, N);

    // 2. Memory per running container, with all N running.
    const conmons: number[] = [];
    for (const s of samples) {
      const pid = Number((await readFile(join(runtime.bundleDir(s.id), 'conmon.pid'), 'utf8')).trim());
      if (commOf(pid) !== 'conmon') throw new Error(`no conmon for container ${s.id}`);
      conmons.push(pid);
    }
    const containerPids = new Set(samples.map((s) => runtime.get(s.id).State.Pid));
    // Anything else a conmon has as a child (a lingering runc, say) counts as per-container overhead.
    const extras = [...childrenOf(new Set(conmons)).values()].flat().filter((p) => !containerPids.has(p));
    const conmonKiB = conmons.reduce((sum, pid) => sum + (vmRssKiB(pid) ?? 0), 0);
    const extraKiB = extras.reduce((sum, pid) => sum + (vmRssKiB(pid) ?? 0), 0);
    const perContainerKiB = (conmonKiB + extraKiB) / N;
    const containerKiB = [...containerPids].reduce((sum, pid) => sum + (vmRssKiB(pid) ?? 0), 0) / N;

    // 3. Teardown of the N sequentially started containers (one at a time).
    provider.reset();
    resetProfile();
    const teardownSeqMs = await removeAll(
      samples.map((s) => s.id),
      1,
    );
    const releaseMs = [...provider.releaseMs];
    printProfile(`${N} sequential removes`, N);

    // 4. Two-way parallel starts, then a two-way parallel teardown.
    provider.reset();
    const parStarted = performance.now();
    const par = await inParallel(2, N, () => startOne());
    const parMs = performance.now() - parStarted;
    const teardownParMs = await removeAll(
      par.map((s) => s.id),
      2,
    );

    const seqRate = (N / seqMs) * 1000;
    const parRate = (N / parMs) * 1000;
    const shimKiB = ((anchor('rss_shims_total_100tasks') ?? Number.NaN) / 100) * 1024;
    const total = samples.map((s) => s.totalMs);
    console.log(`\n${N} containers (busybox sleep), each with netns + veth + address on a bridge:`);
    row('start latency p50 (create+start → running)', ms(p50(total)));
    row('start latency p99', ms(p99(total)));
    row('  of which create p50 (overlay, files, config)', ms(p50(samples.map((s) => s.createMs))));
    row('    of which network attach p50', ms(p50(netPrepare)));
    row('  of which start p50 (conmon, runc create + start)', ms(p50(samples.map((s) => s.startMs))));
    row('sequential starts/s', seqRate.toFixed(1));
    row('2-way parallel starts/s', parRate.toFixed(1));
    row('memory per running container (conmon RSS)', mib(perContainerKiB), {
      value: mib(shimKiB),
      from: 'rss_shims_total_100tasks / 100, containerd-shim',
    });
    row('  other per-container runtime processes', `${extras.length} (${mib(extraKiB)})`);
    row('  (not counted: the container process itself)', mib(containerKiB));
    row(`teardown of ${N} (one at a time)`, ms(teardownSeqMs));
    row('  per container', ms(teardownSeqMs / N));
    row('    of which network detach p50', ms(p50(releaseMs)));
    row(`teardown of ${N} (2-way parallel)`, ms(teardownParMs));
    const best = Math.max(seqRate, parRate);
    const verdicts = [
      best >= TARGET_STARTS_PER_S ? 'starts: target met' : 'starts: BELOW target',
      perContainerKiB / 1024 <= TARGET_MIB_PER_CONTAINER ? 'memory: target met' : 'memory: ABOVE target',
    ];
    console.log(`  (${verdicts.join('; ')}; ${machineLoad()})`);
    console.log(
      `executor: ${best.toFixed(1)} starts/s with networking (target ${TARGET_STARTS_PER_S}), ${mib(perContainerKiB)} per container (Docker shim ${mib(shimKiB)})`,
    );
  });
}
