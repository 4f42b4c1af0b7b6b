// Choosing the address a node advertises, as Docker does: the flag (IP, IP:port or interface name),
// else the listen address, else the one non-loopback IPv4 address of the host. Pure over the
// interface table.
import type { NetworkInterfaceInfo } from 'node:os';
import { invalidArgument } from '../api/errors.js';

export type Interfaces = NodeJS.Dict<NetworkInterfaceInfo[]>;

export const DEFAULT_PORT = 2377;

export function splitHostPort(addr: string, defaultPort: number): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?(?::(\d+))?$/.exec(addr.trim());
  if (!m || m[1] === undefined) throw invalidArgument(`invalid address: ${addr}`);
  const port = m[2] ? Number(m[2]) : defaultPort;
  if (!(port > 0 && port < 65536)) throw invalidArgument(`invalid port in address: ${addr}`);
  return { host: m[1], port };
}

function ipv4Of(ifs: Interfaces, name: string): string | undefined {
  return ifs[name]?.find((a) => a.family === 'IPv4')?.address;
}

/** Resolves `--advertise-addr` / `AdvertiseAddr` to "ip:port". */
export function chooseAdvertiseAddr(
  advertise: string | undefined,
  listen: string,
  ifs: Interfaces,
): { ip: string; port: number } {
  const listenHP = splitHostPort(listen || `0.0.0.0:${DEFAULT_PORT}`, DEFAULT_PORT);
  if (advertise) {
    const hp = splitHostPort(advertise, listenHP.port);
    if (/^[0-9.]+$/.test(hp.host) || hp.host.includes(':')) return { ip: hp.host, port: hp.port };
    const ip = ipv4Of(ifs, hp.host);
    if (!ip) throw invalidArgument(`interface ${hp.host} has no IPv4 addresses`);
    return { ip, port: hp.port };
  }
  if (listenHP.host && listenHP.host !== '0.0.0.0' && listenHP.host !== '::') {
    return { ip: listenHP.host, port: listenHP.port };
  }
  const candidates: { name: string; ip: string }[] = [];
  for (const [name, addrs] of Object.entries(ifs)) {
    for (const a of addrs ?? []) {
      if (a.family === 'IPv4' && !a.internal) candidates.push({ name, ip: a.address });
    }
  }
  if (candidates.length === 1) return { ip: (candidates[0] as { ip: string }).ip, port: listenHP.port };
  if (candidates.length === 0) {
    // A host with only loopback (a test namespace, a laptop offline): loopback is all there is.
    return { ip: '127.0.0.1', port: listenHP.port };
  }
  const [a, b] = candidates as [{ name: string; ip: string }, { name: string; ip: string }];
  throw invalidArgument(
    `could not choose an IP address to advertise since this system has multiple addresses on different interfaces (${a.ip} on ${a.name} and ${b.ip} on ${b.name}) - specify one with --advertise-addr`,
  );
}
