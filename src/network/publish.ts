// What a node must forward for published ports (pure): the services' allocated Endpoint.Ports and
// the tasks that can serve them, turned into the PortState that ports.ts renders as nftables rules.
import { isIPv4 } from 'node:net';
import type { NetworkView } from '../agent/session.js';
import { type PortConfig, type Service, type Task, taskStateIndex } from '../api/types.js';
import type { PortState } from './ports.js';

/** A task and the address this node reaches it at (gateway bridge today, ingress overlay later). */
export interface TaskAddress {
  task: Task;
  ip: string;
}

type Protocol = 'tcp' | 'udp';
type Backend = { ip: string; port: number };
interface IngressPort {
  protocol: Protocol;
  publishedPort: number;
  backends: Backend[];
  keepSource?: true;
}

/**
 * Beyond Docker (moby#25526): a service with this label set to "true" keeps its clients' addresses
 * on its mesh ports. Each node then forwards such a port to its own running tasks only, without
 * rewriting the source; a node without one refuses the connection (point the load balancer at the
 * nodes that run tasks), as Kubernetes' `externalTrafficPolicy: Local` does.
 */
export const KEEP_SOURCE_LABEL = 'swarmkit-ts.publish.keep-source-ip';

export function keepsSource(service: Pick<Service, 'Spec'>): boolean {
  return service.Spec?.Labels?.[KEEP_SOURCE_LABEL] === 'true';
}
interface HostPort {
  protocol: Protocol;
  publishedPort: number;
  backend: Backend;
}

/**
 * A task serves traffic only while it runs and is meant to keep running (desired RUNNING, or COMPLETE
 * for a job): a task told to stop is drained at once, before its container is even signalled, so no
 * new connection reaches a task that is stopping (its grace period can be long).
 */
export function isServing(task: Pick<Task, 'Status' | 'DesiredState'>): boolean {
  return task.Status.State === 'running' && taskStateIndex(task.DesiredState) <= taskStateIndex('complete');
}

/** sctp is not rendered by the datapath (IPv4 tcp/udp only); such ports are left out. */
function protocolOf(p: PortConfig): Protocol | undefined {
  const protocol = p.Protocol ?? 'tcp';
  return protocol === 'sctp' ? undefined : protocol;
}

function usablePort(n: number | undefined): n is number {
  return n !== undefined && n >= 1 && n <= 65535;
}

