// The overlay networks of one node: which local tasks are on which network (persisted, so a
// restarted swarmd knows what its surviving tasks need), the VXLAN device (and the node's port on
// it) of each network that has a local task, and the remote peers programmed on each VXLAN device.
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { isIPv4 } from 'node:net';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { conflict, failedPrecondition, invalidArgument, SwarmError } from '../api/errors.js';
import { writeFileAtomic } from '../ca/store.js';
import { createLogger } from '../lib/log.js';
import { type OverlayLeftoverPlan, planOverlayLeftovers } from './cleanup.js';
import { macForIp } from './ipv4.js';
import { checkNetworkId, containerNetnsName, netnsPath, overlayAlias, overlayLinkNames } from './names.js';
import { DEFAULT_OVERLAY_MTU, type OverlayNetworkRequest } from './network-attachments.js';
import {
  EMPTY_PEER_TABLE,
  ensureOverlayNetwork,
  type NetworkPeer,
  type OverlaySpec,
  type PeerTable,
  peerTableFor,
  programPeers,
  removeOverlayNetwork,
  renderOverlayHostSide,
  renderOverlayTaskSide,
} from './overlay.js';
import { ipBatch, ipBatchIgnoringMissing, ipJson } from './shell.js';

/** A task's endpoint on an overlay network, with what it takes to rebuild the network's devices. */
const overlayEndpointRecordSchema = z.object({
  networkId: z.string(),
  networkName: z.string(),
  vni: z.number().int(),
  gateway: z.string(),
  ifname: z.string(),
  ip: z.string(),
  prefixLength: z.number().int(),
  mac: z.string(),
  /** Absent in records of an older swarmd: the default. */
  mtu: z.number().int().default(DEFAULT_OVERLAY_MTU),
});
export type OverlayEndpointRecord = z.infer<typeof overlayEndpointRecordSchema>;

const endpointsFileSchema = z.object({
  version: z.literal(1),
  containers: z.record(z.string(), z.array(overlayEndpointRecordSchema)),
});
type EndpointsFile = z.infer<typeof endpointsFileSchema>;

/** What is needed to build a network's devices (the rest comes from the node). */
type NetworkShape = Pick<OverlayEndpointRecord, 'vni' | 'gateway' | 'mtu'>;

interface LocalOverlay {
  shape: NetworkShape;
  /** The VXLAN device's entries as last programmed; undefined: read them from the kernel first. */
  programmed: PeerTable | undefined;
}

const linksSchema = z.array(z.object({ ifname: z.string(), ifalias: z.string().nullish() }));

const logger = createLogger({ component: 'network' });

export interface NodeOverlaysConfig {
  stateDir: string;
  /** The owner tag of the node's kernel objects (names.ts ownerTag). */
  tag: string;
  hostNetns?: string;
}

/** Endpoints of other containers holding an address (on the same network) that `endpoints` take (pure). */
export function staleHolders(
  containers: Readonly<Record<string, readonly OverlayEndpointRecord[]>>,
  containerId: string,
  endpoints: readonly OverlayEndpointRecord[],
): { containerId: string; networkId: string; ifname: string; ip: string }[] {
  const out: { containerId: string; networkId: string; ifname: string; ip: string }[] = [];
  for (const [id, eps] of Object.entries(containers)) {
    if (id === containerId) continue;
    for (const o of eps)
      if (endpoints.some((e) => e.networkId === o.networkId && e.ip === o.ip))
        out.push({ containerId: id, networkId: o.networkId, ifname: o.ifname, ip: o.ip });
  }
  return out;
}

