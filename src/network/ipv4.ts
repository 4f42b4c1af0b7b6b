// IPv4 arithmetic for the node's networks: CIDR parsing, host ranges, and Docker-style MACs.
import { isIPv4 } from 'node:net';
import { invalidArgument } from '../api/errors.js';

export interface Subnet {
  /** Canonical form, e.g. "172.31.0.0/16" (host bits cleared). */
  cidr: string;
  network: number;
  prefixLength: number;
  /** First usable host address: the gateway, as Docker picks it. */
  gateway: number;
  broadcast: number;
}

export function ipToInt(ip: string): number {
  if (!isIPv4(ip)) throw invalidArgument(`invalid IPv4 address: ${ip}`);
  return ip.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Parses "a.b.c.d/len"; prefixes longer than /30 leave no room for a gateway and a task. */
export function parseSubnet(cidr: string): Subnet {
  const match = /^([0-9.]+)\/(\d{1,2})$/.exec(cidr);
  if (!match) throw invalidArgument(`invalid subnet ${JSON.stringify(cidr)}: expected a.b.c.d/len`);
  const prefixLength = Number(match[2]);
  if (prefixLength < 8 || prefixLength > 30) {
    throw invalidArgument(`invalid subnet ${cidr}: prefix length must be between 8 and 30`);
  }
  const size = 2 ** (32 - prefixLength);
  const network = ipToInt(match[1] ?? '') - (ipToInt(match[1] ?? '') % size);
  return {
    cidr: `${intToIp(network)}/${prefixLength}`,
    network,
    prefixLength,
    gateway: network + 1,
    broadcast: network + size - 1,
  };
}

export function subnetContains(subnet: Subnet, ip: string): boolean {
  const n = ipToInt(ip);
  return n >= subnet.network && n <= subnet.broadcast;
}

/** Docker's convention: 02:42 followed by the four address bytes, so a MAC never changes with restarts. */
export function macForIp(ip: string): string {
  const n = ipToInt(ip);
  const bytes = [0x02, 0x42, n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}
