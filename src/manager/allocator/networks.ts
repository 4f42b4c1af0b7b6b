// Network allocation (SwarmKit's cnmallocator + libnetwork's default IPAM and overlay VNI manager,
// pure): a new network's subnets come from what the user gave (validated) or from the cluster's
// default address pool, never overlapping another network's; its VXLAN IDs are the user's or the
// lowest free from 4096 up. Refusals carry SwarmKit's wording where it has one.
import { isIPv4 } from 'node:net';
import { failedPrecondition, invalidArgument } from '../../api/errors.js';
import { type IPAMConfig, type Network, VXLANID_LIST_OPTION } from '../../api/types.js';
import { rpcInvalid } from '../../api/validate.js';
import { intToIp, ipToInt } from '../../network/ipv4.js';

export const DEFAULT_ADDR_POOL: readonly string[] = ['10.0.0.0/8'];
export const DEFAULT_SUBNET_SIZE = 24;
/** Docker keeps /30 and smaller out of pools: a network needs room for its internal addresses. */
export const MAX_SUBNET_SIZE = 29;
/** The first VNI handed out (the ingress network's at swarm init); user networks follow from 4097. */
export const FIRST_VNI = 4096;
export const MAX_VNI = 2 ** 24 - 1;

/** The cluster's pool settings (Cluster.DefaultAddrPool / SubnetSize). */
export interface AddressPool {
  DefaultAddrPool: readonly string[];
  SubnetSize: number;
}

/** An IPAM configuration as a request gives it: any field may be missing. */
export type RequestedIPAM = Partial<IPAMConfig>;

/** What allocation adds to a new network: its IPAM configs and its driver options (VNIs included). */
export interface NetworkAllocation {
  Config: IPAMConfig[];
  Options: Record<string, string>;
}

/** An IPv4 block: first address and prefix length. */
interface Block {
  network: number;
  prefix: number;
}

const sizeOf = (prefix: number) => 2 ** (32 - prefix);
const lastOf = (b: Block) => b.network + sizeOf(b.prefix) - 1;
const cidrOf = (b: Block) => `${intToIp(b.network)}/${b.prefix}`;
const overlaps = (a: Block, b: Block) => a.network <= lastOf(b) && b.network <= lastOf(a);

/** "a.b.c.d/n" with host bits cleared; undefined unless it is an IPv4 CIDR. */
function parseBlock(text: string): Block | undefined {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(text.trim());
  const ip = m?.[1];
  const prefix = Number(m?.[2]);
  if (!ip || !isIPv4(ip) || prefix > 32) return undefined;
  const addr = ipToInt(ip);
  return { network: addr - (addr % sizeOf(prefix)), prefix };
}

/** Moby's validateDefaultAddrPool, for `swarm init --default-addr-pool … --default-addr-pool-mask-length …`. */
export function validateAddressPool(pools: readonly string[], subnetSize: number): void {
  if (subnetSize < 1 || subnetSize > MAX_SUBNET_SIZE)
    throw invalidArgument(`subnet size is out of range: ${subnetSize}`);
  for (const pool of pools) {
    const block = parseBlock(pool);
    if (!block) throw invalidArgument(`invalid base pool ${pool}: invalid CIDR address: ${pool}`);
    if (subnetSize < block.prefix) {
      throw invalidArgument(
        `invalid CIDR: ${JSON.stringify(pool)}. Subnet size is too small for pool: ${subnetSize}`,
      );
    }
  }
}

/** The subnets networks hold now, with the network holding each (for messages). */
function usedBlocks(existing: readonly Network[]): { block: Block; network: string }[] {
  const used: { block: Block; network: string }[] = [];
  for (const n of existing) {
    for (const c of n.IPAM.Config) {
      const block = parseBlock(c.Subnet);
      if (block) used.push({ block, network: n.Name });
    }
  }
  return used;
}

/** SwarmKit's validateIPAMConfiguration, plus the checks libnetwork's IPAM makes when it reserves the pool. */
function checkRequested(c: RequestedIPAM): { block: Block; config: IPAMConfig } {
  const subnet = c.Subnet ?? '';
  const block = parseBlock(subnet);
  if (!block) {
    if (subnet.includes(':')) throw rpcInvalid(`ipam configuration: IPv6 subnet ${subnet} is not supported`);
    throw rpcInvalid(`ipam configuration: invalid subnet ${subnet}`);
  }
  if (block.prefix > 30) {
    throw rpcInvalid(`ipam configuration: subnet ${subnet} is too small (the longest prefix is /30)`);
  }
  const config: IPAMConfig = { Subnet: cidrOf(block) };
  if (c.IPRange) {
    const range = parseBlock(c.IPRange);
    if (!range) throw rpcInvalid(`ipam configuration: invalid range ${c.IPRange}`);
    if (range.prefix < block.prefix || !overlaps(range, block)) {
      throw rpcInvalid(`ipam configuration: subnet ${config.Subnet} does not contain range ${c.IPRange}`);
    }
    config.IPRange = cidrOf(range);
  }
  if (c.Gateway) {
    if (!isIPv4(c.Gateway)) throw rpcInvalid(`ipam configuration: invalid gateway ${c.Gateway}`);
    const gw = ipToInt(c.Gateway);
    if (gw < block.network || gw > lastOf(block)) {
      throw rpcInvalid(`ipam configuration: subnet ${config.Subnet} does not contain gateway ${c.Gateway}`);
    }
    if (gw === block.network || gw === lastOf(block)) {
      throw rpcInvalid(
        `ipam configuration: gateway ${c.Gateway} is the network or broadcast address of subnet ${config.Subnet}`,
      );
    }
    config.Gateway = c.Gateway;
  } else config.Gateway = intToIp(block.network + 1);
  return { block, config };
}

