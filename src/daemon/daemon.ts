// swarmd's lifecycle: serve the Engine API, start outside any swarm (like Docker's engine), become
// a manager on `swarm init`, resume as one after a restart, leave on `swarm leave`.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, readFile, rm } from 'node:fs/promises';
import { isIPv4 } from 'node:net';
import os from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import { z } from 'zod';
import { Agent } from '../agent/agent.js';
import type { NetworkView, NetworkViews } from '../agent/session.js';
import { TaskFiles } from '../agent/taskfiles.js';
import { defaultSwarmSpec } from '../api/defaults.js';
import { conflict, invalidArgument, notManager, SwarmError } from '../api/errors.js';
import { newId } from '../api/ids.js';
import {
  describeZodError,
  type Endpoint,
  type NodeDescription,
  type Service,
  type SwarmSpec,
  type Task,
} from '../api/types.js';
import { stripNulls, validateSwarmSpec } from '../api/validate.js';
import { createNodeCredentials, createRootCA } from '../ca/certificates.js';
import { CERTIFICATES_EXPIRED_MESSAGE, certificateExpired } from '../ca/renewal.js';
import {
  certificatePaths,
  type NodeCertificateFiles,
  readNodeCertificates,
  writeNodeCertificates,
} from '../ca/store.js';
import { parseJoinToken, validateJoinTokenTTL } from '../ca/tokens.js';
import { parseUnlockKey } from '../ca/unlock-key.js';
import { type ClusterBackend, type ControlApis, clusterRoutes } from '../engineapi/cluster.js';
import { containerRoutes } from '../engineapi/containers.js';
import {
  containerEvent,
  EventLog,
  eventRoutes,
  nowNs,
  type SwarmChange,
  swarmEvent,
} from '../engineapi/events.js';
import { imageRoutes } from '../engineapi/images.js';
import { logRoutes } from '../engineapi/logs.js';
import type { LocalEndpoint, VerboseService } from '../engineapi/networks.js';
import { networkRoutes, networkServices } from '../engineapi/networks.js';
import { payloadRoutes } from '../engineapi/payloads.js';
import type { Route } from '../engineapi/router.js';
import { EngineServer } from '../engineapi/server.js';
import { SWARMD_VERSION, type SystemBackend, systemRoutes } from '../engineapi/system.js';
import { EtcdMember, peerURL, setRuntimeKeyRoot } from '../etcd/supervisor.js';
import { RuncExecutor } from '../executor/runc/executor.js';
import { mountsUnder, unmount } from '../executor/runc/host.js';
import { ContainerRuntime } from '../executor/runc/runtime.js';
import type { Executor, LogEntry } from '../executor/types.js';
import { keyEncryptionKey, LOCKED_MESSAGE, setKeyEncryptionKey } from '../lib/keyring.js';
import { LatestApplier } from '../lib/latest.js';
import { createLogger } from '../lib/log.js';
import { validateAddressPool } from '../manager/allocator/networks.js';
import { allocatePorts } from '../manager/allocator/ports.js';
import { unsupportedSwarmSpec } from '../manager/controlapi/cluster.js';
import type { PortAllocator } from '../manager/controlapi/services.js';
import { Manager } from '../manager/manager.js';
import { ServiceDiscovery } from '../network/discovery.js';
import { NodeNetwork } from '../network/node-network.js';
import { NetworkProviderImpl } from '../network/provider.js';
import { isServing, meshInputs, type TaskAddress } from '../network/publish.js';
import { addressTasks, PortPublisher } from '../network/publisher.js';
import { type JoinedNode, joinSwarm, renewNodeCertificate } from '../rpc/ca-client.js';
import { RemoteSession } from '../rpc/dispatcher-client.js';
import { type LocalLogs, listenForLogSubscriptions } from '../rpc/logbroker.js';
import { type MemberJoin, requestMemberJoin } from '../rpc/membership.js';
import { NodeTLSIdentity } from '../rpc/tls.js';
import { chooseAdvertiseAddr, DEFAULT_PORT, splitHostPort } from './address.js';
import { ensureTmpfs, releaseTmpfs } from './execroot.js';
import { apiListen, type DaemonFlags } from './flags.js';
import { NodeImageStore } from './images.js';
import { checkUnlockKey, nodeKeyLocked, rewrapSecrets } from './lock.js';
import { ManagerSession } from './manager-session.js';
import { NodeMetrics } from './metrics.js';
import { freePort } from './ports.js';
import { type CertRenewal, startCertRenewal } from './renewal.js';
import { readSwarmState, removeSwarmState, type SwarmState, writeSwarmState } from './state.js';
import { TrustReportingSession } from './trust.js';

const log = createLogger({ component: 'daemon' });

const InitRequestSchema = z.object({
  ListenAddr: z.string().optional(),
  AdvertiseAddr: z.string().optional(),
  DataPathAddr: z.string().optional(),
  DataPathPort: z.number().int().min(0).max(65535).optional(),
  DefaultAddrPool: z.array(z.string()).optional(),
  SubnetSize: z.number().int().min(0).max(32).optional(),
  ForceNewCluster: z.boolean().optional(),
  Spec: z.unknown().optional(),
  AutoLockManagers: z.boolean().optional(),
  Availability: z.string().optional(),
  /** Ours: join tokens expire this long (ns) after they are made; 0 or absent: never. */
  JoinTokenTTL: z.number().optional(),
});

const JoinRequestSchema = z.object({
  ListenAddr: z.string().optional(),
  AdvertiseAddr: z.string().optional(),
  DataPathAddr: z.string().optional(),
  RemoteAddrs: z.array(z.string()).optional(),
  JoinToken: z.string().optional(),
  Availability: z.enum(['', 'active', 'pause', 'drain']).optional(),
});

/** How long `swarm join` waits for the first session before answering (Docker: 20 s). */
const JOIN_TIMEOUT_MS = 20_000;
/** A CA that cannot be reached is tried this many times, this far apart (SwarmKit: 5 × 2 s). */
const JOIN_ATTEMPTS = 3;
const JOIN_RETRY_MS = 1000;

const REMOVED_MANAGER_MESSAGE =
  "this node's etcd member was removed from the swarm's managers: leave the swarm (swarm leave --force) and join it again";

const alreadyInSwarm = () =>
  new SwarmError(
    'NOT_MANAGER',
    'This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.',
  );

/** Docker's CLI sends zeros for unset cluster settings: those take the defaults. */
export function initialSwarmSpec(requested: SwarmSpec): SwarmSpec {
  const d = defaultSwarmSpec();
  const pos = (v: number | undefined, dflt: number | undefined) => (v ? v : dflt);
  return {
    Name: 'default',
    Labels: requested.Labels ?? {},
    Orchestration: {
      TaskHistoryRetentionLimit:
        requested.Orchestration?.TaskHistoryRetentionLimit ?? d.Orchestration?.TaskHistoryRetentionLimit,
    },
    Raft: {
      SnapshotInterval: pos(requested.Raft?.SnapshotInterval, d.Raft?.SnapshotInterval),
      KeepOldSnapshots: requested.Raft?.KeepOldSnapshots ?? 0,
      LogEntriesForSlowFollowers: pos(
        requested.Raft?.LogEntriesForSlowFollowers,
        d.Raft?.LogEntriesForSlowFollowers,
      ),
      ElectionTick: pos(requested.Raft?.ElectionTick, d.Raft?.ElectionTick),
      HeartbeatTick: pos(requested.Raft?.HeartbeatTick, d.Raft?.HeartbeatTick),
    },
    Dispatcher: {
      HeartbeatPeriod: pos(requested.Dispatcher?.HeartbeatPeriod, d.Dispatcher?.HeartbeatPeriod),
    },
    CAConfig: { NodeCertExpiry: pos(requested.CAConfig?.NodeCertExpiry, d.CAConfig?.NodeCertExpiry) },
    TaskDefaults: requested.TaskDefaults ?? {},
    EncryptionConfig: { AutoLockManagers: requested.EncryptionConfig?.AutoLockManagers ?? false },
  };
}

