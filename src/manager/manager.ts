// A manager node's control plane: its supervised etcd member, the store and its watch cache, the
// control API, and (on the leader) the reconciling components. `bootstrap` makes a new cluster
// (swarm init); `resume` restarts one from the state dir (swarmd restart, even after kill -9).
import { X509Certificate } from 'node:crypto';
import type { Etcd3 } from 'etcd3';
import { SwarmError } from '../api/errors.js';
import { newId } from '../api/ids.js';
import type { Cluster, Node, NodeDescription, SwarmSpec } from '../api/types.js';
import type { RootCA } from '../ca/certificates.js';
import { readDataKey, writeDataKey } from '../ca/store.js';
import { generateJoinToken } from '../ca/tokens.js';
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
import { incompleteLogs, LogBroker, subscribeLogs, type TaskLogLine } from '../rpc/logbroker.js';
import type { MemberJoin } from '../rpc/membership.js';
import type { NodeTLSIdentity } from '../rpc/tls.js';
import { StoreCache } from '../store/cache.js';
import { LeaderElection } from '../store/election.js';
import { isSealed, newDataKey, seal, unseal } from '../store/sealed.js';
import { ClusterStore } from '../store/store.js';
import { ClusterApi } from './controlapi/cluster.js';
import { NodeApi } from './controlapi/nodes.js';
import { type PortAllocator, ServiceApi } from './controlapi/services.js';
import { TaskApi } from './controlapi/tasks.js';
import { Dispatcher } from './dispatcher/dispatcher.js';
import { LeaderLoop } from './leader.js';
import { planMembers } from './members.js';
import { changeNode } from './nodewrite.js';
import { type RemoteApi, startRemoteApi } from './remoteapi.js';
import { CachedControlStore } from './storeadapter.js';
import { type Tables, tables } from './tables.js';

const log = createLogger({ component: 'manager' });

/** etcd key of the root CA's key pair: managers only (the etcd client port trusts only the etcd CA). */
export const ROOT_CA_KEY = '/swarm-ca/root';

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
}

