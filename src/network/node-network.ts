// The node's container networking: one gateway bridge, and for each container a named netns with
// a veth onto that bridge, an address from the node's IPAM, and its hosts/resolv.conf/hostname files;
// plus one veth per overlay network the container's task is on (node-overlays.ts builds the networks).
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { conflict, invalidArgument, SwarmError } from '../api/errors.js';
import { createLogger } from '../lib/log.js';
import { planLeftovers } from './cleanup.js';
import {
  type DnsConfig,
  dnsConfigSchema,
  hostnameSchema,
  parseExtraHost,
  renderEmbeddedResolvConf,
  renderHostsFile,
  renderResolvConf,
  upstreamResolvers,
} from './container-files.js';
import { ensureGatewayBridge, observeLink, removeGatewayBridge } from './gateway.js';
import {
  type AttachmentRecord,
  type IpamState,
  loadIpamState,
  nextFreeAddress,
  saveIpamState,
} from './ipam.js';
import { intToIp, macForIp, parseSubnet, type Subnet } from './ipv4.js';
import {
  checkContainerId,
  checkIfname,
  containerNetnsName,
  DEFAULT_BRIDGE,
  DEFAULT_SUBNET,
  hostVethName,
  netnsPath,
  ownerTag,
} from './names.js';
import { overlayNetworkRequestSchema } from './network-attachments.js';
import { NodeOverlays, type OverlayEndpointRecord } from './node-overlays.js';
import {
  type NetworkPeer,
  type OverlayEndpoint,
  renderOverlayHostSide,
  renderOverlayTaskSide,
} from './overlay.js';
import { applyPortRules, type PortState, removePortRules } from './ports.js';
import {
  ipBatch,
  ipBatchIgnoringMissing,
  ipJson,
  linkDelete,
  netnsAdd,
  netnsDelete,
  netnsList,
} from './shell.js';

const logger = createLogger({ component: 'network' });

export const nodeNetworkConfigSchema = z.object({
  /** Directory this module owns: allocation file and per-container files. */
  stateDir: z.string().min(1),
  bridge: z.string().default(DEFAULT_BRIDGE),
  subnet: z.string().default(DEFAULT_SUBNET),
  /** Named netns that plays "the host" (tests, cluster-in-a-box); the process's own netns when absent. */
  hostNetns: z.string().optional(),
  /** Where the host's resolvers are read from. */
  hostResolvConf: z.string().default('/etc/resolv.conf'),
});
export type NodeNetworkConfig = z.input<typeof nodeNetworkConfigSchema>;

export const attachRequestSchema = z.object({
  containerId: z.string(),
  hostname: hostnameSchema,
  /** hosts(5) lines, "IP name [aliases...]", as in ContainerSpec.Hosts. */
  extraHosts: z.array(z.string()).optional(),
  dns: dnsConfigSchema.optional(),
  /** Overlay networks (the task's NetworksAttachments, in order): interfaces eth1, eth2, …. */
  overlays: z.array(overlayNetworkRequestSchema).optional(),
});
export type AttachRequest = z.input<typeof attachRequestSchema>;

/** What the executor needs to run a container on the gateway network. */
export interface ContainerAttachment {
  containerId: string;
  /** Netns name and path, for the OCI spec's `linux.namespaces` network entry. */
  netns: string;
  netnsPath: string;
  ip: string;
  prefixLength: number;
  gateway: string;
  mac: string;
  hostVeth: string;
  hostname: string;
  /** Files to bind-mount at /etc/hosts, /etc/resolv.conf and /etc/hostname. */
  hostsFile: string;
  resolvConfFile: string;
  hostnameFile: string;
  /** One interface per overlay network, eth1 onwards (absent: none). */
  overlays?: OverlayEndpoint[];
}

export interface CleanupReport {
  released: string[];
  netns: string[];
  hostVeths: string[];
}

/**
 * Batch run in the host netns: the veth is created with its container end already named eth0
 * inside the container's netns (no rename step), and hairpin is on so that a task reaching its own
 * service through a published port (DNATed back to itself) gets its frames back on the same port.
 */
