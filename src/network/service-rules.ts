// A swarm task's service discovery rules, in its own netns (research/runtime.md §5, §7): its
// 127.0.0.11:53 goes to the node's embedded DNS on the gateway bridge (the source rewritten to the
// task's gateway address, so the DNS knows who asks), and each VIP of the services on its networks
// is DNATed to that service's running tasks in turn (`numgen inc`), wherever they run. One table,
// replaced in one `nft -f` transaction on every change, so a connection never sees half a change.
import type { NetworkView } from '../agent/session.js';
import { nftApply } from './shell.js';

export const SERVICE_TABLE = 'skt_svc';

export interface TaskServiceRules {
  /** The node's embedded DNS address (its gateway bridge address). */
  dnsAddr: string;
  /** The task's address on the gateway bridge (eth0). */
  taskAddr: string;
  /** VIP → the addresses of the service's running tasks on that network. */
  vips: { vip: string; backends: string[] }[];
}

/** The VIPs a task sees: those of the services on its networks, each with its running tasks. */
export function vipsOf(views: readonly NetworkView[]): TaskServiceRules['vips'] {
  const out = new Map<string, string[]>();
  for (const view of views)
    for (const s of view.services)
      if (s.vip)
        out.set(
          s.vip,
          s.tasks.map((t) => t.ip),
        );
  return [...out.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([vip, backends]) => ({ vip, backends }));
}

/** The whole table as one script (pure): created or replaced atomically. */
export function renderTaskServiceRules(r: TaskServiceRules): string {
  const balanced = r.vips.filter((v) => v.backends.length > 0);
  const chains = balanced.map((v, i) => {
    const map = v.backends.map((ip, k) => `${k} : ${ip}`).join(', ');
    return `  chain vip_${i} {\n    dnat to numgen inc mod ${v.backends.length} map { ${map} }\n  }`;
  });
  const jumps = balanced.map((v, i) => `    ip daddr ${v.vip} jump vip_${i}`);
  return [
    `table ip ${SERVICE_TABLE}`,
    `delete table ip ${SERVICE_TABLE}`,
    `table ip ${SERVICE_TABLE} {`,
    ...chains,
    '  chain out {',
    '    type nat hook output priority -100; policy accept;',
    `    ip daddr 127.0.0.11 udp dport 53 dnat to ${r.dnsAddr}:53`,
    `    ip daddr 127.0.0.11 tcp dport 53 dnat to ${r.dnsAddr}:53`,
    ...jumps,
    '  }',
    '  chain post {',
    '    type nat hook postrouting priority 100; policy accept;',
    `    ip saddr 127.0.0.0/8 ip daddr ${r.dnsAddr} snat to ${r.taskAddr}`,
    '  }',
    '}',
    '',
  ].join('\n');
}

/**
 * Lets the task's 127.0.0.11 queries leave lo once DNATed to the node's DNS; set in the task's
 * netns by the runtime as the container starts (one process fewer per task than a sysctl run here).
 */
export const TASK_DNS_SYSCTL = 'net.ipv4.conf.eth0.route_localnet';

/** Installs (or replaces) the rules in a task's netns. */
export async function applyTaskServiceRules(netns: string, r: TaskServiceRules): Promise<void> {
  await nftApply(renderTaskServiceRules(r), netns);
}