export class NodeOverlays {
  private readonly tag: string;
  private readonly hostNetns: string | undefined;
  private readonly file: string;
  private underlay: string | undefined;
  /** Networks whose devices this process has built or checked (they exist, with `underlay`). */
  private readonly local = new Map<string, LocalOverlay>();
  /** The last peer set given for each network, local devices or not. */
  private readonly peers = new Map<string, readonly NetworkPeer[]>();
  /** The node's own address (CIDR) on a network (the ingress network of the routing mesh): kept without tasks. */
  private readonly pinned = new Map<string, string>();
  /** Everything here (record file, devices, peers) changes one step at a time. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(config: NodeOverlaysConfig) {
    this.tag = config.tag;
    this.hostNetns = config.hostNetns;
    this.file = join(config.stateDir, 'overlay-endpoints.json');
  }

  /**
   * Sets the node's underlay address (the IPv4 it advertises to the swarm), which VXLAN packets
   * leave from and arrive at. Setting it (again, or after a restart) checks the devices of every
   * network a recorded task is on; a VXLAN device still bound to another address is rebuilt and
   * its peers programmed again.
   */
  async setUnderlayAddress(ip: string): Promise<void> {
    if (!isIPv4(ip)) throw invalidArgument(`invalid underlay address ${JSON.stringify(ip)}`);
    await this.serialize(async () => {
      if (this.underlay === ip) return;
      this.underlay = ip;
      const shapes = new Map<string, NetworkShape>();
      for (const [networkId, net] of this.local) shapes.set(networkId, net.shape);
      for (const e of Object.values((await this.load()).containers).flat()) shapes.set(e.networkId, e);
      // One broken network must not keep the others on the old address: all are tried.
      let failed: unknown;
      for (const [networkId, shape] of shapes) {
        await this.ensureNetwork(networkId, shape).catch((err: unknown) => {
          failed ??= err;
        });
      }
      if (failed !== undefined) throw failed;
    });
  }

  /** A container's endpoints on the given networks: eth1, eth2, … in their order. */
  endpointsFor(networks: readonly OverlayNetworkRequest[]): OverlayEndpointRecord[] {
    const seen = new Set<string>();
    return networks.map((n, i) => {
      checkNetworkId(n.networkId);
      if (seen.has(n.networkId)) throw conflict(`network ${n.name} is attached to the task twice`);
      seen.add(n.networkId);
      return {
        networkId: n.networkId,
        networkName: n.name,
        vni: n.vni,
        gateway: n.gateway,
        ifname: `eth${i + 1}`,
        ip: n.ip,
        prefixLength: n.prefixLength,
        mac: macForIp(n.ip),
        mtu: n.mtu,
      };
    });
  }

  /** The VXLAN device a network's task macvlans are made on. */
  vxlanOf(networkId: string): string {
    return overlayLinkNames(this.tag, networkId).vxlan;
  }

  /** The recorded endpoints of a container ([] when it has none). */
  async endpointsOf(containerId: string): Promise<OverlayEndpointRecord[]> {
    return (await this.load()).containers[containerId] ?? [];
  }

  /**
   * Records a container's endpoints (before any of its kernel objects exist, so crash cleanup
   * finds them), then makes sure each network's VXLAN device exists for its macvlans.
   */
  attach(containerId: string, endpoints: readonly OverlayEndpointRecord[]): Promise<void> {
    return this.serialize(async () => {
      const state = await this.load();
      const recorded = state.containers[containerId] ?? [];
      // An address the managers give again was released by a task that has ended; its stopped
      // container may still hold the address's interface (and MAC, which a macvlan cannot share
      // on one VXLAN device): that interface goes, and its record with it.
      const stale = staleHolders(state.containers, containerId, endpoints);
      for (const h of stale) {
        const netns = containerNetnsName(this.tag, h.containerId);
        if (existsSync(netnsPath(netns)))
          await ipBatchIgnoringMissing([`link del dev ${h.ifname}`], /Cannot find device/, netns).catch(
            () => undefined,
          );
        logger.info("address given again: the ended task's interface is removed", { ...h });
      }
      if (JSON.stringify(recorded) !== JSON.stringify(endpoints) || stale.length > 0) {
        const containers: EndpointsFile['containers'] = {};
        for (const [id, eps] of Object.entries(state.containers)) {
          const kept = eps.filter((e) => !stale.some((h) => h.containerId === id && h.ifname === e.ifname));
          if (kept.length > 0) containers[id] = kept;
        }
        containers[containerId] = [...endpoints];
        if (endpoints.length === 0) delete containers[containerId];
        await this.save({ ...state, containers });
      }
      for (const e of endpoints) {
        if (!this.local.has(e.networkId)) await this.ensureNetwork(e.networkId, e, containerId);
      }
    });
  }

  /** Forgets a container's endpoints; the devices of each network no local task is left on go. */
  detach(containerId: string): Promise<void> {
    return this.serialize(async () => {
      await this.drop(containerId);
    });
  }

  /**
   * After a failed attach: as detach, and the networks it was on are checked again on next use
   * (the failure may have come from their devices having gone behind our back).
   */
  abandon(containerId: string): Promise<void> {
    return this.serialize(async () => {
      for (const networkId of await this.drop(containerId)) this.local.delete(networkId);
    });
  }

