// A manager node's control plane: its supervised etcd member, the store and its watch cache, the
// control API, and (on the leader) the reconciling components. `bootstrap` makes a new cluster
// (swarm init); `resume` restarts one from the state dir (swarmd restart, even after kill -9).

import type { Etcd3 } from 'etcd3';
import { SwarmError } from '../api/errors.js';
import { newId } from '../api/ids.js';
import type { Cluster, Node, NodeDescription, SwarmSpec } from '../api/types.js';
import { type RootCA, rootTLSInfo } from '../ca/certificates.js';
import { readDataKey, writeDataKey } from '../ca/store.js';
import { generateJoinToken } from '../ca/tokens.js';
import { generateUnlockKey } from '../ca/unlock-key.js';
import type { ControlApis } from '../engineapi/cluster.js';
import { createEtcdClient, loopbackClientURL } from '../etcd/client.js';
import { addLearner, listMembers, promote, removeMember, waitUntilVoter } from '../etcd/membership.js';
import { EtcdMember, memberPaths, peerURL } from '../etcd/supervisor.js';
import {
  createEtcdCA,
  issueMemberCerts,
  loadClientCredentials,
  loadEtcdCA,
  writeMemberTLS,
} from '../etcd/tls.js';
import type { LogOptions } from '../executor/types.js';
import { createLogger } from '../lib/log.js';
import { newDataKey, seal, unseal } from '../lib/sealed.js';
import { incompleteLogs, LogBroker, subscribeLogs, type TaskLogLine } from '../rpc/logbroker.js';
import type { MemberJoin } from '../rpc/membership.js';
import type { NodeTLSIdentity } from '../rpc/tls.js';
import { StoreCache } from '../store/cache.js';
import { LeaderElection } from '../store/election.js';
import { ClusterStore } from '../store/store.js';
import { ClusterApi } from './controlapi/cluster.js';
import { ingressNetwork, NetworkApi } from './controlapi/networks.js';
import { NodeApi } from './controlapi/nodes.js';
import { PayloadApi, type PayloadSealer, type ServiceUpdater } from './controlapi/payloads.js';
import { type PortAllocator, ServiceApi } from './controlapi/services.js';
import { TaskApi } from './controlapi/tasks.js';
import { Dispatcher } from './dispatcher/dispatcher.js';
import { LeaderLoop } from './leader.js';
import { planMembers } from './members.js';
import { changeNode } from './nodewrite.js';
import { type RemoteApi, startRemoteApi } from './remoteapi.js';
import { finishRotation, RootCAKeys, rotationConverged } from './rootca.js';
import { CachedControlStore } from './storeadapter.js';
import { type Tables, tables } from './tables.js';

const log = createLogger({ component: 'manager' });

export interface ManagerIdentity {
  nodeId: string;
  clusterId: string;
  /** "ip:port" of this node's remote API. */
  advertiseAddr: string;
}

export interface BootstrapOptions {
  stateDir: string;
  identity: ManagerIdentity;
  spec: SwarmSpec;
  rootCA: RootCA;
  description: NodeDescription;
  defaultAddrPool: string[];
  subnetSize: number;
  dataPathPort: number;
  ports: { client: number; peer: number; metrics: number };
  allocatePorts: PortAllocator;
  /** Join tokens expire this long (ns) after they are made (ours); 0 or absent: never. */
  joinTokenTTL?: number;
}

export class Manager {
  readonly control: ControlApis;
  private readonly controlStore: CachedControlStore;
  readonly election: LeaderElection;
  /** The leader's components; present while this manager leads. */
  private leader:
    | { loop: LeaderLoop; dispatcher: Dispatcher; members: () => void; rotation: () => void }
    | undefined;
  private leaderChange: Promise<void> = Promise.resolve();
  private stopped = false;

