// Network operations of the control API: create (validate, allocate subnets and VNIs, one write),
// list with Docker's filters, inspect, remove and prune (refused or skipped while a service uses the
// network), and the resolution of a service's network attachments to network IDs.
// Swarm networks only: the node's local networks (bridge, host, none) are the Engine API's.
import { alreadyExists, failedPrecondition, invalidArgument, SwarmError } from '../../api/errors.js';
import { newId } from '../../api/ids.js';
import {
  describeZodError,
  MTU_OPTION,
  type Network,
  type NetworkCreateRequest,
  NetworkCreateRequestSchema,
  type Service,
  type ServiceSpec,
} from '../../api/types.js';
import { rpcInvalid, stripNulls, validateServiceName } from '../../api/validate.js';
import { checkFilterNames } from '../../engineapi/router.js';
import { createLogger } from '../../lib/log.js';
import type { NewObject } from '../../store/table.js';
import {
  type AddressPool,
  allocateNetwork,
  DEFAULT_ADDR_POOL,
  DEFAULT_SUBNET_SIZE,
  type NetworkAllocation,
} from '../allocator/networks.js';
import { type Filters, matchLabels } from './filters.js';
import type { ControlStore } from './store.js';

const MIN_MTU = 576;
/** A 9000-byte jumbo underlay less VXLAN's 50 bytes. */
const MAX_MTU = 8950;

const log = createLogger({ component: 'controlapi.networks' });

/** Docker's runconfig.IsPreDefinedNetwork: names no user network may take. */
export const PREDEFINED_NETWORK_NAMES: readonly string[] = ['bridge', 'host', 'none', 'default'];
/** The node-local networks Docker lists beside the swarm's; a service cannot attach to them. */
export const LOCAL_NETWORK_NAMES: readonly string[] = ['bridge', 'host', 'none'];
const INGRESS_NAME = 'ingress';
/** SwarmKit's label for its own predefined networks; users may not set it. */
const PREDEFINED_LABEL = 'com.docker.swarm.predefined';

/** What list filters and the engine's local networks share: the fields Docker filters on. */
export interface NetworkView {
  ID: string;
  Name: string;
  Driver: string;
  Scope: string;
  Labels: Record<string, string>;
}

const predefined = (name: string) => PREDEFINED_NETWORK_NAMES.includes(name);
const forbidden = (msg: string) => new SwarmError('PERMISSION_DENIED', msg);

/**
 * Docker's Args.Match takes regular expressions (RE2, linear time). A JavaScript RegExp from a
 * client could backtrack for ever, so values match as text, with the anchors people use
 * (`name=^web$` for an exact name): a substring, a prefix after `^`, a suffix before `$`.
 */
function matchesAny(values: string[] | undefined, text: string): boolean {
  if (!values) return true;
  return values.some((v) => {
    const start = v.startsWith('^');
    const end = v.length > (start ? 1 : 0) && v.endsWith('$');
    const core = v.slice(start ? 1 : 0, end ? -1 : undefined);
    if (start && end) return text === core;
    if (start) return text.startsWith(core);
    if (end) return text.endsWith(core);
    return text.includes(core);
  });
}

/**
 * Docker's network list filters (daemon/network/filter.go): driver and scope exact, name and id
 * as text with ^/$ anchors (matchesAny), label key or key=value, type builtin|custom (predefined
 * names or not), dangling (ours: no service uses the network).
 */