  /**
   * Sets the full set of remote endpoints of a network: the VXLAN device gets an FDB entry (MAC →
   * node) and a neighbour entry (IP → MAC) for each, and loses those no longer listed. A network
   * without local devices keeps the set until its first local task arrives.
   */
  async setNetworkPeers(networkId: string, peers: readonly NetworkPeer[]): Promise<void> {
    checkNetworkId(networkId);
    const given = peers.map((p) => ({ ip: p.ip, nodeAddr: p.nodeAddr }));
    await this.serialize(async () => {
      if (this.local.has(networkId)) {
        this.peers.set(networkId, given);
        return this.applyPeers(networkId);
      }
      if (given.length === 0) {
        this.peers.delete(networkId);
        return;
      }
      this.peers.set(networkId, given);
      // After a restart: a surviving task may be on the network, whose devices then exist.
      const shape = Object.values((await this.load()).containers)
        .flat()
        .find((e) => e.networkId === networkId);
      if (shape && this.underlay !== undefined) await this.ensureNetwork(networkId, shape);
    });
  }

  /**
   * The node's own endpoint on a network (the routing mesh's ingress): its devices are built even
   * without a local task and the node's port gets the node's address, so the node routes into the
   * overlay; `address` undefined takes it back (devices go once no task needs them).
   */
  setNodeEndpoint(
    networkId: string,
    endpoint: (Omit<NetworkShape, 'mtu'> & { mtu?: number; address: string }) | undefined,
  ): Promise<void> {
    checkNetworkId(networkId);
    return this.serialize(async () => {
      const { port } = overlayLinkNames(this.tag, networkId);
      const before = this.pinned.get(networkId);
      if (endpoint === undefined) {
        if (before === undefined) return;
        this.pinned.delete(networkId);
        await ipBatchIgnoringMissing(
          [`addr del ${before} dev ${port}`],
          /Cannot find device|Cannot assign/,
          this.hostNetns,
        );
        const inUse = Object.values((await this.load()).containers)
          .flat()
          .some((e) => e.networkId === networkId);
        if (!inUse) {
          await removeOverlayNetwork(overlayLinkNames(this.tag, networkId), this.hostNetns);
          this.local.delete(networkId);
        }
        return;
      }
      const { address, mtu, ...rest } = endpoint;
      const shape: NetworkShape = { ...rest, mtu: mtu ?? DEFAULT_OVERLAY_MTU };
      const built = this.local.get(networkId)?.shape;
      // Every view from the managers repeats it: unchanged, nothing is looked at again.
      const same =
        built && built.vni === shape.vni && built.gateway === shape.gateway && built.mtu === shape.mtu;
      if (before === address && same) return;
      // The port takes the MAC its address gives (02:42:<ip>): the other nodes send it frames for
      // that address to that MAC, and a macvlan only receives what is addressed to it.
      this.pinned.set(networkId, address);
      try {
        await this.ensureNetwork(networkId, shape);
      } catch (err) {
        if (before === undefined) this.pinned.delete(networkId);
        else this.pinned.set(networkId, before);
        throw err;
      }
      const lines = [`addr replace ${address} dev ${port}`];
      if (before !== undefined && before !== address) lines.unshift(`addr del ${before} dev ${port}`);
      await ipBatchIgnoringMissing(lines, /Cannot assign/, this.hostNetns);
    });
  }

  /**
   * Crash recovery: endpoint records, task macvlans and network devices of ours that no container
   * in `keep` needs go; with `full`, every network device of ours goes (node teardown).
   */
  cleanup(keep: ReadonlySet<string>, full: boolean): Promise<OverlayLeftoverPlan> {
    return this.serialize(async () => {
      const state = await this.load();
      const links = linksSchema.parse((await ipJson(['link', 'show'], this.hostNetns)) ?? []);
      const plan = planOverlayLeftovers(
        this.tag,
        {
          links: links.map((l) => ({ name: l.ifname, alias: l.ifalias ?? null })),
          endpoints: state.containers,
        },
        full ? new Set() : keep,
      );
      const missing = /Cannot find device/;
      for (const m of plan.macvlans) {
        if (!existsSync(netnsPath(m.netns))) continue;
        await ipBatchIgnoringMissing([`link del dev ${m.ifname}`], missing, m.netns).catch(() => undefined);
      }
      await ipBatchIgnoringMissing(
        plan.devices.map((d) => `link del dev ${d}`),
        missing,
        this.hostNetns,
      );
      for (const networkId of plan.networks) this.local.delete(networkId);
      if (full) {
        this.pinned.clear();
        this.peers.clear();
      }
      if (plan.release.length > 0) {
        const containers = { ...state.containers };
        for (const id of plan.release) delete containers[id];
        await this.save({ ...state, containers });
      }
      if (plan.devices.length + plan.release.length > 0) {
        logger.info('removed overlay leftovers', { ...plan });
      }
      return plan;
    });
  }