/** The control API's port allocation over the pure allocator: Endpoint for a spec, or a 400. */
const portAllocator: PortAllocator = (spec, self, all) => {
  const service = self
    ? { ...self, Spec: spec }
    : { ID: '', Version: { Index: 0 }, CreatedAt: '', UpdatedAt: '', Spec: spec };
  const r = allocatePorts(service, all);
  if ('error' in r) {
    throw new SwarmError(r.error.code, `rpc error: code = InvalidArgument desc = ${r.error.message}`);
  }
  // Endpoint.Spec mirrors what the user gave, as Docker's ({} without an EndpointSpec; vip is
  // then the mode all the same).
  const endpoint: Endpoint = {
    Spec: {
      ...(spec.EndpointSpec?.Mode ? { Mode: spec.EndpointSpec.Mode } : {}),
      ...(spec.EndpointSpec?.Ports ? { Ports: spec.EndpointSpec.Ports } : {}),
    },
  };
  if (r.ports.length > 0) endpoint.Ports = r.ports;
  return endpoint;
};

/** The address the remote API binds: Docker's ListenAddr, port 2377 when none is given. */
export function remoteListenAddr(listen: string): string {
  const hp = splitHostPort(listen || `0.0.0.0:${DEFAULT_PORT}`, DEFAULT_PORT);
  return `${hp.host.includes(':') ? `[${hp.host}]` : hp.host || '0.0.0.0'}:${hp.port}`;
}

/**
 * A worker has no store: the services whose ports it publishes are what its tasks carry (each
 * task's Endpoint is its service's at the time the task was made).
 */
export function workerServices(tasks: readonly Task[]): Service[] {
  const out = new Map<string, Service>();
  for (const t of tasks) {
    if (!t.Endpoint?.Ports?.length || out.has(t.ServiceID)) continue;
    out.set(t.ServiceID, {
      ID: t.ServiceID,
      Version: { Index: 0 },
      CreatedAt: '',
      UpdatedAt: '',
      Spec: { Name: t.ServiceAnnotations?.Name ?? t.ServiceID, TaskTemplate: t.Spec },
      Endpoint: t.Endpoint,
    });
  }
  return [...out.values()];
}

/** A remote task's lines as the log routes read local ones. */
async function* remoteEntries(lines: AsyncIterable<{ entry: LogEntry }>): AsyncGenerator<LogEntry> {
  for await (const l of lines) yield l.entry;
}

export class Daemon implements ClusterBackend, SystemBackend {
  private state: SwarmState | undefined;
  private currentManager: Manager | undefined;
  /** Prometheus metrics (served only with --metrics-addr); they follow the manager, if any. */
  readonly metrics = new NodeMetrics();
  private get manager(): Manager | undefined {
    return this.currentManager;
  }
  private set manager(m: Manager | undefined) {
    this.currentManager = m;
    this.metrics.setManager(m);
    this.followSwarmEvents(m);
  }
  private server: EngineServer | undefined;
  /** The opt-in second listener on Docker's own socket path. */
  private dockerServer: EngineServer | undefined;
  private agent: Agent | undefined;
  readonly images: NodeImageStore;
  readonly runtime: ContainerRuntime;
  private readonly executor: Executor;
  private readonly network: NodeNetwork;
  private readonly networkProvider: NetworkProviderImpl;
  /** The node's copy of the secrets and configs its tasks reference. */
  private readonly taskFiles: TaskFiles;
  private readonly discovery: ServiceDiscovery;
  /** The overlays the managers last told this node of (a network that drops out gets no peers). */
  private knownNetworks = new Set<string>();

  /** The managers' view of this node's overlays: VXLAN peers and service discovery follow. */
  private readonly onNetworks = (views: NetworkViews): void => {
    const ids = new Set(Object.keys(views));
    const gone = [...this.knownNetworks].filter((id) => !ids.has(id));
    this.knownNetworks = ids;
    const mesh = Object.entries(views).find(([, v]) => v.self !== undefined);
    const before = this.mesh;
    this.mesh = mesh && { networkId: mesh[0], view: mesh[1] };
    void (async () => {
      // The node's own ingress endpoint first: the mesh's peers go on its devices.
      const [id, v] = mesh ?? [];
      if (id && v?.self && v.vni !== undefined && v.gateway)
        await this.network.setNodeEndpoint(id, {
          vni: v.vni,
          gateway: v.gateway,
          mtu: v.mtu,
          address: v.self,
        });
      else if (before) await this.network.setNodeEndpoint(before.networkId, undefined);
      for (const [id, view] of Object.entries(views))
        await this.networkProvider.setNetworkPeers(id, view.peers);
      for (const id of gone) await this.networkProvider.setNetworkPeers(id, []);
      // Independent: the tasks' own rules, and the node's published ports.
      await Promise.all([this.discovery.setViews(views), this.syncPortsNow?.()]);
    })().catch((e) => log.warn('overlay state not applied', { err: e }));
  };
  /** The routing mesh's network (ingress) as the managers last described it to this node. */
  private mesh: { networkId: string; view: NetworkView } | undefined;

  /**
   * What the published ports forward to: with the mesh, every service publishing through it and
   * its tasks on other nodes (ingress addresses); this node's tasks come on the gateway bridge.
   * `local` is every task of this node, serving or not: one that is stopping must not come back
   * through its ingress address as if it ran elsewhere.
   */
  private meshPorts(local: readonly Task[]): { services: Service[]; remote: TaskAddress[] } | undefined {
    if (!this.mesh) return undefined;
    const localIps = new Set<string>();
    for (const t of local)
      for (const a of t.NetworksAttachments ?? [])
        if (a.Network.ID === this.mesh.networkId)
          for (const addr of a.Addresses) localIps.add(addr.replace(/\/\d+$/, ''));
    return meshInputs(this.mesh.view, localIps);
  }
  private readonly publisher: PortPublisher;
  private stopPortSync: (() => void) | undefined;
  private stopSwarmEvents: (() => void) | undefined;
  /** The node's recent Docker events (GET /events). */
  readonly events = new EventLog();
  /** A worker's session with the managers. */
  private remoteSession: RemoteSession | undefined;
  private certRenewal: CertRenewal | undefined;
  /** Why this node cannot take part in its swarm now (docker info's Swarm.Error). */
  private stateError = '';
  /** Applies the port rules for the current state now (before a container is stopped). */
  private syncPortsNow: () => Promise<void> = async () => undefined;
  /** A promotion is under way (heartbeats keep saying "manager" until it is done). */
  private promoting = false;
  /** Serialises init/join/leave. */
  private membership: Promise<unknown> = Promise.resolve();
  readonly hostname: string;
  readonly stateDir: string;
  readonly execRoot: string;

