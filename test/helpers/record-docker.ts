// Records Docker's own answers for the API fidelity tests (issue 15): starts a private dockerd
// (bench/lib/dockerd.ts: its own netns, data root and socket; a one-node swarm), makes the objects
// the tests make on swarmd, and writes each response to test/fixtures/docker/<name>.json with the
// dockerd version it came from. Run by hand, as root, where Debian's docker.io is installed:
//   node dist/test/helpers/record-docker.js
// The fixtures are committed; tests never need dockerd.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withCleanup } from '../../bench/lib/cleanup.js';
import { startPrivateDockerd } from '../../bench/lib/dockerd.js';
import { run } from '../../src/lib/exec.js';
import { DOCKER } from './cli.js';
import { buildBusyboxDockerArchive } from './images.js';
import { apiCall } from './swarmd.js';

const OUT = join(import.meta.dirname, '../../../test/fixtures/docker');

/** The bodies the fidelity tests send to both daemons. */
export const FIDELITY_REQUESTS = {
  minimalService: { Name: 'fid-min', TaskTemplate: { ContainerSpec: { Image: 'busybox:latest' } } },
  globalService: {
    Name: 'fid-global',
    TaskTemplate: { ContainerSpec: { Image: 'busybox:latest', Args: ['sleep', '3600'] } },
    Mode: { Global: {} },
  },
  network: { Name: 'fid-net', Driver: 'overlay' },
  networkedService: (networkId: string) => ({
    Name: 'fid-net-svc',
    TaskTemplate: {
      ContainerSpec: { Image: 'busybox:latest', Args: ['sleep', '3600'] },
      Networks: [{ Target: networkId }],
    },
  }),
};

async function main(): Promise<void> {
  await withCleanup(async (cleanup) => {
    const dockerd = await startPrivateDockerd(cleanup);
    if (!dockerd) throw new Error('dockerd is not installed (apt-get install docker.io)');
    const sock = dockerd.socket;
    const env = { ...process.env, DOCKER_HOST: `unix://${sock}` };
    const dir = mkdtempSync(join(tmpdir(), 'skt-record-'));
    cleanup.defer('archive dir', () => run('rm', ['-rf', dir]));
    await buildBusyboxDockerArchive(join(dir, 'busybox.tar'), { tag: 'busybox:latest' });
    await run(DOCKER, ['load', '-i', join(dir, 'busybox.tar')], { env });
    const version = (
      await run(DOCKER, ['version', '--format', '{{.Server.Version}}'], { env })
    ).stdout.trim();
    mkdirSync(OUT, { recursive: true });
    const save = (name: string, status: number, body: unknown) => {
      writeFileSync(
        join(OUT, `${name}.json`),
        `${JSON.stringify({ dockerd: version, status, body }, null, 2)}\n`,
      );
      console.log(`recorded ${name} (${status})`);
    };
    const call = async (method: string, path: string, body?: unknown) => {
      const r = await apiCall(sock, method, path, body);
      let parsed: unknown = r.body;
      try {
        parsed = JSON.parse(r.body);
      } catch {
        // text
      }
      return { status: r.status, body: parsed };
    };
    const created = async (body: unknown) => {
      const r = await call('POST', '/services/create', body);
      if (r.status !== 201) throw new Error(`create failed: ${JSON.stringify(r)}`);
      return (r.body as { ID: string }).ID;
    };
    const running = async (serviceId: string) => {
      for (let i = 0; i < 120; i++) {
        const tasks = (
          await call('GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [serviceId] }))}`)
        ).body as { Status: { State: string } }[];
        if (tasks.length > 0 && tasks.every((t) => t.Status.State === 'running')) return tasks;
        await new Promise((r) => setTimeout(r, 250));
      }
      throw new Error(`service ${serviceId} did not run`);
    };

    const swarm = await call('GET', '/swarm');
    save('swarm', swarm.status, swarm.body);
    const info = await call('GET', '/info');
    save('info-swarm', info.status, (info.body as { Swarm: unknown }).Swarm);
    const nodeId = (info.body as { Swarm: { NodeID: string } }).Swarm.NodeID;
    const node = await call('GET', `/nodes/${nodeId}`);
    save('node', node.status, node.body);

    const min = await created(FIDELITY_REQUESTS.minimalService);
    save('service-minimal', ...(Object.values(await call('GET', `/services/${min}`)) as [number, unknown]));
    // (busybox's own command exits at once: this one is never running, the others are.)
    const minDefaults = await call('GET', `/services/${min}?insertDefaults=true`);
    save('service-minimal-defaults', minDefaults.status, minDefaults.body);
    const glob = await created(FIDELITY_REQUESTS.globalService);
    const g = await call('GET', `/services/${glob}`);
    save('service-global', g.status, g.body);
    const [task] = await running(glob);
    save('task', 200, task);
    const net = await call('POST', '/networks/create', FIDELITY_REQUESTS.network);
    const netId = (net.body as { Id: string }).Id;
    const withNet = await created(FIDELITY_REQUESTS.networkedService(netId));
    const [netTask] = await running(withNet);
    save('task-networked', 200, netTask);

    // Errors, as Docker words them.
    const gVersion = (g.body as { Version: { Index: number }; Spec: Record<string, unknown> }).Version.Index;
    const modeChange = await call('POST', `/services/${glob}/update?version=${gVersion}`, {
      ...(g.body as { Spec: Record<string, unknown> }).Spec,
      Mode: { Replicated: { Replicas: 2 } },
    });
    save('error-mode-change', modeChange.status, modeChange.body);
    const join_ = await call('POST', '/swarm/join', { RemoteAddrs: ['10.231.0.9:2377'], JoinToken: 'x' });
    save('error-join-in-swarm', join_.status, join_.body);
    const unknown = await call('GET', '/no/such/path');
    save('error-unknown-path', unknown.status, unknown.body);
    const stale = await call(
      'POST',
      `/services/${glob}/update?version=1`,
      (g.body as { Spec: unknown }).Spec,
    );
    save('error-out-of-sequence', stale.status, stale.body);
  });
}

if (process.argv[1]?.endsWith('record-docker.js')) await main();
