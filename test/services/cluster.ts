// Test harness for the "services that run" end-to-end tests: a real one-node swarm (swarmd started
// with startSwarmd, `swarm init`, busybox loaded into its image store), Engine API and docker CLI
// access, polling helpers, and a teardown that removes every service, waits until their containers
// are gone (force-removing stragglers), then stops swarmd and its etcd and deletes the state dir.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBusyboxDockerArchive } from '../helpers/images.js';
import { type ApiResponse, type SwarmdProcess, startSwarmd } from '../helpers/swarmd.js';

export const CLIS = [
  { name: '20.10', bin: '/usr/bin/docker' },
  { name: '28.x', bin: '/usr/local/bin/docker' },
] as const;
export type Cli = (typeof CLIS)[number];

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The Engine API's view of a task (only the fields these tests read). */
export interface ApiTask {
  ID: string;
  ServiceID: string;
  Slot?: number;
  NodeID?: string;
  DesiredState: string;
  CreatedAt: string;
  Spec: { ContainerSpec?: { Image?: string; Args?: string[]; Env?: string[] } };
  Status: {
    Timestamp: string;
    State: string;
    Message?: string;
    Err?: string;
    ContainerStatus?: { ContainerID?: string; ExitCode?: number };
  };
}

export interface ApiContainer {
  Id: string;
  Names: string[];
  State: string;
  Labels: Record<string, string>;
}

export interface ApiService {
  ID: string;
  Version: { Index: number };
  Spec: { Name: string; TaskTemplate: { ContainerSpec: { Image: string; Env?: string[]; Args?: string[] } } };
  PreviousSpec?: unknown;
  UpdateStatus?: { State: string; Message?: string };
  ServiceStatus?: { RunningTasks: number; DesiredTasks: number; CompletedTasks: number };
}

const NS = 1_000_000_000;
export const IMAGE = 'busybox:latest';
/**
 * A long-running command that exits at once on SIGTERM, so a stop never waits for the grace
 * period whatever the executor does with StopGracePeriod (busybox `sleep` as PID 1 ignores TERM).
 */
export const LONG_RUNNING = ['sh', '-c', 'trap "exit 0" TERM; sleep 1000 & wait'];

export interface SpecOptions {
  replicas?: number;
  mode?: 'replicated' | 'global' | 'replicated-job';
  args?: string[];
  image?: string;
  env?: string[];
  restart?: { condition?: 'none' | 'on-failure' | 'any'; delayS?: number; maxAttempts?: number };
  update?: {
    parallelism?: number;
    delayS?: number;
    failureAction?: 'pause' | 'continue' | 'rollback';
    monitorS?: number;
    order?: 'stop-first' | 'start-first';
  };
  constraints?: string[];
}

/** An Engine API ServiceSpec as the docker CLI would send it, tuned to run fast. */
export function serviceSpec(name: string, o: SpecOptions = {}): Record<string, unknown> {
  const mode =
    o.mode === 'global'
      ? { Global: {} }
      : o.mode === 'replicated-job'
        ? { ReplicatedJob: { MaxConcurrent: o.replicas ?? 1, TotalCompletions: o.replicas ?? 1 } }
        : { Replicated: { Replicas: o.replicas ?? 1 } };
  const u = o.update;
  return {
    Name: name,
    TaskTemplate: {
      ContainerSpec: {
        Image: o.image ?? IMAGE,
        Args: o.args ?? LONG_RUNNING,
        ...(o.env ? { Env: o.env } : {}),
        StopGracePeriod: 0,
      },
      RestartPolicy: {
        Condition: o.restart?.condition ?? 'any',
        Delay: Math.round((o.restart?.delayS ?? 1) * NS),
        MaxAttempts: o.restart?.maxAttempts ?? 0,
      },
      ...(o.constraints ? { Placement: { Constraints: o.constraints } } : {}),
      ForceUpdate: 0,
    },
    Mode: mode,
    ...(o.mode === 'replicated-job'
      ? {}
      : {
          UpdateConfig: {
            Parallelism: u?.parallelism ?? 1,
            Delay: Math.round((u?.delayS ?? 0) * NS),
            FailureAction: u?.failureAction ?? 'pause',
            Monitor: Math.round((u?.monitorS ?? 1) * NS),
            MaxFailureRatio: 0,
            Order: u?.order ?? 'stop-first',
          },
          RollbackConfig: {
            Parallelism: 1,
            Delay: 0,
            FailureAction: 'pause',
            Monitor: Math.round((u?.monitorS ?? 1) * NS),
            MaxFailureRatio: 0,
            Order: u?.order ?? 'stop-first',
          },
        }),
  };
}