/** The first SubnetSize block of the pools that overlaps nothing in `used`. */
function firstFreeBlock(pool: AddressPool, used: readonly Block[]): Block | undefined {
  const prefix = pool.SubnetSize;
  const step = sizeOf(prefix);
  for (const text of pool.DefaultAddrPool) {
    const range = parseBlock(text);
    if (!range || range.prefix > prefix) continue;
    let candidate: Block = { network: range.network, prefix };
    while (lastOf(candidate) <= lastOf(range)) {
      const clash = used.find((u) => overlaps(u, candidate));
      if (!clash) return candidate;
      // Jump past the clashing block, staying on a boundary of the subnet size.
      candidate = { network: Math.ceil((lastOf(clash) + 1) / step) * step, prefix };
    }
  }
  return undefined;
}

/**
 * The IPAM configs of a new network. Given subnets are checked (gateway and range inside, no
 * overlap with each other or with another network); none given, one subnet of the pool's size is
 * taken from the default pool. The gateway is the subnet's first host address unless given.
 */
export function allocateSubnets(
  requested: readonly RequestedIPAM[],
  pool: AddressPool,
  existing: readonly Network[],
): IPAMConfig[] {
  const used = usedBlocks(existing);
  if (requested.length === 0) {
    const block = firstFreeBlock(
      pool,
      used.map((u) => u.block),
    );
    if (!block) {
      throw failedPrecondition(
        'could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network',
      );
    }
    return [{ Subnet: cidrOf(block), Gateway: intToIp(block.network + 1) }];
  }
  const configs: IPAMConfig[] = [];
  const mine: Block[] = [];
  for (const r of requested) {
    const { block, config } = checkRequested(r);
    const sibling = mine.find((b) => overlaps(b, block));
    if (sibling) {
      throw rpcInvalid(`ipam configuration: subnets ${cidrOf(sibling)} and ${config.Subnet} overlap`);
    }
    const taken = used.find((u) => overlaps(u.block, block));
    if (taken) {
      throw rpcInvalid(
        `ipam configuration: subnet ${config.Subnet} overlaps with subnet ${cidrOf(taken.block)} of network ${taken.network}`,
      );
    }
    mine.push(block);
    configs.push(config);
  }
  return configs;
}

/** The VXLAN IDs a network holds (from its vxlanid_list option). */
export function vnisOf(n: Network): number[] {
  const list = n.Options[VXLANID_LIST_OPTION];
  if (!list) return [];
  return list
    .split(',')
    .map(Number)
    .filter((v) => Number.isInteger(v) && v > 0);
}

function parseVniList(text: string): number[] {
  return text.split(',').map((s) => {
    const v = Number(s.trim());
    if (s.trim() === '' || !Number.isInteger(v) || v < 1 || v > MAX_VNI) {
      throw rpcInvalid(
        `invalid ${VXLANID_LIST_OPTION} "${text}": each VXLAN ID must be between 1 and ${MAX_VNI}`,
      );
    }
    return v;
  });
}

/**
 * One VNI per subnet: those the user listed in the vxlanid_list option first (each must be free),
 * the rest the lowest free from 4096 up, as the overlay driver's allocator hands them out.
 */
export function allocateVnis(
  count: number,
  requested: string | undefined,
  existing: readonly Network[],
): number[] {
  const used = new Set(existing.flatMap(vnisOf));
  const given = requested === undefined ? [] : parseVniList(requested);
  if (given.length > count) {
    throw rpcInvalid(`${VXLANID_LIST_OPTION} lists ${given.length} VXLAN IDs for ${count} subnet(s)`);
  }
  const out: number[] = [];
  for (const v of given) {
    if (used.has(v)) throw rpcInvalid(`VXLAN ID ${v} is already in use by another network`);
    used.add(v);
    out.push(v);
  }
  let next = FIRST_VNI;
  while (out.length < count) {
    while (used.has(next)) next++;
    if (next > MAX_VNI) throw failedPrecondition('no VXLAN ID left to allocate to the network');
    used.add(next);
    out.push(next);
  }
  return out;
}

/** Subnets and VNIs of a new network; its other driver options are kept as given. */
export function allocateNetwork(
  request: { configs: readonly RequestedIPAM[]; options: Readonly<Record<string, string>> },
  pool: AddressPool,
  existing: readonly Network[],
): NetworkAllocation {
  const Config = allocateSubnets(request.configs, pool, existing);
  const vnis = allocateVnis(Config.length, request.options[VXLANID_LIST_OPTION], existing);
  return { Config, Options: { ...request.options, [VXLANID_LIST_OPTION]: vnis.join(',') } };
}
