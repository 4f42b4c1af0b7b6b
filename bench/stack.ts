// Stack benchmark (issue #14): `stack deploy` of a 10-service compose file (one busybox replica
// each, no ports) until all 10 tasks run, timed as a user sees it: from the CLI call until the API
// shows every task running (GET /tasks over the socket every 20 ms). One node each: swarmd (cluster in a box, one host)
// through swarmctl and through the real docker CLI, and — side by side, when Debian's dockerd is
// installed — a private dockerd in its own netns through the docker CLI. Both docker runs use
// `--resolve-image never` (no registry here). Then `stack rm`, a wait until nothing is left, and a
// pause for the kernel to finish tearing the namespaces down, the same for both.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../src/lib/exec.js';
import { DOCKER, SWARMCTL } from '../test/helpers/cli.js';
import { loadBusybox, startCluster } from '../test/helpers/cluster.js';
import { buildBusyboxDockerArchive } from '../test/helpers/images.js';
import { apiCall } from '../test/helpers/swarmd.js';
import { withCleanup } from './lib/cleanup.js';
import { startPrivateDockerd } from './lib/dockerd.js';
import { ms, row } from './lib/report.js';
import { percentile } from './stats.js';

const SERVICES = 10;
const RUNS = 5;
/** After a stack is gone, the kernel still tears its namespaces down for a while: each run starts on a quiet machine. */
const SETTLE_MS = 1500;

const composeText = () =>
  `version: "3.8"\nservices:\n${Array.from({ length: SERVICES }, (_, i) => `  s${i}:\n    image: busybox:latest\n    command: ["sleep", "3600"]\n`).join('')}`;

const median = (xs: number[]) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );

/** Running tasks of a stack, from the Engine API on `socket` (a request, not a CLI process per poll). */
async function runningCount(socket: string, stack: string): Promise<number> {
  const filters = encodeURIComponent(
    JSON.stringify({ label: { [`com.docker.stack.namespace=${stack}`]: true } }),
  );
  const r = await apiCall(socket, 'GET', `/tasks?filters=${filters}`);
  if (r.status !== 200) return 0;
  const tasks = JSON.parse(r.body) as { DesiredState: string; Status: { State: string } }[];
  return tasks.filter((t) => t.DesiredState === 'running' && t.Status.State === 'running').length;
}

async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!(await probe())) {
    if (performance.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Deploy → all running, RUNS times (stack rm and empty between runs); the times in ms. */
async function timeDeploys(socket: string, deploy: (stack: string) => Promise<unknown>): Promise<number[]> {
  const env = { ...process.env, DOCKER_HOST: `unix://${socket}` };
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const stack = `b${i}`;
    const t0 = performance.now();
    await deploy(stack);
    await until(`${stack} running`, async () => (await runningCount(socket, stack)) === SERVICES);
    times.push(performance.now() - t0);
    await run(DOCKER, ['stack', 'rm', stack], { env });
    await until(`${stack} gone`, async () => {
      const r = await run(DOCKER, ['ps', '-aq'], { env, okCodes: [0, 1] });
      return r.stdout.trim() === '';
    });
    await new Promise((r) => setTimeout(r, SETTLE_MS));
  }
  return times;
}

export async function main(): Promise<void> {
  console.log(
    `stack benchmark: deploy of ${SERVICES} services (1 replica each) → all running, one node, ${RUNS} runs, median (2 cores)`,
  );
  await withCleanup(async (cleanup) => {
    const dir = mkdtempSync(join(tmpdir(), 'skt-bench-stack-'));
    cleanup.defer('compose dir', () => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'stack.yml');
    writeFileSync(file, composeText());

    const cluster = await startCluster({ workers: 0 });
    cleanup.defer('cluster', () => cluster.destroy());
    await loadBusybox(cluster.hosts);
    const sock = cluster.manager.socket;
    const ours = await timeDeploys(sock, (stack) =>
      run(SWARMCTL, ['--socket', sock, 'stack', 'deploy', '-c', file, stack]),
    );
    const oursDocker = await timeDeploys(sock, (stack) =>
      run(DOCKER, ['stack', 'deploy', '--resolve-image', 'never', '-c', file, stack], {
        env: { ...process.env, DOCKER_HOST: `unix://${sock}` },
      }),
    );
    await cluster.destroy();

    const dockerd = await startPrivateDockerd(cleanup);
    let docker: number[] | undefined;
    if (dockerd) {
      const archive = join(dir, 'busybox.tar');
      await buildBusyboxDockerArchive(archive, { tag: 'busybox:latest' });
      const env = { ...process.env, DOCKER_HOST: `unix://${dockerd.socket}` };
      await run(DOCKER, ['load', '-i', archive], { env });
      docker = await timeDeploys(dockerd.socket, (stack) =>
        run(DOCKER, ['stack', 'deploy', '--resolve-image', 'never', '-c', file, stack], { env }),
      );
    }
    const dockerCell = docker
      ? { value: ms(median(docker)), from: `private dockerd 20.10 here, runs ${docker.map(ms).join(', ')}` }
      : { value: 'n/a', from: 'dockerd not installed' };
    row('swarmctl stack deploy → all running', ms(median(ours)), dockerCell);
    console.log(`    (runs ${ours.map(ms).join(', ')})`);
    row('docker stack deploy (real CLI) → swarmd, all running', ms(median(oursDocker)), dockerCell);
    console.log(`    (runs ${oursDocker.map(ms).join(', ')})`);
    // Like for like: the same docker CLI against swarmd and against dockerd (the daemons compared);
    // swarmctl, a Node.js program, adds its own start (~110 ms of CPU) to the figure.
    const times = (x: number[]) => (docker ? `${(median(docker) / median(x)).toFixed(1)}×` : 'n/a');
    console.log(
      `\nstack deploy of ${SERVICES} services → all running: docker CLI → swarmd ${ms(median(oursDocker))}, ` +
        `→ dockerd ${docker ? ms(median(docker)) : 'n/a'}: ${times(oursDocker)} faster (target ≥ 4×); ` +
        `swarmctl → swarmd ${ms(median(ours))}: ${times(ours)}`,
    );
  });
}
