// Network routes: /networks, /networks/{id}, /networks/create, /networks/prune. Swarm networks come
// from the control API of this manager; the node's local networks Docker always lists (bridge,
// host, none) are shown beside them, so `docker network ls` reads as Docker's. Outside a swarm or
// on a worker only the local ones are listed, and creating an overlay network answers Docker's 503.
import { createHash } from 'node:crypto';
import { SwarmError } from '../api/errors.js';
import type { Network, Node, Service, Task } from '../api/types.js';
import {
  LOCAL_NETWORK_NAMES,
  type NetworkView,
  networkFilter,
  validateNetworkCreate,
} from '../manager/controlapi/networks.js';
import type { ControlApis } from './cluster.js';
import { parseFilters, type Route, sendJSON, sendNoContent } from './router.js';

export interface NetworkBackend {
  /** The control API, or a 503 SwarmError with Docker's wording when this node is not a manager. */
  control(): ControlApis;
  /** This node's state dir: local network IDs are derived from it, so they stay put across restarts. */
  readonly stateDir: string;
  /** This node's containers on a swarm network, as Docker's inspect lists them (keyed by container ID). */
  localEndpoints?(networkId: string): Record<string, LocalEndpoint>;
  /** The nodes that have the network (a task on it, or every node for ingress). */
  networkPeers?(networkId: string): { Name: string; IP: string }[];
  /** `inspect --verbose`: the services on the network and their running tasks (managers). */
  networkServices?(networkId: string): Record<string, VerboseService>;
}

/** A service on a network as `docker network inspect --verbose` shows it under Services. */
export interface VerboseService {
  /** Its VIP on the network (no prefix); "" in dnsrr mode. */
  VIP: string;
  /** The ports it publishes through the routing mesh (on ingress). */
  Ports: string[];
  LocalLBIndex: number;
  Tasks: { Name: string; EndpointID: string; EndpointIP: string; Info: { 'Host IP': string } }[];
}

const stripPrefix = (cidr: string) => cidr.replace(/\/\d+$/, '');

/**
 * Docker's verbose Services of a network (pure): every service attached to it (by VIP or spec),
 * keyed by name, with its VIP, its mesh ports (ingress) and its running tasks: container name,
 * address on the network and the underlay address of the node running it. Docker fills this from
 * the gossip of the node asked; a manager here knows the whole cluster, so it lists every task.
 */
export function networkServices(
  networkId: string,
  services: readonly Service[],
  tasks: readonly Task[],
  nodes: readonly Node[],
): Record<string, VerboseService> {
  const hostIp = new Map(nodes.map((n) => [n.ID, n.Status.Addr ?? '']));
  const out: Record<string, VerboseService> = {};
  for (const svc of [...services].sort((a, b) => (a.Spec.Name ?? '').localeCompare(b.Spec.Name ?? ''))) {
    const name = svc.Spec.Name ?? svc.ID;
    const vip = svc.Endpoint?.VirtualIPs?.find((v) => v.NetworkID === networkId);
    const onIt =
      vip !== undefined ||
      (svc.Spec.TaskTemplate.Networks ?? svc.Spec.Networks ?? []).some((n) => n.Target === networkId);
    if (!onIt) continue;
    const ingress = tasks.some(
      (t) =>
        t.ServiceID === svc.ID &&
        t.NetworksAttachments?.some((a) => a.Network.ID === networkId && a.Network.Spec.Ingress === true),
    );
    const ports = ingress
      ? (svc.Endpoint?.Ports ?? [])
          .filter((p) => (p.PublishMode ?? 'ingress') === 'ingress')
          .map((p) => `Target: ${p.TargetPort ?? 0}, Publish: ${p.PublishedPort ?? 0}`)
      : [];
    const running = tasks
      .filter((t) => t.ServiceID === svc.ID && t.Status.State === 'running' && t.DesiredState === 'running')
      .flatMap((t) => {
        const addr = t.NetworksAttachments?.find((a) => a.Network.ID === networkId)?.Addresses[0];
        if (addr === undefined) return [];
        const middle = t.Slot !== undefined && t.Slot > 0 ? String(t.Slot) : (t.NodeID ?? '');
        return [
          {
            Name: `${name}.${middle}.${t.ID}`,
            EndpointID: '',
            EndpointIP: stripPrefix(addr),
            Info: { 'Host IP': hostIp.get(t.NodeID ?? '') ?? '' },
          },
        ];
      })
      .sort((a, b) => a.Name.localeCompare(b.Name));
    out[name] = {
      VIP: vip ? stripPrefix(vip.Addr) : '',
      Ports: ports,
      LocalLBIndex: 0,
      Tasks: running,
    };
  }
  return out;
}

/** A container on a network as `docker network inspect` shows it under Containers. */
export interface LocalEndpoint {
  Name: string;
  EndpointID: string;
  MacAddress: string;
  IPv4Address: string;
  IPv6Address: string;
}

/** Docker's NetworkResource, the shape of every item of `GET /networks`. */
interface NetworkResource {
  Name: string;
  Id: string;
  Created: string;
  Scope: string;
  Driver: string;
  EnableIPv6: boolean;
  IPAM: Network['IPAM'];
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  Containers: Record<string, LocalEndpoint>;
  Options: Record<string, string>;
  Labels: Record<string, string>;
  Peers?: { Name: string; IP: string }[];
}