  private constructor(
    readonly identity: ManagerIdentity,
    readonly member: EtcdMember,
    readonly client: Etcd3,
    readonly store: ClusterStore<Tables>,
    readonly cache: StoreCache<Tables>,
    allocatePorts: PortAllocator,
  ) {
    this.controlStore = new CachedControlStore(store, cache);
    const selfId = () => identity.nodeId;
    const updateService: ServiceUpdater = (id, version, spec) =>
      this.control.services.update(id, version, spec);
    const payloadSealer: PayloadSealer = {
      seal: (data) => seal(this.requireKnownDataKey(), data),
      open: (sealed) => unseal(this.requireKnownDataKey(), sealed),
    };
    this.control = {
      // Read when a token is rotated: the root is known only once the manager has opened (or, at
      // init, once bootstrap has stored it).
      cluster: new ClusterApi(this.controlStore, () => generateJoinToken(this.rootCertPem()), undefined, {
        rotator: { begin: (request) => this.keys.begin(request) },
        unlockKeys: {
          seal: (key) => seal(this.requireKnownDataKey(), key),
          open: (sealed) => unseal(this.requireKnownDataKey(), sealed),
        },
      }),
      nodes: new NodeApi(this.controlStore, selfId, () => this.election?.leaderId),
      networks: new NetworkApi(this.controlStore),
      secrets: new PayloadApi('secret', this.controlStore, payloadSealer, undefined, updateService),
      configs: new PayloadApi('config', this.controlStore, payloadSealer, undefined, updateService),
      services: new ServiceApi(this.controlStore, allocatePorts),
      tasks: new TaskApi(this.controlStore, selfId),
      nodeIsUp: (id) => cache.get('node', id)?.Status.State === 'ready',
    };
    this.election = new LeaderElection(client, identity.nodeId);
    this.keys = new RootCAKeys(client, () => this.dataKey);
  }

  /** The dispatcher of the current leader (this manager), for the local agent's session. */
  dispatcher(): Dispatcher | undefined {
    return this.leader?.dispatcher;
  }

  private heartbeatPeriodMs(): number {
    const ns = this.cache.list('cluster')[0]?.Spec.Dispatcher?.HeartbeatPeriod ?? 5e9;
    return ns / 1e6;
  }

  /** Starts or stops the leader components as the lease comes and goes. */
  private followLeadership(): void {
    this.election.onChange((s) => {
      this.leaderChange = this.leaderChange.then(async () => {
        if (s.isLeader && !this.leader && !this.stopped) {
          const fence = () => this.election.fence();
          const loop = new LeaderLoop(this.store, this.cache, fence);
          const dispatcher = new Dispatcher(
            this.store,
            this.cache,
            fence,
            () => this.heartbeatPeriodMs(),
            this.identity.nodeId,
            (kind, id) => (kind === 'secret' ? this.control.secrets : this.control.configs).payload(id),
          );
          this.leader = {
            loop,
            dispatcher,
            members: this.reconcileMembers(),
            rotation: this.reconcileRotation(),
          };
          dispatcher.start();
          loop.start();
        } else if (!s.isLeader && this.leader) {
          const l = this.leader;
          this.leader = undefined;
          l.members();
          l.rotation();
          await l.loop.stop();
          await l.dispatcher.stop();
        }
      });
    });
    this.election.start();
  }

