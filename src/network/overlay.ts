// VXLAN overlay networks on one node, as plans: per network a bridge and a VXLAN device enslaved to
// it, a veth per local task, and on the VXLAN device one FDB + one neighbour entry per remote task.
// The device is `nolearning proxy`: it never floods or learns, it answers ARP from its neighbour
// table and sends each frame straight to the node that hosts the destination MAC, so the entries
// are the whole control plane (runtime.md §4). The thin shell that runs the plans is at the end.
import { isIPv4 } from 'node:net';
import { z } from 'zod';
import { SwarmError } from '../api/errors.js';
import { observedLinkSchema } from './gateway.js';
import { macForIp } from './ipv4.js';
import { bridgeBatch, bridgeJson, ipBatch, ipBatchIgnoringMissing, ipJson } from './shell.js';

/** 1500 less the 50 bytes of VXLAN encapsulation. */
const OVERLAY_MTU = 1450;
const VXLAN_PORT = 4789;

/** One overlay network as this node builds it. */
export interface OverlaySpec {
  vni: number;
  bridge: string;
  vxlan: string;
  /** Says whose the devices are and for which network (names.ts overlayAlias). */
  alias: string;
  /** Fixed, or the bridge would take its lowest port's MAC, changing as tasks come and go. */
  bridgeMac: string;
  /** This node's underlay address: VXLAN packets leave from it and arrive at it. */
  underlay: string;
}

/** A VXLAN device's settings in `ip -j -d link show` (`linkinfo.info_data`). */
const vxlanInfoSchema = z
  .object({ id: z.number(), local: z.string(), port: z.number(), learning: z.boolean(), proxy: z.boolean() })
  .partial();

/** A device as `ip -j -d link show dev X` reports it (the fields we decide on). */
const observedOverlayLinkSchema = observedLinkSchema.omit({ addr_info: true }).extend({
  mtu: z.number().optional(),
  master: z.string().optional(),
  ifalias: z.string().optional(),
  linkinfo: z.object({ info_kind: z.string().optional(), info_data: vxlanInfoSchema.optional() }).optional(),
});
export type ObservedOverlayLink = z.infer<typeof observedOverlayLinkSchema>;

export interface ObservedOverlay {
  bridge: ObservedOverlayLink | null;
  vxlan: ObservedOverlayLink | null;
}

export interface OverlayPlan {
  /** `ip -batch` lines; empty when everything is as it should be. */
  lines: string[];
  /** The VXLAN device is (re)created, so it will hold no FDB or neighbour entries. */
  vxlanCreated: boolean;
}

function vxlanMatches(vx: ObservedOverlayLink, spec: OverlaySpec): boolean {
  const d = vx.linkinfo?.info_data;
  return (
    d?.id === spec.vni &&
    d.local === spec.underlay &&
    d.port === VXLAN_PORT &&
    d.learning === false &&
    d.proxy === true
  );
}

/**
 * What turns the observed devices into the network's bridge + VXLAN device, up, MTU 1450. A VXLAN
 * device with other settings (a new underlay address, say) is replaced: `proxy` and the VNI cannot
 * be changed on a live device. Ensuring twice issues nothing.
 */
export function planOverlayNetwork(observed: ObservedOverlay, spec: OverlaySpec): OverlayPlan {
  const { bridge: br, vxlan: vx } = observed;
  if (br !== null && br.linkinfo?.info_kind !== 'bridge') {
    throw new SwarmError('FAILED_PRECONDITION', `${spec.bridge} exists and is not a bridge`);
  }
  if (vx !== null && vx.linkinfo?.info_kind !== 'vxlan') {
    throw new SwarmError('FAILED_PRECONDITION', `${spec.vxlan} exists and is not a VXLAN device`);
  }
  const lines: string[] = [];
  if (br === null) {
    lines.push(`link add ${spec.bridge} mtu ${OVERLAY_MTU} address ${spec.bridgeMac} type bridge`);
  } else {
    if (br.mtu !== OVERLAY_MTU) lines.push(`link set dev ${spec.bridge} mtu ${OVERLAY_MTU}`);
    if (br.address !== spec.bridgeMac) lines.push(`link set dev ${spec.bridge} address ${spec.bridgeMac}`);
  }
  // `ip link add` ignores `alias`: it takes a line of its own, right after the add.
  if (br?.ifalias !== spec.alias) lines.push(`link set dev ${spec.bridge} alias ${spec.alias}`);
  const kept = vx !== null && vxlanMatches(vx, spec) ? vx : null;
  if (vx !== null && kept === null) lines.push(`link del dev ${spec.vxlan}`);
  if (kept === null) {
    lines.push(
      `link add ${spec.vxlan} mtu ${OVERLAY_MTU} type vxlan id ${spec.vni} dstport ${VXLAN_PORT} local ${spec.underlay} nolearning proxy`,
    );
  } else if (kept.mtu !== OVERLAY_MTU) {
    lines.push(`link set dev ${spec.vxlan} mtu ${OVERLAY_MTU}`);
  }
  if (kept?.ifalias !== spec.alias) lines.push(`link set dev ${spec.vxlan} alias ${spec.alias}`);
  if (kept?.master !== spec.bridge) lines.push(`link set dev ${spec.vxlan} master ${spec.bridge}`);
  if (!kept?.flags.includes('UP')) lines.push(`link set dev ${spec.vxlan} up`);
  if (!br?.flags.includes('UP')) lines.push(`link set dev ${spec.bridge} up`);
  return { lines, vxlanCreated: kept === null };
}