/** A swarm network on the wire: `Id` and `Created` for our ID and CreatedAt, in Docker's key order. */
export function publicNetwork(n: Network): NetworkResource {
  return {
    Name: n.Name,
    Id: n.ID,
    Created: n.CreatedAt,
    Scope: n.Scope,
    Driver: n.Driver,
    EnableIPv6: n.EnableIPv6,
    IPAM: n.IPAM,
    Internal: n.Internal,
    Attachable: n.Attachable,
    Ingress: n.Ingress,
    ConfigFrom: n.ConfigFrom,
    ConfigOnly: n.ConfigOnly,
    Containers: {},
    Options: n.Options,
    Labels: n.Labels,
  };
}

const LOCAL_DRIVERS: Record<string, string> = { bridge: 'bridge', host: 'host', none: 'null' };

/** The node's predefined local networks, with 64-hex IDs fixed by the state dir (Docker's are random, once). */
export function localNetworks(stateDir: string, created: string): NetworkResource[] {
  return LOCAL_NETWORK_NAMES.map((name) => ({
    Name: name,
    Id: createHash('sha256').update(`${stateDir}\0network\0${name}`).digest('hex'),
    Created: created,
    Scope: 'local',
    Driver: LOCAL_DRIVERS[name] ?? name,
    EnableIPv6: false,
    IPAM: { Driver: 'default', Options: {}, Config: [] },
    Internal: false,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: {},
    Options: {},
    Labels: {},
  }));
}

const view = (n: NetworkResource): NetworkView => ({ ...n, ID: n.Id });

const isNotManager = (e: unknown) => e instanceof SwarmError && e.code === 'NOT_MANAGER';

/** The control API when this node is a manager; undefined when it is not (nothing swarm to show). */
function controlIfManager(backend: NetworkBackend): ControlApis | undefined {
  try {
    return backend.control();
  } catch (e) {
    if (isNotManager(e)) return undefined;
    throw e;
  }
}

type Found = { local: NetworkResource } | { swarm: Network; api: ControlApis };

export function networkRoutes(backend: NetworkBackend): Route[] {
  const created = new Date().toISOString();
  const local = () => localNetworks(backend.stateDir, created);

  /**
   * Docker's lookup across both kinds: a local network by full ID or name, then a swarm network
   * (full ID, name, unique ID prefix), then a local one by unique ID prefix. `scope` keeps one kind.
   */
  const find = (ref: string, scope: string): Found => {
    const all = scope === '' || scope === 'local' ? local() : [];
    const exact = all.find((n) => n.Id === ref || n.Name === ref);
    if (exact) return { local: exact };
    const api = scope === '' || scope === 'swarm' ? controlIfManager(backend) : undefined;
    if (api) {
      try {
        return { swarm: api.networks.get(ref), api };
      } catch (e) {
        if (!(e instanceof SwarmError && e.code === 'NOT_FOUND')) throw e;
      }
    }
    const prefixed = ref === '' ? [] : all.filter((n) => n.Id.startsWith(ref));
    if (prefixed.length === 1 && prefixed[0]) return { local: prefixed[0] };
    throw new SwarmError('NOT_FOUND', `network ${ref} not found`);
  };

  return [
    {
      method: 'GET',
      path: '/networks',
      handler: ({ res, query }) => {
        const filters = parseFilters(query);
        const keepLocal = networkFilter(filters);
        const out = local().filter((n) => keepLocal(view(n)));
        const api = controlIfManager(backend);
        if (api) out.push(...api.networks.list(filters).map(publicNetwork));
        sendJSON(res, 200, out);
      },
    },
    {
      method: 'POST',
      path: '/networks/create',
      handler: async ({ res, json }) => {
        const body = await json();
        // Refusals that need no swarm come first: outside one, a bridge network is unsupported, not a 503.
        validateNetworkCreate(body);
        const n = await backend.control().networks.create(body);
        sendJSON(res, 201, { Id: n.ID, Warning: '' });
      },
    },
    {
      method: 'POST',
      path: '/networks/prune',
      handler: async ({ res, query }) => {
        const filters = parseFilters(query);
        const api = controlIfManager(backend);
        sendJSON(res, 200, { NetworksDeleted: api ? await api.networks.prune(filters) : [] });
      },
    },
    {
      method: 'GET',
      path: '/networks/:id',
      // A swarm network shows this node's containers on it and the nodes that have it (Docker's
      // Peers); with `verbose`, its services with their VIPs and tasks (Docker's Services).
      handler: ({ res, params, query }) => {
        const found = find(params.id ?? '', query.get('scope') ?? '');
        if ('local' in found) return sendJSON(res, 200, found.local);
        const id = found.swarm.ID;
        const peers = backend.networkPeers?.(id) ?? [];
        sendJSON(res, 200, {
          ...publicNetwork(found.swarm),
          Containers: backend.localEndpoints?.(id) ?? {},
          ...(peers.length > 0 ? { Peers: peers } : {}),
          ...(query.get('verbose') === 'true' || query.get('verbose') === '1'
            ? { Services: backend.networkServices?.(id) ?? {} }
            : {}),
        });
      },
    },
    {
      method: 'DELETE',
      path: '/networks/:id',
      handler: async ({ res, params }) => {
        const found = find(params.id ?? '', '');
        if ('local' in found) {
          throw new SwarmError(
            'PERMISSION_DENIED',
            `${found.local.Name} is a pre-defined network and cannot be removed`,
          );
        }
        await found.api.networks.remove(found.swarm.ID);
        sendNoContent(res);
      },
    },
  ];
}
