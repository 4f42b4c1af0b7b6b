// The node's gateway bridge (Docker's docker_gwbridge role): one bridge per node that every
// container's eth0 hangs off, with the gateway address, forwarding, and masquerade for egress.
import { z } from 'zod';
import { SwarmError } from '../api/errors.js';
import { intToIp, macForIp, type Subnet } from './ipv4.js';
import { NAT_TABLE } from './names.js';
import { ipBatch, ipJson, linkDelete, nftApply, nftDeleteTable, sysctlSet } from './shell.js';

export interface GatewaySpec {
  bridge: string;
  subnet: Subnet;
  /** Named netns standing for "the host"; the process's own netns when absent. */
  hostNetns?: string;
}

/** The bridge as `ip -j -d addr show dev X` reports it (only the fields we decide on). */
export const observedLinkSchema = z.object({
  ifname: z.string(),
  flags: z.array(z.string()),
  address: z.string().optional(),
  linkinfo: z.object({ info_kind: z.string().optional() }).optional(),
  addr_info: z.array(z.object({ family: z.string(), local: z.string(), prefixlen: z.number() })).default([]),
});
export type ObservedLink = z.infer<typeof observedLinkSchema>;

/**
 * The `ip -batch` lines that turn what exists into the desired bridge. Empty when nothing is to
 * do, which makes ensureGatewayBridge idempotent without relying on "File exists" errors. The MAC
 * is fixed because a bridge otherwise takes the lowest MAC of its ports and changes as tasks come
 * and go, invalidating every neighbour's ARP entry for the gateway.
 */
export function planGatewayBridge(observed: ObservedLink | null, spec: GatewaySpec): string[] {
  const { bridge, subnet } = spec;
  const gateway = intToIp(subnet.gateway);
  const mac = macForIp(gateway);
  if (observed !== null && observed.linkinfo?.info_kind !== 'bridge') {
    throw new SwarmError('FAILED_PRECONDITION', `${bridge} exists and is not a bridge`);
  }
  const lines: string[] = [];
  if (observed === null) lines.push(`link add ${bridge} type bridge`);
  if (observed?.address !== mac) lines.push(`link set dev ${bridge} address ${mac}`);
  const inet = (observed?.addr_info ?? []).filter((a) => a.family === 'inet');
  for (const a of inet) {
    if (a.local !== gateway || a.prefixlen !== subnet.prefixLength) {
      lines.push(`addr del ${a.local}/${a.prefixlen} dev ${bridge}`);
    }
  }
  if (!inet.some((a) => a.local === gateway && a.prefixlen === subnet.prefixLength)) {
    lines.push(`addr add ${gateway}/${subnet.prefixLength} dev ${bridge}`);
  }
  if (!observed?.flags.includes('UP')) lines.push(`link set dev ${bridge} up`);
  return lines;
}

/**
 * Egress NAT: whatever leaves the gateway subnet through any other interface is masqueraded.
 * The add-delete-define sequence replaces our table in one transaction (and works whether or not
 * it existed), so egress never sees a half-written table.
 */
export function renderNatTable(spec: Pick<GatewaySpec, 'bridge' | 'subnet'>): string {
  return [
    `table ip ${NAT_TABLE}`,
    `delete table ip ${NAT_TABLE}`,
    `table ip ${NAT_TABLE} {`,
    '  chain postrouting {',
    '    type nat hook postrouting priority 100; policy accept;',
    `    ip saddr ${spec.subnet.cidr} oifname != "${spec.bridge}" masquerade`,
    '  }',
    '}',
    '',
  ].join('\n');
}

export async function observeLink(name: string, netns?: string): Promise<ObservedLink | null> {
  const raw = await ipJson(['-d', 'addr', 'show', 'dev', name], netns);
  if (raw === null) return null;
  const links = z.array(observedLinkSchema).parse(raw);
  return links[0] ?? null;
}

/**
 * Creates or repairs the bridge, turns on forwarding, and installs egress NAT. route_localnet on
 * the bridge lets published-port traffic from 127.0.0.1 be DNATed to a task and leave through the
 * bridge (it is masqueraded on the way, see ports.ts); without it the kernel drops it as martian.
 */
export async function ensureGatewayBridge(spec: GatewaySpec): Promise<void> {
  const observed = await observeLink(spec.bridge, spec.hostNetns);
  await ipBatch(planGatewayBridge(observed, spec), spec.hostNetns);
  await sysctlSet(
    { 'net.ipv4.ip_forward': '1', [`net.ipv4.conf.${spec.bridge}.route_localnet`]: '1' },
    spec.hostNetns,
  );
  await nftApply(renderNatTable(spec), spec.hostNetns);
}

/** Removes the bridge and the egress NAT table; absent ones are fine. ip_forward is left as found. */
export async function removeGatewayBridge(spec: Pick<GatewaySpec, 'bridge' | 'hostNetns'>): Promise<void> {
  await nftDeleteTable('ip', NAT_TABLE, spec.hostNetns);
  await linkDelete(spec.bridge, spec.hostNetns);
}
