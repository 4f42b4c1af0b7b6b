// System routes: /_ping, /version and /info (with the Swarm section), in Docker's shapes.
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { type Route, sendJSON } from './router.js';
import { MAX_API_VERSION, MIN_API_VERSION } from './server.js';

export const SWARMD_VERSION = '0.1.0';

/** What /info needs from the node; the daemon implements it. */
export interface SystemBackend {
  /** The `Swarm` object of /info (Docker's SwarmInfo). */
  swarmInfo(): Promise<Record<string, unknown>>;
  /** Value of the /_ping `Swarm` header: inactive | pending | error | locked | active/worker | active/manager. */
  swarmHeader(): string;
  /** Container counts and image count for /info. */
  counts(): Promise<{ containers: number; running: number; paused: number; stopped: number; images: number }>;
  hostname: string;
  stateDir: string;
}

function osRelease(): string {
  try {
    const text = readFileSync('/etc/os-release', 'utf8');
    const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(text);
    return m?.[1] ?? 'Linux';
  } catch {
    return 'Linux';
  }
}

function pingHeaders(backend: SystemBackend) {
  return {
    'Api-Version': MAX_API_VERSION,
    'Cache-Control': 'no-cache, no-store, must-revalidate',
    Pragma: 'no-cache',
    'Content-Type': 'text/plain; charset=utf-8',
    Swarm: backend.swarmHeader(),
  };
}

export function systemRoutes(backend: SystemBackend): Route[] {
  return [
    {
      method: 'GET',
      path: '/_ping',
      handler: ({ req, res }) => {
        res.writeHead(200, { ...pingHeaders(backend), 'Content-Length': 2 });
        res.end(req.method === 'HEAD' ? undefined : 'OK');
      },
    },
    {
      method: 'GET',
      path: '/version',
      handler: ({ res }) =>
        sendJSON(res, 200, {
          Platform: { Name: 'swarmkit-ts' },
          Components: [{ Name: 'Engine', Version: SWARMD_VERSION, Details: { ApiVersion: MAX_API_VERSION } }],
          Version: SWARMD_VERSION,
          ApiVersion: MAX_API_VERSION,
          MinAPIVersion: MIN_API_VERSION,
          GitCommit: '',
          GoVersion: process.version,
          Os: 'linux',
          Arch: os.arch() === 'x64' ? 'amd64' : os.arch(),
          KernelVersion: os.release(),
          BuildTime: '',
        }),
    },
    {
      method: 'GET',
      path: '/info',
      handler: async ({ res }) => {
        const c = await backend.counts();
        sendJSON(res, 200, {
          ID: '',
          Containers: c.containers,
          ContainersRunning: c.running,
          ContainersPaused: c.paused,
          ContainersStopped: c.stopped,
          Images: c.images,
          Driver: 'overlay',
          DriverStatus: [],
          Plugins: {
            Volume: ['local'],
            Network: ['bridge', 'overlay'],
            Authorization: null,
            Log: ['k8s-file'],
          },
          MemoryLimit: true,
          SwapLimit: true,
          CpuCfsPeriod: true,
          CpuCfsQuota: true,
          CPUShares: true,
          CPUSet: true,
          PidsLimit: true,
          IPv4Forwarding: true,
          BridgeNfIptables: true,
          BridgeNfIp6tables: true,
          Debug: false,
          NFd: 0,
          // cgroup v1 memory controllers can disable the OOM killer; the 20.10 CLI warns when not.
          OomKillDisable: existsSync('/sys/fs/cgroup/memory/memory.oom_control'),
          NGoroutines: 0,
          SystemTime: new Date().toISOString(),
          LoggingDriver: 'k8s-file',
          CgroupDriver: 'cgroupfs',
          CgroupVersion: '1',
          NEventsListener: 0,
          KernelVersion: os.release(),
          OperatingSystem: osRelease(),
          OSVersion: '',
          OSType: 'linux',
          Architecture: os.machine(),
          IndexServerAddress: 'https://index.docker.io/v1/',
          RegistryConfig: {
            InsecureRegistryCIDRs: ['127.0.0.0/8'],
            IndexConfigs: {},
            Mirrors: [],
          },
          NCPU: os.cpus().length,
          MemTotal: os.totalmem(),
          GenericResources: null,
          DockerRootDir: backend.stateDir,
          HttpProxy: '',
          HttpsProxy: '',
          NoProxy: '',
          Name: backend.hostname,
          Labels: [],
          ExperimentalBuild: false,
          ServerVersion: SWARMD_VERSION,
          Runtimes: { runc: { path: 'runc' } },
          DefaultRuntime: 'runc',
          Swarm: await backend.swarmInfo(),
          LiveRestoreEnabled: false,
          Isolation: '',
          InitBinary: '',
          ContainerdCommit: { ID: '', Expected: '' },
          RuncCommit: { ID: '', Expected: '' },
          InitCommit: { ID: '', Expected: '' },
          SecurityOptions: [],
          Warnings: null,
        });
      },
    },
  ];
}