  /** Drops a container's record and the devices of networks left without a local task; returns its networks. */
  private async drop(containerId: string): Promise<string[]> {
    const state = await this.load();
    const endpoints = state.containers[containerId];
    if (endpoints === undefined) return [];
    const containers = { ...state.containers };
    delete containers[containerId];
    await this.save({ ...state, containers });
    const inUse = new Set(
      Object.values(containers)
        .flat()
        .map((e) => e.networkId),
    );
    const networks = endpoints.map((e) => e.networkId);
    for (const networkId of networks) {
      if (inUse.has(networkId) || this.pinned.has(networkId)) continue;
      await removeOverlayNetwork(overlayLinkNames(this.tag, networkId), this.hostNetns);
      this.local.delete(networkId);
    }
    return networks;
  }

  /**
   * Builds or checks a network's devices. A VXLAN device made anew (first use, or a replacement:
   * a new underlay address, a device removed behind our back) has none of the task macvlans the
   * records list, so those of surviving tasks are made again (`except`: the task being attached,
   * whose own are made by its caller next).
   */
  private async ensureNetwork(networkId: string, shape: NetworkShape, except?: string): Promise<void> {
    if (this.underlay === undefined) {
      throw failedPrecondition(
        "overlay networks need the node's underlay address (its advertise address), and none is set",
      );
    }
    const names = overlayLinkNames(this.tag, networkId);
    const spec: OverlaySpec = {
      vni: shape.vni,
      mtu: shape.mtu,
      ...names,
      alias: overlayAlias(this.tag, networkId),
      portMac: macForIp(this.pinned.get(networkId)?.replace(/\/\d+$/, '') ?? shape.gateway),
      underlay: this.underlay,
    };
    const { vxlanCreated } = await ensureOverlayNetwork(spec, this.hostNetns);
    if (vxlanCreated) await this.replug(networkId, names.vxlan, except);
    const known = this.local.get(networkId)?.programmed;
    this.local.set(networkId, { shape, programmed: vxlanCreated ? EMPTY_PEER_TABLE : known });
    if (this.peers.has(networkId)) await this.applyPeers(networkId);
  }

  /** Makes again the macvlans of recorded tasks on a network whose VXLAN device is new. */
  private async replug(networkId: string, vxlan: string, except: string | undefined): Promise<void> {
    for (const [containerId, endpoints] of Object.entries((await this.load()).containers)) {
      if (containerId === except) continue;
      const netns = containerNetnsName(this.tag, containerId);
      for (const e of endpoints.filter((x) => x.networkId === networkId)) {
        try {
          await ipBatch(renderOverlayHostSide(e, { netns, vxlan }), this.hostNetns);
          await ipBatch(renderOverlayTaskSide(e), netns);
          logger.info('task interface made again on a new VXLAN device', { containerId, network: networkId });
        } catch (err) {
          // Its netns is gone (the task ended while we were down): cleanup drops the record.
          logger.warn('task interface not made again', {
            containerId,
            network: networkId,
            error: String(err),
          });
        }
      }
    }
  }

  private async applyPeers(networkId: string): Promise<void> {
    const net = this.local.get(networkId);
    if (net === undefined) return;
    const desired = peerTableFor(this.peers.get(networkId) ?? [], this.underlay);
    try {
      const { vxlan } = overlayLinkNames(this.tag, networkId);
      net.programmed = await programPeers(vxlan, net.programmed, desired, this.hostNetns);
    } catch (err) {
      // The kernel may hold part of it, or the devices may be gone: check both on next use.
      this.local.delete(networkId);
      throw err;
    }
  }

  private async load(): Promise<EndpointsFile> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, containers: {} };
      throw e;
    }
    const parsed = endpointsFileSchema.safeParse(JSON.parse(text));
    if (!parsed.success) {
      throw new SwarmError('INTERNAL', `corrupt overlay state ${this.file}: ${parsed.error.message}`);
    }
    return parsed.data;
  }

  private async save(state: EndpointsFile): Promise<void> {
    await mkdir(dirname(this.file), { recursive: true });
    await writeFileAtomic(this.file, `${JSON.stringify(state, null, 2)}\n`, 0o600);
  }

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }
}