  constructor(
    private readonly flags: DaemonFlags,
    private readonly extraRoutes: Route[] = [],
  ) {
    this.hostname = flags.hostname ?? os.hostname();
    this.stateDir = flags.stateDir;
    this.execRoot = flags.execRoot ?? join(this.stateDir, 'exec');
    // Resources of this node carry a tag of its state dir, so two swarmd on one machine (tests,
    // several hosts in namespaces) never take each other's containers or cgroups for leftovers.
    const tag = createHash('sha256').update(this.stateDir).digest('hex').slice(0, 6);
    this.images = new NodeImageStore(join(this.stateDir, 'images'), () =>
      this.runtime.list().map((c) => ({ imageId: c.ImageID, containerId: c.Id })),
    );
    // Addresses and per-container files mean something only while the netns exist: volatile too.
    this.network = new NodeNetwork({ stateDir: join(this.execRoot, 'network') });
    this.discovery = new ServiceDiscovery(
      async () => {
        await this.network.gatewayReady();
        return this.network.gateway;
      },
      () => this.network.upstreamResolvers(),
    );
    this.networkProvider = new NetworkProviderImpl(this.network, this.discovery);
    this.taskFiles = new TaskFiles(() => ({
      hostname: this.hostname,
      os: 'linux',
      architecture: os.machine(),
    }));
    this.publisher = new PortPublisher(this.network);
    this.runtime = new ContainerRuntime({
      stateDir: join(this.stateDir, 'runtime'),
      execRoot: join(this.execRoot, 'runtime'),
      images: { resolve: (ref, pull) => this.timed('image', () => this.images.resolveForTask(ref, pull)) },
      network: {
        prepareNetwork: (id, task) =>
          this.timed('network', () => this.networkProvider.prepareNetwork(id, task)),
        releaseNetwork: (id) => this.networkProvider.releaseNetwork(id),
        setNetworkPeers: (id, peers) => this.networkProvider.setNetworkPeers(id, peers),
      },
      files: this.taskFiles,
      namePrefix: `skt-${tag}-`,
      cgroupParent: `skt-${tag}`,
    });
    this.runtime.onLifecycle((action, rec) =>
      this.events.publish(
        containerEvent(
          action,
          rec,
          nowNs(),
          action === 'die' ? { exitCode: String(rec.State.ExitCode) } : {},
        ),
      ),
    );
    const runc = new RuncExecutor(this.runtime, SWARMD_VERSION);
    this.executor = {
      controller: (t) => {
        const c = runc.controller(t);
        // Drain before stopping: the port rules drop the task (its desired state has left
        // running) before its container stops, so no connection reaches a dying task.
        return {
          prepare: () => this.timed('prepare', () => c.prepare()),
          start: async () => {
            const end = this.metrics.containerStart.startTimer();
            await this.timed('start', () => c.start());
            end();
          },
          wait: (signal) => c.wait(signal),
          shutdown: async () => {
            await this.syncPortsNow().catch((e) =>
              log.warn('port rules not updated before stop', { err: e }),
            );
            await c.shutdown();
          },
          terminate: () => c.terminate(),
          remove: () => c.remove(),
          status: () => c.status(),
          logs: (o) => c.logs(o),
        };
      },
      // The node's own description (hostname flag, plugins) rather than the executor's bare one.
      describe: async () => this.describe(),
    };
  }

  /**
   * Keeps this node's published-port rules in step with the services and this node's tasks, from
   * the manager's cache (debounced). Single-node today: the backends are the local tasks.
   */
  /**
   * A manager's store changes as Docker's swarm events (service, node, network, secret, config),
   * for as long as this node is that manager (independent of its agent's comings and goings).
   */
  private followSwarmEvents(manager: Manager | undefined): void {
    this.stopSwarmEvents?.();
    this.stopSwarmEvents = undefined;
    if (!manager) return;
    this.stopSwarmEvents = manager.cache.subscribe((ev) => {
      if (ev.kind === 'cluster' || ev.kind === 'task') return;
      const e = swarmEvent(ev as SwarmChange, nowNs());
      if (e) this.events.publish(e);
    });
  }

  private startPortSync(manager: Manager, nodeId: string): void {
    const { sync, kick, cancel } = this.portSync(async () => {
      // Only tasks of services that publish ports matter; most services publish none, and looking
      // up every task's address on every task event grew with the square of the task count.
      const publishing = manager.cache
        .list('service')
        .filter((svc) => (svc.Endpoint?.Ports?.length ?? 0) > 0);
      const ids = new Set(publishing.map((svc) => svc.ID));
      const mine = manager.cache.byIndex('task', 'node', nodeId);
      const tasks = mine.filter((t) => ids.has(t.ServiceID) && isServing(t));
      const remote = this.meshPorts(mine)?.remote ?? [];
      const local = await addressTasks(tasks, (id) => this.networkProvider.addressOf(id));
      await this.publisher.update(publishing, local, remote);
    });
    this.syncPortsNow = sync;
    const off = manager.cache.subscribe((ev) => {
      if (ev.kind === 'service' || ev.kind === 'task') kick();
    });
    kick();
    this.stopPortSync = () => {
      off();
      cancel();
    };
  }

  /** Runs one step of starting a task, observed in swarm_node_task_stage_seconds (when it succeeds). */
  private async timed<T>(
    stage: 'image' | 'network' | 'prepare' | 'start',
    step: () => Promise<T>,
  ): Promise<T> {
    const end = this.metrics.taskStage.startTimer({ stage });
    const out = await step();
    end();
    return out;
  }

  /**
   * Runs a port-rules sync (which reads the state it publishes when it starts) one at a time: a
   * sync asked for while one runs starts after it, so the rules never go back to an older state
   * (two overlapping syncs used to finish in either order). `kick` asks for one after 5 ms, folding
   * a burst of store events into one.
   */
  private portSync(run: () => Promise<void>): {
    sync: () => Promise<void>;
    kick: () => void;
    cancel: () => void;
  } {
    const one = new LatestApplier<'ports'>(run, { limit: 1, quietMs: 0, maxWaitMs: 0 });
    const sync = () => one.request('ports', true);
    let timer: NodeJS.Timeout | undefined;
    const kick = () => {
      timer ??= setTimeout(() => {
        timer = undefined;
        sync().catch((e) => log.warn('port rules not applied', { err: e }));
      }, 5);
    };
    return { sync, kick, cancel: () => clearTimeout(timer) };
  }

  /**
   * Removes task containers whose task is no longer this node's (e.g. swarmd was stopped between a
   * service's removal and its containers'): Docker's agent does the same.
   */
  private startSweep(isMine: (taskId: string) => boolean): void {
    const sweep = async () => {
      for (const c of this.runtime.list()) {
        const taskId = c.Labels['com.docker.swarm.task.id'];
        if (!taskId || isMine(taskId)) continue;
        if (Date.now() - Date.parse(c.Created) < 30_000) continue; // its assignment may still be on its way
        log.info('removing orphaned task container', { container: c.Id, task: taskId });
        await this.runtime
          .remove(c.Id, { force: true })
          .catch((e) => log.warn('orphan removal failed', { err: e }));
      }
    };
    const timer = setInterval(() => void sweep(), 10_000);
    const prev = this.stopPortSync;
    this.stopPortSync = () => {
      prev?.();
      clearInterval(timer);
    };
    void sweep();
  }

  /**
   * A worker's agent: a remote session with the managers over mutual TLS, its published ports and
   * orphan sweep driven by its own task set (a worker has no store).
   */
  /** VXLAN runs from the node's advertise address (nothing to do before it is in a swarm). */
  private async setUnderlay(): Promise<void> {
    const ip = this.state?.advertiseAddr.replace(/:\d+$/, '');
    if (ip && ip !== '0.0.0.0' && isIPv4(ip))
      await this.network
        .setUnderlayAddress(ip)
        .catch((e) => log.warn('overlay underlay not set', { err: e }));
  }

