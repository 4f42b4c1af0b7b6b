// Swarm-scoped routes: /swarm*, /nodes, /services, /tasks. Thin: parse the request, call the
// control API of this manager (503 when this node is not one), write Docker's response.
import type { IncomingMessage } from 'node:http';
import { withRuntime } from '../api/defaults.js';
import { invalidArgument } from '../api/errors.js';
import type { Cluster, ContainerSpec, Network, Node, Service, ServiceSpec, Task } from '../api/types.js';
import { parseVersionParam } from '../api/validate.js';
import { decodeRegistryAuth, encodeRegistryAuth } from '../executor/images/registry.js';
import type { ClusterApi } from '../manager/controlapi/cluster.js';
import type { NetworkApi } from '../manager/controlapi/networks.js';
import type { NodeApi } from '../manager/controlapi/nodes.js';
import type { PayloadApi } from '../manager/controlapi/payloads.js';
import type { RegistryAuthFrom, ServiceApi } from '../manager/controlapi/services.js';
import type { TaskApi } from '../manager/controlapi/tasks.js';
import { boolParam, intParam, parseFilters, type Route, sendJSON } from './router.js';

export interface ControlApis {
  cluster: ClusterApi;
  nodes: NodeApi;
  networks: NetworkApi;
  secrets: PayloadApi;
  configs: PayloadApi;
  services: ServiceApi;
  tasks: TaskApi;
  /** Node is ready (for ServiceStatus.RunningTasks). */
  nodeIsUp(nodeId: string): boolean;
}

export interface ClusterBackend {
  /** The control API, or a 503 SwarmError with Docker's wording when this node is not a manager. */
  control(): ControlApis;
  init(body: unknown): Promise<string>;
  join(body: unknown): Promise<void>;
  leave(force: boolean): Promise<void>;
  /** POST /swarm/unlock: a locked manager given its unlock key. */
  unlock(body: unknown): Promise<void>;
}

/** A node as Docker's API shows it: its ingress address (the mesh's, ours) stays home. */
function publicNode(n: Node): Omit<Node, 'IngressAddress'> {
  const { IngressAddress: _addr, ...rest } = n;
  return rest;
}

/** The cluster object as Docker's API shows it: our sealed unlock key stays home. */
export function publicCluster(c: Cluster, issuedAt = false): Omit<Cluster, 'UnlockKeySealed'> {
  const { UnlockKeySealed: _key, JoinTokensIssuedAt, ...rest } = c;
  // Ours (join tokens that expire): only for a client that asks, Docker's shape otherwise.
  return issuedAt && JoinTokensIssuedAt ? { ...rest, JoinTokensIssuedAt } : rest;
}

function sendEmpty(res: import('node:http').ServerResponse, status = 200): void {
  res.writeHead(status, { 'Content-Length': 0 });
  res.end();
}

/** Drops fields that are ours only, and the registry credentials, before a service goes on the wire. */
function publicService(s: Service): Omit<Service, 'SpecVersion'> {
  const { SpecVersion: _sv, ...rest } = s;
  const out: Omit<Service, 'SpecVersion'> = { ...rest, Spec: withRuntime(withoutPullOptions(s.Spec)) };
  if (s.PreviousSpec) out.PreviousSpec = withRuntime(withoutPullOptions(s.PreviousSpec));
  return out;
}

/** The networks by ID, for the tasks' attachments (a network removed meanwhile is undefined). */
function networkLookup(backend: ClusterBackend): (id: string) => Network | undefined {
  const api = backend.control().networks;
  return (id) => {
    try {
      return api.get(id);
    } catch {
      return undefined;
    }
  };
}

/**
 * A task as Docker's API shows it: no Endpoint (SwarmKit's, not the API's), Labels and
 * Status.PortStatus always there, each attached network as the whole network object.
 */
function publicTask(t: Task, networkOf: (id: string) => Network | undefined) {
  const { SpecVersion: _sv, ServiceAnnotations: _sa, Name: _n, Endpoint: _e, Slot, ...rest } = t;
  return {
    ...rest,
    // Go's omitempty: a global task has no slot.
    ...(Slot ? { Slot } : {}),
    Labels: t.Labels ?? {},
    Spec: { ...t.Spec, ...containerWithoutPullOptions(t.Spec.ContainerSpec) },
    Status: { ...t.Status, PortStatus: t.Status.PortStatus ?? {} },
    ...(t.NetworksAttachments
      ? {
          NetworksAttachments: t.NetworksAttachments.map((a) => {
            const n = networkOf(a.Network.ID);
            return {
              ...a,
              Network: {
                ID: a.Network.ID,
                Version: n?.Version ?? { Index: 0 },
                CreatedAt: n?.CreatedAt ?? '',
                UpdatedAt: n?.UpdatedAt ?? '',
                Spec: {
                  ...a.Network.Spec,
                  DriverConfiguration: { Name: a.Network.DriverState.Name },
                  Scope: 'swarm',
                },
                DriverState: a.Network.DriverState,
                IPAMOptions: a.Network.IPAMOptions,
              },
            };
          }),
        }
      : {}),
  };
}

function withoutPullOptions(spec: ServiceSpec): ServiceSpec {
  const template = spec.TaskTemplate;
  return { ...spec, TaskTemplate: { ...template, ...containerWithoutPullOptions(template.ContainerSpec) } };
}

/** The Engine API never returns registry credentials (Docker's types have no field for them). */
function containerWithoutPullOptions(cs: ContainerSpec | undefined): { ContainerSpec?: ContainerSpec } {
  if (!cs) return {};
  const { PullOptions: _po, ...rest } = cs;
  return { ContainerSpec: rest };
}

