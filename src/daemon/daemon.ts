// swarmd's lifecycle: serve the Engine API, start outside any swarm (like Docker's engine), become
// a manager on `swarm init`, resume as one after a restart, leave on `swarm leave`.
import { createHash } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { Agent } from '../agent/agent.js';
import type { DispatcherSession } from '../agent/session.js';
import { defaultSwarmSpec } from '../api/defaults.js';
import { notManager, SwarmError } from '../api/errors.js';
import { newId } from '../api/ids.js';
import { describeZodError, type Endpoint, type NodeDescription, type SwarmSpec } from '../api/types.js';
import { stripNulls, validateSwarmSpec } from '../api/validate.js';
import { createNodeCredentials, createRootCA } from '../ca/certificates.js';
import { certificatePaths, writeNodeCertificates } from '../ca/store.js';
import { type ClusterBackend, type ControlApis, clusterRoutes } from '../engineapi/cluster.js';
import { containerRoutes } from '../engineapi/containers.js';
import { imageRoutes } from '../engineapi/images.js';
import { logRoutes } from '../engineapi/logs.js';
import type { Route } from '../engineapi/router.js';
import { EngineServer } from '../engineapi/server.js';
import { SWARMD_VERSION, type SystemBackend, systemRoutes } from '../engineapi/system.js';
import { RuncExecutor } from '../executor/runc/executor.js';
import { ContainerRuntime } from '../executor/runc/runtime.js';
import type { Executor } from '../executor/types.js';
import { createLogger } from '../lib/log.js';
import { allocatePorts } from '../manager/allocator/ports.js';
import type { PortAllocator } from '../manager/controlapi/services.js';
import { Manager } from '../manager/manager.js';
import { NodeNetwork } from '../network/node-network.js';
import { NetworkProviderImpl } from '../network/provider.js';
import { addressTasks, PortPublisher } from '../network/publisher.js';
import { chooseAdvertiseAddr } from './address.js';
import { ensureTmpfs } from './execroot.js';
import type { DaemonFlags } from './flags.js';
import { NodeImageStore } from './images.js';
import { freePort } from './ports.js';
import { readSwarmState, removeSwarmState, type SwarmState, writeSwarmState } from './state.js';

const log = createLogger({ component: 'daemon' });

const DOCKER_SOCKET = '/var/run/docker.sock';

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
});

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
  const endpoint: Endpoint = {
    Spec: {
      Mode: spec.EndpointSpec?.Mode ?? 'vip',
      ...(spec.EndpointSpec?.Ports ? { Ports: spec.EndpointSpec.Ports } : {}),
    },
  };
  if (r.ports.length > 0) endpoint.Ports = r.ports;
  return endpoint;
};

/** The local agent's session: the dispatcher of this manager while it leads. */
class LocalSession implements DispatcherSession {
  constructor(private readonly manager: () => Manager | undefined) {}
  private d() {
    const d = this.manager()?.dispatcher();
    if (!d) throw new SwarmError('UNAVAILABLE', 'session invalid: no leader dispatcher on this node');
    return d;
  }
  register: DispatcherSession['register'] = (n, desc) => this.d().register(n, desc);
  heartbeat: DispatcherSession['heartbeat'] = (id) => this.d().heartbeat(id);
  watchAssignments: DispatcherSession['watchAssignments'] = (id, cb) => this.d().watchAssignments(id, cb);
  updateTaskStatus: DispatcherSession['updateTaskStatus'] = (id, u) => this.d().updateTaskStatus(id, u);
}

