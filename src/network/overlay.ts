// VXLAN overlay networks on one node, as plans: per network a VXLAN device, and on it one macvlan
// (mode bridge) per local task, created straight into the task's netns, plus one for the node itself
// (its port on the network, where the routing mesh's ingress address lives). No bridge and no veth:
// a task's frames go from its macvlan to the VXLAN device in one call, and the inner packets never
// cross the host's netfilter (a bridge would send them through br_netfilter and the host's FORWARD
// chain). Measured here: +20 % TCP throughput over the bridge + veth design. The VXLAN device is
// `nolearning proxy`: it never floods or learns, it answers ARP from its neighbour table and sends
// each frame straight to the node that hosts the destination MAC, so its FDB and neighbour entries
// are the whole control plane (runtime.md §4). The thin shell that runs the plans is at the end.
import { isIPv4 } from 'node:net';
import { z } from 'zod';
import { SwarmError } from '../api/errors.js';
import { observedLinkSchema } from './gateway.js';
import { macForIp } from './ipv4.js';
import { bridgeBatch, bridgeJson, ipBatch, ipBatchIgnoringMissing, ipJson } from './shell.js';

const VXLAN_PORT = 4789;

/** One overlay network as this node builds it. */
export interface OverlaySpec {
  vni: number;
  /** Of the VXLAN device and every macvlan on it (1450 unless the network says otherwise). */
  mtu: number;
  /** The node's own macvlan on the network. */
  port: string;
  vxlan: string;
  /** Says whose the devices are and for which network (names.ts overlayAlias). */
  alias: string;
  /** The node port's MAC: 02:42:<the node's address on the network>, or of the gateway when it has none. */
  portMac: string;
  /** This node's underlay address: VXLAN packets leave from it and arrive at it. */
  underlay: string;
}

/** A VXLAN device's settings in `ip -j -d link show` (`linkinfo.info_data`). */
const linkInfoDataSchema = z
  .object({
    id: z.number(),
    local: z.string(),
    port: z.number(),
    learning: z.boolean(),
    proxy: z.boolean(),
    mode: z.string(),
  })
  .partial();

/** A device as `ip -j -d link show dev X` reports it (the fields we decide on). */
const observedOverlayLinkSchema = observedLinkSchema.omit({ addr_info: true }).extend({
  mtu: z.number().optional(),
  master: z.string().optional(),
  /** The lower device of a macvlan. */
  link: z.string().nullish(),
  ifalias: z.string().optional(),
  linkinfo: z
    .object({ info_kind: z.string().optional(), info_data: linkInfoDataSchema.optional() })
    .optional(),
});
export type ObservedOverlayLink = z.infer<typeof observedOverlayLinkSchema>;

export interface ObservedOverlay {
  port: ObservedOverlayLink | null;
  vxlan: ObservedOverlayLink | null;
}