  private async startWorkerAgent(): Promise<void> {
    const state = this.state;
    if (state?.role !== 'worker' || this.agent) return;
    await this.setUnderlay();
    const certs = await readNodeCertificates(this.stateDir);
    if (certificateExpired(certs.info, new Date())) {
      this.stateError = CERTIFICATES_EXPIRED_MESSAGE;
      log.error('node certificate expired', { notAfter: certs.info.notAfter });
      return;
    }
    const identity = new NodeTLSIdentity(certs);
    const session = new RemoteSession({
      managers: () => this.state?.remoteManagers ?? state.remoteManagers ?? [],
      identity,
      advertiseAddr: state.advertiseAddr.startsWith('0.0.0.0:')
        ? ''
        : state.advertiseAddr.replace(/:\d+$/, ''),
      onManagers: (managers) => void this.rememberManagers(managers),
      onRole: (role) => {
        if (role === 'manager' && !this.promoting) {
          this.promoting = true;
          void this.serialized(() => this.becomeManagerFromWorker())
            .catch((e) => log.warn('promotion to manager failed; the next heartbeat tries again', { err: e }))
            .finally(() => {
              this.promoting = false;
            });
        }
      },
    });
    this.remoteSession = session;
    const { sync, kick } = this.portSync(async () => {
      const mine = this.agent?.tasks() ?? [];
      const tasks = mine.filter((t) => isServing(t) && (t.Endpoint?.Ports?.length ?? 0) > 0);
      const mesh = this.meshPorts(mine);
      const local = await addressTasks(tasks, (id) => this.networkProvider.addressOf(id));
      await this.publisher.update(mesh ? mesh.services : workerServices(tasks), local, mesh?.remote ?? []);
    });
    this.syncPortsNow = sync;
    const trusted = new TrustReportingSession(session, identity, () => this.certRenewal?.kick());
    const agent = new Agent({
      nodeId: state.nodeId,
      executor: this.executor,
      session: trusted,
      stateDir: this.stateDir,
      onAssignments: kick,
      onNetworks: this.onNetworks,
      onPayloads: (p) => this.taskFiles.set(p),
      onDelivered: (seconds) => this.metrics.taskStage.observe({ stage: 'delivery' }, seconds),
    });
    this.agent = agent;
    this.startSweep((taskId) => agent.tasks().some((t) => t.ID === taskId));
    await agent.start();
    this.answerLogSubscriptions(() => session.manager ?? this.state?.remoteManagers?.[0], identity);
    this.certRenewal?.stop();
    this.certRenewal = startCertRenewal({
      stateDir: this.stateDir,
      identity,
      manager: () => session.manager ?? this.state?.remoteManagers?.[0],
      desired: () => trusted.desired,
      onChanged: () => this.agent?.heartbeatNow(),
    });
  }

  /**
   * Stops what runs for this node's part in the swarm (the agent, which leaves its containers running,
   * its session, certificate renewal, port sync, orphan sweep, log listener); the manager is the caller's.
   */
  private async stopNodeAgent(): Promise<void> {
    this.certRenewal?.stop();
    this.certRenewal = undefined;
    this.stopPortSync?.();
    this.stopPortSync = undefined;
    await this.agent?.stop();
    this.agent = undefined;
    this.remoteSession?.close();
    this.remoteSession = undefined;
  }

  /** Keeps the managers a worker was last told of, on disk too: a restart finds them after a failover. */
  private async rememberManagers(managers: string[]): Promise<void> {
    const state = this.state;
    if (state?.role !== 'worker') return;
    // Order matters: the leader comes first, and a refused session dials the first one next.
    const known = state.remoteManagers ?? [];
    if (known.length === managers.length && known.every((m, i) => managers[i] === m)) return;
    this.state = { ...state, remoteManagers: managers };
    await writeSwarmState(this.stateDir, this.state).catch((e) =>
      log.warn('manager list not saved', { err: e }),
    );
    log.info('managers', { managers });
  }

  /** Starts this node's agent: against the local dispatcher on a manager, a remote one on a worker. */
  private async startAgent(): Promise<void> {
    if (this.state?.role === 'worker') return this.startWorkerAgent();
    if (!this.state || !this.manager || this.agent) return;
    await this.setUnderlay();
    const manager = this.manager;
    const nodeId = this.state.nodeId;
    // Demoted (or removed by the others): the etcd member is gone, this node carries on as a worker.
    manager.member.onStateChange((s) => {
      if (s === 'removed') void this.serialized(() => this.becomeWorker(manager));
    });
    // Until the election has an outcome the agent would not know which transport to take.
    await manager.waitForLeader(5000);
    if (this.manager !== manager || this.agent || this.state?.role !== 'manager') return; // changed meanwhile
    this.startPortSync(manager, nodeId);
    this.startSweep((taskId) => manager.cache.get('task', taskId)?.NodeID === nodeId);
    const identity = manager.tlsIdentity ?? new NodeTLSIdentity(await readNodeCertificates(this.stateDir));
    const otherManagers = () => manager.managerAddrs().filter((a) => a !== this.state?.advertiseAddr);
    const remote = new RemoteSession({
      managers: otherManagers,
      identity,
      advertiseAddr: this.state.advertiseAddr.replace(/:\d+$/, ''),
    });
    this.remoteSession = remote;
    const trusted = new TrustReportingSession(
      new ManagerSession(() => (this.manager === manager ? manager.dispatcher() : undefined), remote),
      identity,
      () => this.certRenewal?.kick(),
    );
    // Any manager signs, this one included: the leader's address first.
    this.certRenewal?.stop();
    this.certRenewal = startCertRenewal({
      stateDir: this.stateDir,
      identity,
      manager: () => manager.managerAddrs()[0],
      desired: () => trusted.desired,
      onChanged: () => this.agent?.heartbeatNow(),
    });
    this.agent = new Agent({
      nodeId,
      executor: this.executor,
      session: trusted,
      stateDir: this.stateDir,
      onNetworks: this.onNetworks,
      onPayloads: (p) => this.taskFiles.set(p),
      onDelivered: (seconds) => this.metrics.taskStage.observe({ stage: 'delivery' }, seconds),
    });
    await this.agent.start();
    manager.logs.serveLocal(nodeId, this.localTaskLogs);
    // A manager that does not lead answers `service logs` run elsewhere through the leader's broker.
    this.answerLogSubscriptions(() => (manager.dispatcher() ? undefined : manager.leaderAddr()), identity);
  }

  /** This node's lines of a task, for the log broker. */
  private readonly localTaskLogs: LocalLogs = (taskId, opts) => {
    const rec = this.runtime.findByTask(taskId);
    return rec ? this.runtime.logs(rec.Id, opts) : undefined;
  };

  /** Answers the log subscriptions of the leader at `manager()` from this node's containers. */
  private answerLogSubscriptions(manager: () => string | undefined, identity: NodeTLSIdentity): void {
    const logs = listenForLogSubscriptions({ manager, identity, logsOf: this.localTaskLogs });
    const prevStop = this.stopPortSync;
    this.stopPortSync = () => {
      prevStop?.();
      logs.stop();
    };
  }