/** X-Registry-Auth, checked (400 when malformed) and re-encoded; undefined when absent, empty or '{}'. */
function registryAuthHeader(req: IncomingMessage): string | undefined {
  const header = req.headers['x-registry-auth'];
  const auth = decodeRegistryAuth(Array.isArray(header) ? header[0] : header);
  return auth ? encodeRegistryAuth(auth) : undefined;
}

function registryAuthFromParam(query: URLSearchParams): RegistryAuthFrom {
  const from = query.get('registryAuthFrom') || 'spec';
  if (from !== 'spec' && from !== 'previous-spec')
    throw invalidArgument('unsupported registryAuthFrom value');
  return from;
}

export function clusterRoutes(backend: ClusterBackend): Route[] {
  return [
    // ---- swarm ----
    {
      method: 'POST',
      path: '/swarm/init',
      handler: async ({ res, json }) => sendJSON(res, 200, await backend.init(await json())),
    },
    {
      method: 'POST',
      path: '/swarm/join',
      handler: async ({ res, json }) => {
        await backend.join(await json());
        sendEmpty(res);
      },
    },
    {
      method: 'POST',
      path: '/swarm/leave',
      handler: async ({ res, query }) => {
        await backend.leave(boolParam(query, 'force'));
        sendEmpty(res);
      },
    },
    {
      method: 'GET',
      path: '/swarm',
      handler: ({ res, query }) =>
        sendJSON(
          res,
          200,
          publicCluster(backend.control().cluster.get(), boolParam(query, 'joinTokensIssuedAt')),
        ),
    },
    {
      method: 'GET',
      path: '/swarm/unlockkey',
      handler: ({ res }) => sendJSON(res, 200, { UnlockKey: backend.control().cluster.unlockKey() }),
    },
    {
      method: 'POST',
      path: '/swarm/unlock',
      handler: async ({ res, json }) => {
        await backend.unlock(await json());
        sendEmpty(res);
      },
    },
    {
      method: 'POST',
      path: '/swarm/update',
      handler: async ({ res, query, json }) => {
        const api = backend.control();
        const version = parseVersionParam('swarm', query.get('version'));
        await api.cluster.update(version, await json(), {
          rotateWorkerToken: boolParam(query, 'rotateWorkerToken'),
          rotateManagerToken: boolParam(query, 'rotateManagerToken'),
          rotateManagerUnlockKey: boolParam(query, 'rotateManagerUnlockKey'),
          joinTokenTTL: intParam(query, 'joinTokenTTL'),
        });
        sendEmpty(res);
      },
    },
    // ---- nodes ----
    {
      method: 'GET',
      path: '/nodes',
      handler: ({ res, query }) =>
        sendJSON(res, 200, backend.control().nodes.list(parseFilters(query)).map(publicNode)),
    },
    {
      method: 'GET',
      path: '/nodes/:id',
      handler: ({ res, params }) =>
        sendJSON(res, 200, publicNode(backend.control().nodes.get(params.id ?? ''))),
    },
    {
      method: 'POST',
      path: '/nodes/:id/update',
      handler: async ({ res, params, query, json }) => {
        const api = backend.control();
        const version = parseVersionParam('node', query.get('version'));
        await api.nodes.update(params.id ?? '', version, await json());
        sendEmpty(res);
      },
    },
    {
      method: 'DELETE',
      path: '/nodes/:id',
      handler: async ({ res, params, query }) => {
        const api = backend.control();
        await api.nodes.remove(params.id ?? '', boolParam(query, 'force'));
        sendEmpty(res);
      },
    },
    // ---- services ----
    {
      method: 'GET',
      path: '/services',
      handler: ({ res, query }) => {
        const api = backend.control();
        const withStatus = boolParam(query, 'status');
        const list = api.services.list(parseFilters(query)).map((s) => {
          const out = publicService(s);
          return withStatus ? { ...out, ServiceStatus: api.services.status(s, api.nodeIsUp) } : out;
        });
        sendJSON(res, 200, list);
      },
    },
    {
      method: 'POST',
      path: '/services/create',
      handler: async ({ req, res, json }) => {
        const api = backend.control();
        const registryAuth = registryAuthHeader(req);
        const s = await api.services.create(await json(), registryAuth);
        sendJSON(res, 201, { ID: s.ID });
      },
    },
    {
      method: 'GET',
      path: '/services/:id',
      handler: ({ res, params, query }) =>
        sendJSON(
          res,
          200,
          publicService(backend.control().services.get(params.id ?? '', boolParam(query, 'insertDefaults'))),
        ),
    },
    {
      method: 'POST',
      path: '/services/:id/update',
      handler: async ({ req, res, params, query, json }) => {
        const api = backend.control();
        const version = parseVersionParam('service', query.get('version'));
        const registryAuth = registryAuthHeader(req);
        const body = await json();
        await api.services.update(params.id ?? '', version, body, {
          rollback: query.get('rollback') === 'previous',
          registryAuthFrom: registryAuthFromParam(query),
          ...(registryAuth ? { registryAuth } : {}),
        });
        sendJSON(res, 200, { Warnings: null });
      },
    },
    {
      method: 'DELETE',
      path: '/services/:id',
      handler: async ({ res, params }) => {
        const api = backend.control();
        await api.services.remove(params.id ?? '');
        sendEmpty(res);
      },
    },
    // ---- tasks ----
    {
      method: 'GET',
      path: '/tasks',
      handler: ({ res, query }) =>
        sendJSON(
          res,
          200,
          backend
            .control()
            .tasks.list(parseFilters(query))
            .map((t) => publicTask(t, networkLookup(backend))),
        ),
    },
    {
      method: 'GET',
      path: '/tasks/:id',
      handler: ({ res, params }) =>
        sendJSON(res, 200, publicTask(backend.control().tasks.get(params.id ?? ''), networkLookup(backend))),
    },
  ];
}