export interface OverlayPlan {
  /** `ip -batch` lines; empty when everything is as it should be. */
  lines: string[];
  /**
   * The VXLAN device is (re)created: it holds no FDB or neighbour entries, and the macvlans of
   * local tasks on a device it replaces went with it.
   */
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

function portMatches(port: ObservedOverlayLink, spec: OverlaySpec, vxlanKept: boolean): boolean {
  return (
    vxlanKept &&
    port.linkinfo?.info_kind === 'macvlan' &&
    port.linkinfo.info_data?.mode === 'bridge' &&
    port.link === spec.vxlan
  );
}

/**
 * What turns the observed devices into the network's VXLAN device and the node's port on it, up,
 * MTU 1450. A VXLAN device with other settings (a new underlay address, say) is replaced: `proxy`
 * and the VNI cannot be changed on a live device; a port that is not a bridge-mode macvlan on it
 * (a bridge from an older swarmd) is replaced too. Ensuring twice issues nothing.
 */
export function planOverlayNetwork(observed: ObservedOverlay, spec: OverlaySpec): OverlayPlan {
  const { port, vxlan: vx } = observed;
  if (vx !== null && vx.linkinfo?.info_kind !== 'vxlan') {
    throw new SwarmError('FAILED_PRECONDITION', `${spec.vxlan} exists and is not a VXLAN device`);
  }
  const lines: string[] = [];
  const kept = vx !== null && vxlanMatches(vx, spec) ? vx : null;
  const keptPort = port !== null && portMatches(port, spec, kept !== null) ? port : null;
  if (port !== null && keptPort === null) lines.push(`link del dev ${spec.port}`);
  if (vx !== null && kept === null) lines.push(`link del dev ${spec.vxlan}`);
  // `ip link add` ignores `alias`: it takes a line of its own, right after the add.
  if (kept === null) {
    lines.push(
      `link add ${spec.vxlan} mtu ${spec.mtu} type vxlan id ${spec.vni} dstport ${VXLAN_PORT} local ${spec.underlay} nolearning proxy`,
    );
  } else if (kept.mtu !== spec.mtu) {
    lines.push(`link set dev ${spec.vxlan} mtu ${spec.mtu}`);
  }
  if (kept?.ifalias !== spec.alias) lines.push(`link set dev ${spec.vxlan} alias ${spec.alias}`);
  if (!kept?.flags.includes('UP')) lines.push(`link set dev ${spec.vxlan} up`);
  if (keptPort === null) {
    lines.push(
      `link add link ${spec.vxlan} name ${spec.port} mtu ${spec.mtu} address ${spec.portMac} type macvlan mode bridge`,
    );
  } else {
    if (keptPort.address !== spec.portMac) lines.push(`link set dev ${spec.port} address ${spec.portMac}`);
    if (keptPort.mtu !== spec.mtu) lines.push(`link set dev ${spec.port} mtu ${spec.mtu}`);
  }
  if (keptPort?.ifalias !== spec.alias) lines.push(`link set dev ${spec.port} alias ${spec.alias}`);
  if (!keptPort?.flags.includes('UP')) lines.push(`link set dev ${spec.port} up`);
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
  /** The network's MTU (macvlans cannot exceed their VXLAN device's). */
  mtu: number;
}

/** Host-side `ip -batch` line: the task's macvlan, made on the VXLAN device straight into its netns. */
export function renderOverlayHostSide(e: OverlayEndpoint, a: { netns: string; vxlan: string }): string[] {
  return [
    `link add link ${a.vxlan} name ${e.ifname} netns ${a.netns} mtu ${e.mtu} address ${e.mac} type macvlan mode bridge`,
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
 * out: their macvlans reach each other on the VXLAN device directly. Entries that are not IPv4 addresses are skipped,
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
 * dev VX`: the device's own (`self`) entries with a remote, and its permanent neighbours (other
 * entries, such as the device's own address, are not ours to manage).
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
  devices: { port: string; vxlan: string },
  netns?: string,
): Promise<ObservedOverlay> {
  const [port, vxlan] = await Promise.all([
    observeOverlayLink(devices.port, netns),
    observeOverlayLink(devices.vxlan, netns),
  ]);
  return { port, vxlan };
}

/** Creates or repairs a network's VXLAN device and port; says whether the device is new (no entries, no task macvlans). */
export async function ensureOverlayNetwork(
  spec: OverlaySpec,
  netns?: string,
): Promise<{ vxlanCreated: boolean }> {
  const plan = planOverlayNetwork(await observeOverlay(spec, netns), spec);
  await ipBatch(plan.lines, netns);
  return { vxlanCreated: plan.vxlanCreated };
}

/** Removes a network's devices; absent ones are fine. Task macvlans still on the VXLAN device go with it. */
export async function removeOverlayNetwork(
  devices: { port: string; vxlan: string },
  netns?: string,
): Promise<void> {
  await ipBatchIgnoringMissing(
    [`link del dev ${devices.port}`, `link del dev ${devices.vxlan}`],
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
