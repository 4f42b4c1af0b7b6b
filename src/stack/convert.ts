// Turns a ComposeProject into the Engine API objects `docker stack deploy` creates for it: network
// create bodies, secret and config create bodies, and service specs, field for field as the docker
// CLI builds them (cli/compose/convert), in the field order it sends them. Pure: the only I/O is
// reading secret and config files through the readFile callback; IDs are left to the caller.
import { invalidArgument } from '../api/errors.js';
import type { Mount, PortConfig, ServiceSpec } from '../api/types.js';
import type { ComposeProject } from './compose.js';
import { ComposeError, issueAt } from './errors.js';
import type {
  ComposeFileObject,
  ComposeNetwork,
  ComposeService,
  ComposeUpdateConfig,
  DependencyCondition,
  FileReference,
  ServiceVolume,
} from './schema.js';

/** The label on everything a stack creates; its value is the stack name. */
export const STACK_NAMESPACE_LABEL = 'com.docker.stack.namespace';
/** The label on a stack's services holding the image as written in the compose file. */
export const STACK_IMAGE_LABEL = 'com.docker.stack.image';

/** `POST /networks/create` body as the docker CLI (20.10) sends it for a stack network. */
export interface NetworkCreateBody {
  CheckDuplicate: boolean;
  Driver: string;
  Scope: string;
  EnableIPv6: boolean;
  IPAM: {
    Driver: string;
    Config?: {
      Subnet?: string;
      IPRange?: string;
      Gateway?: string;
      AuxiliaryAddresses?: Record<string, string>;
    }[];
  } | null;
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigOnly: boolean;
  ConfigFrom: null;
  Options: Record<string, string> | null;
  Labels: Record<string, string>;
  Name: string;
}

/** `POST /secrets/create` or `/configs/create` body. */
export interface PayloadCreateBody {
  Name: string;
  Labels: Record<string, string>;
  /** The file's content, base64. */
  Data: string;
  Templating?: { Name: string };
}

export interface StackNetwork {
  /** The network's name in the cluster: STACK_key, or the `name:` given. */
  name: string;
  /** Not created by the stack: the caller checks that it exists. */
  external: boolean;
  create?: NetworkCreateBody;
}

export interface StackPayload {
  name: string;
  external: boolean;
  create?: PayloadCreateBody;
}

export interface StackService {
  /** STACK_service. */
  name: string;
  /** The `POST /services/create` body, with SecretName/ConfigName set and SecretID/ConfigID "" to fill. */
  spec: ServiceSpec;
  /** Services (full names) to wait for before creating this one, in the order written. */
  dependsOn: { service: string; condition: DependencyCondition }[];
}

export interface StackObjects {
  /** Everything the caller should print before deploying: the loader's warnings, then conversion's. */
  warnings: string[];
  /** Networks the services use (declared ones no service uses are not created, as in Docker), by name. */
  networks: StackNetwork[];
  /** Every declared secret (Docker creates unused ones too), by name. */
  secrets: StackPayload[];
  configs: StackPayload[];
  /** Dependencies before their dependents; otherwise by name. */
  services: StackService[];
}