/** A task's interface on one overlay network. */
export interface OverlayEndpoint {
  networkId: string;
  networkName: string;
  /** eth1, eth2, … inside the task's netns. */
  ifname: string;
  ip: string;
  prefixLength: number;
  mac: string;
  /** The veth's end in the host netns, enslaved to the network's bridge. */
  hostVeth: string;
}

/** Host-side `ip -batch` lines: the veth is created with its task end already named and placed. */
export function renderOverlayHostSide(e: OverlayEndpoint, a: { netns: string; bridge: string }): string[] {
  return [
    `link add ${e.hostVeth} mtu ${OVERLAY_MTU} type veth peer name ${e.ifname} address ${e.mac} mtu ${OVERLAY_MTU} netns ${a.netns}`,
    `link set dev ${e.hostVeth} master ${a.bridge}`,
    `link set dev ${e.hostVeth} up`,
  ];
}

/** Task-side `ip -batch` lines. No route: the task's default route stays on eth0. */
export function renderOverlayTaskSide(e: OverlayEndpoint): string[] {
  return [`addr add ${e.ip}/${e.prefixLength} dev ${e.ifname}`, `link set dev ${e.ifname} up`];
}

/** A task on another node: its address on the network and the underlay address of its node. */
export interface NetworkPeer {
  ip: string;
  nodeAddr: string;
}

/** What a VXLAN device holds: MAC → node address (FDB), task IP → MAC (neighbours). */
export interface PeerTable {
  fdb: ReadonlyMap<string, string>;
  neigh: ReadonlyMap<string, string>;
}

export const EMPTY_PEER_TABLE: PeerTable = { fdb: new Map(), neigh: new Map() };

/**
 * The entries a set of peers needs. Peers on this node itself (nodeAddr = our underlay) are left
 * out: the bridge reaches local tasks directly. Entries that are not IPv4 addresses are skipped,
 * not thrown, so one bad entry cannot take a whole network's peers down. For an IP given twice the
 * last entry wins.
 */
export function peerTableFor(peers: readonly NetworkPeer[], underlay: string | undefined): PeerTable {
  const fdb = new Map<string, string>();
  const neigh = new Map<string, string>();
  for (const p of peers) {
    if (!isIPv4(p.ip) || !isIPv4(p.nodeAddr) || p.nodeAddr === '0.0.0.0' || p.nodeAddr === underlay) continue;
    const mac = macForIp(p.ip);
    fdb.set(mac, p.nodeAddr);
    neigh.set(p.ip, mac);
  }
  return { fdb, neigh };
}

export interface PeerPlan {
  /** `bridge -batch` lines (FDB). */
  bridge: string[];
  /** `ip -batch` lines (neighbours). */
  ip: string[];
}

/** The changes that turn `current` into `desired` on one VXLAN device: replace what differs, delete what is extra. */
export function planPeers(current: PeerTable, desired: PeerTable, vxlan: string): PeerPlan {
  const bridge: string[] = [];
  const ip: string[] = [];
  for (const [mac, dst] of desired.fdb) {
    if (current.fdb.get(mac) !== dst)
      bridge.push(`fdb replace ${mac} dev ${vxlan} dst ${dst} self permanent`);
  }
  for (const mac of current.fdb.keys()) {
    if (!desired.fdb.has(mac)) bridge.push(`fdb del ${mac} dev ${vxlan} self`);
  }
  for (const [addr, mac] of desired.neigh) {
    if (current.neigh.get(addr) !== mac) {
      ip.push(`neigh replace ${addr} lladdr ${mac} dev ${vxlan} nud permanent`);
    }
  }
  for (const addr of current.neigh.keys()) {
    if (!desired.neigh.has(addr)) ip.push(`neigh del ${addr} dev ${vxlan}`);
  }
  return { bridge, ip };
}

