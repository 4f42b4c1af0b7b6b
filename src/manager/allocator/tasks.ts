// The allocator's task step (NEW → PENDING): a task moves on once its service's published ports and
// virtual IPs are allocated, carrying the service's Endpoint and its own addresses on the networks.
import type { Network, Service, Task } from '../../api/types.js';
import { taskStateIndex } from '../../api/types.js';
import type { TaskUpdate } from '../orchestrator/plan.js';
import { taskAttachments, virtualIPsAllocated } from './addresses.js';

const COMPLETE = taskStateIndex('complete');

/** Whether the service's endpoint is allocated: every requested port has its Endpoint entry. */
export function isEndpointAllocated(service: Service): boolean {
  const requested = service.Spec.EndpointSpec?.Ports ?? [];
  return requested.length === 0 || (service.Endpoint?.Ports?.length ?? 0) === requested.length;
}

/**
 * Updates moving allocatable NEW tasks to PENDING ("pending task scheduling"). Tasks of services
 * whose ports are not allocated yet wait. The network allocator, when a service uses networks, must
 * add the task's NetworksAttachments to the same update before the task may become PENDING.
 */
export function allocateTasks(
  tasks: readonly Task[],
  services: ReadonlyMap<string, Service>,
  now: number,
  net: { networks: ReadonlyMap<string, Network>; used: Map<string, Set<string>> } = {
    networks: new Map(),
    used: new Map(),
  },
): TaskUpdate[] {
  const at = new Date(now).toISOString();
  const out: TaskUpdate[] = [];
  for (const t of tasks) {
    if (t.Status.State !== 'new' || taskStateIndex(t.DesiredState) > COMPLETE) continue;
    const service = services.get(t.ServiceID);
    if (!service || !isEndpointAllocated(service) || !virtualIPsAllocated(service, net.networks)) continue;
    // A task keeps the addresses it was given (a pass that failed to write may run again).
    const attachments = t.NetworksAttachments ?? taskAttachments(service, net.networks, net.used);
    if (!attachments) continue; // a network is full: the task waits, as SwarmKit's does
    out.push({
      ID: t.ID,
      Status: { Timestamp: at, State: 'pending', Message: 'pending task scheduling' },
      Endpoint: {
        Spec: service.Spec.EndpointSpec,
        Ports: service.Endpoint?.Ports,
        VirtualIPs: service.Endpoint?.VirtualIPs,
      },
      ...(attachments.length > 0 ? { NetworksAttachments: attachments } : {}),
    });
  }
  return out;
}