/** A Go map as encoding/json writes it: keys sorted. */
function sortedRecord(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function withStackLabel(stack: string, labels: Record<string, string> | undefined): Record<string, string> {
  return sortedRecord({ ...labels, [STACK_NAMESPACE_LABEL]: stack });
}

const SERVICE_NAME = /^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$/;

function checkStackName(stack: string, project: ComposeProject): void {
  if (stack.replace(/^[\s"']+|[\s"']+$/g, '') === '')
    throw invalidArgument(`invalid stack name: ${JSON.stringify(stack)}`);
  for (const service of Object.keys(project.services)) {
    const name = `${stack}_${service}`;
    if (!SERVICE_NAME.test(name) || name.length > 63) {
      throw invalidArgument(
        `stack ${JSON.stringify(stack)} cannot hold service ${JSON.stringify(service)}: ` +
          `${JSON.stringify(name)} is not a valid service name (letters and digits, "-" or "_" between them, ` +
          `at most 63 characters); choose another stack name`,
      );
    }
  }
}

/**
 * The objects `docker stack deploy STACK` creates for `project`. `readFile` reads secret and config
 * files (paths as the project holds them: resolved against its workingDir).
 */
export function stackObjects(
  stack: string,
  project: ComposeProject,
  opts: { readFile(path: string): Buffer },
): StackObjects {
  checkStackName(stack, project);
  const warnings = [...project.warnings];
  return {
    networks: stackNetworks(stack, project, warnings),
    secrets: stackPayloads(stack, project, 'secret', opts.readFile),
    configs: stackPayloads(stack, project, 'config', opts.readFile),
    services: dependencyOrder(Object.keys(project.services), project).map((name) =>
      stackService(stack, name, project, warnings),
    ),
    warnings,
  };
}

// ---------------------------------------------------------------------------------------------
// Networks, secrets, configs
// ---------------------------------------------------------------------------------------------

/** The network names a service is attached to ("default" when it lists none). */
function serviceNetworkNames(svc: ComposeService): string[] {
  const names = Object.keys(svc.networks ?? {});
  return names.length > 0 ? names : ['default'];
}

/** A network's name in the cluster. */
function networkName(stack: string, key: string, def: ComposeNetwork | undefined): string {
  if (def?.external) return def.name ?? key;
  return def?.name ?? `${stack}_${key}`;
}

function stackNetworks(stack: string, project: ComposeProject, warnings: string[]): StackNetwork[] {
  const used = new Set(Object.values(project.services).flatMap(serviceNetworkNames));
  const out: StackNetwork[] = [];
  for (const key of used) {
    const def = project.networks[key];
    const name = networkName(stack, key, def);
    if (def?.external) {
      const ignored = (['driver', 'driver_opts', 'ipam', 'internal', 'attachable', 'labels'] as const).filter(
        (k) => def[k] !== undefined,
      );
      if (ignored.length > 0) {
        warnings.push(
          `network ${key} is external: its ${ignored.join(', ')} ${ignored.length > 1 ? 'are' : 'is'} ignored`,
        );
      }
      out.push({ name, external: true });
      continue;
    }
    const driver = def?.driver || 'overlay';
    if (driver !== 'overlay') {
      warnings.push(
        `network ${key} uses driver "${driver}": services of a stack can only attach to swarm-scoped networks such as "overlay"`,
      );
    }
    const ipam = def?.ipam;
    out.push({
      name,
      external: false,
      create: {
        CheckDuplicate: false,
        Driver: driver,
        Scope: '',
        EnableIPv6: false,
        IPAM:
          ipam && (ipam.driver || (ipam.config?.length ?? 0) > 0)
            ? {
                Driver: ipam.driver ?? '',
                ...(ipam.config?.length
                  ? {
                      Config: ipam.config.map((c) => ({
                        ...(c.subnet ? { Subnet: c.subnet } : {}),
                        ...(c.ip_range ? { IPRange: c.ip_range } : {}),
                        ...(c.gateway ? { Gateway: c.gateway } : {}),
                        ...(c.aux_addresses ? { AuxiliaryAddresses: sortedRecord(c.aux_addresses) } : {}),
                      })),
                    }
                  : {}),
              }
            : null,
        Internal: def?.internal ?? false,
        Attachable: def?.attachable ?? false,
        Ingress: false,
        ConfigOnly: false,
        ConfigFrom: null,
        Options: def?.driver_opts ? sortedRecord(def.driver_opts) : null,
        Labels: withStackLabel(stack, def?.labels),
        Name: name,
      },
    });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : 1));
}

function payloadName(stack: string, key: string, def: ComposeFileObject | undefined): string {
  if (def?.external) return def.name ?? key;
  return def?.name ?? `${stack}_${key}`;
}

function stackPayloads(
  stack: string,
  project: ComposeProject,
  kind: 'secret' | 'config',
  readFile: (path: string) => Buffer,
): StackPayload[] {
  const defs = kind === 'secret' ? project.secrets : project.configs;
  const out: StackPayload[] = [];
  for (const [key, def] of Object.entries(defs)) {
    const name = payloadName(stack, key, def);
    if (def.external || def.file === undefined) {
      out.push({ name, external: true });
      continue;
    }
    let data: Buffer;
    try {
      data = readFile(def.file);
    } catch (e) {
      throw new ComposeError([
        issueAt(
          project.locations,
          project.file,
          [`${kind}s`, key, 'file'],
          `cannot read ${def.file}: ${(e as Error).message}`,
        ),
      ]);
    }
    out.push({
      name,
      external: false,
      create: {
        Name: name,
        Labels: withStackLabel(stack, def.labels),
        Data: data.toString('base64'),
        ...(def.template_driver ? { Templating: { Name: def.template_driver } } : {}),
      },
    });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : 1));
}

// ---------------------------------------------------------------------------------------------
// Services
// ---------------------------------------------------------------------------------------------

/** Names sorted, then reordered so that each service comes after those it depends on. */
function dependencyOrder(names: string[], project: ComposeProject): string[] {
  const sorted = [...names].sort();
  const placed = new Set<string>();
  const out: string[] = [];
  const place = (name: string) => {
    if (placed.has(name)) return;
    placed.add(name); // before the dependencies: the loader refused cycles, this only guards recursion
    for (const dep of Object.keys(project.services[name]?.depends_on ?? {}).sort()) place(dep);
    out.push(name);
  };
  sorted.forEach(place);
  return out;
}

function stackService(
  stack: string,
  name: string,
  project: ComposeProject,
  warnings: string[],
): StackService {
  const svc = project.services[name];
  if (!svc) throw new Error(`no service ${name}`);
  const scope = (n: string) => `${stack}_${n}`;
  const image = svc.image ?? '';
  const deploy = svc.deploy ?? {};

  for (const port of svc.ports ?? []) {
    if (port.host_ip && port.host_ip !== '0.0.0.0' && port.host_ip !== '::') {
      warnings.push(
        `ignoring IP-address (${port.host_ip}:${port.published ?? ''}:${port.target}/${port.protocol ?? 'tcp'}) service will listen on '0.0.0.0'`,
      );
    }
  }
  for (const [net, opts] of Object.entries(svc.networks ?? {})) {
    if (opts?.ipv4_address || opts?.ipv6_address) {
      warnings.push(
        `service ${name}: fixed addresses on network ${net} are ignored: swarm assigns service addresses`,
      );
    }
  }
  if (deploy.resources?.memory_swap !== undefined || deploy.resources?.memory_swappiness !== undefined) {
    warnings.push(
      `service ${name}: deploy.resources.memory_swap and memory_swappiness are ignored by stack deploy`,
    );
  }

  const [capAdd, capDrop] = effectiveCapabilities(svc.cap_add ?? [], svc.cap_drop ?? []);
  const env = Object.entries(svc.environment ?? {})
    .map(([k, v]) => (v === null ? k : `${k}=${v}`))
    .sort();
  const mounts = (svc.volumes ?? []).map((v) => mount(stack, v, project));
  const secrets = fileReferences(svc.secrets ?? [], (s) => payloadName(stack, s, project.secrets[s])).map(
    ({ File, Name }) => ({ File, SecretID: '', SecretName: Name }),
  );
  const configs = fileReferences(svc.configs ?? [], (c) => payloadName(stack, c, project.configs[c])).map(
    ({ File, Name }) => ({ File, ConfigID: '', ConfigName: Name }),
  );
  const hc = svc.healthcheck;
  const ulimits = Object.entries(svc.ulimits ?? {})
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([n, u]) => ({ Name: n, Hard: u.hard, Soft: u.soft }));
  const restartPolicy = convertRestartPolicy(svc, deploy.restart_policy);
  const placement = deploy.placement ?? {};
  const resources = deploy.resources ?? {};

  const spec: ServiceSpec = {
    Name: scope(name),
    Labels: sortedRecord({ ...withStackLabel(stack, deploy.labels), [STACK_IMAGE_LABEL]: image }),
    TaskTemplate: {
      ContainerSpec: {
        Image: image,
        Labels: withStackLabel(stack, svc.labels),
        ...(svc.entrypoint?.length ? { Command: svc.entrypoint } : {}),
        ...(svc.command?.length ? { Args: svc.command } : {}),
        ...(svc.hostname ? { Hostname: svc.hostname } : {}),
        ...(env.length > 0 ? { Env: env } : {}),
        ...(svc.working_dir ? { Dir: svc.working_dir } : {}),
        ...(svc.user ? { User: svc.user } : {}),
        Privileges: { CredentialSpec: null, SELinuxContext: null },
        ...(svc.init !== undefined ? { Init: svc.init } : {}),
        ...(svc.stop_signal ? { StopSignal: svc.stop_signal } : {}),
        ...(svc.tty ? { TTY: true } : {}),
        ...(svc.stdin_open ? { OpenStdin: true } : {}),
        ...(svc.read_only ? { ReadOnly: true } : {}),
        ...(mounts.length > 0 ? { Mounts: mounts } : {}),
        ...(svc.stop_grace_period !== undefined ? { StopGracePeriod: svc.stop_grace_period } : {}),
        ...(hc
          ? {
              Healthcheck: hc.disable
                ? { Test: ['NONE'] }
                : {
                    ...(hc.test?.length ? { Test: hc.test } : {}),
                    ...(hc.interval ? { Interval: hc.interval } : {}),
                    ...(hc.timeout ? { Timeout: hc.timeout } : {}),
                    ...(hc.start_period ? { StartPeriod: hc.start_period } : {}),
                    ...(hc.start_interval ? { StartInterval: hc.start_interval } : {}),
                    ...(hc.retries ? { Retries: hc.retries } : {}),
                  },
            }
          : {}),
        ...(svc.extra_hosts?.length ? { Hosts: svc.extra_hosts.map(hostsEntry) } : {}),
        ...(svc.dns?.length || svc.dns_search?.length
          ? {
              DNSConfig: {
                ...(svc.dns?.length ? { Nameservers: svc.dns } : {}),
                ...(svc.dns_search?.length ? { Search: svc.dns_search } : {}),
              },
            }
          : {}),
        ...(secrets.length > 0 ? { Secrets: secrets } : {}),
        ...(configs.length > 0 ? { Configs: configs } : {}),
        ...(svc.isolation ? { Isolation: svc.isolation } : {}),
        ...(svc.sysctls && Object.keys(svc.sysctls).length > 0 ? { Sysctls: sortedRecord(svc.sysctls) } : {}),
        ...(capAdd.length > 0 ? { CapabilityAdd: capAdd } : {}),
        ...(capDrop.length > 0 ? { CapabilityDrop: capDrop } : {}),
        ...(ulimits.length > 0 ? { Ulimits: ulimits } : {}),
        ...(svc.oom_score_adj ? { OomScoreAdj: svc.oom_score_adj } : {}),
      },
      Resources: {
        ...(resources.limits
          ? {
              Limits: {
                ...(resources.limits.cpus ? { NanoCPUs: resources.limits.cpus } : {}),
                ...(resources.limits.memory ? { MemoryBytes: resources.limits.memory } : {}),
                ...(resources.limits.pids ? { Pids: resources.limits.pids } : {}),
              },
            }
          : {}),
        ...(resources.reservations
          ? {
              Reservations: {
                ...(resources.reservations.cpus ? { NanoCPUs: resources.reservations.cpus } : {}),
                ...(resources.reservations.memory ? { MemoryBytes: resources.reservations.memory } : {}),
                ...(resources.reservations.generic_resources?.length
                  ? {
                      GenericResources: resources.reservations.generic_resources.map((g) =>
                        g.discrete_resource_spec
                          ? {
                              DiscreteResourceSpec: {
                                Kind: g.discrete_resource_spec.kind,
                                Value: g.discrete_resource_spec.value,
                              },
                            }
                          : {},
                      ),
                    }
                  : {}),
              },
            }
          : {}),
      },
      ...(restartPolicy ? { RestartPolicy: restartPolicy } : {}),
      Placement: {
        ...(placement.constraints?.length ? { Constraints: placement.constraints } : {}),
        ...(placement.preferences?.length
          ? { Preferences: placement.preferences.map((p) => ({ Spread: { SpreadDescriptor: p.spread } })) }
          : {}),
        ...(placement.max_replicas_per_node ? { MaxReplicas: placement.max_replicas_per_node } : {}),
      },
      Networks: serviceNetworks(stack, name, svc, project),
      ...(svc.logging
        ? {
            LogDriver: {
              Name: svc.logging.driver ?? '',
              ...(svc.logging.options && Object.keys(svc.logging.options).length > 0
                ? { Options: sortedRecord(svc.logging.options) }
                : {}),
            },
          }
        : {}),
      ForceUpdate: 0,
    },
    Mode: serviceMode(deploy.mode, deploy.replicas),
    ...(deploy.update_config ? { UpdateConfig: updateConfig(deploy.update_config) } : {}),
    ...(deploy.rollback_config ? { RollbackConfig: updateConfig(deploy.rollback_config) } : {}),
    EndpointSpec: {
      ...(deploy.endpoint_mode ? { Mode: deploy.endpoint_mode } : {}),
      ...(svc.ports?.length ? { Ports: portConfigs(svc) } : {}),
    },
  };

  return {
    name: scope(name),
    spec,
    dependsOn: Object.entries(svc.depends_on ?? {}).map(([dep, d]) => ({
      service: scope(dep),
      condition: d.condition,
    })),
  };
}

/** SwarmKit's /etc/hosts notation: "IP host". */
function hostsEntry(hostIp: string): string {
  const colon = hostIp.indexOf(':');
  return `${hostIp.slice(colon + 1)} ${hostIp.slice(0, colon)}`;
}

/** Docker's EffectiveCapAddCapDrop: CAP_ prefixed, upper case, sorted; ALL wins; add beats drop. */
function effectiveCapabilities(add: string[], drop: string[]): [string[], string[]] {
  const normalize = (caps: string[]) => {
    const set = new Set(
      caps.map((c) => {
        const cap = c.trim().toUpperCase();
        return cap === 'ALL' || cap.startsWith('CAP_') ? cap : `CAP_${cap}`;
      }),
    );
    return set.has('ALL') ? new Set(['ALL']) : set;
  };
  const adds = normalize(add);
  const drops = [...normalize(drop)].filter((c) => !adds.has(c));
  return [[...adds].sort(), drops.sort()];
}

function serviceMode(mode: string | undefined, replicas: number | undefined): ServiceSpec['Mode'] {
  switch (mode) {
    case 'global':
      return { Global: {} };
    case 'global-job':
      return { GlobalJob: {} };
    case 'replicated-job':
      return {
        ReplicatedJob: replicas === undefined ? {} : { MaxConcurrent: replicas, TotalCompletions: replicas },
      };
    default:
      // No count: the manager reads it as 1, and Docker leaves it out so as not to reset a scaled service.
      return { Replicated: replicas === undefined ? {} : { Replicas: replicas } };
  }
}

/**
 * Docker's convertUpdateConfig: parallelism defaults to 1, MaxFailureRatio is always sent. Docker
 * also always sends `Order` ("" when unset, which the manager reads as stop-first); it is left out
 * here when unset, because the API's schema (src/api/types.ts) only accepts the two named orders.
 */
function updateConfig(c: ComposeUpdateConfig): NonNullable<ServiceSpec['UpdateConfig']> {
  return {
    Parallelism: c.parallelism ?? 1,
    ...(c.delay ? { Delay: c.delay } : {}),
    ...(c.failure_action ? { FailureAction: c.failure_action } : {}),
    ...(c.monitor ? { Monitor: c.monitor } : {}),
    MaxFailureRatio: c.max_failure_ratio ?? 0,
    ...(c.order ? { Order: c.order } : {}),
  };
}

/**
 * deploy.restart_policy as given (the manager fills in what is missing: condition any, 5s delay);
 * without one, Docker falls back to the container-style `restart:` key.
 */
function convertRestartPolicy(
  svc: ComposeService,
  policy: NonNullable<ComposeService['deploy']>['restart_policy'],
): NonNullable<ServiceSpec['TaskTemplate']['RestartPolicy']> | undefined {
  if (policy) {
    return {
      ...(policy.condition ? { Condition: policy.condition } : {}),
      ...(policy.delay !== undefined ? { Delay: policy.delay } : {}),
      ...(policy.max_attempts !== undefined ? { MaxAttempts: policy.max_attempts } : {}),
      ...(policy.window !== undefined ? { Window: policy.window } : {}),
    };
  }
  // The loader checked the syntax: no, always, unless-stopped, on-failure[:N].
  const [kind, count] = (svc.restart ?? 'no').split(':');
  if (kind === 'no') return undefined;
  return {
    Condition: kind === 'on-failure' ? 'on-failure' : 'any',
    ...(count && Number(count) > 0 ? { MaxAttempts: Number(count) } : {}),
  };
}

/** Ports in Docker's order (by published port); what the file leaves out is left to the manager. */
function portConfigs(svc: ComposeService): PortConfig[] {
  return (svc.ports ?? [])
    .map((p) => ({
      ...(p.protocol ? { Protocol: p.protocol } : {}),
      ...(p.target ? { TargetPort: p.target } : {}),
      ...(p.published ? { PublishedPort: p.published } : {}),
      ...(p.mode ? { PublishMode: p.mode } : {}),
    }))
    .sort((a, b) => (a.PublishedPort ?? 0) - (b.PublishedPort ?? 0));
}

/** Docker's convertServiceNetworks: by target name; the service's name is an alias on user networks. */
function serviceNetworks(stack: string, name: string, svc: ComposeService, project: ComposeProject) {
  return serviceNetworkNames(svc)
    .map((key) => {
      const opts = svc.networks?.[key] ?? null;
      const target = networkName(stack, key, project.networks[key]);
      const userDefined =
        !['default', 'bridge', 'host', 'none'].includes(target) && !target.startsWith('container:');
      const aliases = [...(opts?.aliases ?? []), ...(userDefined ? [name] : [])];
      return {
        Target: target,
        ...(aliases.length > 0 ? { Aliases: aliases } : {}),
        ...(opts?.driver_opts ? { DriverOpts: sortedRecord(opts.driver_opts) } : {}),
      };
    })
    .sort((a, b) => (a.Target < b.Target ? -1 : a.Target > b.Target ? 1 : 0));
}

/** Docker's convertFileObject: target defaults to the source, uid/gid to "0", mode to 0444; sorted by name. */
function fileReferences(refs: FileReference[], nameOf: (source: string) => string) {
  return refs
    .map((r) => ({
      File: { Name: r.target ?? r.source, UID: r.uid ?? '0', GID: r.gid ?? '0', Mode: r.mode ?? 0o444 },
      Name: nameOf(r.source),
    }))
    .sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));
}