export interface Cluster {
  swarmd: SwarmdProcess;
  nodeId: string;
  api(method: string, path: string, body?: unknown): Promise<ApiResponse>;
  /** Runs a docker CLI (20.10 by default) against this swarmd, without a terminal. */
  docker(args: string[], cli?: Cli, timeoutMs?: number): Promise<Run>;
  createService(spec: Record<string, unknown>): Promise<string>;
  service(id: string): Promise<ApiService>;
  /** Updates a service with a changed spec (the current version is read first). */
  updateService(id: string, change: (spec: ApiService['Spec']) => unknown): Promise<void>;
  tasks(serviceId: string): Promise<ApiTask[]>;
  containers(all?: boolean): Promise<ApiContainer[]>;
  removeService(id: string): Promise<void>;
  /** Removes every service and waits until no container is left. */
  removeAllServices(): Promise<void>;
  destroy(): Promise<void>;
}

/** Polls `probe` until it returns a value (not undefined); the last observation goes in the error. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 15_000,
  intervalMs = 100,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`,
      );
    }
    await sleep(intervalMs);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Tasks of one slot, newest first (by creation). */
export function inSlot(tasks: ApiTask[], slot: number): ApiTask[] {
  return tasks
    .filter((t) => (t.Slot ?? 0) === slot)
    .sort((a, b) => Date.parse(b.CreatedAt) - Date.parse(a.CreatedAt));
}

export function ok(r: ApiResponse, what: string): ApiResponse {
  assert.ok(r.status >= 200 && r.status < 300, `${what}: HTTP ${r.status} ${r.body}`);
  return r;
}

export async function startCluster(): Promise<Cluster> {
  const swarmd = await startSwarmd({ hostname: 'vm', prefix: 'skt-svc-' });
  const dockerConfig = mkdtempSync(join(tmpdir(), 'skt-svc-cfg-'));
  const api = (method: string, path: string, body?: unknown) => swarmd.api(method, path, body);
  const docker = (args: string[], cli: Cli = CLIS[0], timeoutMs = 60_000): Promise<Run> =>
    new Promise((resolve) => {
      execFile(
        cli.bin,
        args,
        {
          env: {
            PATH: process.env.PATH ?? '/usr/bin:/bin',
            HOME: dockerConfig,
            DOCKER_CONFIG: dockerConfig,
            DOCKER_HOST: `unix://${swarmd.socket}`,
            DOCKER_CLI_HINTS: 'false',
          },
          timeout: timeoutMs,
        },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });
  const tasks = async (serviceId: string) => {
    const filters = encodeURIComponent(JSON.stringify({ service: [serviceId] }));
    return ok(await api('GET', `/tasks?filters=${filters}`), 'list tasks').json<ApiTask[]>();
  };
  const containers = async (all = true) =>
    ok(await api('GET', `/containers/json?all=${all ? 1 : 0}`), 'list containers').json<ApiContainer[]>();
  const service = async (id: string) =>
    ok(await api('GET', `/services/${id}?insertDefaults=true`), 'inspect service').json<ApiService>();
  const removeService = async (id: string) => {
    const r = await api('DELETE', `/services/${id}`);
    assert.ok(r.status === 200 || r.status === 404, `remove service: HTTP ${r.status} ${r.body}`);
  };

  const cluster: Cluster = {
    swarmd,
    nodeId: '',
    api,
    docker,
    async createService(spec) {
      return ok(await api('POST', '/services/create', spec), 'create service').json<{ ID: string }>().ID;
    },
    service,
    async updateService(id, change) {
      const s = ok(await api('GET', `/services/${id}`), 'inspect service').json<ApiService>();
      ok(
        await api('POST', `/services/${id}/update?version=${s.Version.Index}`, change(s.Spec)),
        'update service',
      );
    },
    tasks,
    containers,
    removeService,
    async removeAllServices() {
      const services = ok(await api('GET', '/services'), 'list services').json<ApiService[]>();
      for (const s of services) await removeService(s.ID);
      try {
        // Teardown on a loaded 2-core CI machine: a service's stop grace plus runc removals.
        await waitFor(
          'all containers to be removed',
          async () => ((await containers()).length === 0 ? true : undefined),
          45_000,
        );
      } finally {
        // Whatever the agent left behind must not outlive the test.
        for (const c of await containers().catch(() => [])) {
          await api('DELETE', `/containers/${c.Id}?force=1`).catch(() => undefined);
        }
      }
    },
    async destroy() {
      try {
        if (swarmd.child.exitCode === null) await cluster.removeAllServices();
      } finally {
        await swarmd.destroy();
        rmSync(dockerConfig, { recursive: true, force: true });
      }
    },
  };
  try {
    ok(
      await api('POST', '/swarm/init', { ListenAddr: '0.0.0.0:2377', AdvertiseAddr: '127.0.0.1' }),
      'swarm init',
    );
    const info = ok(await api('GET', '/info'), 'info').json<{ Swarm: { NodeID: string } }>();
    cluster.nodeId = info.Swarm.NodeID;
    const archive = join(swarmd.stateDir, 'busybox.tar');
    await buildBusyboxDockerArchive(archive, { tag: IMAGE });
    const load = await docker(['load', '-i', archive]);
    assert.equal(load.code, 0, `docker load: ${load.stderr}`);
  } catch (e) {
    await cluster.destroy();
    throw e;
  }
  return cluster;
}
