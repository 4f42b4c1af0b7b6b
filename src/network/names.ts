// How this module names what it creates in the kernel, so that crash recovery is a pattern match
// and two swarmd instances on one machine (cluster-in-a-box, tests) never claim each other's objects.
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { invalidArgument } from '../api/errors.js';

/** Everything we create starts with this: interfaces, netns, nft tables (skt_*). */
export const PREFIX = 'skt';
export const DEFAULT_BRIDGE = 'sktgw0';
export const DEFAULT_SUBNET = '172.31.0.0/16';
export const NAT_TABLE = 'skt_nat';
export const PORTS_TABLE = 'skt_ports';
export const NETNS_DIR = '/run/netns';

const containerIdPattern = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;
const ifnamePattern = /^[a-zA-Z0-9_.-]{1,15}$/;
const hostVethPattern = /^skt[0-9a-f]{8}$/;
const networkIdPattern = /^[a-zA-Z0-9]{1,64}$/;

export function checkContainerId(id: string): void {
  if (!containerIdPattern.test(id)) throw invalidArgument(`invalid container ID ${JSON.stringify(id)}`);
}

export function checkNetworkId(id: string): void {
  if (!networkIdPattern.test(id)) throw invalidArgument(`invalid network ID ${JSON.stringify(id)}`);
}

export function checkIfname(name: string): void {
  if (!ifnamePattern.test(name)) throw invalidArgument(`invalid interface name ${JSON.stringify(name)}`);
}

/**
 * Named network namespaces live in one machine-wide directory, so their names carry a tag derived
 * from the owner's state dir: cleanup of one node instance can then never remove another's.
 */
export function ownerTag(stateDir: string): string {
  return createHash('sha256').update(resolve(stateDir)).digest('hex').slice(0, 6);
}

export function netnsPrefix(tag: string): string {
  return `${PREFIX}-${tag}-`;
}

export function containerNetnsName(tag: string, containerId: string): string {
  return `${netnsPrefix(tag)}${containerId.slice(0, 12).toLowerCase()}`;
}

function hash8(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

/** Host side of a container's veth: `skt` + 8 hex (IFNAMSIZ allows 15 characters). */
export function hostVethName(tag: string, containerId: string): string {
  return `${PREFIX}${hash8(`${tag}/${containerId}`)}`;
}

/**
 * An overlay network's devices on this node: the VXLAN device (`sktvx` + 8 hex) and the node's own
 * port on the network, a macvlan on it (`sktov` + 8 hex; the routing mesh's ingress address lives
 * there).
 */
export function overlayLinkNames(tag: string, networkId: string): { port: string; vxlan: string } {
  const h = hash8(`${tag}/overlay/${networkId}`);
  return { port: `${PREFIX}ov${h}`, vxlan: `${PREFIX}vx${h}` };
}

/**
 * The alias (`ip link … alias`) both overlay devices carry: hashed names cannot be read back, the
 * alias says whose they are and for which network, so crash cleanup is a match on the kernel's own
 * list (and `ip link` tells a person what each device is for).
 */
export function overlayAlias(tag: string, networkId: string): string {
  return `${PREFIX}-${tag}:overlay:${networkId}`;
}

/** The network ID in an alias made by overlayAlias with this tag, else null (not ours). */
export function overlayAliasNetwork(tag: string, alias: string | undefined): string | null {
  const prefix = `${PREFIX}-${tag}:overlay:`;
  if (alias === undefined || !alias.startsWith(prefix)) return null;
  const id = alias.slice(prefix.length);
  return networkIdPattern.test(id) ? id : null;
}

export function isHostVethName(name: string): boolean {
  return hostVethPattern.test(name);
}

export function netnsPath(name: string): string {
  return `${NETNS_DIR}/${name}`;
}
