// The /etc/hosts, /etc/resolv.conf and /etc/hostname a container sees, rendered as text (pure) from
// its address, hostname, the service's extra hosts and DNS settings, and the host's resolv.conf.
import { isIP } from 'node:net';
import { z } from 'zod';
import { invalidArgument } from '../api/errors.js';

/** Docker's DNSConfig of a ContainerSpec. Each field, when given, replaces the host's. */
export const dnsConfigSchema = z.object({
  nameservers: z
    .array(z.string().refine((s) => isIP(s) !== 0, 'nameserver must be an IP address'))
    .optional(),
  search: z.array(z.string().regex(/^[^\s#]+$/, 'invalid search domain')).optional(),
  options: z.array(z.string().regex(/^[^\s#]+$/, 'invalid resolver option')).optional(),
});
export type DnsConfig = z.infer<typeof dnsConfigSchema>;

export const hostnameSchema = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/, 'invalid hostname');

/** Used when the host only lists loopback resolvers, which mean nothing inside a container: Docker's choice. */
export const FALLBACK_NAMESERVERS = ['8.8.8.8', '8.8.4.4'];

const LOCALHOST_LINES = [
  '127.0.0.1\tlocalhost',
  '::1\tlocalhost ip6-localhost ip6-loopback',
  'fe00::0\tip6-localnet',
  'ff00::0\tip6-mcastprefix',
  'ff02::1\tip6-allnodes',
  'ff02::2\tip6-allrouters',
];

/**
 * One extra host in hosts(5) form, as SwarmKit's ContainerSpec.Hosts carries it:
 * "IP canonical_name [aliases...]". The docker CLI's "name:IP" is converted before it reaches us.
 */
export function parseExtraHost(entry: string): { ip: string; names: string[] } {
  const [ip = '', ...names] = entry.trim().split(/\s+/);
  if (isIP(ip) === 0 || names.length === 0 || names.some((n) => !/^[^\s#]+$/.test(n))) {
    throw invalidArgument(`invalid extra host ${JSON.stringify(entry)}: expected "IP name [aliases...]"`);
  }
  return { ip, names };
}

export function renderHostsFile(ip: string, hostname: string, extraHosts: readonly string[] = []): string {
  const extra = extraHosts.map(parseExtraHost).map((h) => `${h.ip}\t${h.names.join(' ')}`);
  return `${[...LOCALHOST_LINES, ...extra, `${ip}\t${hostname}`].join('\n')}\n`;
}

interface ResolvConf {
  nameservers: string[];
  search: string[];
  options: string[];
}

export function parseResolvConf(text: string): ResolvConf {
  const conf: ResolvConf = { nameservers: [], search: [], options: [] };
  for (const raw of text.split('\n')) {
    const [key, ...values] = raw
      .replace(/[#;].*$/, '')
      .trim()
      .split(/\s+/);
    if (key === 'nameserver' && values[0] !== undefined) conf.nameservers.push(values[0]);
    else if (key === 'search' || key === 'domain') conf.search = values;
    else if (key === 'options') conf.options.push(...values);
  }
  return conf;
}

function isLoopback(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1';
}

/**
 * The container's resolv.conf. The host's loopback resolvers (systemd-resolved, dnsmasq) are not
 * reachable from the container's netns, and IPv6 ones are not routable on our IPv4-only gateway
 * network, so both are dropped; if nothing is left, FALLBACK_NAMESERVERS are used.
 */
/** The embedded DNS's address inside every task on an overlay (Docker's). */
export const EMBEDDED_DNS = '127.0.0.11';

/**
 * resolv.conf of a task on overlays: the embedded DNS (which forwards what is not the swarm's), the
 * host's or the spec's search domains, `ndots:0` as Docker writes it. Nameservers given in the spec
 * replace the embedded DNS.
 */
export function renderEmbeddedResolvConf(hostResolvConf: string, dns: DnsConfig = {}): string {
  if (dns.nameservers !== undefined && dns.nameservers.length > 0)
    return renderResolvConf(hostResolvConf, dns);
  const host = parseResolvConf(hostResolvConf);
  const search = dns.search ?? host.search;
  const options = dns.options ?? ['ndots:0'];
  const lines = [
    ...(search.length > 0 ? [`search ${search.join(' ')}`] : []),
    `nameserver ${EMBEDDED_DNS}`,
    ...(options.length > 0 ? [`options ${options.join(' ')}`] : []),
  ];
  return `${lines.join('\n')}\n`;
}

/** The host's usable resolvers (not loopback, IPv4), where the embedded DNS forwards other names. */
export function upstreamResolvers(hostResolvConf: string): string[] {
  const usable = parseResolvConf(hostResolvConf).nameservers.filter(
    (ns) => !isLoopback(ns) && isIP(ns) === 4,
  );
  return usable.length > 0 ? usable : FALLBACK_NAMESERVERS;
}

export function renderResolvConf(hostResolvConf: string, dns: DnsConfig = {}): string {
  const host = parseResolvConf(hostResolvConf);
  const usable = host.nameservers.filter((ns) => !isLoopback(ns) && isIP(ns) === 4);
  const nameservers =
    dns.nameservers !== undefined && dns.nameservers.length > 0
      ? dns.nameservers
      : usable.length > 0
        ? usable
        : FALLBACK_NAMESERVERS;
  const search = dns.search ?? host.search;
  const options = dns.options ?? host.options;
  const lines = [
    ...(search.length > 0 ? [`search ${search.join(' ')}`] : []),
    ...nameservers.map((ns) => `nameserver ${ns}`),
    ...(options.length > 0 ? [`options ${options.join(' ')}`] : []),
  ];
  return `${lines.join('\n')}\n`;
}
