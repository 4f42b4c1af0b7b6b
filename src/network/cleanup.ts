// Crash recovery as a pure decision: given what the kernel and the state file hold and which
// containers are still wanted, what must go.
import type { AttachmentRecord } from './ipam.js';
import { containerNetnsName, hostVethName, isHostVethName, netnsPrefix } from './names.js';

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