  /** Resolves once some manager leads, as this manager sees it (or after `timeoutMs`, quietly). */
  async waitForLeader(timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    // Leading means more than holding the lease: the dispatcher must be up for the local agent.
    const settled = () =>
      this.election.leaderId !== undefined &&
      (this.election.leaderId !== this.identity.nodeId || this.leader !== undefined);
    while (!settled() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  }

  /** The remote API addresses ("ip:port") of the managers, the leader's first. */
  managerAddrs(): string[] {
    const leader = this.election.leaderId;
    return this.cache
      .list('node')
      .filter((n) => n.Spec.Role === 'manager' && n.ManagerStatus?.Addr)
      .sort((a, b) => Number(b.ID === leader) - Number(a.ID === leader))
      .map((n) => n.ManagerStatus?.Addr as string);
  }

  /** The leading manager's remote API address, when known. */
  leaderAddr(): string | undefined {
    const leader = this.election.leaderId;
    return leader === undefined ? undefined : this.cache.get('node', leader)?.ManagerStatus?.Addr;
  }

  private static async open(
    stateDir: string,
    identity: ManagerIdentity,
    member: EtcdMember,
    allocatePorts: PortAllocator,
  ): Promise<Manager> {
    await member.start();
    const creds = await loadClientCredentials(member.paths.tlsDir);
    const client = createEtcdClient({ endpoints: [loopbackClientURL(member.config.clientPort)], ...creds });
    const store = new ClusterStore(client, tables);
    const cache = new StoreCache(store);
    try {
      await waitUntilVoter(client);
      await cache.start();
    } catch (e) {
      // Nothing keeps running: the caller wipes the state dir, and a supervised etcd left behind
      // would keep a member (maybe a voter) alive that nobody owns.
      await cache.stop().catch(() => undefined);
      client.close();
      await member.stop();
      throw e;
    }
    const m = new Manager(identity, member, client, store, cache, allocatePorts);
    m.dataKey = await readDataKey(stateDir);
    await m.keys.load();
    m.followCAChanges();
    m.followLeadership();
    log.info('manager started', { node: identity.nodeId, stateDir });
    return m;
  }

  /** The root CA certificate in force (PEM): what join tokens digest and joiners fetch. */
  rootCertPem(): string {
    return this.cache.list('cluster')[0]?.TLSInfo.TrustRoot ?? this.keys.root?.certPem ?? '';
  }

  /** The cluster's data key (seals store values such as the root CA key); managers only. */
  private dataKey: Buffer | undefined;
  /** The CA's key pairs (managers only: they live in etcd, sealed with the data key). */
  readonly keys: RootCAKeys;

  private requireKnownDataKey(): Buffer {
    if (!this.dataKey) throw new SwarmError('UNAVAILABLE', 'this manager has no data key yet');
    return this.dataKey;
  }

  /** The data key, made now for a swarm from before data keys (the root CA is then sealed with it). */
  private async requireDataKey(): Promise<Buffer> {
    if (this.dataKey) return this.dataKey;
    this.dataKey = newDataKey();
    if (this.keys.root) await this.keys.storeRoot(this.keys.root);
    await writeDataKey(this.member.stateDir, this.dataKey);
    return this.dataKey;
  }

  /** The swarm's unlock key ("SWMKEY-1-…") while autolock is on, else undefined. */
  unlockKey(cluster = this.cache.list('cluster')[0]): string | undefined {
    const sealed = cluster?.UnlockKeySealed;
    return sealed && this.dataKey ? unseal(this.dataKey, sealed) : undefined;
  }

  /** Calls `fn` with the unlock key now and after each change (autolock on/off, key rotated). */
  followUnlockKey(fn: (key: string | undefined) => void): () => void {
    let last = this.unlockKey();
    fn(last);
    return this.cache.subscribe((ev) => {
      if (ev.kind !== 'cluster') return;
      const key = this.unlockKey(ev.object as Cluster);
      if (key === last) return;
      last = key;
      fn(key);
    });
  }

  /** Reloads the CA keys whenever the cluster's CA state changes (a rotation starts or ends). */
  private followCAChanges(): void {
    let seen = '';
    this.cache.subscribe((ev) => {
      if (ev.kind !== 'cluster') return;
      const c = ev.object as Cluster;
      const state = `${c.TLSInfo.TrustRoot}|${c.RootRotation?.CACert ?? ''}`;
      if (state === seen) return;
      seen = state;
      void this.keys.load().catch((e) => log.warn('CA keys not reloaded', { err: e }));
    });
  }
  private remote: RemoteApi | undefined;
  /** Logs of tasks on other nodes (they listen for subscriptions on the remote API). */
  readonly logs = new LogBroker();

  /**
   * Lines of tasks on another node: from this manager's broker while it leads, else through the
   * leader's (nodes listen for log subscriptions on the leader only).
   */
  taskLogs(nodeId: string, taskIds: string[], opts: LogOptions): AsyncGenerator<TaskLogLine> {
    if (this.leader) return this.logs.logs(nodeId, taskIds, opts);
    const leader = this.leaderAddr();
    const identity = this.remote?.identity;
    if (!leader || !identity) throw new SwarmError('UNAVAILABLE', incompleteLogs(nodeId));
    const { signal: _s, until: _u, ...options } = opts;
    return subscribeLogs(leader, identity, { ...options, nodeId, taskIds });
  }

  /** This node's live TLS identity (the remote API's; certificate renewal swaps it in place). */
  get tlsIdentity(): NodeTLSIdentity | undefined {
    return this.remote?.identity;
  }

  /** Serves the CA and the dispatcher to other nodes on `listenAddr` ("ip:port"). */
  async startRemoteApi(stateDir: string, listenAddr: string): Promise<void> {
    this.remote = await startRemoteApi({
      stateDir,
      listenAddr,
      clusterId: this.identity.clusterId,
      signer: () => this.keys.signer(this.cache.list('cluster')[0]),
      rootCertPem: () => this.rootCertPem(),
      store: this.store,
      cache: this.cache,
      dispatcher: () => this.leader?.dispatcher,
      // A follower's refusal must not send the agent back to the follower itself.
      managers: () => this.managerAddrs().filter((a) => a !== this.identity.advertiseAddr),
      logs: this.logs,
      membership: { join: (nodeId, req) => this.joinMember(nodeId, req) },
    });
  }

  /**
   * A manager-token node enters the etcd cluster: a learner now, a voter once it has caught up (the
   * promotion is retried in the background while the joiner starts its member).
   */
  private joinMember(nodeId: string, req: { peerURL: string; addr: string }): Promise<MemberJoin> {
    // One join at a time on this manager, as SwarmKit's.
    const run = this.joining.then(() => this.addMember(nodeId, req));
    this.joining = run.catch(() => undefined);
    return run;
  }
  private joining: Promise<unknown> = Promise.resolve();

  private async addMember(nodeId: string, req: { peerURL: string; addr: string }): Promise<MemberJoin> {
    const node = this.cache.get('node', nodeId);
    if (node?.Spec.Role !== 'manager')
      throw new SwarmError('PERMISSION_DENIED', `node ${nodeId} is not a manager of this swarm`);
    // A join that failed half way left a learner that never started (etcd allows one learner at a
    // time), or this node's own member from an earlier attempt: they go before the new one.
    for (const m of await listMembers(this.client))
      if ((m.isLearner && m.name === '') || m.name === nodeId) await removeMember(this.client, m.id);
    const { id, initialCluster } = await addLearner(this.client, nodeId, req.peerURL);
    await this.updateNode(nodeId, (n) => ({
      ...n,
      Status: { ...n.Status, Addr: req.addr.replace(/:\d+$/, '') },
      ManagerStatus: { Reachability: 'reachable', Addr: req.addr },
    }));
    void promote(this.client, id, 120_000).then(
      () => log.info('manager promoted to voter', { node: nodeId, member: id }),
      (e) => log.warn('manager not promoted', { node: nodeId, member: id, err: e }),
    );
    log.info('manager added as learner', { node: nodeId, member: id, peer: req.peerURL });
    return {
      memberId: id,
      initialCluster,
      clusterToken: this.member.config.clusterToken,
      etcdCA: await loadEtcdCA(this.member.paths.tlsDir),
      dataKey: await this.requireDataKey(),
    };
  }

  /**
   * `swarm leave` of one manager among several: its node record becomes a worker's (so the others
   * can remove it once it is down) and its etcd member leaves the cluster, so the quorum counts only
   * the managers that remain. The last manager has nobody to leave.
   */
  async leaveCluster(): Promise<void> {
    const managers = this.cache.list('node').filter((n) => n.Spec.Role === 'manager');
    if (managers.length <= 1) return;
    await this.updateNode(this.identity.nodeId, (n) => {
      const { ManagerStatus: _ms, ...rest } = n;
      return { ...rest, Spec: { ...n.Spec, Role: 'worker' } };
    });
    const self = (await listMembers(this.client)).find((m) => m.name === this.identity.nodeId);
    // The leader may have removed it already, on seeing the node a worker.
    if (self)
      await removeMember(this.client, self.id, 10_000).catch((e) =>
        log.warn('member not removed', { err: e }),
      );
  }

  /**
   * Leader only: etcd members follow the manager nodes (src/manager/members.ts decides). Runs after
   * node changes and every few seconds; returns its stop function.
   */
  private reconcileMembers(): () => void {
    return this.passes('member reconcile', async (run) => {
      // Decide on what etcd holds now, not on a cache a new leader may not have caught up with.
      await this.cache.waitForRevision(await this.store.revision());
      if (run.stopped) return;
      if (this.cache.get('node', this.identity.nodeId)?.Spec.Role === 'worker') {
        // Demoted while leading: the plan never removes the leader's own member, so step down and
        // let the next leader remove it (this manager then carries on as a worker).
        log.info('this leader was demoted; stepping down');
        run.stop();
        void this.election.stop();
        return;
      }
      const members = await listMembers(this.client);
      const plan = planMembers(this.cache.list('node'), members, this.identity.nodeId);
      // A started learner whose promotion was lost (its serving manager restarted) is promoted here.
      for (const m of members)
        if (m.isLearner && m.name !== '' && this.cache.get('node', m.name)?.Spec.Role === 'manager')
          await promote(this.client, m.id, 5000).catch((e) =>
            log.debug('learner not promoted yet', { err: e }),
          );
      for (const m of plan.remove) {
        log.info('removing the etcd member of a node that is no manager', { member: m.id, node: m.name });
        await removeMember(this.client, m.id, 10_000);
      }
      for (const id of plan.clearManagerStatus) {
        await this.updateNode(id, (n) => {
          const { ManagerStatus: _ms, ...rest } = n;
          return rest;
        });
      }
    });
  }

  /** Leader only: finishes a root rotation once every node holds a certificate from the new key. */
  private reconcileRotation(): () => void {
    return this.passes('root rotation', async (run) => {
      const c = this.cache.list('cluster')[0];
      if (!c?.RootRotation || !rotationConverged(c, this.cache.list('node')) || run.stopped) return;
      // Keys first: a leader that dies between the two writes leaves the rotation named, and the
      // next one finishes it.
      await this.keys.promoteRotation(c.RootRotation.CACert);
      const updated = await this.store.update('cluster', finishRotation(c, new Date()), {
        fence: this.election.fence(),
      });
      await this.cache.waitForRevision(updated.Version.Index);
      await this.keys.dropRotation();
      log.info('root CA rotation finished: every node holds a certificate from the new root');
    });
  }

  /**
   * Runs `pass` after every node or cluster change and every few seconds, one run at a time (a change
   * during a run queues one more); returns the stop function. `run.stop()` lets a pass end it.
   */
  private passes(what: string, pass: (run: { stopped: boolean; stop(): void }) => Promise<void>): () => void {
    let running: Promise<void> | undefined;
    let again = false;
    const run = {
      stopped: false,
      stop() {
        run.stopped = true;
      },
    };
    const kick = () => {
      if (run.stopped) return;
      if (running) {
        again = true;
        return;
      }
      running = pass(run)
        .catch((e) => log.warn(`${what} failed`, { err: e }))
        .finally(() => {
          running = undefined;
          if (again) {
            again = false;
            kick();
          }
        });
    };
    const off = this.cache.subscribe((ev) => {
      if (ev.kind === 'node' || ev.kind === 'cluster') kick();
    });
    const timer = setInterval(kick, 5000);
    kick();
    return () => {
      run.stop();
      off();
      clearInterval(timer);
    };
  }

  private updateNode(nodeId: string, change: (n: Node) => Node): Promise<void> {
    return changeNode(this.store, this.cache, nodeId, change);
  }

  /** swarm init: a new single-member etcd cluster holding a new cluster object and this node. */
  static async bootstrap(o: BootstrapOptions): Promise<Manager> {
    const ip = o.identity.advertiseAddr.replace(/:\d+$/, '');
    const member = await createMember(
      o.stateDir,
      o.identity,
      o.ports,
      await createEtcdCA(o.identity.clusterId),
      {
        initialCluster: `${o.identity.nodeId}=${peerURL(ip, o.ports.peer)}`,
        clusterState: 'new',
        clusterToken: o.identity.clusterId,
      },
    );
    await writeDataKey(o.stateDir, newDataKey());
    const m = await Manager.open(o.stateDir, o.identity, member, o.allocatePorts);
    await m.keys.storeRoot(o.rootCA);
    const tokensIssuedAt = new Date().toISOString();
    const cluster: Omit<Cluster, 'Version' | 'CreatedAt' | 'UpdatedAt'> = {
      ID: o.identity.clusterId,
      Spec: o.spec,
      TLSInfo: rootTLSInfo(o.rootCA.certPem),
      RootRotationInProgress: false,
      DefaultAddrPool: o.defaultAddrPool,
      SubnetSize: o.subnetSize,
      DataPathPort: o.dataPathPort,
      JoinTokens: {
        Worker: generateJoinToken(o.rootCA.certPem),
        Manager: generateJoinToken(o.rootCA.certPem),
      },
      JoinTokensIssuedAt: { Worker: tokensIssuedAt, Manager: tokensIssuedAt },
      ...(o.joinTokenTTL ? { JoinTokenTTL: o.joinTokenTTL } : {}),
    };
    const node: Omit<Node, 'Version' | 'CreatedAt' | 'UpdatedAt'> = {
      ID: o.identity.nodeId,
      Spec: { Labels: {}, Role: 'manager', Availability: 'active' },
      Description: { ...o.description, TLSInfo: rootTLSInfo(o.rootCA.certPem) },
      Status: { State: 'ready', Addr: ip },
      ManagerStatus: { Reachability: 'reachable', Addr: o.identity.advertiseAddr },
    };
    const created = await m.store.batch([
      {
        op: 'create',
        kind: 'cluster',
        object: {
          ...cluster,
          // swarm init --autolock: the unlock key is made with the swarm.
          ...(o.spec.EncryptionConfig?.AutoLockManagers && m.dataKey
            ? { UnlockKeySealed: seal(m.dataKey, generateUnlockKey()) }
            : {}),
        },
      },
      { op: 'create', kind: 'node', object: node },
      { op: 'create', kind: 'network', object: ingressNetwork(newId(), cluster) },
    ]);
    for (const r of created) if (!r.ok) throw r.error;
    const last = created[created.length - 1];
    if (last?.ok) await m.cache.waitForRevision(last.revision);
    return m;
  }

  /**
   * A node that joined with the manager token: its own etcd member (certificates issued here with the
   * etcd CA the serving manager handed over) starts as a learner of the existing cluster.
   */
  static async joinCluster(o: {
    stateDir: string;
    identity: ManagerIdentity;
    ports: { client: number; peer: number; metrics: number };
    member: MemberJoin;
    allocatePorts: PortAllocator;
  }): Promise<Manager> {
    await writeDataKey(o.stateDir, o.member.dataKey);
    const member = await createMember(o.stateDir, o.identity, o.ports, o.member.etcdCA, {
      initialCluster: o.member.initialCluster,
      clusterState: 'existing',
      clusterToken: o.member.clusterToken,
    });
    return Manager.open(o.stateDir, o.identity, member, o.allocatePorts);
  }

  /** Restart of a manager from its state dir. */
  static async resume(
    stateDir: string,
    identity: ManagerIdentity,
    allocatePorts: PortAllocator,
  ): Promise<Manager> {
    const member = await EtcdMember.load(stateDir);
    if (!member) throw new Error(`no etcd member in ${stateDir}/etcd: this manager's state is incomplete`);
    return Manager.open(stateDir, identity, member, allocatePorts);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.remote?.server.stop(500);
    await this.leaderChange;
    const l = this.leader;
    this.leader = undefined;
    if (l) {
      l.members();
      l.rotation();
      await l.loop.stop();
      await l.dispatcher.stop();
    }
    await this.election.stop().catch(() => undefined);
    await this.cache.stop().catch(() => undefined);
    this.client.close();
    await this.member.stop();
  }

  static newClusterId(): string {
    return newId();
  }
}

/** This manager's etcd member: certificates from the etcd CA, then its persisted config. */
async function createMember(
  stateDir: string,
  identity: ManagerIdentity,
  ports: { client: number; peer: number; metrics: number },
  ca: { certPem: string; keyPem: string },
  cluster: { initialCluster: string; clusterState: 'new' | 'existing'; clusterToken: string },
): Promise<EtcdMember> {
  const ip = identity.advertiseAddr.replace(/:\d+$/, '');
  const certs = await issueMemberCerts(ca, { name: identity.nodeId, peerIP: ip });
  await writeMemberTLS(memberPaths(stateDir).tlsDir, ca, certs);
  return EtcdMember.create(stateDir, {
    name: identity.nodeId,
    peerIP: ip,
    clientPort: ports.client,
    peerPort: ports.peer,
    metricsPort: ports.metrics,
    ...cluster,
  });
}
