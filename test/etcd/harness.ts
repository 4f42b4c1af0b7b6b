// Test harness: real etcd members started through the supervisor, in /tmp/skt-etcd-* with ports from
// 23790-23899 on 127.0.0.1. Every member and client it makes is stopped by `cleanup()`.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Etcd3 } from 'etcd3';
import { createEtcdClient } from '../../src/etcd/client.js';
import { addLearner, promote } from '../../src/etcd/membership.js';
import { EtcdMember, type MemberConfig, memberPaths, peerURL } from '../../src/etcd/supervisor.js';
import {
  type CertAndKey,
  createEtcdCA,
  issueMemberCerts,
  loadClientCredentials,
  writeMemberTLS,
} from '../../src/etcd/tls.js';

const PORT_MIN = 23790;
const PORT_MAX = 23899;
const taken = new Set<number>();

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A port of our range that nothing listens on now and this process has not handed out. */
export async function allocatePort(): Promise<number> {
  const span = PORT_MAX - PORT_MIN + 1;
  const start = Math.floor(Math.random() * span);
  for (let i = 0; i < span; i++) {
    const port = PORT_MIN + ((start + i) % span);
    if (taken.has(port)) continue;
    if (await portFree(port)) {
      taken.add(port);
      return port;
    }
  }
  throw new Error('no free port in 23790-23899');
}

export function releasePorts(...ports: number[]): void {
  for (const p of ports) taken.delete(p);
}

export async function makeStateDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'skt-etcd-'));
}

export interface PreparedMember {
  stateDir: string;
  name: string;
  clientPort: number;
  peerPort: number;
  metricsPort: number;
  peerURL: string;
}

/** Allocates ports and writes TLS files for a member (not started, no config yet). */
export async function prepareMember(ca: CertAndKey, name: string): Promise<PreparedMember> {
  const stateDir = await makeStateDir();
  const [clientPort, peerPort, metricsPort] = [
    await allocatePort(),
    await allocatePort(),
    await allocatePort(),
  ];
  const certs = await issueMemberCerts(ca, { name, peerIP: '127.0.0.1' });
  await writeMemberTLS(memberPaths(stateDir).tlsDir, ca, certs);
  return { stateDir, name, clientPort, peerPort, metricsPort, peerURL: peerURL('127.0.0.1', peerPort) };
}

export async function clientFor(stateDir: string, clientPort: number): Promise<Etcd3> {
  const creds = await loadClientCredentials(memberPaths(stateDir).tlsDir);
  return createEtcdClient({ endpoints: [`https://localhost:${clientPort}`], ...creds });
}

/** Kills an etcd still running on this state dir (e.g. started by a stand-in swarmd a failed test left). */
async function killLeftoverEtcd(stateDir: string): Promise<void> {
  const paths = memberPaths(stateDir);
  try {
    const pid = Number((await readFile(paths.pidFile, 'utf8')).trim());
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    if (cmdline.includes(`--data-dir=${paths.dataDir}`)) process.kill(pid, 'SIGKILL');
  } catch {
    // no pid file or no such process
  }
}

/** Tracks everything a test started; `cleanup()` stops members, closes clients, removes dirs. */
export class Harness {
  readonly members: EtcdMember[] = [];
  readonly clients: Etcd3[] = [];
  readonly dirs: string[] = [];
  readonly pids: number[] = [];
  private caPromise: Promise<CertAndKey> | undefined;

  ca(): Promise<CertAndKey> {
    this.caPromise ??= createEtcdCA('test');
    return this.caPromise;
  }

  async prepare(name: string): Promise<PreparedMember> {
    const p = await prepareMember(await this.ca(), name);
    this.dirs.push(p.stateDir);
    return p;
  }

  /** A started single-member cluster and a client to it. */
  async singleMember(name = 'm1'): Promise<{ member: EtcdMember; client: Etcd3; prepared: PreparedMember }> {
    const p = await this.prepare(name);
    const started = await this.start(p, {
      initialCluster: `${name}=${p.peerURL}`,
      clusterState: 'new',
      clusterToken: `skt-test-${Date.now()}`,
    });
    return { ...started, prepared: p };
  }

  /**
   * A new member joined the way a manager joins (learner → start → promote) through `seed`, a client
   * of the running cluster whose token is `clusterToken`; returns the member and a client to it.
   */
  async join(
    seed: Etcd3,
    name: string,
    clusterToken: string,
  ): Promise<{ member: EtcdMember; client: Etcd3 }> {
    const p = await this.prepare(name);
    const { id, initialCluster } = await addLearner(seed, name, p.peerURL);
    const started = await this.start(p, { initialCluster, clusterState: 'existing', clusterToken });
    await promote(seed, id);
    return started;
  }

  /** Starts a prepared member in `cluster` (tracked for cleanup); returns it and a client to it. */
  private async start(
    p: PreparedMember,
    cluster: Pick<MemberConfig, 'initialCluster' | 'clusterState' | 'clusterToken'>,
  ): Promise<{ member: EtcdMember; client: Etcd3 }> {
    const member = await EtcdMember.create(p.stateDir, {
      name: p.name,
      peerIP: '127.0.0.1',
      clientPort: p.clientPort,
      peerPort: p.peerPort,
      metricsPort: p.metricsPort,
      ...cluster,
    });
    this.members.push(member);
    await member.start();
    return { member, client: this.track(await clientFor(p.stateDir, p.clientPort)) };
  }

  track(client: Etcd3): Etcd3 {
    this.clients.push(client);
    return client;
  }

  async cleanup(): Promise<void> {
    for (const c of this.clients) c.close();
    await Promise.all(this.members.map((m) => m.stop(5000).catch(() => undefined)));
    for (const pid of this.pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const d of this.dirs) {
      await killLeftoverEtcd(d);
      await rm(d, { recursive: true, force: true });
    }
  }
}
