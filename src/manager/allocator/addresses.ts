// Addresses on swarm networks (SwarmKit's network allocator, pure): each task gets one address on
// every network of its service (the ingress network too when the service publishes ingress ports),
// and a service in `vip` mode one virtual IP per such network. An address is held while its task is
// not yet past RUNNING, or for as long as the service names it; the lowest free host address of
// the subnet is given (never the network, broadcast or gateway address).
import type { Network, NetworkAttachment, Node, Service, Task } from '../../api/types.js';
import { MTU_OPTION, taskStateIndex, VXLANID_LIST_OPTION } from '../../api/types.js';
import { intToIp, parseSubnet } from '../../network/ipv4.js';

const RUNNING = taskStateIndex('running');

/** The networks a service's tasks join: its own (by ID), then ingress when it publishes through the mesh. */
export function serviceNetworks(service: Service, networks: ReadonlyMap<string, Network>): Network[] {
  const out: Network[] = [];
  for (const a of service.Spec.TaskTemplate.Networks ?? service.Spec.Networks ?? []) {
    const n = networks.get(a.Target);
    if (n && !out.includes(n)) out.push(n);
  }
  const ingress = [...networks.values()].find((n) => n.Ingress);
  const published = (service.Spec.EndpointSpec?.Ports ?? []).some(
    (p) => (p.PublishMode ?? 'ingress') === 'ingress',
  );
  if (ingress && published && !out.includes(ingress)) out.push(ingress);
  return out;
}

/** A task keeps its addresses until it has finished (state past RUNNING). */
function holdsAddresses(t: Task): boolean {
  return taskStateIndex(t.Status.State) <= RUNNING;
}

/** The addresses taken on each network: live tasks', services' VIPs and nodes' ingress addresses. */
export function addressesInUse(
  tasks: readonly Task[],
  services: readonly Service[],
  nodes: readonly Node[] = [],
  ingressId?: string,
): Map<string, Set<string>> {
  const used = new Map<string, Set<string>>();
  const take = (networkId: string, addr: string) => {
    const set = used.get(networkId) ?? new Set<string>();
    used.set(networkId, set);
    set.add(addr.replace(/\/\d+$/, ''));
  };
  for (const t of tasks) {
    if (!holdsAddresses(t)) continue;
    for (const a of t.NetworksAttachments ?? [])
      for (const addr of a.Addresses ?? []) take(a.Network.ID, addr);
  }
  for (const s of services) for (const v of s.Endpoint?.VirtualIPs ?? []) take(v.NetworkID, v.Addr);
  if (ingressId) for (const n of nodes) if (n.IngressAddress) take(ingressId, n.IngressAddress);
  return used;
}

/** The network's first IPv4 config (Docker's swarm networks have one). */
function ipamOf(n: Network): { Subnet: string; Gateway: string } | undefined {
  const c = n.IPAM.Config[0];
  return c?.Subnet ? { Subnet: c.Subnet, Gateway: c.Gateway ?? '' } : undefined;
}

/** The lowest free host address of the network ("a.b.c.d/len"), taken in `used`; undefined when full. */
export function takeAddress(n: Network, used: Map<string, Set<string>>): string | undefined {
  const ipam = ipamOf(n);
  if (!ipam) return undefined;
  const subnet = parseSubnet(ipam.Subnet);
  const first = subnet.network + 1;
  const last = subnet.broadcast - 1;
  const set = used.get(n.ID) ?? new Set<string>();
  used.set(n.ID, set);
  for (let a = first; a <= last; a++) {
    const ip = intToIp(a);
    if (ip === ipam.Gateway || set.has(ip)) continue;
    set.add(ip);
    return `${ip}/${subnet.prefixLength}`;
  }
  return undefined;
}

/** The network as a task's attachment shows it. */
export function attachmentNetwork(n: Network): NetworkAttachment['Network'] {
  const ipam = ipamOf(n);
  return {
    ID: n.ID,
    Spec: {
      Name: n.Name,
      Labels: n.Labels,
      ...(n.Ingress ? { Ingress: true } : {}),
      ...(n.Internal ? { Internal: true } : {}),
    },
    DriverState: {
      Name: n.Driver,
      Options: {
        [VXLANID_LIST_OPTION]: n.Options[VXLANID_LIST_OPTION] ?? '',
        ...(n.Options[MTU_OPTION] !== undefined ? { [MTU_OPTION]: n.Options[MTU_OPTION] } : {}),
      },
    },
    IPAMOptions: { Driver: { Name: n.IPAM.Driver }, Configs: ipam ? [ipam] : [] },
  };
}

/**
 * The service's virtual IPs after allocation: one per network it joins while in `vip` mode (kept
 * when already there, dropped for networks it left), none in `dnsrr` mode. Undefined when unchanged.
 */
export function serviceVirtualIPs(
  service: Service,
  networks: ReadonlyMap<string, Network>,
  used: Map<string, Set<string>>,
): { NetworkID: string; Addr: string }[] | undefined {
  const current = service.Endpoint?.VirtualIPs ?? [];
  const wanted = service.Spec.EndpointSpec?.Mode === 'dnsrr' ? [] : serviceNetworks(service, networks);
  const next: { NetworkID: string; Addr: string }[] = [];
  for (const n of wanted) {
    const kept = current.find((v) => v.NetworkID === n.ID);
    const addr = kept?.Addr ?? takeAddress(n, used);
    if (addr) next.push({ NetworkID: n.ID, Addr: addr });
  }
  const same =
    next.length === current.length &&
    next.every((v, i) => v.NetworkID === current[i]?.NetworkID && v.Addr === current[i]?.Addr);
  return same ? undefined : next;
}

/** True once the service has a VIP on each network it joins (vip mode), or needs none. */
export function virtualIPsAllocated(service: Service, networks: ReadonlyMap<string, Network>): boolean {
  if (service.Spec.EndpointSpec?.Mode === 'dnsrr') return true;
  const vips = service.Endpoint?.VirtualIPs ?? [];
  return serviceNetworks(service, networks).every((n) => vips.some((v) => v.NetworkID === n.ID));
}

/** A new task's attachments: an address on each of its service's networks; undefined when one is full. */
export function taskAttachments(
  service: Service,
  networks: ReadonlyMap<string, Network>,
  used: Map<string, Set<string>>,
): NetworkAttachment[] | undefined {
  const out: NetworkAttachment[] = [];
  for (const n of serviceNetworks(service, networks)) {
    const addr = takeAddress(n, used);
    if (!addr) return undefined;
    out.push({ Network: attachmentNetwork(n), Addresses: [addr] });
  }
  return out;
}
