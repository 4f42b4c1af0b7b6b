// What a node must know of each overlay network its tasks use (pure): the remote endpoints (task
// addresses on other nodes, with the underlay address of the node hosting each) to program VXLAN
// forwarding, and the services on the network (name, aliases, VIP, serving tasks' addresses) for
// the embedded DNS, the VIP rules and the mesh; a task told to stop leaves them at once, before its
// container stops. SwarmKit spreads this by gossip; here the dispatcher sends
// each node its share, again after every change.
import type { NetworkView, NetworkViews, ServiceRecord } from '../../agent/session.js';
import type { Network, NetworkAttachment, Node, Service, Task } from '../../api/types.js';
import { MTU_OPTION, taskStateIndex, VXLANID_LIST_OPTION } from '../../api/types.js';
import { isServing, keepsSource } from '../../network/publish.js';

const ASSIGNED = taskStateIndex('assigned');
const RUNNING = taskStateIndex('running');

/** Tasks that hold their addresses on a node: assigned there and not finished. */
function placed(t: Task): boolean {
  const s = taskStateIndex(t.Status.State);
  return t.NodeID !== undefined && s >= ASSIGNED && s <= RUNNING;
}

function attachments(t: Task): NetworkAttachment[] {
  return t.NetworksAttachments ?? [];
}

const bare = (addr: string) => addr.replace(/\/\d+$/, '');

/** The ports a service publishes through the routing mesh. */
function meshPorts(s: Service): NonNullable<ServiceRecord['ports']> {
  return (s.Endpoint?.Ports ?? [])
    .filter((p) => (p.PublishMode ?? 'ingress') === 'ingress' && p.PublishedPort && p.TargetPort)
    .map((p) => ({
      protocol: p.Protocol ?? 'tcp',
      publishedPort: p.PublishedPort ?? 0,
      targetPort: p.TargetPort ?? 0,
      ...(keepsSource(s) ? { keepSource: true } : {}),
    }));
}
const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Docker's task name: `service.slot.taskid` (replicated) or `service.nodeid.taskid` (global). */
export function taskDnsName(service: string, t: Task): string {
  return `${service}.${t.Slot ? t.Slot : t.NodeID}.${t.ID}`;
}

/** The views `nodeId` needs: one for each network one of its tasks is on. */
export function networkViewsFor(
  nodeId: string,
  tasks: readonly Task[],
  nodes: ReadonlyMap<string, Node>,
  services: ReadonlyMap<string, Service>,
  ingress?: Network,
): NetworkViews {
  const out: NetworkViews = {};
  for (const t of tasks)
    if (t.NodeID === nodeId && placed(t))
      for (const a of attachments(t)) out[a.Network.ID] ??= { peers: [], services: [] };
  // The routing mesh: every node with an ingress address is on ingress, tasks there or not, and
  // reaches the other nodes' ingress addresses (replies to the mesh come back to them).
  const self = nodes.get(nodeId)?.IngressAddress;
  if (ingress && self) {
    const view: NetworkView = { peers: [], services: [], self };
    const vni = Number(ingress.Options[VXLANID_LIST_OPTION]);
    if (Number.isInteger(vni)) view.vni = vni;
    const gateway = ingress.IPAM.Config[0]?.Gateway;
    if (gateway) view.gateway = gateway;
    const mtu = Number(ingress.Options[MTU_OPTION]);
    if (ingress.Options[MTU_OPTION] !== undefined && Number.isInteger(mtu)) view.mtu = mtu;
    out[ingress.ID] = view;
    for (const n of nodes.values())
      if (n.ID !== nodeId && n.IngressAddress && n.Status.Addr && n.Status.State !== 'down')
        view.peers.push({ ip: bare(n.IngressAddress), nodeAddr: n.Status.Addr });
  }
  const records = new Map<string, ServiceRecord>(); // network/service → record
  const record = (networkId: string, s: Service): ServiceRecord => {
    const key = `${networkId}/${s.ID}`;
    const known = records.get(key);
    if (known) return known;
    const vip = s.Endpoint?.VirtualIPs?.find((v) => v.NetworkID === networkId)?.Addr;
    const aliases = (s.Spec.TaskTemplate.Networks ?? [])
      .filter((n) => n.Target === networkId)
      .flatMap((n) => n.Aliases ?? []);
    const name = s.Spec.Name ?? s.ID;
    const r: ServiceRecord = { id: s.ID, name, aliases, ...(vip ? { vip: bare(vip) } : {}), tasks: [] };
    if (networkId === ingress?.ID) r.ports = meshPorts(s);
    records.set(key, r);
    out[networkId]?.services.push(r);
    return r;
  };
  for (const t of tasks) {
    if (!placed(t)) continue;
    const service = services.get(t.ServiceID);
    const nodeAddr = nodes.get(t.NodeID ?? '')?.Status.Addr;
    for (const a of attachments(t)) {
      const view = out[a.Network.ID];
      if (!view) continue;
      for (const addr of a.Addresses) {
        if (t.NodeID !== nodeId && nodeAddr) view.peers.push({ ip: bare(addr), nodeAddr });
        // Only serving tasks: one told to stop leaves DNS, the VIPs and the mesh everywhere at once.
        if (service && isServing(t))
          record(a.Network.ID, service).tasks.push({
            name: taskDnsName(service.Spec.Name ?? service.ID, t),
            ip: bare(addr),
          });
      }
    }
  }
  // A service with a VIP but no running task yet still resolves (to its VIP).
  for (const [networkId] of Object.entries(out))
    for (const s of services.values())
      if (s.Endpoint?.VirtualIPs?.some((v) => v.NetworkID === networkId)) record(networkId, s);
  for (const view of Object.values(out)) {
    view.peers.sort((a, b) => byText(a.ip, b.ip));
    view.services.sort((a, b) => byText(a.name, b.name));
    for (const s of view.services) s.tasks.sort((a, b) => byText(a.ip, b.ip));
  }
  return out;
}