  async start(): Promise<void> {
    await mkdir(this.stateDir, { recursive: true, mode: 0o700 });
    await chmod(this.stateDir, 0o700); // keys, certificates and etcd's data: the owner's only
    await ensureTmpfs(this.execRoot);
    this.state = await readSwarmState(this.stateDir);
    await this.images.init();
    // Outside a swarm the node has no network of its own until it inits or joins (no task needs one).
    if (this.state) await this.network.ensureGatewayBridge();
    const adopted = await this.runtime.adopt();
    log.info('containers adopted', { report: adopted });
    await this.network.cleanupLeftovers({ keep: new Set(adopted.running) });
    await this.networkProvider
      .adoptDiscovery(adopted.running)
      .catch((e) => log.warn('service discovery of surviving tasks not restored', { err: e }));
    setRuntimeKeyRoot(join(this.execRoot, 'keys'));
    if (this.state?.role === 'manager') {
      if (await nodeKeyLocked(this.stateDir)) {
        // Autolock: nothing of the swarm runs until `swarm unlock` (its etcd neither).
        this.locked = true;
        await (await EtcdMember.load(this.stateDir))?.reapLeftover();
        log.warn('this manager is locked: give its unlock key with "swarm unlock"');
      } else await this.resumeManager(this.state);
    }
    const routes = [
      ...systemRoutes(this),
      ...clusterRoutes(this),
      ...networkRoutes(this),
      ...payloadRoutes(() => this.control()),
      ...imageRoutes(this.images),
      ...containerRoutes(this.runtime),
      ...eventRoutes(this.events),
      ...logRoutes({
        service: (ref) => this.control().services.get(ref, false),
        task: (ref) => this.control().tasks.get(ref),
        tasksOf: (id) => this.control().tasks.list(new Map([['service', [id]]])),
        taskLogs: (task, opts) => {
          if (task.NodeID && task.NodeID !== this.state?.nodeId && this.manager) {
            return remoteEntries(this.manager.taskLogs(task.NodeID, [task.ID], opts));
          }
          const rec = task.NodeID === this.state?.nodeId ? this.runtime.findByTask(task.ID) : undefined;
          return rec ? this.runtime.logs(rec.Id, opts) : undefined;
        },
      }),
      ...this.extraRoutes,
    ];
    this.server = new EngineServer({ serverName: `swarmd/${SWARMD_VERSION} (linux)`, routes });
    await this.listenControlApi(this.server);
    if (this.flags.metricsAddr) await this.metrics.listen(this.flags.metricsAddr);
    if (this.flags.dockerSocket) {
      this.dockerServer = new EngineServer({ serverName: `swarmd/${SWARMD_VERSION} (linux)`, routes });
      await this.dockerServer.listen(this.flags.dockerSocket, { group: this.flags.group });
    }
    log.info('engine API listening', {
      socket: this.flags.listenControlApi,
      state: this.state ? 'active' : 'inactive',
    });
    if (this.flags.init && !this.state) {
      await this.init({ ListenAddr: this.flags.listenRemoteApi, AdvertiseAddr: this.flags.advertiseAddr });
    }
    if (this.flags.joinAddr && !this.state) {
      // SwarmKit's one-step form: swarmd --join-addr MANAGER:2377 --join-token SWMTKN-1-…
      await this.join({
        ListenAddr: this.flags.listenRemoteApi,
        AdvertiseAddr: this.flags.advertiseAddr,
        RemoteAddrs: [this.flags.joinAddr],
        JoinToken: this.flags.joinToken,
      });
      return;
    }
    // After init/join/leave requests already queued: the API is listening by now.
    if (!this.locked) await this.serialized(() => this.startAgent());
  }

  /**
   * The Engine API on its control address: a unix socket (0660, root and the --group), TCP with
   * TLS (client certificates verified with --tlsverify), or — only with an explicit --tls=false —
   * plain TCP, after Docker's warnings and a one-second pause.
   */
  private async listenControlApi(server: EngineServer): Promise<void> {
    const plan = apiListen(this.flags);
    if (plan.kind === 'unix') return server.listen(plan.path, { group: this.flags.group });
    if (plan.kind === 'plain-tcp') {
      log.warn(
        'Binding to IP address without --tlsverify is insecure and gives root access on this machine to everyone who has access to your network.',
        { host: plan.address },
      );
      log.warn(
        'Binding to an IP address, even on localhost, can also give access to scripts run in a browser. Be safe out there!',
        {
          host: plan.address,
        },
      );
      await new Promise((r) => setTimeout(r, 1000));
      return server.listen(plan.address);
    }
    const read = async (what: string, path: string) => {
      try {
        return await readFile(path, 'utf8');
      } catch (e) {
        throw new SwarmError(
          'INVALID_ARGUMENT',
          `could not read the ${what} ${path}: ${(e as Error).message}`,
        );
      }
    };
    await server.listen(plan.address, {
      tls: {
        key: await read('TLS key (--tlskey)', this.flags.tlsKey),
        cert: await read('TLS certificate (--tlscert)', this.flags.tlsCert),
        ...(plan.verifyClients ? { ca: await read('client CA (--tlscacert)', this.flags.tlsCaCert) } : {}),
        verifyClients: plan.verifyClients,
      },
    });
  }

  /** A manager's control plane from its state dir: etcd member, store, remote API; follows autolock. */
  private async resumeManager(state: SwarmState): Promise<void> {
    try {
      this.manager = await Manager.resume(this.stateDir, state, portAllocator);
    } catch (e) {
      if (!(e instanceof SwarmError && /was removed/.test(e.message))) throw e;
      // Its etcd member was removed while it was away (another manager's --force-new-cluster, or
      // node rm --force): it serves only `swarm leave --force`, and says so in `docker info`.
      this.stateError = REMOVED_MANAGER_MESSAGE;
      log.error('this manager was removed from the managers', { err: e });
    }
    this.followAutolock();
    await this.manager?.startRemoteApi(this.stateDir, remoteListenAddr(state.listenAddr));
  }

  /**
   * While this node manages, its secret files follow the swarm's unlock key: wrapped with it while
   * autolock is on (rewrapped when it is rotated), in clear once autolock is off.
   */
  private followAutolock(): void {
    const manager = this.manager;
    if (!manager) return;
    this.stopAutolock?.();
    this.stopAutolock = manager.followUnlockKey((key) => {
      void this.applyUnlockKey(key === undefined ? undefined : parseUnlockKey(key)).catch((e) =>
        log.error('manager keys not rewrapped for the unlock key', { err: e }),
      );
    });
  }
  private stopAutolock: (() => void) | undefined;
  /** A manager that booted with wrapped keys waits for `swarm unlock`. */
  private locked = false;

  /** Rewraps the secret files from the key in force to `next` (undefined: clear); one change at a time. */
  private applyUnlockKey(next: Buffer | undefined): Promise<void> {
    this.rewrapping = this.rewrapping
      .catch(() => undefined)
      .then(async () => {
        const current = keyEncryptionKey();
        if (current === next || (current && next && current.equals(next))) return;
        await rewrapSecrets(this.stateDir, current, next);
        setKeyEncryptionKey(next);
        log.info(next ? 'manager keys are wrapped with the unlock key' : 'manager keys are stored in clear');
      });
    return this.rewrapping;
  }
  private rewrapping: Promise<void> = Promise.resolve();

  unlock(body: unknown): Promise<void> {
    return this.serialized(async () => {
      if (!this.locked || this.state?.role !== 'manager') throw conflict('swarm is not locked');
      const parsed = z.object({ UnlockKey: z.string() }).safeParse(stripNulls(body ?? {}));
      if (!parsed.success) throw invalidArgument('invalid unlock request: UnlockKey is required');
      let key: Buffer;
      try {
        key = parseUnlockKey(parsed.data.UnlockKey.trim());
      } catch {
        throw new SwarmError('UNAUTHENTICATED', 'swarm could not be unlocked: invalid key provided');
      }
      await checkUnlockKey(this.stateDir, key);
      setKeyEncryptionKey(key);
      this.locked = false;
      log.info('manager unlocked');
      await this.resumeManager(this.state);
      await this.startAgent();
    });
  }

  /**
   * `swarmd --cleanup`: removes every trace of a node that is gone for good — its containers (with
   * their mounts, netns and cgroups), its gateway bridge, tables and overlay devices, a leftover
   * etcd, the exec root tmpfs and the state dir. Refused while a swarmd runs on this state dir, and
   * while containers run unless `force` (they are killed then).
   */
  async cleanup(force: boolean): Promise<void> {
    const running = swarmdsOn(this.stateDir);
    if (running.length > 0)
      throw new SwarmError(
        'FAILED_PRECONDITION',
        `swarmd is running on ${this.stateDir} (pid ${running.join(', ')}): stop it first`,
      );
    const adopted = await this.runtime.adopt();
    try {
      if (adopted.running.length > 0 && !force)
        throw new SwarmError(
          'FAILED_PRECONDITION',
          `${adopted.running.length} container(s) of this node still run (${adopted.running.map((id) => id.slice(0, 12)).join(', ')}): remove the node's services first, or use --force to kill them`,
        );
      for (const c of this.runtime.list()) await this.runtime.remove(c.Id, { force: true });
      await this.network.cleanupLeftovers({ keep: new Set(), full: true });
      await (await EtcdMember.load(this.stateDir))?.reapLeftover();
    } finally {
      this.runtime.close();
    }
    await releaseTmpfs(this.execRoot);
    // Never delete through a mount (a bind volume's source is the host's data): unmount what is
    // left, and keep the dir when something will not go.
    for (const m of await mountsUnder(this.stateDir)) await unmount(m).catch(() => undefined);
    const still = await mountsUnder(this.stateDir);
    if (still.length > 0)
      throw new SwarmError(
        'FAILED_PRECONDITION',
        `${still.join(', ')} still mounted: unmount ${still.length > 1 ? 'them' : 'it'}, then run --cleanup again`,
      );
    await rm(this.stateDir, { recursive: true, force: true });
    log.info('node removed', { stateDir: this.stateDir });
  }