export class Manager {
  readonly control: ControlApis;
  private readonly controlStore: CachedControlStore;
  readonly election: LeaderElection;
  /** The leader's components; present while this manager leads. */
  private leader: { loop: LeaderLoop; dispatcher: Dispatcher; members: () => void } | undefined;
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
    this.control = {
      // Read when a token is rotated: the root is known only once the manager has opened (or, at
      // init, once bootstrap has stored it).
      cluster: new ClusterApi(this.controlStore, () => generateJoinToken(this.rootCertPem())),
      nodes: new NodeApi(this.controlStore, selfId, () => this.election?.leaderId),
      services: new ServiceApi(this.controlStore, allocatePorts),
      tasks: new TaskApi(this.controlStore, selfId),
      nodeIsUp: (id) => cache.get('node', id)?.Status.State === 'ready',
    };
    this.election = new LeaderElection(client, identity.nodeId);
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
          );
          this.leader = { loop, dispatcher, members: this.reconcileMembers() };
          dispatcher.start();
          loop.start();
        } else if (!s.isLeader && this.leader) {
          const l = this.leader;
          this.leader = undefined;
          l.members();
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
    const root = await client.get(ROOT_CA_KEY).string();
    if (root) {
      // Sealed since data keys exist; a swarm made before them stored it in clear.
      if (isSealed(root) && !m.dataKey)
        log.error('no data key to open the root CA with: this manager cannot sign');
      else {
        const rootCA = JSON.parse(isSealed(root) && m.dataKey ? unseal(m.dataKey, root) : root) as RootCA;
        m.rootCA = rootCA;
        m.rootCertPem = () => rootCA.certPem;
      }
    }
    m.followLeadership();
    log.info('manager started', { node: identity.nodeId, stateDir });
    return m;
  }

  /** The root CA certificate (PEM). */
  rootCertPem: () => string = () => '';
  /** The cluster's data key (seals store values such as the root CA key); managers only. */
  private dataKey: Buffer | undefined;

  /** The data key, made now for a swarm from before data keys (the root CA is then sealed with it). */
  private async requireDataKey(): Promise<Buffer> {
    if (this.dataKey) return this.dataKey;
    const key = newDataKey();
    if (this.rootCA) await this.client.put(ROOT_CA_KEY).value(seal(key, JSON.stringify(this.rootCA)));
    await writeDataKey(this.member.stateDir, key);
    this.dataKey = key;
    return key;
  }

  /** The root CA with its key (managers only: it lives in etcd). */
  private rootCA: RootCA | undefined;
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
      rootCA: () => this.rootCA,
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
    let running: Promise<void> | undefined;
    let again = false;
    let stopped = false;
    const pass = async () => {
      // Decide on what etcd holds now, not on a cache a new leader may not have caught up with.
      await this.cache.waitForRevision(await this.store.revision());
      if (stopped) return;
      if (this.cache.get('node', this.identity.nodeId)?.Spec.Role === 'worker') {
        // Demoted while leading: the plan never removes the leader's own member, so step down and
        // let the next leader remove it (this manager then carries on as a worker).
        log.info('this leader was demoted; stepping down');
        stopped = true;
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
    };
    const kick = () => {
      if (stopped) return;
      if (running) {
        again = true;
        return;
      }
      running = pass()
        .catch((e) => log.warn('member reconcile failed', { err: e }))
        .finally(() => {
          running = undefined;
          if (again) {
            again = false;
            kick();
          }
        });
    };
    const off = this.cache.subscribe((ev) => {
      if (ev.kind === 'node') kick();
    });
    const timer = setInterval(kick, 5000);
    kick();
    return () => {
      stopped = true;
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
    const dataKey = newDataKey();
    await writeDataKey(o.stateDir, dataKey);
    const m = await Manager.open(o.stateDir, o.identity, member, o.allocatePorts);
    await m.client.put(ROOT_CA_KEY).value(seal(dataKey, JSON.stringify(o.rootCA)));
    m.rootCA = o.rootCA;
    m.rootCertPem = () => o.rootCA.certPem;
    const cluster: Omit<Cluster, 'Version' | 'CreatedAt' | 'UpdatedAt'> = {
      ID: o.identity.clusterId,
      Spec: o.spec,
      TLSInfo: tlsInfo(o.rootCA.certPem),
      RootRotationInProgress: false,
      DefaultAddrPool: o.defaultAddrPool,
      SubnetSize: o.subnetSize,
      DataPathPort: o.dataPathPort,
      JoinTokens: {
        Worker: generateJoinToken(o.rootCA.certPem),
        Manager: generateJoinToken(o.rootCA.certPem),
      },
    };
    const node: Omit<Node, 'Version' | 'CreatedAt' | 'UpdatedAt'> = {
      ID: o.identity.nodeId,
      Spec: { Labels: {}, Role: 'manager', Availability: 'active' },
      Description: { ...o.description, TLSInfo: tlsInfo(o.rootCA.certPem) },
      Status: { State: 'ready', Addr: ip },
      ManagerStatus: { Reachability: 'reachable', Addr: o.identity.advertiseAddr },
    };
    const created = await m.store.batch([
      { op: 'create', kind: 'cluster', object: cluster },
      { op: 'create', kind: 'node', object: node },
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

/** Docker's TLSInfo: the trust root and the issuer's subject and public key, base64 DER. */
export function tlsInfo(rootCertPem: string): Cluster['TLSInfo'] {
  const cert = new X509Certificate(rootCertPem);
  const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
  return {
    TrustRoot: rootCertPem,
    CertIssuerSubject: subjectDer(cert.raw).toString('base64'),
    CertIssuerPublicKey: Buffer.from(spki).toString('base64'),
  };
}

/** The DER of a certificate's subject Name (walks the TBSCertificate's top-level fields). */
function subjectDer(certDer: Buffer): Buffer {
  // Minimal DER walk: Certificate ::= SEQ { tbs SEQ { [0] version?, serial, sigAlg, issuer, validity, subject, … } }
  const read = (buf: Buffer, off: number) => {
    const tag = buf[off] as number;
    let len = buf[off + 1] as number;
    let hdr = 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      len = 0;
      for (let i = 0; i < n; i++) len = (len << 8) | (buf[off + 2 + i] as number);
      hdr = 2 + n;
    }
    return { tag, start: off, contentStart: off + hdr, end: off + hdr + len };
  };
  const cert = read(certDer, 0);
  const tbs = read(certDer, cert.contentStart);
  let p = tbs.contentStart;
  const fields: { start: number; end: number; tag: number }[] = [];
  while (p < tbs.end) {
    const f = read(certDer, p);
    fields.push(f);
    p = f.end;
  }
  const hasVersion = fields[0]?.tag === 0xa0;
  const subject = fields[(hasVersion ? 1 : 0) + 4];
  if (!subject) return Buffer.alloc(0);
  return certDer.subarray(subject.start, subject.end);
}