export function networkFilter(
  filters: Filters,
  inUse: (networkId: string) => boolean = () => false,
): (n: NetworkView) => boolean {
  checkFilterNames(filters, ['dangling', 'driver', 'id', 'label', 'name', 'scope', 'type']);
  const types = filters.get('type');
  for (const t of types ?? []) {
    if (t !== 'builtin' && t !== 'custom') throw invalidArgument(`Invalid filter 'type'='${t}'`);
  }
  const dangling = filters.get('dangling');
  for (const d of dangling ?? []) {
    if (!['true', 'false', '1', '0'].includes(d)) throw invalidArgument(`Invalid filter 'dangling'='${d}'`);
  }
  const exact = (values: string[] | undefined, s: string) => !values || values.includes(s);
  return (n) =>
    exact(filters.get('driver'), n.Driver) &&
    exact(filters.get('scope'), n.Scope) &&
    matchesAny(filters.get('name'), n.Name) &&
    matchesAny(filters.get('id'), n.ID) &&
    matchLabels(n.Labels, filters.get('label')) &&
    (!types || types.includes(predefined(n.Name) ? 'builtin' : 'custom')) &&
    (!dangling ||
      dangling.every((d) => (d === 'true' || d === '1') === (!predefined(n.Name) && !inUse(n.ID))));
}

/** The networks a service's spec attaches (task template and the deprecated top-level list). */
export function attachedNetworks(spec: ServiceSpec): string[] {
  return [...(spec.TaskTemplate.Networks ?? []), ...(spec.Networks ?? [])].map((a) => a.Target);
}

/** SwarmKit's IsIngressNetworkNeeded: the service publishes a port through the routing mesh. */
function needsIngress(s: Service): boolean {
  return (s.Spec.EndpointSpec?.Ports ?? []).some((p) => (p.PublishMode ?? 'ingress') === 'ingress');
}

/** The network object a create builds: the request's fields with what allocation decided. */
function networkObject(
  id: string,
  req: NetworkCreateRequest & { Name: string },
  allocation: NetworkAllocation,
): NewObject<Network> {
  return {
    ID: id,
    Name: req.Name,
    Scope: 'swarm',
    Driver: 'overlay',
    EnableIPv6: false,
    IPAM: { Driver: 'default', Options: req.IPAM?.Options ?? {}, Config: allocation.Config },
    Internal: req.Internal ?? false,
    Attachable: req.Attachable ?? false,
    Ingress: req.Ingress ?? false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Options: allocation.Options,
    Labels: req.Labels ?? {},
  };
}

/** The `ingress` network `swarm init` creates: the pool's first subnet and the first VNI (4096). */
export function ingressNetwork(id: string, pool: AddressPool): NewObject<Network> {
  const allocation = allocateNetwork({ configs: [], options: {} }, pool, []);
  return networkObject(id, { Name: INGRESS_NAME, Ingress: true }, allocation);
}

function parseCreateRequest(body: unknown): NetworkCreateRequest {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalidArgument('network create: request body must be a JSON object');
  }
  const r = NetworkCreateRequestSchema.safeParse(stripNulls(body));
  if (!r.success) throw invalidArgument(`invalid network create request: ${describeZodError(r.error)}`);
  return r.data;
}

/** What swarmd does not build (yet or ever): refused with a message saying so, before anything else. */
function checkSupported(req: NetworkCreateRequest): void {
  const driver = req.Driver || 'bridge';
  if (driver !== 'overlay') {
    throw invalidArgument(
      `network driver "${driver}" is not supported: only swarm-scoped networks with the "overlay" driver can be created`,
    );
  }
  if (req.Scope && req.Scope !== 'swarm') {
    throw invalidArgument(`network scope "${req.Scope}" is not supported: overlay networks are swarm-scoped`);
  }
  if (req.EnableIPv6) throw invalidArgument('IPv6 networks are not supported');
  if (req.Options && 'encrypted' in req.Options)
    throw invalidArgument(
      'encrypted overlay networks (--opt encrypted) are not supported yet: traffic between nodes would go in clear; create the network without it',
    );
  const mtu = req.Options?.[MTU_OPTION];
  if (mtu !== undefined && !(/^\d+$/.test(mtu) && Number(mtu) >= MIN_MTU && Number(mtu) <= MAX_MTU)) {
    throw invalidArgument(
      `invalid ${MTU_OPTION} ${JSON.stringify(mtu)}: the MTU of an overlay network is a whole number from ${MIN_MTU} to ${MAX_MTU} (the underlay's MTU less 50 bytes of VXLAN)`,
    );
  }
  if (req.ConfigOnly || req.ConfigFrom?.Network) {
    throw invalidArgument('configuration-only networks (--config-only, --config-from) are not supported');
  }
  const ipamDriver = req.IPAM?.Driver || 'default';
  if (ipamDriver !== 'default') {
    throw invalidArgument(`IPAM driver "${ipamDriver}" is not supported: only "default" is`);
  }
  if ((req.IPAM?.Config ?? []).some((c) => Object.keys(c.AuxiliaryAddresses ?? {}).length > 0)) {
    throw invalidArgument('ipam configuration: auxiliary addresses are not supported');
  }
}