  async stop(): Promise<void> {
    this.metrics.close();
    await this.server?.close();
    await this.dockerServer?.close();
    this.stopPortSync?.();
    this.certRenewal?.stop();
    await this.agent?.stop();
    this.remoteSession?.close();
    await this.manager?.stop();
    this.discovery.close();
    await this.runtime.close();
    // Outside a swarm with no container left, nothing of the node stays on the host.
    if (!this.state && this.runtime.list().length === 0) {
      await this.releaseNodeNetwork();
      await releaseTmpfs(this.execRoot).catch((e) => log.warn('exec root not unmounted', { err: e }));
    }
    log.info('stopped');
  }

  // ---- ClusterBackend ----

  control(): ControlApis {
    if (this.locked) throw new SwarmError('NOT_MANAGER', LOCKED_MESSAGE);
    if (!this.state) throw notManager('notInSwarm');
    if (this.state.role === 'worker') throw notManager('worker');
    if (!this.manager) throw notManager('preparing');
    return this.manager.control;
  }

  init(body: unknown): Promise<string> {
    return this.serialized(() => this.doInit(body));
  }

  private async doInit(body: unknown): Promise<string> {
    const parsed = InitRequestSchema.safeParse(stripNulls(body ?? {}));
    if (this.state) {
      if (parsed.success && parsed.data.ForceNewCluster && this.state.role === 'manager')
        return this.forceNewCluster(this.state);
      throw alreadyInSwarm();
    }
    if (!parsed.success)
      throw new SwarmError('INVALID_ARGUMENT', `invalid init request: ${describeZodError(parsed.error)}`);
    const req = parsed.data;
    const requested = req.Spec === undefined ? {} : validateSwarmSpec(req.Spec);
    const joinTokenTTL = validateJoinTokenTTL(req.JoinTokenTTL ?? 0);
    validateAddressPool(req.DefaultAddrPool ?? [], req.SubnetSize || 24);
    const unsupported = unsupportedSwarmSpec(requested);
    if (unsupported) throw unsupported;
    const spec = initialSwarmSpec(requested);
    const listen = req.ListenAddr || this.flags.listenRemoteApi;
    const adv = chooseAdvertiseAddr(
      req.AdvertiseAddr || this.flags.advertiseAddr,
      listen,
      os.networkInterfaces(),
    );
    const identity = { nodeId: newId(), clusterId: newId(), advertiseAddr: `${adv.ip}:${adv.port}` };
    const rootCA = await createRootCA();
    const creds = await createNodeCredentials(rootCA, {
      nodeId: identity.nodeId,
      role: 'manager',
      clusterId: identity.clusterId,
    });
    const state: SwarmState = {
      ...identity,
      role: 'manager',
      listenAddr: listen,
      createdAt: new Date().toISOString(),
    };
    await this.becomeManager(state, async () => {
      await writeNodeCertificates(this.stateDir, { rootCertPem: rootCA.certPem, ...creds });
      return Manager.bootstrap({
        stateDir: this.stateDir,
        identity,
        spec,
        rootCA,
        description: this.describe(),
        defaultAddrPool: req.DefaultAddrPool?.length ? req.DefaultAddrPool : ['10.0.0.0/8'],
        subnetSize: req.SubnetSize || 24,
        dataPathPort: req.DataPathPort || 4789,
        ports: { client: await freePort(), peer: await freePort(adv.ip), metrics: await freePort() },
        allocatePorts: portAllocator,
        joinTokenTTL,
      });
    });
    log.info('swarm initialised', {
      node: identity.nodeId,
      cluster: identity.clusterId,
      addr: identity.advertiseAddr,
    });
    void this.startAgent().catch((e) => log.error('agent failed to start', { err: e }));
    return identity.nodeId;
  }

  /**
   * `swarm init --force-new-cluster` on a manager (a quorum lost for good): its etcd member restarts
   * once as a one-member cluster from its own data, so every service, task and node stays; the other
   * managers' members are gone (they leave and join again).
   */
  private async forceNewCluster(state: SwarmState): Promise<string> {
    log.warn("rebuilding a one-manager cluster from this manager's data", { node: state.nodeId });
    await this.stopNodeAgent();
    await this.manager?.stop();
    this.manager = undefined;
    await EtcdMember.forceNewCluster(this.stateDir);
    this.manager = await Manager.resume(this.stateDir, state, portAllocator);
    this.followAutolock();
    await this.manager.startRemoteApi(this.stateDir, remoteListenAddr(state.listenAddr));
    await this.startAgent();
    return state.nodeId;
  }

  join(body: unknown): Promise<void> {
    return this.serialized(() => this.doJoin(body));
  }

  /**
   * swarm join: the root CA by the token's digest, a key made here and a certificate from the CA
   * (which names the node and its role), written to disk only once all of it succeeded; then the
   * agent's session. Answers once the node has a session (Docker's wording when it takes too long).
   */
  private async doJoin(body: unknown): Promise<void> {
    if (this.state) throw alreadyInSwarm();
    const parsed = JoinRequestSchema.safeParse(stripNulls(body ?? {}));
    if (!parsed.success)
      throw new SwarmError('INVALID_ARGUMENT', `invalid join request: ${describeZodError(parsed.error)}`);
    const req = parsed.data;
    const remotes = (req.RemoteAddrs ?? []).filter((a) => a !== '');
    if (remotes.length === 0)
      throw new SwarmError('INVALID_ARGUMENT', 'at least 1 RemoteAddr is required to join');
    const token = req.JoinToken ?? '';
    parseJoinToken(token);
    const managers = remotes.map((a) => {
      const hp = splitHostPort(a, DEFAULT_PORT);
      return `${hp.host}:${hp.port}`;
    });
    const listen = req.ListenAddr || this.flags.listenRemoteApi;
    let advertise = '';
    let noAdvertise: unknown;
    try {
      const adv = chooseAdvertiseAddr(
        req.AdvertiseAddr || this.flags.advertiseAddr,
        listen,
        os.networkInterfaces(),
      );
      advertise = `${adv.ip}:${adv.port}`;
    } catch (e) {
      // Several interfaces and no flag: the manager records the address it sees us come from.
      if (req.AdvertiseAddr || this.flags.advertiseAddr) throw e;
      noAdvertise = e;
    }
    const joined = await this.requestCertificate(managers, token, req.Availability || 'active');
    if (joined.info.role === 'manager') {
      // Other managers and etcd peers dial a manager: it needs an address of its own.
      if (!advertise) throw noAdvertise;
      return this.joinAsManager(joined, managers, advertise, listen);
    }
    const state: SwarmState = {
      nodeId: joined.info.nodeId,
      clusterId: joined.info.clusterId,
      role: 'worker',
      advertiseAddr: advertise || `0.0.0.0:${splitHostPort(listen, DEFAULT_PORT).port}`,
      listenAddr: listen,
      createdAt: new Date().toISOString(),
      remoteManagers: managers,
    };
    try {
      await writeNodeCertificates(this.stateDir, joined);
      await writeSwarmState(this.stateDir, state);
    } catch (e) {
      await this.wipe();
      throw e;
    }
    this.state = state;
    log.info('joined the swarm', { node: state.nodeId, cluster: state.clusterId, managers });
    await this.startWorkerAgent();
    await this.waitJoined();
  }