const fdbEntriesSchema = z.array(
  z.object({ mac: z.string(), dst: z.string().optional(), flags: z.array(z.string()).default([]) }),
);
const neighEntriesSchema = z.array(
  z.object({ dst: z.string(), lladdr: z.string().optional(), state: z.array(z.string()).default([]) }),
);

/**
 * The peer table programmed on a device, from `bridge -j fdb show dev VX` and `ip -j neigh show
 * dev VX`: the device's own (`self`) entries with a remote, and its permanent neighbours. The
 * bridge's entries for the port (learned MACs, the device's own address) are not ours to manage.
 */
export function parsePeerTable(fdbJson: unknown, neighJson: unknown): PeerTable {
  const fdb = new Map<string, string>();
  for (const e of fdbEntriesSchema.parse(fdbJson)) {
    if (e.dst !== undefined && e.flags.includes('self')) fdb.set(e.mac.toLowerCase(), e.dst);
  }
  const neigh = new Map<string, string>();
  for (const e of neighEntriesSchema.parse(neighJson)) {
    if (e.lladdr !== undefined && e.state.includes('PERMANENT')) neigh.set(e.dst, e.lladdr.toLowerCase());
  }
  return { fdb, neigh };
}

// --- the thin shell ---------------------------------------------------------------------------

async function observeOverlayLink(name: string, netns?: string): Promise<ObservedOverlayLink | null> {
  const raw = await ipJson(['-d', 'link', 'show', 'dev', name], netns);
  return raw === null ? null : (z.array(observedOverlayLinkSchema).parse(raw)[0] ?? null);
}

/** A network's two devices as they are now (null: absent). */
export async function observeOverlay(
  devices: { bridge: string; vxlan: string },
  netns?: string,
): Promise<ObservedOverlay> {
  const [bridge, vxlan] = await Promise.all([
    observeOverlayLink(devices.bridge, netns),
    observeOverlayLink(devices.vxlan, netns),
  ]);
  return { bridge, vxlan };
}

/** Creates or repairs a network's bridge and VXLAN device; says whether the device is new (no entries). */
export async function ensureOverlayNetwork(
  spec: OverlaySpec,
  netns?: string,
): Promise<{ vxlanCreated: boolean }> {
  const plan = planOverlayNetwork(await observeOverlay(spec, netns), spec);
  await ipBatch(plan.lines, netns);
  return { vxlanCreated: plan.vxlanCreated };
}

/** Removes a network's devices (the VXLAN device first); absent ones are fine. Veths still enslaved are only released. */
export async function removeOverlayNetwork(
  devices: { bridge: string; vxlan: string },
  netns?: string,
): Promise<void> {
  await ipBatchIgnoringMissing(
    [`link del dev ${devices.vxlan}`, `link del dev ${devices.bridge}`],
    /Cannot find device/,
    netns,
  );
}

/** The entries programmed on a VXLAN device, or null when the device does not exist. */
export async function observePeerTable(vxlan: string, netns?: string): Promise<PeerTable | null> {
  const [fdb, neigh] = await Promise.all([
    bridgeJson(['fdb', 'show', 'dev', vxlan], netns),
    ipJson(['neigh', 'show', 'dev', vxlan], netns),
  ]);
  return fdb === null || neigh === null ? null : parsePeerTable(fdb, neigh);
}

/**
 * Programs a VXLAN device with the entries `desired`: what it holds is read back from the kernel
 * when `held` is unknown (after a restart or a failure), then one `bridge -batch` and one
 * `ip -batch` apply the difference (each only when it has lines). Returns what the device now holds.
 */
export async function programPeers(
  vxlan: string,
  held: PeerTable | undefined,
  desired: PeerTable,
  netns?: string,
): Promise<PeerTable> {
  const current = held ?? (await observePeerTable(vxlan, netns));
  if (current === null) throw new SwarmError('NOT_FOUND', `VXLAN device ${vxlan} not found`);
  const plan = planPeers(current, desired, vxlan);
  await bridgeBatch(plan.bridge, netns);
  await ipBatch(plan.ip, netns);
  return desired;
}
