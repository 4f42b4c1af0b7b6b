// Which remote endpoints a node must know on each overlay network it uses (pure): the addresses of
// the tasks on other nodes of those networks, with the underlay address of the node that hosts each,
// so the node programs its VXLAN forwarding (src/network/overlay.ts). SwarmKit spreads this by
// gossip; here the dispatcher sends each node its share with the assignments.
import type { Node, Task } from '../../api/types.js';
import { taskStateIndex } from '../../api/types.js';
import type { NetworkAttachment } from '../allocator/addresses.js';

/** A remote endpoint on an overlay: its address (no prefix) and the underlay address of its node. */
export interface NetworkPeer {
  ip: string;
  nodeAddr: string;
}

/** Network ID → every remote endpoint on it, in a stable order. */
export type NetworkPeers = Record<string, NetworkPeer[]>;

const ASSIGNED = taskStateIndex('assigned');
const RUNNING = taskStateIndex('running');

/** Tasks that hold their addresses on a node: assigned there and not finished. */
function placed(t: Task): boolean {
  const s = taskStateIndex(t.Status.State);
  return t.NodeID !== undefined && s >= ASSIGNED && s <= RUNNING;
}

function attachments(t: Task): NetworkAttachment[] {
  return (t.NetworksAttachments ?? []) as NetworkAttachment[];
}

/** The peers of `nodeId`: for each network one of its tasks is on, the endpoints on other nodes. */
export function peersFor(
  nodeId: string,
  tasks: readonly Task[],
  nodes: ReadonlyMap<string, Node>,
): NetworkPeers {
  const mine = new Set<string>();
  for (const t of tasks)
    if (t.NodeID === nodeId && placed(t)) for (const a of attachments(t)) mine.add(a.Network.ID);
  const out: NetworkPeers = {};
  for (const id of mine) out[id] = [];
  for (const t of tasks) {
    if (t.NodeID === nodeId || !placed(t)) continue;
    const nodeAddr = nodes.get(t.NodeID ?? '')?.Status.Addr;
    if (!nodeAddr) continue;
    for (const a of attachments(t)) {
      const list = out[a.Network.ID];
      if (!list) continue;
      for (const addr of a.Addresses) list.push({ ip: addr.replace(/\/\d+$/, ''), nodeAddr });
    }
  }
  for (const list of Object.values(out)) list.sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0));
  return out;
}