export function renderHostSideBatch(a: {
  netns: string;
  hostVeth: string;
  mac: string;
  bridge: string;
  /** A swarm task on overlays: its gateway port talks to the node only, never to another container's
   * (Docker's docker_gwbridge has inter-container traffic off), so networks stay apart. */
  isolated?: boolean;
}): string[] {
  return [
    `link add ${a.hostVeth} type veth peer name eth0 address ${a.mac} netns ${a.netns}`,
    `link set dev ${a.hostVeth} master ${a.bridge}`,
    `link set dev ${a.hostVeth} type bridge_slave hairpin on${a.isolated ? ' isolated on' : ''}`,
    `link set dev ${a.hostVeth} up`,
  ];
}

/** Batch run inside the container's netns; a task only on `--internal` networks gets no way out. */
export function renderContainerSideBatch(a: {
  ip: string;
  prefixLength: number;
  gateway: string;
  noDefaultRoute?: boolean;
}): string[] {
  return [
    'link set dev lo up',
    `addr add ${a.ip}/${a.prefixLength} dev eth0`,
    'link set dev eth0 up',
    ...(a.noDefaultRoute ? [] : [`route add default via ${a.gateway} dev eth0`]),
  ];
}

const vethListSchema = z.array(z.object({ ifname: z.string(), master: z.string().nullish() }));

export class NodeNetwork {
  readonly stateDir: string;
  readonly bridge: string;
  readonly subnet: Subnet;
  readonly hostNetns: string | undefined;
  private readonly hostResolvConf: string;
  private readonly tag: string;
  private readonly ipamFile: string;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly overlays: NodeOverlays;
  private bridgeReady: Promise<void> | undefined;

  constructor(config: NodeNetworkConfig) {
    const parsed = nodeNetworkConfigSchema.safeParse(config);
    if (!parsed.success) throw invalidArgument(`invalid network config: ${parsed.error.issues[0]?.message}`);
    const c = parsed.data;
    checkIfname(c.bridge);
    this.stateDir = c.stateDir;
    this.bridge = c.bridge;
    this.subnet = parseSubnet(c.subnet);
    this.hostNetns = c.hostNetns;
    this.hostResolvConf = c.hostResolvConf;
    this.tag = ownerTag(c.stateDir);
    this.ipamFile = join(c.stateDir, 'gateway-ipam.json');
    this.overlays = new NodeOverlays({ stateDir: c.stateDir, tag: this.tag, hostNetns: c.hostNetns });
  }

  get gateway(): string {
    return intToIp(this.subnet.gateway);
  }

  /** Creates or repairs the bridge, forwarding and egress NAT. Safe to call on every start. */
  async ensureGatewayBridge(): Promise<void> {
    const ensured = ensureGatewayBridge({
      bridge: this.bridge,
      subnet: this.subnet,
      hostNetns: this.hostNetns,
    });
    this.bridgeReady = ensured.catch((err: unknown) => {
      this.bridgeReady = undefined; // checked again on next use
      throw err;
    });
    await ensured;
  }

  /**
   * The bridge as this process last made or repaired it: ensured once, not on every container or
   * view change (three processes each time); again after a failure or once removeGatewayBridge ran.
   */
  gatewayReady(): Promise<void> {
    return this.bridgeReady ?? this.ensureGatewayBridge();
  }

  async removeGatewayBridge(): Promise<void> {
    this.bridgeReady = undefined;
    await removeGatewayBridge({ bridge: this.bridge, hostNetns: this.hostNetns });
  }

  /**
   * The node's underlay address (the IPv4 it advertises to the swarm): overlay networks send and
   * receive VXLAN packets on it. Needed before a task with overlay networks is attached.
   */
  setUnderlayAddress(ip: string): Promise<void> {
    return this.overlays.setUnderlayAddress(ip);
  }

  /** Where the embedded DNS forwards names that are not the swarm's: the host's resolvers. */
  async upstreamResolvers(): Promise<string[]> {
    return upstreamResolvers(await readFile(this.hostResolvConf, 'utf8').catch(() => ''));
  }