/**
 * The checks of a create that need no store, in Docker's order: a predefined name (403), what
 * swarmd does not build (400), the name's form. The Engine API runs them before it knows whether
 * this node can reach the swarm, so a bridge network is refused as such even outside a swarm.
 */
export function validateNetworkCreate(body: unknown): NetworkCreateRequest & { Name: string } {
  const req = parseCreateRequest(body);
  const name = req.Name ?? '';
  if (predefined(name)) throw forbidden(`${name} is a pre-defined network and cannot be created`);
  checkSupported(req);
  validateServiceName(name);
  return { ...req, Name: name };
}

/** Docker's `until` prune filter: a Go duration before now ("24h", "90m") or a timestamp. */
function untilCutoff(value: string, now: Date): number {
  const units: Record<string, number> = { h: 3600e3, m: 60e3, s: 1e3, ms: 1 };
  if (/^(\d+(\.\d+)?(h|ms|m|s))+$/.test(value)) {
    let ms = 0;
    for (const [, n, , unit] of value.matchAll(/(\d+(\.\d+)?)(h|ms|m|s)/g)) {
      ms += Number(n) * (units[unit ?? 's'] ?? 1e3);
    }
    return now.getTime() - ms;
  }
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw invalidArgument(`invalid filter 'until'='${value}'`);
  return t;
}

export class NetworkApi {
  /** Creates run one at a time on this manager, so two never take the same subnet or VNI. */
  private creating: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: ControlStore,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private pool(): AddressPool {
    const c = this.store.list('cluster')[0];
    return {
      DefaultAddrPool: c?.DefaultAddrPool.length ? c.DefaultAddrPool : DEFAULT_ADDR_POOL,
      SubnetSize: c?.SubnetSize || DEFAULT_SUBNET_SIZE,
    };
  }

  create(body: unknown): Promise<Network> {
    const run = this.creating.then(() => this.createNow(body));
    this.creating = run.catch(() => undefined);
    return run;
  }

  private async createNow(body: unknown): Promise<Network> {
    const req = validateNetworkCreate(body);
    const name = req.Name;
    const existing = this.store.list('network');
    if (existing.some((n) => n.Name === name))
      throw alreadyExists(`network with name ${name} already exists`);
    if (name === INGRESS_NAME && !req.Ingress) {
      throw forbidden(`${name} is a pre-defined network and cannot be created`);
    }
    if (req.Ingress && req.Attachable) throw rpcInvalid('ingress network cannot be attachable');
    if (req.Labels && PREDEFINED_LABEL in req.Labels) {
      throw forbidden(
        `rpc error: code = PermissionDenied desc = label ${PREDEFINED_LABEL} is for internally created predefined networks and cannot be applied by users`,
      );
    }
    const ingress = existing.find((n) => n.Ingress);
    if (req.Ingress && ingress) {
      throw alreadyExists(
        `rpc error: code = AlreadyExists desc = ingress network (${ingress.ID}) is already present`,
      );
    }
    const allocation = allocateNetwork(
      { configs: req.IPAM?.Config ?? [], options: req.Options ?? {} },
      this.pool(),
      existing,
    );
    const ts = this.now().toISOString();
    try {
      return await this.store.create('network', {
        ...networkObject(newId(), req, allocation),
        Version: { Index: 0 },
        CreatedAt: ts,
        UpdatedAt: ts,
      });
    } catch (e) {
      // Another manager took the name between our read and our write.
      if (e instanceof SwarmError && e.code === 'ALREADY_EXISTS') {
        throw alreadyExists(`network with name ${name} already exists`);
      }
      throw e;
    }
  }