  /** Answers the join once the agent has a session (Docker's wording when it takes too long). */
  private async waitJoined(): Promise<void> {
    try {
      await this.agent?.waitRegistered(JOIN_TIMEOUT_MS);
    } catch {
      throw new SwarmError(
        'UNAVAILABLE',
        'Timeout was reached before node joined. The attempt to join the swarm will continue in the background. Use the "docker info" command to see the current swarm status of your node.',
      );
    }
  }

  /**
   * The manager token's part of a join: this node's etcd member enters the cluster (a learner that a
   * manager promotes once it has caught up), then the store, the remote API and the agent start.
   * A failure leaves nothing here; a member that never started is removed by the next join.
   */
  private async joinAsManager(
    joined: JoinedNode,
    managers: string[],
    advertise: string,
    listen: string,
  ): Promise<void> {
    const state: SwarmState = {
      nodeId: joined.info.nodeId,
      clusterId: joined.info.clusterId,
      advertiseAddr: advertise,
      role: 'manager',
      listenAddr: listen,
      createdAt: new Date().toISOString(),
      remoteManagers: managers,
    };
    await this.enterManagers(state, joined, managers);
    log.info('joined the swarm as a manager', { node: state.nodeId, cluster: state.clusterId, managers });
    await this.startAgent();
    await this.waitJoined();
  }

  /**
   * This node's etcd member enters the managers' cluster (a manager adds it as a learner and promotes
   * it once it has caught up) and its manager opens: a join with the manager token, or a promotion.
   */
  private enterManagers(state: SwarmState, certs: NodeCertificateFiles, managers: string[]): Promise<void> {
    const ip = state.advertiseAddr.replace(/:\d+$/, '');
    return this.becomeManager(state, async () => {
      await writeNodeCertificates(this.stateDir, certs);
      const ports = { client: await freePort(), peer: await freePort(ip), metrics: await freePort() };
      const member = await this.requestMembership(managers, new NodeTLSIdentity(certs), {
        peerURL: peerURL(ip, ports.peer),
        addr: state.advertiseAddr,
      });
      const identity = {
        nodeId: state.nodeId,
        clusterId: state.clusterId,
        advertiseAddr: state.advertiseAddr,
      };
      return Manager.joinCluster({
        stateDir: this.stateDir,
        identity,
        ports,
        member,
        allocatePorts: portAllocator,
      });
    });
  }

  /**
   * Runs `open` (which writes this node's certificates and makes its manager), serves the remote API
   * and records the membership; on any failure nothing half-made stays: the next attempt starts clean.
   */
  private async becomeManager(state: SwarmState, open: () => Promise<Manager>): Promise<void> {
    try {
      this.manager = await open();
      await this.manager.startRemoteApi(this.stateDir, remoteListenAddr(state.listenAddr));
      await writeSwarmState(this.stateDir, state);
      this.state = state;
      this.followAutolock();
    } catch (e) {
      await this.manager?.stop().catch(() => undefined);
      this.manager = undefined;
      await this.wipe();
      throw e;
    }
  }

  /** Asks the managers in turn to add this manager's etcd member; only an unreachable one is skipped. */
  private async requestMembership(
    managers: string[],
    identity: NodeTLSIdentity,
    request: { peerURL: string; addr: string },
  ): Promise<MemberJoin> {
    let lastError: unknown;
    for (const addr of managers) {
      try {
        return await requestMemberJoin(addr, identity, request);
      } catch (e) {
        lastError = e;
        if (!(e instanceof SwarmError && e.code === 'UNAVAILABLE')) throw e;
      }
    }
    throw lastError;
  }

