// Published-port allocation for a service's endpoint (SwarmKit's port allocator, pure): conflicts with
// other services' ports are refused with Docker's wording; ingress ports without a published port get
// one from the dynamic range 30000–32767. Host-mode ports are not reserved cluster-wide (the
// scheduler's host-port filter keeps them apart per node).
import { invalidArgument, type SwarmError } from '../../api/errors.js';
import type { PortConfig, Service, ServiceSpec } from '../../api/types.js';

export const DYNAMIC_PORT_START = 30000;
export const DYNAMIC_PORT_END = 32767;

export type PortAllocation = { ports: PortConfig[] } | { error: SwarmError };

type Protocol = NonNullable<PortConfig['Protocol']>;

function protocolOf(p: PortConfig): Protocol {
  return p.Protocol ?? 'tcp';
}
function modeOf(p: PortConfig): 'ingress' | 'host' {
  return p.PublishMode ?? 'ingress';
}
function key(protocol: Protocol, port: number): string {
  return `${protocol}/${port}`;
}

/** The spec's own published ports must be distinct per protocol ("EndpointSpec: duplicate published ports provided"). */
export function checkDuplicatePorts(spec: ServiceSpec): SwarmError | undefined {
  const seen = new Set<string>();
  for (const p of spec.EndpointSpec?.Ports ?? []) {
    const published = p.PublishedPort ?? 0;
    if (published === 0) continue;
    const k = key(protocolOf(p), published);
    if (seen.has(k)) return invalidArgument('EndpointSpec: duplicate published ports provided');
    seen.add(k);
  }
  return undefined;
}

/**
 * SwarmKit's control-API conflict check: a fixed published port of `spec` may not be used by another
 * service as an ingress port, and an ingress port may not be a port another service publishes in host
 * mode. `serviceId` is the service being updated (its own ports never conflict), or undefined on create.
 */
export function checkPortConflicts(
  spec: ServiceSpec,
  serviceId: string | undefined,
  services: readonly Service[],
): SwarmError | undefined {
  const ingress = new Set<string>();
  const host = new Set<string>();
  for (const p of spec.EndpointSpec?.Ports ?? []) {
    const published = p.PublishedPort ?? 0;
    if (published === 0) continue;
    (modeOf(p) === 'ingress' ? ingress : host).add(key(protocolOf(p), published));
  }
  if (ingress.size === 0 && host.size === 0) return undefined;
  for (const other of services) {
    if (other.ID === serviceId) continue;
    const name = other.Spec.Name ?? '';
    for (const p of [...(other.Spec.EndpointSpec?.Ports ?? []), ...(other.Endpoint?.Ports ?? [])]) {
      const published = p.PublishedPort ?? 0;
      if (published === 0) continue;
      const k = key(protocolOf(p), published);
      if (modeOf(p) === 'host' && ingress.has(k)) {
        return invalidArgument(
          `port '${published}' is already in use by service '${name}' (${other.ID}) as a host-published port`,
        );
      }
      if (modeOf(p) === 'ingress' && (ingress.has(k) || host.has(k))) {
        return invalidArgument(
          `port '${published}' is already in use by service '${name}' (${other.ID}) as an ingress port`,
        );
      }
    }
  }
  return undefined;
}

/**
 * The service's Endpoint.Ports for its current spec. Fixed ports are checked against the other
 * services; ingress ports without a published port keep the dynamic port they had (same name,
 * protocol and target port) or get the lowest free one in 30000–32767.
 */
export function allocatePorts(service: Service, services: readonly Service[]): PortAllocation {
  const duplicate = checkDuplicatePorts(service.Spec);
  if (duplicate) return { error: duplicate };
  const conflict = checkPortConflicts(service.Spec, service.ID, services);
  if (conflict) return { error: conflict };

  const inUse = new Set<string>();
  for (const other of services) {
    if (other.ID === service.ID) continue;
    for (const p of other.Endpoint?.Ports ?? []) {
      if (modeOf(p) === 'ingress' && (p.PublishedPort ?? 0) !== 0)
        inUse.add(key(protocolOf(p), p.PublishedPort!));
    }
  }
  const requested = service.Spec.EndpointSpec?.Ports ?? [];
  for (const p of requested) {
    if (modeOf(p) === 'ingress' && (p.PublishedPort ?? 0) !== 0)
      inUse.add(key(protocolOf(p), p.PublishedPort!));
  }

  const previous = service.Endpoint?.Ports ?? [];
  const ports: PortConfig[] = [];
  for (const p of requested) {
    const port: PortConfig = { ...p, Protocol: protocolOf(p), PublishMode: modeOf(p) };
    if (port.PublishMode === 'ingress' && (p.PublishedPort ?? 0) === 0) {
      const kept = previous.find(
        (q) =>
          modeOf(q) === 'ingress' &&
          protocolOf(q) === port.Protocol &&
          q.TargetPort === p.TargetPort &&
          q.Name === p.Name &&
          (q.PublishedPort ?? 0) !== 0 &&
          !inUse.has(key(port.Protocol!, q.PublishedPort!)),
      );
      const published = kept?.PublishedPort ?? freeDynamicPort(port.Protocol!, inUse);
      if (published === undefined) {
        return {
          error: invalidArgument(
            `no free port in the dynamic range ${DYNAMIC_PORT_START}-${DYNAMIC_PORT_END}`,
          ),
        };
      }
      inUse.add(key(port.Protocol!, published));
      port.PublishedPort = published;
    }
    ports.push(port);
  }
  return { ports };
}

function freeDynamicPort(protocol: Protocol, inUse: Set<string>): number | undefined {
  for (let port = DYNAMIC_PORT_START; port <= DYNAMIC_PORT_END; port++) {
    if (!inUse.has(key(protocol, port))) return port;
  }
  return undefined;
}