  /** Whether a service attaches the network (by ID, as services store their attachments). */
  private usedBy(networkId: string): Service | undefined {
    return this.store.list('service').find((s) => attachedNetworks(s.Spec).includes(networkId));
  }

  list(filters: Filters): Network[] {
    const keep = networkFilter(filters, (id) => this.usedBy(id) !== undefined);
    return this.store.list('network').filter((n) => keep(n));
  }

  /** Docker's lookup: full ID, exact name, then unique ID prefix. */
  get(ref: string): Network {
    return this.store.resolve('network', ref);
  }

  async remove(ref: string): Promise<void> {
    const n = this.store.resolve('network', ref);
    if (n.Ingress) {
      const dependent = this.store.list('service').find(needsIngress);
      if (dependent) {
        throw failedPrecondition(
          `rpc error: code = FailedPrecondition desc = ingress network cannot be removed because service ${dependent.ID} depends on it`,
        );
      }
    } else {
      const user = this.usedBy(n.ID);
      if (user) {
        throw failedPrecondition(
          `rpc error: code = FailedPrecondition desc = network ${n.ID} is in use by service ${user.ID}`,
        );
      }
    }
    await this.store.remove('network', n.ID);
  }

  /**
   * `POST /networks/prune`: removes the custom networks no service uses (never the ingress network,
   * whose removal must be asked for), with Docker's `until`, `label` and `label!` filters. A network
   * that cannot be removed is skipped, as Docker does. Returns the names removed.
   */
  async prune(filters: Filters): Promise<string[]> {
    checkFilterNames(filters, ['until', 'label', 'label!']);
    const cutoffs = (filters.get('until') ?? []).map((v) => untilCutoff(v, this.now()));
    const unwanted = filters.get('label!');
    const deleted: string[] = [];
    for (const n of this.store.list('network')) {
      if (n.Ingress || this.usedBy(n.ID)) continue;
      if (cutoffs.some((t) => Date.parse(n.CreatedAt) >= t)) continue;
      if (!matchLabels(n.Labels, filters.get('label'))) continue;
      if (unwanted && matchLabels(n.Labels, unwanted)) continue;
      try {
        await this.store.remove('network', n.ID);
        deleted.push(n.Name);
      } catch (e) {
        log.warn('could not remove cluster network', { network: n.Name, err: e });
      }
    }
    return deleted;
  }
}

/** A service's attachment target as SwarmKit keeps it: the network's ID, for a network a service may use. */
function attachableNetwork(store: ControlStore, target: string): Network {
  let n: Network;
  try {
    n = store.resolve('network', target);
  } catch (e) {
    if (e instanceof SwarmError && e.code === 'NOT_FOUND' && LOCAL_NETWORK_NAMES.includes(target)) {
      throw forbidden(
        `The network ${target} cannot be used with services. Only networks scoped to the swarm can be used, such as those created with the overlay driver.`,
      );
    }
    throw e;
  }
  if (n.Ingress) {
    throw rpcInvalid(`Service cannot be explicitly attached to the ingress network "${n.Name}"`);
  }
  return n;
}

/**
 * The spec with each network attachment's Target (a name, ID or ID prefix, as clients send them)
 * replaced by the network's ID; an unknown network is "network X not found" (404).
 */
export function resolveServiceNetworks(store: ControlStore, spec: ServiceSpec): ServiceSpec {
  const resolve = (list: NonNullable<ServiceSpec['Networks']>) =>
    list.map((a) => ({ ...a, Target: attachableNetwork(store, a.Target).ID }));
  const { Networks: taskNetworks } = spec.TaskTemplate;
  if (!taskNetworks && !spec.Networks) return spec;
  return {
    ...spec,
    TaskTemplate: { ...spec.TaskTemplate, ...(taskNetworks ? { Networks: resolve(taskNetworks) } : {}) },
    ...(spec.Networks ? { Networks: resolve(spec.Networks) } : {}),
  };
}
