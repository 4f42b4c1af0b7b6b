// The CLIs as a user runs them against one host of a cluster in a box: the real docker CLI (with
// DOCKER_HOST on the host's socket) and our swarmctl; and the API shapes the integration tests read.
import { execFile } from 'node:child_process';
import { join } from 'node:path';

export const DOCKER = '/usr/local/bin/docker';
export const SWARMCTL = join(import.meta.dirname, '../../../bin/swarmctl');

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** A host as the CLIs see it: its Engine API socket. */
interface Socketed {
  socket: string;
}

function runCli(
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
  stdin = '',
): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { env, timeout: timeoutMs }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
    child.stdin?.end(stdin);
  });
}

/** The docker CLI against `host`; `stdin` is what it reads (e.g. `swarm unlock`'s key). */
export function docker(host: Socketed, args: string[], timeoutMs = 90_000, stdin = ''): Promise<Run> {
  return runCli(DOCKER, args, { ...process.env, DOCKER_HOST: `unix://${host.socket}` }, timeoutMs, stdin);
}

export function swarmctl(host: Socketed, args: string[], timeoutMs = 60_000, stdin = ''): Promise<Run> {
  return runCli(SWARMCTL, ['--socket', host.socket, ...args], process.env, timeoutMs, stdin);
}

export interface ApiTask {
  ID: string;
  NodeID?: string;
  DesiredState: string;
  Status: { State: string; Err?: string; ContainerStatus?: { ContainerID?: string } };
}

export interface ApiNode {
  ID: string;
  Description?: { Hostname: string; TLSInfo?: { TrustRoot: string; CertIssuerPublicKey: string } };
  Status: { State: string; Addr?: string };
  ManagerStatus?: { Leader?: boolean; Reachability: string };
}

/** The keys of Docker's NetworkResource (`GET /networks/{id}` of a swarm network on a manager), in its order. */
export const NETWORK_RESOURCE_KEYS = [
  'Name',
  'Id',
  'Created',
  'Scope',
  'Driver',
  'EnableIPv6',
  'IPAM',
  'Internal',
  'Attachable',
  'Ingress',
  'ConfigFrom',
  'ConfigOnly',
  'Containers',
  'Options',
  'Labels',
];