  /** Asks the managers' CA for a certificate; only an unreachable manager is tried again. */
  private async requestCertificate(
    managers: string[],
    token: string,
    availability: 'active' | 'pause' | 'drain',
  ): Promise<JoinedNode> {
    let lastError: unknown;
    for (let attempt = 0; attempt < JOIN_ATTEMPTS; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, JOIN_RETRY_MS));
      for (const addr of managers) {
        try {
          return await joinSwarm(addr, token, { availability, timeoutMs: 5000 });
        } catch (e) {
          lastError = e;
          if (!(e instanceof SwarmError && e.code === 'UNAVAILABLE')) throw e;
        }
      }
    }
    const why = lastError instanceof Error ? lastError.message : String(lastError);
    throw new SwarmError('UNAVAILABLE', `could not reach a manager at ${managers.join(', ')}: ${why}`);
  }

  leave(force: boolean): Promise<void> {
    return this.serialized(() => this.doLeave(force));
  }

  /** Runs a membership change after the ones before it (init, join, leave, role changes). */
  private serialized<T>(change: () => Promise<T>): Promise<T> {
    const run = this.membership.then(change);
    this.membership = run.catch(() => undefined);
    return run;
  }

  /**
   * Promoted: this worker renews its certificate (the CA now gives it the manager role), enters the
   * etcd cluster like a manager that joins, and its agent carries on in-process or with the leader,
   * with the same tasks. A failure leaves it a worker; the next heartbeat tries again.
   */
  private async becomeManagerFromWorker(): Promise<void> {
    const state = this.state;
    const session = this.remoteSession;
    if (state?.role !== 'worker' || !session) return;
    const ip = state.advertiseAddr.replace(/:\d+$/, '');
    if (ip === '0.0.0.0') {
      this.stateError =
        'cannot become a manager without an advertise address: leave and join again with --advertise-addr';
      return;
    }
    const managers = state.remoteManagers ?? [];
    log.info('this worker was promoted; becoming a manager', { node: state.nodeId });
    const identity = new NodeTLSIdentity(await readNodeCertificates(this.stateDir));
    const renewed = await renewNodeCertificate(session.manager ?? managers[0] ?? '', identity);
    if (renewed.info.role !== 'manager') return; // demoted again meanwhile
    const material = {
      rootCertPem: identity.material.rootCertPem,
      certPem: renewed.certPem,
      keyPem: renewed.keyPem,
    };
    await this.enterManagers({ ...state, role: 'manager' }, material, managers).catch(async (e) => {
      // becomeManager wiped the swarm state on failure: this node is a worker as it was.
      await writeNodeCertificates(this.stateDir, identity.material);
      await writeSwarmState(this.stateDir, state);
      this.state = state;
      throw e;
    });
    await this.stopNodeAgent();
    await this.startAgent();
  }

  /**
   * This manager's etcd member was removed (node demote, or node rm --force while it was away): its
   * manager stops, its certificate is renewed with the worker role, and its agent carries on as a
   * worker's with the same tasks (their containers keep running throughout).
   */
  private async becomeWorker(manager: Manager): Promise<void> {
    const state = this.state;
    if (this.manager !== manager || state?.role !== 'manager') return; // left meanwhile
    const managers = manager.managerAddrs().filter((a) => a !== state.advertiseAddr);
    log.info('this manager was demoted; carrying on as a worker', { node: state.nodeId, managers });
    await this.stopNodeAgent();
    this.stopAutolock?.();
    await manager.stop();
    this.manager = undefined;
    // Workers have no autolock: their keys are stored in clear.
    await this.applyUnlockKey(undefined);
    const identity = new NodeTLSIdentity(await readNodeCertificates(this.stateDir));
    let renewed: Awaited<ReturnType<typeof renewNodeCertificate>> | undefined;
    for (const addr of managers) {
      renewed = await renewNodeCertificate(addr, identity).catch((e) => {
        log.warn('certificate renewal after demotion failed', { manager: addr, err: e });
        return undefined;
      });
      if (renewed) break;
    }
    if (renewed) {
      await writeNodeCertificates(this.stateDir, {
        rootCertPem: identity.material.rootCertPem,
        certPem: renewed.certPem,
        keyPem: renewed.keyPem,
      });
    }
    // The worker's state first: a crash from here on restarts a worker, never a manager without etcd.
    this.state = { ...state, role: 'worker', remoteManagers: managers };
    await writeSwarmState(this.stateDir, this.state);
    await rm(join(this.stateDir, 'etcd'), { recursive: true, force: true });
    await rm(certificatePaths(this.stateDir).dataKey, { force: true });
    await this.startWorkerAgent();
  }

  private async doLeave(force: boolean): Promise<void> {
    if (!this.state) throw notManager('notPartOfSwarm');
    if (this.state.role === 'manager' && !force) {
      const managers = this.manager?.cache.list('node').filter((n) => n.Spec.Role === 'manager').length ?? 1;
      throw new SwarmError(
        'NOT_MANAGER',
        managers <= 1
          ? 'You are attempting to leave the swarm on a node that is participating as a manager. Removing the last manager erases all current state of the swarm. Use `--force` to ignore this message. '
          : 'You are attempting to leave the swarm on a node that is participating as a manager. Removing this node leaves ' +
              `${managers - 1} managers out of ${managers}. Without a Raft quorum your swarm will be inaccessible. The only way to restore a swarm that has lost consensus is to reinitialize it with \`--force-new-cluster\`. Use \`--force\` to suppress this message.`,
      );
    }
    await this.stopNodeAgent();
    this.syncPortsNow = async () => undefined;
    this.stateError = '';
    await this.manager
      ?.leaveCluster()
      .catch((e) => log.warn('could not leave the managers cleanly', { err: e }));
    this.stopAutolock?.();
    await this.manager?.stop();
    this.manager = undefined;
    this.state = undefined;
    this.locked = false;
    setKeyEncryptionKey(undefined);
    await this.removeTaskContainers();
    this.mesh = undefined;
    this.knownNetworks = new Set();
    await this.releaseNodeNetwork();
    await this.wipe();
    log.info('left the swarm');
  }

  /**
   * As Docker's engine does on leave: no published port and no task container of the swarm left
   * stays behind (outside a swarm no agent would ever stop or remove them). Ports first, so no
   * connection is sent to a container being killed.
   */
  private async removeTaskContainers(): Promise<void> {
    await this.publisher.update([], []).catch((e) => log.warn('port rules not cleared on leave', { err: e }));
    for (const c of this.runtime.list()) {
      if (c.TaskID === undefined) continue;
      await this.runtime
        .remove(c.Id, { force: true })
        .catch((e) => log.warn('task container not removed on leave', { container: c.Id, err: e }));
    }
  }

  /**
   * A node outside any swarm keeps no network of its own: the embedded DNS stops and the gateway
   * bridge, its NAT, the published-port table and every overlay device go (init or join makes
   * them again). Containers still recorded keep theirs.
   */
  private async releaseNodeNetwork(): Promise<void> {
    this.discovery.close();
    await this.network
      .cleanupLeftovers({ keep: new Set(this.runtime.list().map((c) => c.Id)), full: true })
      .catch((e) => log.warn('node network not removed', { err: e }));
  }

  private async wipe(): Promise<void> {
    await removeSwarmState(this.stateDir);
    await rm(`${this.stateDir}/etcd`, { recursive: true, force: true });
    await rm(certificatePaths(this.stateDir).dir, { recursive: true, force: true });
  }

  // ---- NetworkBackend ----

  localEndpoints(networkId: string): Record<string, LocalEndpoint> {
    const out: Record<string, LocalEndpoint> = {};
    for (const c of this.runtime.list()) {
      const rec = this.runtime.get(c.Id);
      for (const n of Object.values(rec.Network?.networks ?? {}))
        if (n.NetworkID === networkId)
          out[c.Id] = {
            Name: rec.Name,
            EndpointID: '',
            MacAddress: n.MacAddress ?? '',
            IPv4Address: `${n.IPAddress}/${n.IPPrefixLen}`,
            IPv6Address: '',
          };
    }
    return out;
  }

  networkPeers(networkId: string): { Name: string; IP: string }[] {
    const cache = this.manager?.cache;
    if (!cache) return [];
    const ingress = cache.get('network', networkId)?.Ingress === true;
    const onIt = new Set<string>();
    for (const t of cache.list('task'))
      if (t.NodeID && t.Status.State === 'running')
        for (const a of t.NetworksAttachments ?? []) if (a.Network.ID === networkId) onIt.add(t.NodeID);
    return cache
      .list('node')
      .filter((n) => (ingress ? n.IngressAddress !== undefined : onIt.has(n.ID)) && n.Status.Addr)
      .map((n) => ({ Name: n.Description?.Hostname ?? n.ID, IP: n.Status.Addr ?? '' }))
      .sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));
  }

  networkServices(networkId: string): Record<string, VerboseService> {
    const cache = this.manager?.cache;
    if (!cache) return {};
    return networkServices(networkId, cache.list('service'), cache.list('task'), cache.list('node'));
  }

  // ---- SystemBackend ----

  private describe(): NodeDescription {
    return {
      Hostname: this.hostname,
      Platform: { Architecture: os.machine(), OS: 'linux' },
      Resources: { NanoCPUs: os.cpus().length * 1e9, MemoryBytes: os.totalmem() },
      Engine: {
        EngineVersion: SWARMD_VERSION,
        Plugins: [
          { Type: 'Log', Name: 'k8s-file' },
          { Type: 'Network', Name: 'bridge' },
          { Type: 'Network', Name: 'overlay' },
          { Type: 'Volume', Name: 'local' },
        ],
      },
    };
  }

  swarmHeader(): string {
    if (!this.state) return 'inactive';
    return `active/${this.state.role}`;
  }

  async counts() {
    const all = this.runtime.list();
    const running = all.filter((c) => c.State.Status === 'running').length;
    return {
      containers: all.length,
      running,
      paused: 0,
      stopped: all.length - running,
      images: (await this.images.list()).length,
    };
  }

  async swarmInfo(): Promise<Record<string, unknown>> {
    if (!this.state) {
      return {
        NodeID: '',
        NodeAddr: '',
        LocalNodeState: 'inactive',
        ControlAvailable: false,
        Error: '',
        RemoteManagers: null,
      };
    }
    const ip = this.state.advertiseAddr.replace(/:\d+$/, '');
    const base = {
      NodeID: this.state.nodeId,
      NodeAddr: ip,
      LocalNodeState: this.locked ? 'locked' : 'active',
      Error: this.stateError,
    };
    if (!this.manager) {
      return {
        ...base,
        ControlAvailable: false,
        RemoteManagers: (this.state.remoteManagers ?? []).map((Addr) => ({ NodeID: '', Addr })),
      };
    }
    const nodes = this.manager.cache.list('node');
    const managers = nodes.filter((n) => n.ManagerStatus);
    const cluster = this.manager.cache.list('cluster')[0];
    const {
      JoinTokens: _jt,
      JoinTokensIssuedAt: _ji,
      UnlockKeySealed: _uk,
      ...clusterInfo
    } = cluster ?? ({} as Record<string, unknown>);
    return {
      ...base,
      ControlAvailable: true,
      RemoteManagers: managers.map((n) => ({ NodeID: n.ID, Addr: n.ManagerStatus?.Addr ?? '' })),
      Nodes: nodes.length,
      Managers: managers.length,
      Cluster: clusterInfo,
    };
  }
}

/** Pids of swarmd processes (other than this one) started with `--state-dir <dir>`. */
function swarmdsOn(dir: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (!argv.some((a) => a.endsWith('/swarmd') || a.endsWith('/main.js'))) continue;
    const i = argv.indexOf('--state-dir');
    const given = i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith('--state-dir='))?.slice(12);
    if (given !== undefined && resolvePath(given) === resolvePath(dir)) out.push(pid);
  }
  return out;
}
