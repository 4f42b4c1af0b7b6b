// Published ports on a node: the routing mesh ("ingress" mode, any node forwards to every task of
// the service) and host-mode ports (to the local task only), rendered as one nftables table that is
// replaced atomically on every change.
import { isIPv4 } from 'node:net';
import { z } from 'zod';
import { invalidArgument } from '../api/errors.js';
import { PORTS_TABLE } from './names.js';
import { nftApply, nftDeleteTable } from './shell.js';

const protocolSchema = z.enum(['tcp', 'udp']);
const portSchema = z.number().int().min(1).max(65535);
const backendSchema = z.object({
  ip: z.string().refine(isIPv4, 'backend ip must be an IPv4 address'),
  port: portSchema,
});

/**
 * What the node must forward. An ingress backend is any address the node can route to: local
 * tasks on the gateway bridge today, tasks on other nodes over the ingress overlay later.
 */
export const portStateSchema = z.object({
  ingress: z
    .array(
      z.object({
        protocol: protocolSchema,
        publishedPort: portSchema,
        backends: z.array(backendSchema),
        /** Keep the client's address (no masquerade): the backends are then this node's tasks only. */
        keepSource: z.boolean().default(false),
      }),
    )
    .default([]),
  host: z
    .array(z.object({ protocol: protocolSchema, publishedPort: portSchema, backend: backendSchema }))
    .default([]),
});
export type PortState = z.input<typeof portStateSchema>;
type Protocol = z.infer<typeof protocolSchema>;
type Backend = z.infer<typeof backendSchema>;

function dnatRule(protocol: Protocol, backends: readonly Backend[]): string {
  const [only] = backends;
  if (backends.length === 1 && only !== undefined) {
    return `meta l4proto ${protocol} dnat ip to ${only.ip}:${only.port}`;
  }
  // numgen inc spreads new connections evenly (measured 50/50); random drifted 56/44 on 100.
  const entries = backends.map((b, i) => `${i} : ${b.ip} . ${b.port}`).join(', ');
  return `meta l4proto ${protocol} dnat ip to numgen inc mod ${backends.length} map { ${entries} }`;
}

function setBlock(name: string, ports: readonly number[]): string[] {
  const elements = ports.length > 0 ? [`    elements = { ${ports.join(', ')} }`] : [];
  return [`  set ${name} {`, '    type inet_service', ...elements, '  }'];
}

/**
 * The whole `table ip skt_ports`, preceded by add + delete so that `nft -f` swaps the old table for
 * the new one in a single transaction: packets see either the old rules or the new, never a mix.
 *
 * - prerouting (traffic from outside) and output (traffic from the node itself, e.g. `curl
 *   localhost:8080`) send packets whose destination is one of the node's own addresses through a
 *   verdict map keyed by protocol . port, to one chain per published port that DNATs.
 * - postrouting masquerades routing-mesh connections, so replies return through this node's
 *   conntrack even when the backend sits on another node; host-mode connections keep the client's
 *   address, except from 127.0.0.0/8, which cannot leave the node.
 * - An ingress port with no backends is left out of the map: the node's own stack then refuses
 *   the connection instead of it hanging.
 */
export function renderPortRules(input: PortState): string {
  const parsed = portStateSchema.safeParse(input);
  if (!parsed.success) throw invalidArgument(`invalid published ports: ${parsed.error.issues[0]?.message}`);
  const state = parsed.data;
  const seen = new Set<string>();
  const all = [...state.ingress, ...state.host];
  for (const p of all) {
    const key = `${p.protocol}/${p.publishedPort}`;
    if (seen.has(key)) throw invalidArgument(`port ${p.publishedPort}/${p.protocol} is published twice`);
    seen.add(key);
  }

  const chains: string[] = [];
  const mapElements: string[] = [];
  for (const p of state.ingress) {
    if (p.backends.length === 0) continue;
    const chain = `ingress_${p.protocol}_${p.publishedPort}`;
    chains.push(`  chain ${chain} {`, `    ${dnatRule(p.protocol, p.backends)}`, '  }');
    mapElements.push(`${p.protocol} . ${p.publishedPort} : jump ${chain}`);
  }
  for (const p of state.host) {
    const chain = `host_${p.protocol}_${p.publishedPort}`;
    chains.push(`  chain ${chain} {`, `    ${dnatRule(p.protocol, [p.backend])}`, '  }');
    mapElements.push(`${p.protocol} . ${p.publishedPort} : jump ${chain}`);
  }
  const ports = (list: readonly { protocol: Protocol; publishedPort: number }[], protocol: Protocol) =>
    list.filter((p) => p.protocol === protocol).map((p) => p.publishedPort);
  // Ports that keep the client's address are masqueraded like host-mode ones: only from loopback.
  const meshed = state.ingress.filter((p) => !p.keepSource);
  const direct = [...state.host, ...state.ingress.filter((p) => p.keepSource)];

  const lines = [
    `table ip ${PORTS_TABLE}`,
    `delete table ip ${PORTS_TABLE}`,
    `table ip ${PORTS_TABLE} {`,
    ...setBlock('ingress_tcp', ports(meshed, 'tcp')),
    ...setBlock('ingress_udp', ports(meshed, 'udp')),
    ...setBlock('host_tcp', ports(direct, 'tcp')),
    ...setBlock('host_udp', ports(direct, 'udp')),
    '  map published {',
    '    type inet_proto . inet_service : verdict',
    ...(mapElements.length > 0 ? [`    elements = { ${mapElements.join(', ')} }`] : []),
    '  }',
    ...chains,
    '  chain prerouting {',
    '    type nat hook prerouting priority -100; policy accept;',
    '    fib daddr type local meta l4proto . th dport vmap @published',
    '  }',
    // nft 1.0.6 rejects `priority dstnat` on the output hook: the number is written out.
    '  chain output {',
    '    type nat hook output priority -100; policy accept;',
    '    fib daddr type local meta l4proto . th dport vmap @published',
    '  }',
    '  chain postrouting {',
    '    type nat hook postrouting priority 100; policy accept;',
    '    ct status dnat meta l4proto tcp ct original proto-dst @ingress_tcp masquerade',
    '    ct status dnat meta l4proto udp ct original proto-dst @ingress_udp masquerade',
    '    ct status dnat ip saddr 127.0.0.0/8 meta l4proto tcp ct original proto-dst @host_tcp masquerade',
    '    ct status dnat ip saddr 127.0.0.0/8 meta l4proto udp ct original proto-dst @host_udp masquerade',
    '  }',
    '}',
    '',
  ];
  return lines.join('\n');
}

/** Replaces the node's published-port rules in `netns` (the process's own netns when absent). */
export async function applyPortRules(state: PortState, opts: { netns?: string } = {}): Promise<void> {
  await nftApply(renderPortRules(state), opts.netns);
}

export async function removePortRules(opts: { netns?: string } = {}): Promise<void> {
  await nftDeleteTable('ip', PORTS_TABLE, opts.netns);
}