/** Docker's convertVolumeToMount: a named volume becomes STACK_name with the stack's labels. */
function mount(stack: string, v: ServiceVolume, project: ComposeProject): Mount {
  const head = (source: string | undefined): Mount => ({
    Type: v.type,
    ...(source ? { Source: source } : {}),
    Target: v.target,
    ...(v.read_only ? { ReadOnly: true } : {}),
    ...(v.consistency ? { Consistency: v.consistency } : {}),
  });
  if (v.type === 'bind' || v.type === 'npipe') {
    return {
      ...head(v.source),
      ...(v.bind?.propagation ? { BindOptions: { Propagation: v.bind.propagation } } : {}),
    };
  }
  if (v.type === 'tmpfs') {
    return {
      ...head(undefined),
      ...(v.tmpfs?.size !== undefined ? { TmpfsOptions: { SizeBytes: v.tmpfs.size } } : {}),
    };
  }
  if (v.source === undefined) return head(undefined); // anonymous volume
  const def = project.volumes[v.source];
  const noCopy = v.volume?.nocopy ? { NoCopy: true } : {};
  // An external volume keeps its own name; a stack volume is STACK_name unless `name:` says otherwise.
  const named = head(def?.name ?? (def?.external ? v.source : `${stack}_${v.source}`));
  if (def?.external) return { ...named, VolumeOptions: noCopy };
  return {
    ...named,
    VolumeOptions: {
      ...noCopy,
      Labels: withStackLabel(stack, def?.labels),
      ...(def?.driver || def?.driver_opts
        ? {
            DriverConfig: {
              ...(def.driver ? { Name: def.driver } : {}),
              ...(def.driver_opts ? { Options: sortedRecord(def.driver_opts) } : {}),
            },
          }
        : {}),
    },
  };
}