export class Daemon implements ClusterBackend, SystemBackend {
  private state: SwarmState | undefined;
  private manager: Manager | undefined;
  private server: EngineServer | undefined;
  /** The opt-in second listener on Docker's own socket path. */
  private dockerServer: EngineServer | undefined;
  private agent: Agent | undefined;
  readonly images: NodeImageStore;
  readonly runtime: ContainerRuntime;
  private readonly executor: Executor;
  private readonly network: NodeNetwork;
  private readonly networkProvider: NetworkProviderImpl;
  private readonly publisher: PortPublisher;
  private stopPortSync: (() => void) | undefined;
  /** Applies the port rules for the current state now (before a container is stopped). */
  private syncPortsNow: () => Promise<void> = async () => undefined;
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
    this.networkProvider = new NetworkProviderImpl(this.network);
    this.publisher = new PortPublisher(this.network);
    this.runtime = new ContainerRuntime({
      stateDir: join(this.stateDir, 'runtime'),
      execRoot: join(this.execRoot, 'runtime'),
      images: { resolve: (ref) => this.images.resolveForTask(ref) },
      network: this.networkProvider,
      namePrefix: `skt-${tag}-`,
      cgroupParent: `skt-${tag}`,
    });
    const runc = new RuncExecutor(this.runtime, SWARMD_VERSION);
    this.executor = {
      controller: (t) => {
        const c = runc.controller(t);
        // Drain before stopping: the port rules drop the task (its desired state has left
        // running) before its container stops, so no connection reaches a dying task.
        return {
          prepare: () => c.prepare(),
          start: () => c.start(),
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
  private startPortSync(manager: Manager, nodeId: string): void {
    let timer: NodeJS.Timeout | undefined;
    const sync = async () => {
      timer = undefined;
      // Only tasks of services that publish ports matter; most services publish none, and looking
      // up every task's address on every task event grew with the square of the task count.
      const publishing = manager.cache
        .list('service')
        .filter((svc) => (svc.Endpoint?.Ports?.length ?? 0) > 0);
      const ids = new Set(publishing.map((svc) => svc.ID));
      const tasks = manager.cache
        .byIndex('task', 'node', nodeId)
        .filter((t) => ids.has(t.ServiceID) && t.Status.State === 'running' && t.DesiredState === 'running');
      const local = await addressTasks(tasks, (id) => this.networkProvider.addressOf(id));
      await this.publisher.update(publishing, local);
    };
    this.syncPortsNow = sync;
    const kick = () => {
      if (!timer)
        timer = setTimeout(() => void sync().catch((e) => log.warn('port rules not applied', { err: e })), 5);
    };
    const off = manager.cache.subscribe((ev) => {
      if (ev.kind === 'service' || ev.kind === 'task') kick();
    });
    kick();
    this.stopPortSync = () => {
      off();
      clearTimeout(timer);
    };
  }

  /**
   * Removes task containers whose task no longer exists or is no longer this node's (e.g. swarmd
   * was stopped between a service's removal and its containers'): Docker's agent does the same.
   */
  private startOrphanSweep(manager: Manager, nodeId: string): void {
    const sweep = async () => {
      for (const c of this.runtime.list()) {
        const taskId = c.Labels['com.docker.swarm.task.id'];
        if (!taskId) continue;
        const task = manager.cache.get('task', taskId);
        if (task && task.NodeID === nodeId) continue;
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

  /** Starts this node's agent against the local dispatcher (a manager node). */
  private async startAgent(): Promise<void> {
    if (!this.state || !this.manager || this.agent) return;
    await this.manager.waitForLeadership();
    const manager = this.manager;
    this.startPortSync(manager, this.state.nodeId);
    this.startOrphanSweep(manager, this.state.nodeId);
    this.agent = new Agent({
      nodeId: this.state.nodeId,
      executor: this.executor,
      session: new LocalSession(() => (this.manager === manager ? manager : undefined)),
      stateDir: this.stateDir,
    });
    await this.agent.start();
  }

  async start(): Promise<void> {
    await mkdir(this.stateDir, { recursive: true, mode: 0o700 });
    await ensureTmpfs(this.execRoot);
    this.state = await readSwarmState(this.stateDir);
    await this.images.init();
    await this.network.ensureGatewayBridge();
    const adopted = await this.runtime.adopt();
    log.info('containers adopted', { report: adopted });
    await this.network.cleanupLeftovers({ keep: new Set(adopted.running) });
    if (this.state?.role === 'manager') {
      this.manager = await Manager.resume(this.stateDir, this.state, portAllocator);
    }
    const routes = [
      ...systemRoutes(this),
      ...clusterRoutes(this),
      ...imageRoutes(this.images),
      ...containerRoutes(this.runtime),
      ...logRoutes({
        service: (ref) => this.control().services.get(ref, false),
        task: (ref) => this.control().tasks.get(ref),
        tasksOf: (id) => this.control().tasks.list(new Map([['service', [id]]])),
        taskLogs: (task, opts) => {
          const rec = task.NodeID === this.state?.nodeId ? this.runtime.findByTask(task.ID) : undefined;
          return rec ? this.runtime.logs(rec.Id, opts) : undefined;
        },
      }),
      ...this.extraRoutes,
    ];
    this.server = new EngineServer({ serverName: `swarmd/${SWARMD_VERSION} (linux)`, routes });
    await this.server.listen(this.flags.listenControlApi);
    if (this.flags.dockerSocket) {
      this.dockerServer = new EngineServer({ serverName: `swarmd/${SWARMD_VERSION} (linux)`, routes });
      await this.dockerServer.listen(DOCKER_SOCKET);
    }
    log.info('engine API listening', {
      socket: this.flags.listenControlApi,
      state: this.state ? 'active' : 'inactive',
    });
    if (this.flags.init && !this.state) {
      await this.init({ ListenAddr: this.flags.listenRemoteApi, AdvertiseAddr: this.flags.advertiseAddr });
    }
    await this.startAgent();
  }

  async stop(): Promise<void> {
    await this.server?.close();
    await this.dockerServer?.close();
    this.stopPortSync?.();
    await this.agent?.stop();
    await this.manager?.stop();
    await this.runtime.close();
    log.info('stopped');
  }

  // ---- ClusterBackend ----

  control(): ControlApis {
    if (!this.state) throw notManager('notInSwarm');
    if (this.state.role === 'worker') throw notManager('worker');
    if (!this.manager) throw notManager('preparing');
    return this.manager.control;
  }

  init(body: unknown): Promise<string> {
    const run = this.membership.then(() => this.doInit(body));
    this.membership = run.catch(() => undefined);
    return run;
  }

  private async doInit(body: unknown): Promise<string> {
    if (this.state) throw alreadyInSwarm();
    const parsed = InitRequestSchema.safeParse(stripNulls(body ?? {}));
    if (!parsed.success)
      throw new SwarmError('INVALID_ARGUMENT', `invalid init request: ${describeZodError(parsed.error)}`);
    const req = parsed.data;
    const spec = initialSwarmSpec(req.Spec === undefined ? {} : validateSwarmSpec(req.Spec));
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
    try {
      await writeNodeCertificates(this.stateDir, { rootCertPem: rootCA.certPem, ...creds });
      this.manager = await Manager.bootstrap({
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
      });
      const state: SwarmState = {
        ...identity,
        role: 'manager',
        listenAddr: listen,
        createdAt: new Date().toISOString(),
      };
      await writeSwarmState(this.stateDir, state);
      this.state = state;
    } catch (e) {
      // Nothing half-made stays: the next init starts clean.
      await this.manager?.stop().catch(() => undefined);
      this.manager = undefined;
      await this.wipe();
      throw e;
    }
    log.info('swarm initialised', {
      node: identity.nodeId,
      cluster: identity.clusterId,
      addr: identity.advertiseAddr,
    });
    void this.startAgent().catch((e) => log.error('agent failed to start', { err: e }));
    return identity.nodeId;
  }

  async join(_body: unknown): Promise<void> {
    throw new SwarmError('NOT_IMPLEMENTED', 'joining an existing swarm is not supported by this swarmd yet');
  }

  leave(force: boolean): Promise<void> {
    const run = this.membership.then(() => this.doLeave(force));
    this.membership = run.catch(() => undefined);
    return run;
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
    this.stopPortSync?.();
    this.syncPortsNow = async () => undefined;
    await this.agent?.stop();
    this.agent = undefined;
    await this.manager?.stop();
    this.manager = undefined;
    this.state = undefined;
    await this.removeTaskContainers();
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

  private async wipe(): Promise<void> {
    await removeSwarmState(this.stateDir);
    await rm(`${this.stateDir}/etcd`, { recursive: true, force: true });
    await rm(certificatePaths(this.stateDir).dir, { recursive: true, force: true });
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
    const base = { NodeID: this.state.nodeId, NodeAddr: ip, LocalNodeState: 'active', Error: '' };
    if (!this.manager) return { ...base, ControlAvailable: false, RemoteManagers: null };
    const nodes = this.manager.cache.list('node');
    const managers = nodes.filter((n) => n.ManagerStatus);
    const cluster = this.manager.cache.list('cluster')[0];
    const { JoinTokens: _jt, ...clusterInfo } = cluster ?? ({} as Record<string, unknown>);
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
