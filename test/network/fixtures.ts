// Builders of Service and Task objects for the published-port tests, validated by the API schemas.
import type { PortConfig, Service, Task, TaskState } from '../../src/api/types.js';
import { ServiceSchema, TaskSchema } from '../../src/api/types.js';

const T0 = '2024-01-01T00:00:00.000000000Z';

export function service(id: string, ports: PortConfig[]): Service {
  return ServiceSchema.parse({
    ID: id,
    Version: { Index: 1 },
    CreatedAt: T0,
    UpdatedAt: T0,
    Spec: { Name: `svc-${id}`, EndpointSpec: { Ports: ports } },
    Endpoint: { Ports: ports },
  });
}

export function task(
  id: string,
  serviceId: string,
  opts: {
    state?: TaskState;
    desired?: TaskState;
    ports?: PortConfig[];
    at?: string;
    containerId?: string;
  } = {},
): Task {
  return TaskSchema.parse({
    ID: id,
    Version: { Index: 1 },
    CreatedAt: T0,
    UpdatedAt: T0,
    Spec: { ContainerSpec: { Image: 'busybox' } },
    ServiceID: serviceId,
    Status: {
      Timestamp: opts.at ?? T0,
      State: opts.state ?? 'running',
      ...(opts.containerId ? { ContainerStatus: { ContainerID: opts.containerId } } : {}),
    },
    DesiredState: opts.desired ?? 'running',
    ...(opts.ports ? { Endpoint: { Ports: opts.ports } } : {}),
  });
}

export function ingressPort(
  publishedPort: number,
  targetPort: number,
  protocol: 'tcp' | 'udp' = 'tcp',
): PortConfig {
  return { Protocol: protocol, PublishedPort: publishedPort, TargetPort: targetPort, PublishMode: 'ingress' };
}

export function hostPort(
  publishedPort: number,
  targetPort: number,
  protocol: 'tcp' | 'udp' = 'tcp',
): PortConfig {
  return { Protocol: protocol, PublishedPort: publishedPort, TargetPort: targetPort, PublishMode: 'host' };
}
