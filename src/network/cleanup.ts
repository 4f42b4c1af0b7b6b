// Crash recovery as a pure decision: given what the kernel and the state file hold and which
// containers are still wanted, what must go.
import type { AttachmentRecord } from './ipam.js';
import {
  containerNetnsName,
  hostVethName,
  isHostVethName,
  netnsPrefix,
  overlayAliasNetwork,
  overlayLinkNames,
} from './names.js';

export interface ObservedLeftovers {
  /** All named netns on the machine (only those with our owner tag are considered). */
  netns: readonly string[];
  /** Veths in our host netns with the bridge they are enslaved to, if any. */
  hostVeths: readonly { name: string; master: string | null }[];
  /** Containers with a per-container files dir under the state dir. */
  fileDirs: readonly string[];
}

export interface LeftoverPlan {
  /** Records to drop from the allocation file (their addresses become free). */
  release: string[];
  netns: string[];
  hostVeths: string[];
  fileDirs: string[];
}

/**
 * Anything ours that belongs to no kept container goes: records, our tagged netns, `skt<8hex>`
 * veths that hang off our bridge (or off nothing, from a crash mid-attach), files. Veths enslaved
 * to some other bridge are not ours to judge.
 */
export function planLeftovers(
  tag: string,
  bridge: string,
  records: Readonly<Record<string, AttachmentRecord>>,
  observed: ObservedLeftovers,
  keep: ReadonlySet<string>,
): LeftoverPlan {
  const keptNetns = new Set<string>();
  const keptVeths = new Set<string>();
  for (const id of keep) {
    keptNetns.add(containerNetnsName(tag, id));
    keptVeths.add(hostVethName(tag, id));
    const rec = records[id];
    if (rec) {
      keptNetns.add(rec.netns);
      keptVeths.add(rec.hostVeth);
    }
  }
  const prefix = netnsPrefix(tag);
  return {
    release: Object.keys(records).filter((id) => !keep.has(id)),
    netns: observed.netns.filter((n) => n.startsWith(prefix) && !keptNetns.has(n)),
    hostVeths: observed.hostVeths
      .filter((v) => isHostVethName(v.name) && (v.master === null || v.master === bridge))
      .filter((v) => !keptVeths.has(v.name))
      .map((v) => v.name),
    fileDirs: observed.fileDirs.filter((id) => !keep.has(id)),
  };
}

export interface ObservedOverlayLeftovers {
  /** Every link of the host netns with its alias (`ip -j link show`). */
  links: readonly { name: string; alias: string | null }[];
  /** The recorded overlay endpoints of each container. */
  endpoints: Readonly<Record<string, readonly { networkId: string; ifname: string }[]>>;
}

export interface OverlayLeftoverPlan {
  /** Containers whose endpoint records go. */
  release: string[];
  /** Their task macvlans, deleted by name before their netns goes (which frees their MACs at once). */
  macvlans: { netns: string; ifname: string }[];
  /** VXLAN devices and node ports of networks no kept container is on, and devices of ours under an older name. */
  devices: string[];
  /** The networks whose devices all go. */
  networks: string[];
}

/**
 * Overlay leftovers: our devices are those whose alias carries our tag (or, for a crash between
 * creating a device and naming it, whose derived name belongs to a recorded network). A network
 * stays while a kept container is on it; a device of ours whose name is not one the network's
 * devices have now (a bridge from an older swarmd) goes anyway.
 */
export function planOverlayLeftovers(
  tag: string,
  observed: ObservedOverlayLeftovers,
  keep: ReadonlySet<string>,
): OverlayLeftoverPlan {
  const needed = new Set<string>();
  const recordedNetworks = new Set<string>();
  const macvlans: { netns: string; ifname: string }[] = [];
  for (const [id, endpoints] of Object.entries(observed.endpoints)) {
    for (const e of endpoints) {
      recordedNetworks.add(e.networkId);
      if (keep.has(id)) needed.add(e.networkId);
      else macvlans.push({ netns: containerNetnsName(tag, id), ifname: e.ifname });
    }
  }
  const byName = new Map<string, string>(); // our device → its network
  for (const l of observed.links) {
    const networkId = overlayAliasNetwork(tag, l.alias ?? undefined);
    if (networkId !== null) byName.set(l.name, networkId);
  }
  const present = new Set(observed.links.map((l) => l.name));
  for (const networkId of recordedNetworks) {
    for (const name of Object.values(overlayLinkNames(tag, networkId))) {
      if (present.has(name)) byName.set(name, networkId);
    }
  }
  const current = (name: string, networkId: string) =>
    Object.values(overlayLinkNames(tag, networkId)).includes(name);
  const gone = [...byName].filter(([, networkId]) => !needed.has(networkId));
  const renamed = [...byName].filter(
    ([name, networkId]) => needed.has(networkId) && !current(name, networkId),
  );
  return {
    release: Object.keys(observed.endpoints).filter((id) => !keep.has(id)),
    macvlans,
    devices: [...gone, ...renamed].map(([name]) => name),
    networks: [...new Set(gone.map(([, networkId]) => networkId))],
  };
}