  /** The node's own address on an overlay (the routing mesh's ingress), see NodeOverlays.setNodeEndpoint. */
  setNodeEndpoint(
    networkId: string,
    endpoint: { vni: number; gateway: string; mtu?: number; address: string } | undefined,
  ): Promise<void> {
    return this.overlays.setNodeEndpoint(networkId, endpoint);
  }

  /** The full set of remote endpoints of an overlay network (see NodeOverlays.setNetworkPeers). */
  setNetworkPeers(networkId: string, peers: readonly NetworkPeer[]): Promise<void> {
    return this.overlays.setNetworkPeers(networkId, peers);
  }

  /** Replaces the published-port rules in the host netns (see ports.ts). */
  async applyPortRules(state: PortState): Promise<void> {
    await applyPortRules(state, { netns: this.hostNetns });
  }

  /**
   * Gives a container its network: netns, veth on the bridge, address, default route, files, and
   * a macvlan on each of its overlay networks (whose devices are made if it is the first local task).
   * Attaching an already attached container returns the same attachment (repairing a half-done
   * one left by a crash). On failure everything created is removed and the address released.
   */
  async attachContainer(request: AttachRequest): Promise<ContainerAttachment> {
    const parsed = attachRequestSchema.safeParse(request);
    if (!parsed.success) throw invalidArgument(`invalid attach request: ${parsed.error.issues[0]?.message}`);
    const req = parsed.data;
    checkContainerId(req.containerId);
    for (const entry of req.extraHosts ?? []) parseExtraHost(entry); // refuse before allocating
    const overlays = req.overlays ?? [];
    const endpoints = this.overlays.endpointsFor(overlays);
    const started = performance.now();
    const { record, fresh } = await this.allocate(req.containerId, req.hostname);
    const attachment = this.describe(req.containerId, record, endpoints);
    const plumb = async () => {
      const previous = fresh ? [] : await this.overlays.endpointsOf(req.containerId);
      if (endpoints.length + previous.length > 0) await this.overlays.attach(req.containerId, endpoints);
      if (!fresh && (await this.isComplete(record, endpoints))) return;
      if (!fresh) await this.removeKernelObjects(record, [...previous, ...endpoints]);
      const hostSide = [
        ...renderHostSideBatch({ ...attachment, bridge: this.bridge, isolated: overlays.length > 0 }),
        ...endpoints.flatMap((e) =>
          renderOverlayHostSide(e, { netns: record.netns, vxlan: this.overlays.vxlanOf(e.networkId) }),
        ),
      ];
      if (this.hostNetns === undefined) {
        // One `ip` process fewer per container: `netns add` batches with the host side here (not
        // under `ip -n`, whose private mount namespace would hide the new netns's bind mount).
        await ipBatch([`netns add ${record.netns}`, ...hostSide]);
      } else {
        await netnsAdd(record.netns);
        await ipBatch(hostSide, this.hostNetns);
      }
      await ipBatch(
        [
          ...renderContainerSideBatch({
            ...attachment,
            noDefaultRoute: overlays.length > 0 && overlays.every((o) => o.internal),
          }),
          ...endpoints.flatMap(renderOverlayTaskSide),
        ],
        record.netns,
      );
    };
    const results = await Promise.allSettled([
      plumb(),
      this.writeFiles(attachment, req.extraHosts ?? [], req.dns ?? {}),
    ]);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) {
      await this.removeKernelObjects(record, endpoints).catch(() => undefined);
      await this.overlays.abandon(req.containerId).catch(() => undefined);
      await rm(this.filesDir(req.containerId), { recursive: true, force: true });
      await this.release([req.containerId]);
      throw failed.reason;
    }
    logger.debug('container attached', {
      containerId: req.containerId,
      ip: record.ip,
      ms: Math.round(performance.now() - started),
    });
    return attachment;
  }

  /**
   * Removes a container's veths, netns and files and frees its address; an overlay network it was
   * the last local task of loses its devices. Detaching twice is fine.
   */
  async detachContainer(containerId: string): Promise<void> {
    checkContainerId(containerId);
    const state = await loadIpamState(this.ipamFile, this.subnet);
    const record = state.attachments[containerId] ?? {
      netns: containerNetnsName(this.tag, containerId),
      hostVeth: hostVethName(this.tag, containerId),
    };
    const endpoints = await this.overlays.endpointsOf(containerId);
    await this.removeKernelObjects(record, endpoints);
    await rm(this.filesDir(containerId), { recursive: true, force: true });
    await this.release([containerId]);
    if (endpoints.length > 0) await this.overlays.detach(containerId);
  }

  /** The recorded attachment of a container (e.g. to re-adopt it after a restart), or null. */
  async attachment(containerId: string): Promise<ContainerAttachment | null> {
    const state = await loadIpamState(this.ipamFile, this.subnet);
    const record = state.attachments[containerId];
    return record ? this.describe(containerId, record, await this.overlays.endpointsOf(containerId)) : null;
  }

  /**
   * Crash recovery: removes every netns, veth, record and files dir of ours that belongs to no
   * container in `keep`, and the devices of overlay networks no kept container is on. With `full`,
   * also the published-port table, the NAT table, the bridge and every overlay device of ours
   * (node teardown). Only objects carrying this instance's owner tag (in their name or, for overlay
   * devices, their alias) or living in its host netns on its bridges are touched.
   */
  async cleanupLeftovers(opts: { keep: ReadonlySet<string>; full?: boolean }): Promise<CleanupReport> {
    const state = await loadIpamState(this.ipamFile, this.subnet);
    const rawVeths = await ipJson(['link', 'show', 'type', 'veth'], this.hostNetns);
    const veths = vethListSchema.parse(rawVeths ?? []);
    const fileDirs = await readdir(join(this.stateDir, 'containers')).catch(() => []);
    const plan = planLeftovers(
      this.tag,
      this.bridge,
      state.attachments,
      {
        netns: await netnsList(),
        hostVeths: veths.map((v) => ({ name: v.ifname, master: v.master ?? null })),
        fileDirs,
      },
      opts.keep,
    );
    for (const veth of plan.hostVeths) await linkDelete(veth, this.hostNetns);
    // Before the netns go: their overlay veths are then deleted here, at once, not by the kernel later.
    await this.overlays.cleanup(opts.keep, opts.full === true);
    for (const ns of plan.netns) await netnsDelete(ns);
    for (const id of plan.fileDirs) await rm(this.filesDir(id), { recursive: true, force: true });
    await this.release(plan.release);
    if (opts.full) {
      await removePortRules({ netns: this.hostNetns });
      await this.removeGatewayBridge();
    }
    if (plan.netns.length + plan.hostVeths.length + plan.release.length > 0) {
      logger.info('removed network leftovers', { ...plan });
    }
    return { released: plan.release, netns: plan.netns, hostVeths: plan.hostVeths };
  }

  /** Serializes read-modify-write of the allocation file within this process. */
  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private allocate(
    containerId: string,
    hostname: string,
  ): Promise<{ record: AttachmentRecord; fresh: boolean }> {
    return this.serialize(async () => {
      const state = await loadIpamState(this.ipamFile, this.subnet);
      const existing = state.attachments[containerId];
      if (existing) {
        if (existing.hostname === hostname) return { record: existing, fresh: false };
        const record = { ...existing, hostname };
        await saveIpamState(this.ipamFile, {
          ...state,
          attachments: { ...state.attachments, [containerId]: record },
        });
        return { record, fresh: false };
      }
      const netns = containerNetnsName(this.tag, containerId);
      const hostVeth = hostVethName(this.tag, containerId);
      for (const [otherId, rec] of Object.entries(state.attachments)) {
        if (rec.netns === netns || rec.hostVeth === hostVeth) {
          throw conflict(
            `container ${containerId} would share network names with attached container ${otherId}`,
          );
        }
      }
      const used = new Set(Object.values(state.attachments).map((r) => r.ip));
      const ip = nextFreeAddress(this.subnet, used, state.last);
      if (ip === null) {
        throw new SwarmError(
          'UNAVAILABLE',
          `no available IPv4 addresses on gateway network ${this.subnet.cidr}`,
        );
      }
      const record: AttachmentRecord = { ip, netns, hostVeth, hostname };
      const next: IpamState = {
        ...state,
        last: ip,
        attachments: { ...state.attachments, [containerId]: record },
      };
      await saveIpamState(this.ipamFile, next);
      return { record, fresh: true };
    });
  }

  private release(containerIds: readonly string[]): Promise<void> {
    if (containerIds.length === 0) return Promise.resolve();
    return this.serialize(async () => {
      const state = await loadIpamState(this.ipamFile, this.subnet);
      const attachments = { ...state.attachments };
      let changed = false;
      for (const id of containerIds) {
        if (id in attachments) {
          delete attachments[id];
          changed = true;
        }
      }
      if (changed) await saveIpamState(this.ipamFile, { ...state, attachments });
    });
  }

  private async isComplete(
    record: AttachmentRecord,
    endpoints: readonly OverlayEndpoint[],
  ): Promise<boolean> {
    if (!existsSync(netnsPath(record.netns))) return false;
    const links = await Promise.all([
      observeLink(record.hostVeth, this.hostNetns),
      ...endpoints.map((e) => observeLink(e.ifname, record.netns)),
    ]);
    return links.every((link) => link?.flags.includes('UP') === true);
  }

  /**
   * Deleting the host end removes the veth pair synchronously, and the overlay macvlans are
   * deleted by name before the netns goes (a netns dies asynchronously, and a macvlan's MAC stays
   * taken on its VXLAN device until it does), so names and MACs are free again at once.
   */
  private async removeKernelObjects(
    record: Pick<AttachmentRecord, 'netns' | 'hostVeth'>,
    endpoints: readonly Pick<OverlayEndpoint, 'ifname'>[],
  ): Promise<void> {
    const macvlans = [...new Set(endpoints.map((e) => e.ifname))];
    if (macvlans.length > 0 && existsSync(netnsPath(record.netns))) {
      await ipBatchIgnoringMissing(
        macvlans.map((i) => `link del dev ${i}`),
        /Cannot find device|Invalid netns|No such file/,
        record.netns,
      );
    }
    const deletes = [`link del dev ${record.hostVeth}`];
    if (this.hostNetns === undefined) {
      // One process for both (the veth first, so the netns holds nothing when it is deleted).
      await ipBatchIgnoringMissing(
        [...deletes, `netns del ${record.netns}`],
        /Cannot find device|No such file/,
      );
      return;
    }
    await ipBatchIgnoringMissing(deletes, /Cannot find device/, this.hostNetns);
    await netnsDelete(record.netns);
  }

  private filesDir(containerId: string): string {
    return join(this.stateDir, 'containers', containerId);
  }

  private describe(
    containerId: string,
    record: AttachmentRecord,
    endpoints: readonly OverlayEndpointRecord[],
  ): ContainerAttachment {
    const dir = this.filesDir(containerId);
    return {
      containerId,
      netns: record.netns,
      netnsPath: netnsPath(record.netns),
      ip: record.ip,
      prefixLength: this.subnet.prefixLength,
      gateway: this.gateway,
      mac: macForIp(record.ip),
      hostVeth: record.hostVeth,
      hostname: record.hostname,
      hostsFile: join(dir, 'hosts'),
      resolvConfFile: join(dir, 'resolv.conf'),
      hostnameFile: join(dir, 'hostname'),
      overlays: endpoints.map((e) => ({
        networkId: e.networkId,
        networkName: e.networkName,
        ifname: e.ifname,
        ip: e.ip,
        prefixLength: e.prefixLength,
        mac: e.mac,
        mtu: e.mtu,
      })),
    };
  }

  private async writeFiles(
    a: ContainerAttachment,
    extraHosts: readonly string[],
    dns: DnsConfig,
  ): Promise<void> {
    const hostResolv = await readFile(this.hostResolvConf, 'utf8').catch(() => '');
    await mkdir(this.filesDir(a.containerId), { recursive: true });
    await Promise.all([
      writeFile(a.hostsFile, renderHostsFile(a.ip, a.hostname, extraHosts)),
      writeFile(
        a.resolvConfFile,
        (a.overlays?.length ?? 0) > 0
          ? renderEmbeddedResolvConf(hostResolv, dns)
          : renderResolvConf(hostResolv, dns),
      ),
      writeFile(a.hostnameFile, `${a.hostname}\n`),
    ]);
  }
}