function byIpThenPort(a: Backend, b: Backend): number {
  const pa = a.ip.split('.').map(Number);
  const pb = b.ip.split('.').map(Number);
  for (let i = 0; i < 4; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return a.port - b.port;
}

function byProtocolThenPort(a: { protocol: Protocol; publishedPort: number }, b: typeof a): number {
  return a.protocol === b.protocol ? a.publishedPort - b.publishedPort : a.protocol < b.protocol ? -1 : 1;
}

/** Newest status first, then task ID, so the choice does not depend on input order. */
function newerFirst(a: TaskAddress, b: TaskAddress): number {
  if (a.task.Status.Timestamp !== b.task.Status.Timestamp) {
    return a.task.Status.Timestamp > b.task.Status.Timestamp ? -1 : 1;
  }
  return a.task.ID < b.task.ID ? -1 : a.task.ID > b.task.ID ? 1 : 0;
}

/**
 * The node's published-port state.
 *
 * - Ingress (routing mesh): every allocated ingress port of a service forwards to all of that
 *   service's serving tasks — local ones and `remote` ones (other nodes' tasks reachable over the
 *   ingress overlay) — at the service's TargetPort. A port whose service has no serving task is kept
 *   with no backends: the node then refuses connections rather than leaving them hanging.
 * - Host mode: each serving local task binds its own fixed host-mode ports (from the task's Endpoint,
 *   which it carries from the spec it was created with, so a worker needs no service object for it)
 *   to its TargetPort. Dynamic host ports
 *   (PublishedPort 0) are not published here. Remote tasks never contribute host ports.
 *
 * The result is canonical (sorted, deduplicated), so equal inputs in any order give equal states.
 * Conflicts the manager should have refused are settled deterministically instead of failing the
 * whole node's datapath: the first service by ID keeps an ingress port, an ingress port wins over a
 * host port, and among tasks claiming one host port the most recently updated one keeps it.
 */
export function portStateFor(
  services: readonly Service[],
  localTasks: readonly TaskAddress[],
  remoteTasks: readonly TaskAddress[] = [],
): PortState {
  const serving = (list: readonly TaskAddress[]) => list.filter((t) => isIPv4(t.ip) && isServing(t.task));
  const local = serving(localTasks);
  const everywhere = [...local, ...serving(remoteTasks)];

  const ingress = new Map<string, IngressPort>();
  for (const service of [...services].sort((a, b) => (a.ID < b.ID ? -1 : a.ID > b.ID ? 1 : 0))) {
    for (const p of service.Endpoint?.Ports ?? []) {
      const protocol = protocolOf(p);
      if ((p.PublishMode ?? 'ingress') !== 'ingress' || protocol === undefined) continue;
      if (!usablePort(p.PublishedPort) || !usablePort(p.TargetPort)) continue;
      const key = `${protocol}/${p.PublishedPort}`;
      if (ingress.has(key)) continue;
      const targetPort = p.TargetPort;
      const keepSource = keepsSource(service);
      const backends = new Map<string, Backend>();
      for (const t of keepSource ? local : everywhere) {
        if (t.task.ServiceID === service.ID)
          backends.set(`${t.ip}:${targetPort}`, { ip: t.ip, port: targetPort });
      }
      ingress.set(key, {
        protocol,
        publishedPort: p.PublishedPort,
        backends: [...backends.values()].sort(byIpThenPort),
        ...(keepSource ? { keepSource: true as const } : {}),
      });
    }
  }

  const host = new Map<string, HostPort>();
  for (const t of [...local].sort(newerFirst)) {
    for (const p of t.task.Endpoint?.Ports ?? []) {
      const protocol = protocolOf(p);
      if (p.PublishMode !== 'host' || protocol === undefined) continue;
      if (!usablePort(p.PublishedPort) || !usablePort(p.TargetPort)) continue;
      const key = `${protocol}/${p.PublishedPort}`;
      if (ingress.has(key) || host.has(key)) continue;
      host.set(key, { protocol, publishedPort: p.PublishedPort, backend: { ip: t.ip, port: p.TargetPort } });
    }
  }

  return {
    ingress: [...ingress.values()].sort(byProtocolThenPort),
    host: [...host.values()].sort(byProtocolThenPort),
  };
}

/**
 * The routing mesh's inputs from the ingress network's view (pure): each service publishing through
 * the mesh, and its running tasks anywhere, at their ingress addresses. Tasks of this node are left
 * out (`localIps`: their ingress addresses): they are reached on the gateway bridge already. Only
 * the fields portStateFor reads are filled in.
 */
export function meshInputs(
  view: NetworkView,
  localIps: ReadonlySet<string>,
): { services: Service[]; remote: TaskAddress[] } {
  const services: Service[] = [];
  const remote: TaskAddress[] = [];
  for (const r of view.services) {
    if (!r.ports?.length) continue;
    const Ports = r.ports.map((p) => ({
      Protocol: p.protocol,
      PublishedPort: p.publishedPort,
      TargetPort: p.targetPort,
      PublishMode: 'ingress' as const,
    }));
    const Labels = r.ports.some((p) => p.keepSource) ? { [KEEP_SOURCE_LABEL]: 'true' } : {};
    services.push({ ID: r.id, Spec: { Labels }, Endpoint: { Ports } } as unknown as Service);
    for (const t of r.tasks) {
      if (localIps.has(t.ip)) continue;
      const task = {
        ID: t.name,
        ServiceID: r.id,
        DesiredState: 'running',
        Status: { State: 'running', Timestamp: '' },
      } as unknown as Task;
      remote.push({ task, ip: t.ip });
    }
  }
  return { services, remote };
}
