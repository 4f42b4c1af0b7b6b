// Builds the ServiceSpec JSON that `service create` posts, and applies `service update` flags to
// a spec read from the daemon, field for field as the docker CLI does (measured against docker
// 20.10.24: same keys, same defaults, same omissions, durations in nanoseconds). Pure: names of
// networks, secrets and configs arrive already resolved to IDs.

import type { FlagSpec, ParsedFlags } from './args.js';
import {
  envKey,
  parseFileRef,
  parseLabels,
  parseMount,
  parseNetwork,
  parsePlacementPref,
  parsePublish,
  shellSplit,
} from './serviceopts.js';
import type { PortConfig, ServiceSpec } from './types.js';
import { parseNanoCpus, ramInBytes } from './units.js';

export type JsonObject = Record<string, unknown>;

/** IDs looked up by the command shell before the spec is built. */
export interface ResolvedRefs {
  networks: Map<string, string>;
  secrets: Map<string, string>;
  configs: Map<string, string>;
}

/** An invalid combination of flags; reported as a plain error (exit 1), as docker does. */
export class SpecError extends Error {}

const check = (fn: (v: string) => unknown) => (v: string) => {
  fn(v);
};

// --- flag definitions shared by create and update ------------------------------------------

const f = (
  name: string,
  kind: FlagSpec['kind'],
  description: string,
  extra: Partial<FlagSpec> = {},
): FlagSpec => ({ name, kind, description, ...extra });

const UPDATE_FLAGS = (prefix: 'update' | 'rollback'): FlagSpec[] => {
  const verb = prefix === 'update' ? 'updates' : 'rollbacks';
  return [
    f(
      `${prefix}-parallelism`,
      'uint',
      `Maximum number of tasks ${prefix === 'update' ? 'updated' : 'rolled back'} simultaneously (0 to ${prefix === 'update' ? 'update' : 'roll back'} all at once)`,
      { defaultText: '1' },
    ),
    f(`${prefix}-delay`, 'duration', `Delay between ${verb} (ns|us|ms|s|m|h)`, { defaultText: '0s' }),
    f(
      `${prefix}-monitor`,
      'duration',
      `Duration after each task ${prefix} to monitor for failure (ns|us|ms|s|m|h)`,
      { defaultText: '5s' },
    ),
    f(
      `${prefix}-failure-action`,
      'string',
      `Action on ${prefix} failure (${prefix === 'update' ? '"pause"|"continue"|"rollback"' : '"pause"|"continue"'})`,
      { defaultText: '"pause"' },
    ),
    f(`${prefix}-max-failure-ratio`, 'float', `Failure rate to tolerate during an ${prefix}`, {
      defaultText: '0',
    }),
    f(
      `${prefix}-order`,
      'string',
      `${prefix === 'update' ? 'Update' : 'Rollback'} order ("start-first"|"stop-first")`,
      { defaultText: '"stop-first"' },
    ),
  ];
};

/** Flags whose meaning is the same in `service create` and `service update`. */
export const COMMON_SERVICE_FLAGS: FlagSpec[] = [
  f('detach', 'bool', 'Exit immediately instead of waiting for the service to converge', { short: 'd' }),
  f('quiet', 'bool', 'Suppress progress output', { short: 'q' }),
  f('replicas', 'uint', 'Number of tasks'),
  f('replicas-max-per-node', 'uint', 'Maximum number of tasks per node (default 0 = unlimited)'),
  f('max-concurrent', 'uint', 'Number of job tasks to run concurrently (default equal to --replicas)'),
  f('reserve-cpu', 'string', 'Reserve CPUs', { typeName: 'decimal', validate: check(parseNanoCpus) }),
  f('reserve-memory', 'string', 'Reserve Memory', { typeName: 'bytes', validate: check(ramInBytes) }),
  f('limit-cpu', 'string', 'Limit CPUs', { typeName: 'decimal', validate: check(parseNanoCpus) }),
  f('limit-memory', 'string', 'Limit Memory', { typeName: 'bytes', validate: check(ramInBytes) }),
  f('limit-pids', 'int', 'Limit maximum number of processes (default 0 = unlimited)'),
  f('restart-condition', 'string', 'Restart when condition is met ("none"|"on-failure"|"any")', {
    defaultText: '"any"',
  }),
  f('restart-delay', 'duration', 'Delay between restart attempts (ns|us|ms|s|m|h)', { defaultText: '5s' }),
  f('restart-max-attempts', 'uint', 'Maximum number of restarts before giving up'),
  f('restart-window', 'duration', 'Window used to evaluate the restart policy (ns|us|ms|s|m|h)'),
  ...UPDATE_FLAGS('update'),
  ...UPDATE_FLAGS('rollback'),
  f('health-cmd', 'string', 'Command to run to check health'),
  f('health-interval', 'duration', 'Time between running the check (ms|s|m|h)'),
  f('health-timeout', 'duration', 'Maximum time to allow one check to run (ms|s|m|h)'),
  f('health-retries', 'int', 'Consecutive failures needed to report unhealthy'),
  f(
    'health-start-period',
    'duration',
    'Start period for the container to initialize before counting retries towards unstable (ms|s|m|h)',
  ),
  f('no-healthcheck', 'bool', 'Disable any container-specified HEALTHCHECK'),
  f('stop-signal', 'string', 'Signal to stop the container'),
  f('stop-grace-period', 'duration', 'Time to wait before force killing a container (ns|us|ms|s|m|h)', {
    defaultText: '10s',
  }),
  f('hostname', 'string', 'Container hostname'),
  f('user', 'string', 'Username or UID (format: <name|uid>[:<group|gid>])', { short: 'u' }),
  f('workdir', 'string', 'Working directory inside the container', { short: 'w' }),
  f('entrypoint', 'string', 'Overwrite the default ENTRYPOINT of the image', { typeName: 'command' }),
  f('endpoint-mode', 'string', 'Endpoint mode (vip or dnsrr)', { defaultText: '"vip"' }),
  f('init', 'bool', 'Use an init inside each service container to forward signals and reap processes'),
  f('read-only', 'bool', "Mount the container's root filesystem as read only"),
  f('tty', 'bool', 'Allocate a pseudo-TTY', { short: 't' }),
  f('log-driver', 'string', 'Logging driver for service'),
  f('log-opt', 'list', 'Logging driver options'),
  f('no-resolve-image', 'bool', 'Do not query the registry to resolve image digest and supported platforms'),
  f('with-registry-auth', 'bool', 'Send registry authentication details to swarm agents'),
];

const publishValidate = check(parsePublish);
const mountValidate = check(parseMount);
const fileRefValidate = check(parseFileRef);
const networkValidate = check(parseNetwork);
const prefValidate = check(parsePlacementPref);

export const CREATE_ONLY_FLAGS: FlagSpec[] = [
  f('name', 'string', 'Service name'),
  f('image', 'string', 'Image to run (SwarmKit shortcut: all positional arguments become the command)'),
  f('mode', 'string', 'Service mode (replicated, global, replicated-job, or global-job)', {
    defaultText: '"replicated"',
  }),
  f('env', 'list', 'Set environment variables', { short: 'e' }),
  f('label', 'list', 'Service labels', { short: 'l' }),
  f('container-label', 'list', 'Container labels'),
  f('publish', 'list', 'Publish a port as a node port', {
    short: 'p',
    typeName: 'port',
    validate: publishValidate,
  }),
  f('constraint', 'list', 'Placement constraints'),
  f('placement-pref', 'list', 'Add a placement preference', { typeName: 'pref', validate: prefValidate }),
  f('mount', 'list', 'Attach a filesystem mount to the service', {
    typeName: 'mount',
    validate: mountValidate,
  }),
  f('network', 'list', 'Network attachments', { typeName: 'network', validate: networkValidate }),
  f('secret', 'list', 'Specify secrets to expose to the service', {
    typeName: 'secret',
    validate: fileRefValidate,
  }),
  f('config', 'list', 'Specify configurations to expose to the service', {
    typeName: 'config',
    validate: fileRefValidate,
  }),
  f('dns', 'list', 'Set custom DNS servers'),
  f('dns-search', 'list', 'Set custom DNS search domains'),
  f('dns-option', 'list', 'Set DNS options'),
  f('host', 'list', 'Set one or more custom host-to-IP mappings (host:ip)'),
  f('group', 'list', 'Set one or more supplementary user groups for the container'),
  f('sysctl', 'list', 'Sysctl options'),
  f('cap-add', 'list', 'Add Linux capabilities'),
  f('cap-drop', 'list', 'Drop Linux capabilities'),
];

export const UPDATE_ONLY_FLAGS: FlagSpec[] = [
  f('image', 'string', 'Service image tag'),
  f('args', 'string', 'Service command args', { typeName: 'command' }),
  f('force', 'bool', 'Force update even if no changes require it'),
  f('rollback', 'bool', 'Rollback to previous specification'),
  f('env-add', 'list', 'Add or update an environment variable'),
  f('env-rm', 'list', 'Remove an environment variable'),
  f('label-add', 'list', 'Add or update a service label'),
  f('label-rm', 'list', 'Remove a label by its key'),
  f('container-label-add', 'list', 'Add or update a container label'),
  f('container-label-rm', 'list', 'Remove a container label by its key'),
  f('constraint-add', 'list', 'Add or update a placement constraint'),
  f('constraint-rm', 'list', 'Remove a constraint'),
  f('placement-pref-add', 'list', 'Add a placement preference', { typeName: 'pref', validate: prefValidate }),
  f('placement-pref-rm', 'list', 'Remove a placement preference', {
    typeName: 'pref',
    validate: prefValidate,
  }),
  f('publish-add', 'list', 'Add or update a published port', { typeName: 'port', validate: publishValidate }),
  f('publish-rm', 'list', 'Remove a published port by its target port', {
    typeName: 'port',
    validate: publishValidate,
  }),
  f('mount-add', 'list', 'Add or update a mount on a service', {
    typeName: 'mount',
    validate: mountValidate,
  }),
  f('mount-rm', 'list', 'Remove a mount by its target path'),
  f('network-add', 'list', 'Add a network', { typeName: 'network', validate: networkValidate }),
  f('network-rm', 'list', 'Remove a network'),
  f('secret-add', 'list', 'Add or update a secret on a service', {
    typeName: 'secret',
    validate: fileRefValidate,
  }),
  f('secret-rm', 'list', 'Remove a secret'),
  f('config-add', 'list', 'Add or update a config file on a service', {
    typeName: 'config',
    validate: fileRefValidate,
  }),
  f('config-rm', 'list', 'Remove a configuration file'),
];

// --- helpers -------------------------------------------------------------------------------

function objectAt(parent: JsonObject, key: string): JsonObject {
  const v = parent[key];
  if (v && typeof v === 'object' && !Array.isArray(v)) return v as JsonObject;
  const created: JsonObject = {};
  parent[key] = created;
  return created;
}

function stringsAt(parent: JsonObject, key: string): string[] {
  const v = parent[key];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function anyChanged(flags: ParsedFlags, names: string[]): boolean {
  return names.some((n) => flags.changed(n));
}

/** `-e A` takes A's value from swarmctl's own environment when set, like docker's ValidateEnv. */
function expandEnv(entry: string, lookupEnv: (k: string) => string | undefined): string {
  if (entry.includes('=')) return entry;
  const v = lookupEnv(entry);
  return v === undefined ? entry : `${entry}=${v}`;
}

const HEALTH_FLAGS = [
  'health-cmd',
  'health-interval',
  'health-timeout',
  'health-retries',
  'health-start-period',
];

function healthcheck(flags: ParsedFlags, base: JsonObject | undefined): JsonObject | undefined {
  if (!anyChanged(flags, [...HEALTH_FLAGS, 'no-healthcheck'])) return base;
  const cmd = flags.string('health-cmd');
  const settings =
    cmd !== '' ||
    (flags.duration('health-interval') ?? 0) !== 0 ||
    (flags.duration('health-timeout') ?? 0) !== 0 ||
    (flags.duration('health-start-period') ?? 0) !== 0 ||
    (flags.number('health-retries') ?? 0) !== 0;
  if (flags.bool('no-healthcheck')) {
    if (settings) throw new SpecError('--no-healthcheck conflicts with --health-* options');
    return { Test: ['NONE'] };
  }
  const hc: JsonObject = { ...(base ?? {}) };
  if (Array.isArray(hc.Test) && hc.Test[0] === 'NONE') delete hc.Test;
  if (flags.changed('health-cmd')) {
    if (cmd === '') delete hc.Test;
    else hc.Test = ['CMD-SHELL', cmd];
  }
  const setDuration = (flag: string, key: string) => {
    if (!flags.changed(flag)) return;
    const d = flags.duration(flag) ?? 0;
    if (d === 0) delete hc[key];
    else hc[key] = d;
  };
  setDuration('health-interval', 'Interval');
  setDuration('health-timeout', 'Timeout');
  setDuration('health-start-period', 'StartPeriod');
  if (flags.changed('health-retries')) {
    const r = flags.number('health-retries') ?? 0;
    if (r === 0) delete hc.Retries;
    else hc.Retries = r;
  }
  return hc;
}

function updateConfig(
  flags: ParsedFlags,
  prefix: 'update' | 'rollback',
  base: unknown,
): JsonObject | undefined {
  const names = ['parallelism', 'delay', 'monitor', 'failure-action', 'max-failure-ratio', 'order'].map(
    (n) => `${prefix}-${n}`,
  );
  const existing = base && typeof base === 'object' ? (base as JsonObject) : undefined;
  if (!anyChanged(flags, names)) return existing;
  const cfg: JsonObject = existing
    ? { ...existing }
    : { Parallelism: 1, FailureAction: 'pause', Monitor: 5e9, MaxFailureRatio: 0, Order: 'stop-first' };
  const ordered: JsonObject = {};
  const set = (flag: string, key: string, value: unknown) => {
    if (flags.changed(`${prefix}-${flag}`)) cfg[key] = value;
  };
  set('parallelism', 'Parallelism', flags.number(`${prefix}-parallelism`));
  set('delay', 'Delay', flags.duration(`${prefix}-delay`));
  set('failure-action', 'FailureAction', flags.string(`${prefix}-failure-action`));
  set('monitor', 'Monitor', flags.duration(`${prefix}-monitor`));
  set('max-failure-ratio', 'MaxFailureRatio', flags.number(`${prefix}-max-failure-ratio`));
  set('order', 'Order', flags.string(`${prefix}-order`));
  // Go's field order; Delay is omitted when zero.
  for (const key of ['Parallelism', 'Delay', 'FailureAction', 'Monitor', 'MaxFailureRatio', 'Order']) {
    if (key === 'Delay' && !cfg.Delay) continue;
    if (cfg[key] !== undefined) ordered[key] = cfg[key];
  }
  for (const [k, v] of Object.entries(cfg)) if (!(k in ordered) && k !== 'Delay') ordered[k] = v;
  return ordered;
}

const RESTART_FLAGS = ['restart-condition', 'restart-delay', 'restart-max-attempts', 'restart-window'];

function restartPolicy(flags: ParsedFlags, base: unknown): JsonObject | undefined {
  const existing = base && typeof base === 'object' ? (base as JsonObject) : undefined;
  if (!anyChanged(flags, RESTART_FLAGS)) return existing;
  const p: JsonObject = existing ? { ...existing } : { Condition: 'any', Delay: 5e9, MaxAttempts: 0 };
  if (flags.changed('restart-condition')) p.Condition = flags.string('restart-condition');
  if (flags.changed('restart-delay')) p.Delay = flags.duration('restart-delay');
  if (flags.changed('restart-max-attempts')) p.MaxAttempts = flags.number('restart-max-attempts');
  if (flags.changed('restart-window')) p.Window = flags.duration('restart-window');
  return p;
}

function applyResources(flags: ParsedFlags, resources: JsonObject): void {
  const limits = objectAt(resources, 'Limits');
  const reservations = objectAt(resources, 'Reservations');
  if (flags.changed('limit-cpu')) limits.NanoCPUs = parseNanoCpus(flags.string('limit-cpu'));
  if (flags.changed('limit-memory')) limits.MemoryBytes = ramInBytes(flags.string('limit-memory'));
  if (flags.changed('limit-pids')) limits.Pids = flags.number('limit-pids');
  if (flags.changed('reserve-cpu')) reservations.NanoCPUs = parseNanoCpus(flags.string('reserve-cpu'));
  if (flags.changed('reserve-memory')) reservations.MemoryBytes = ramInBytes(flags.string('reserve-memory'));
  for (const o of [limits, reservations]) for (const [k, v] of Object.entries(o)) if (v === 0) delete o[k];
}

function secretRef(value: string, refs: ResolvedRefs, kind: 'secret' | 'config'): JsonObject {
  const r = parseFileRef(value);
  const ids = kind === 'secret' ? refs.secrets : refs.configs;
  const id = ids.get(r.source);
  if (id === undefined) throw new SpecError(`${kind} not found: ${r.source}`);
  const file = { Name: r.target, UID: r.uid, GID: r.gid, Mode: r.mode };
  return kind === 'secret'
    ? { File: file, SecretID: id, SecretName: r.source }
    : { File: file, ConfigID: id, ConfigName: r.source };
}

function networkAttachment(value: string, refs: ResolvedRefs): JsonObject {
  const n = parseNetwork(value);
  const att: JsonObject = { Target: refs.networks.get(n.target) ?? n.target };
  if (n.aliases.length > 0) att.Aliases = n.aliases;
  if (Object.keys(n.driverOpts).length > 0) att.DriverOpts = n.driverOpts;
  return att;
}

/** Names of networks, secrets and configs a command line refers to (for the shell to resolve). */
export function referencedNames(
  flags: ParsedFlags,
  update: boolean,
): {
  networks: string[];
  secrets: string[];
  configs: string[];
} {
  const suffix = update ? '-add' : '';
  return {
    networks: flags.list(`network${suffix}`).map((v) => parseNetwork(v).target),
    secrets: flags.list(`secret${suffix}`).map((v) => parseFileRef(v).source),
    configs: flags.list(`config${suffix}`).map((v) => parseFileRef(v).source),
  };
}

function serviceMode(flags: ParsedFlags): JsonObject {
  const mode = flags.string('mode', 'replicated');
  const replicas = flags.number('replicas');
  if (flags.changed('max-concurrent') && mode !== 'replicated-job') {
    throw new SpecError('max-concurrent can only be used with replicated-job mode');
  }
  switch (mode) {
    case 'replicated':
      return { Replicated: replicas === undefined ? {} : { Replicas: replicas } };
    case 'global':
      if (flags.changed('replicas'))
        throw new SpecError('replicas can only be used with replicated or replicated-job mode');
      return { Global: {} };
    case 'replicated-job': {
      const job: JsonObject = {};
      const max = flags.number('max-concurrent');
      if (max !== undefined) job.MaxConcurrent = max;
      if (replicas !== undefined) job.TotalCompletions = replicas;
      return { ReplicatedJob: job };
    }
    case 'global-job':
      if (flags.changed('replicas'))
        throw new SpecError('replicas can only be used with replicated or replicated-job mode');
      return { GlobalJob: {} };
    default:
      throw new SpecError(`Unknown mode: ${mode}, only replicated and global supported`);
  }
}

// --- create ----------------------------------------------------------------------------------

/**
 * The body of `POST /services/create` for `service create [flags] IMAGE [COMMAND] [ARG...]`
 * (or, with SwarmKit's `--image`, `service create --image IMAGE [COMMAND] [ARG...]`).
 */
export function buildServiceSpec(
  flags: ParsedFlags,
  positional: string[],
  refs: ResolvedRefs,
  lookupEnv: (k: string) => string | undefined = () => undefined,
): ServiceSpec {
  const imageFlag = flags.optionalString('image');
  const [image = '', ...args] = imageFlag !== undefined ? [imageFlag, ...positional] : positional;
  const mode = serviceMode(flags);
  if (flags.changed('replicas-max-per-node') && !('Replicated' in mode || 'ReplicatedJob' in mode)) {
    throw new SpecError('replicas-max-per-node can only be used with replicated or replicated-job mode');
  }

  // ContainerSpec keys in Go's struct order, so the JSON matches docker's byte for byte.
  const cs: JsonObject = { Image: withDefaultTag(image) };
  const containerLabels = parseLabels(flags.list('container-label'));
  if (Object.keys(containerLabels).length > 0) cs.Labels = containerLabels;
  if (flags.changed('entrypoint')) cs.Command = shellSplit(flags.string('entrypoint'));
  if (args.length > 0) cs.Args = args;
  if (flags.string('hostname')) cs.Hostname = flags.string('hostname');
  const env = flags.list('env').map((e) => expandEnv(e, lookupEnv));
  if (env.length > 0) cs.Env = env;
  if (flags.string('workdir')) cs.Dir = flags.string('workdir');
  if (flags.string('user')) cs.User = flags.string('user');
  if (flags.list('group').length > 0) cs.Groups = flags.list('group');
  cs.Init = flags.bool('init');
  if (flags.string('stop-signal')) cs.StopSignal = flags.string('stop-signal');
  if (flags.bool('tty')) cs.TTY = true;
  if (flags.bool('read-only')) cs.ReadOnly = true;
  const mounts = flags.list('mount').map(parseMount);
  if (mounts.length > 0) cs.Mounts = mounts;
  if (flags.changed('stop-grace-period')) cs.StopGracePeriod = flags.duration('stop-grace-period');
  const hc = healthcheck(flags, undefined);
  if (hc) cs.Healthcheck = hc;
  const hosts = flags.list('host').map((h) => {
    const i = h.indexOf(':');
    return i === -1 ? h : `${h.slice(i + 1)} ${h.slice(0, i)}`;
  });
  if (hosts.length > 0) cs.Hosts = hosts;
  const dns: JsonObject = {};
  if (flags.list('dns').length > 0) dns.Nameservers = flags.list('dns');
  if (flags.list('dns-search').length > 0) dns.Search = flags.list('dns-search');
  if (flags.list('dns-option').length > 0) dns.Options = flags.list('dns-option');
  cs.DNSConfig = dns;
  const secrets = flags.list('secret').map((s) => secretRef(s, refs, 'secret'));
  if (secrets.length > 0) cs.Secrets = secrets;
  const configs = flags.list('config').map((s) => secretRef(s, refs, 'config'));
  if (configs.length > 0) cs.Configs = configs;
  const sysctls = parseLabels(flags.list('sysctl'));
  if (Object.keys(sysctls).length > 0) cs.Sysctls = sysctls;
  const caps = (l: string[]) =>
    l.map((c) => (c.toUpperCase().startsWith('CAP_') ? c.toUpperCase() : `CAP_${c.toUpperCase()}`));
  if (flags.list('cap-add').length > 0) cs.CapabilityAdd = caps(flags.list('cap-add'));
  if (flags.list('cap-drop').length > 0) cs.CapabilityDrop = caps(flags.list('cap-drop'));

  const resources: JsonObject = { Limits: {}, Reservations: {} };
  applyResources(flags, resources);

  const taskTemplate: JsonObject = { ContainerSpec: cs, Resources: resources };
  const restart = restartPolicy(flags, undefined);
  if (restart) taskTemplate.RestartPolicy = restart;
  const placement: JsonObject = {};
  if (flags.list('constraint').length > 0) placement.Constraints = flags.list('constraint');
  const prefs = flags.list('placement-pref').map(parsePlacementPref);
  if (prefs.length > 0) placement.Preferences = prefs;
  const maxReplicas = flags.number('replicas-max-per-node');
  if (maxReplicas) placement.MaxReplicas = maxReplicas;
  taskTemplate.Placement = placement;
  const networks = flags.list('network').map((n) => networkAttachment(n, refs));
  if (networks.length > 0) taskTemplate.Networks = networks;
  if (flags.changed('log-driver')) {
    taskTemplate.LogDriver = {
      Name: flags.string('log-driver'),
      Options: parseLabels(flags.list('log-opt')),
    };
  }
  taskTemplate.ForceUpdate = 0;

  const spec: JsonObject = {};
  const name = flags.string('name');
  if (name) spec.Name = name;
  spec.Labels = parseLabels(flags.list('label'));
  spec.TaskTemplate = taskTemplate;
  spec.Mode = mode;
  const uc = updateConfig(flags, 'update', undefined);
  if (uc) spec.UpdateConfig = uc;
  const rc = updateConfig(flags, 'rollback', undefined);
  if (rc) spec.RollbackConfig = rc;
  const endpoint: JsonObject = { Mode: flags.string('endpoint-mode', 'vip') };
  const ports = flags.list('publish').flatMap(parsePublish);
  if (ports.length > 0) endpoint.Ports = ports;
  spec.EndpointSpec = endpoint;
  return spec;
}

// --- update ----------------------------------------------------------------------------------

function portKey(p: PortConfig): string {
  return `${p.PublishedPort ?? 0}:${p.TargetPort ?? 0}/${p.Protocol ?? 'tcp'}/${p.PublishMode ?? 'ingress'}`;
}

function updatePorts(flags: ParsedFlags, endpoint: JsonObject): void {
  if (!anyChanged(flags, ['publish-add', 'publish-rm'])) return;
  const current = Array.isArray(endpoint.Ports) ? (endpoint.Ports as PortConfig[]) : [];
  const byKey = new Map<string, PortConfig>();
  for (const p of current) if (!byKey.has(portKey(p))) byKey.set(portKey(p), p);
  const toRemove = flags.list('publish-rm').flatMap(parsePublish);
  const kept = [...byKey.values()].filter(
    (p) =>
      !toRemove.some(
        (r) =>
          (r.Protocol ?? 'tcp') === (p.Protocol ?? 'tcp') &&
          r.TargetPort === p.TargetPort &&
          (r.PublishMode ?? 'ingress') === (p.PublishMode ?? 'ingress'),
      ),
  );
  for (const p of flags.list('publish-add').flatMap(parsePublish)) {
    if (!byKey.has(portKey(p))) kept.push(p);
  }
  kept.sort((a, b) => (portKey(a) < portKey(b) ? -1 : portKey(a) > portKey(b) ? 1 : 0));
  if (kept.length > 0) endpoint.Ports = kept;
  else delete endpoint.Ports;
}

function updateList(
  current: string[],
  add: string[],
  remove: string[],
  key: (s: string) => string = (s) => s,
): string[] {
  const removeKeys = new Set(remove.map(key));
  const out = [...current];
  for (const a of add) {
    const i = out.findIndex((c) => key(c) === key(a));
    if (i === -1) out.push(a);
    else out[i] = a;
  }
  return out.filter((c) => !removeKeys.has(key(c)) || add.includes(c));
}

function updateLabels(parent: JsonObject, key: string, add: string[], remove: string[]): void {
  if (add.length === 0 && remove.length === 0) return;
  const labels: Record<string, string> = { ...((parent[key] as Record<string, string> | undefined) ?? {}) };
  Object.assign(labels, parseLabels(add));
  for (const r of remove) delete labels[r];
  parent[key] = labels;
}

/**
 * Applies `service update` flags to a copy of the spec the daemon returned (read-modify-write,
 * as docker does; the result is posted whole with `?version=`).
 */
export function applyServiceUpdate(
  original: ServiceSpec,
  flags: ParsedFlags,
  refs: ResolvedRefs,
  lookupEnv: (k: string) => string | undefined = () => undefined,
): ServiceSpec {
  const spec = structuredClone(original) as JsonObject;
  const tt = objectAt(spec, 'TaskTemplate');
  const cs = objectAt(tt, 'ContainerSpec');

  if (flags.changed('image')) cs.Image = withDefaultTag(flags.string('image'));
  if (flags.changed('args')) cs.Args = shellSplit(flags.string('args'));
  if (flags.changed('entrypoint')) cs.Command = shellSplit(flags.string('entrypoint'));
  if (anyChanged(flags, ['env-add', 'env-rm'])) {
    const env = updateList(
      stringsAt(cs, 'Env'),
      flags.list('env-add').map((e) => expandEnv(e, lookupEnv)),
      flags.list('env-rm'),
      envKey,
    );
    if (env.length > 0) cs.Env = env;
    else delete cs.Env;
  }
  updateLabels(spec, 'Labels', flags.list('label-add'), flags.list('label-rm'));
  updateLabels(cs, 'Labels', flags.list('container-label-add'), flags.list('container-label-rm'));
  for (const [flag, key] of [
    ['hostname', 'Hostname'],
    ['workdir', 'Dir'],
    ['user', 'User'],
    ['stop-signal', 'StopSignal'],
  ] as const) {
    if (flags.changed(flag)) cs[key] = flags.string(flag);
  }
  if (flags.changed('init')) cs.Init = flags.bool('init');
  if (flags.changed('read-only')) cs.ReadOnly = flags.bool('read-only');
  if (flags.changed('tty')) cs.TTY = flags.bool('tty');
  if (flags.changed('stop-grace-period')) cs.StopGracePeriod = flags.duration('stop-grace-period');
  const hc = healthcheck(flags, cs.Healthcheck as JsonObject | undefined);
  if (hc) cs.Healthcheck = hc;
  if (anyChanged(flags, ['mount-add', 'mount-rm'])) {
    const removeTargets = new Set(flags.list('mount-rm'));
    const adds = flags.list('mount-add').map(parseMount);
    const addTargets = new Set(adds.map((m) => m.Target));
    const current = (Array.isArray(cs.Mounts) ? (cs.Mounts as JsonObject[]) : []).filter(
      (m) => !removeTargets.has(String(m.Target)) && !addTargets.has(String(m.Target)),
    );
    const mounts = [...current, ...adds];
    if (mounts.length > 0) cs.Mounts = mounts;
    else delete cs.Mounts;
  }
  for (const kind of ['secret', 'config'] as const) {
    if (!anyChanged(flags, [`${kind}-add`, `${kind}-rm`])) continue;
    const key = kind === 'secret' ? 'Secrets' : 'Configs';
    const nameKey = kind === 'secret' ? 'SecretName' : 'ConfigName';
    const idKey = kind === 'secret' ? 'SecretID' : 'ConfigID';
    const remove = new Set(flags.list(`${kind}-rm`));
    const adds = flags.list(`${kind}-add`).map((v) => secretRef(v, refs, kind));
    const current = (Array.isArray(cs[key]) ? (cs[key] as JsonObject[]) : []).filter(
      (r) => !remove.has(String(r[nameKey])) && !remove.has(String(r[idKey])),
    );
    const refsOut = [...current, ...adds];
    if (refsOut.length > 0) cs[key] = refsOut;
    else delete cs[key];
  }

  const resources = objectAt(tt, 'Resources');
  applyResources(flags, resources);
  const restart = restartPolicy(flags, tt.RestartPolicy);
  if (restart) tt.RestartPolicy = restart;
  const placement = objectAt(tt, 'Placement');
  if (anyChanged(flags, ['constraint-add', 'constraint-rm'])) {
    const constraints = updateList(
      stringsAt(placement, 'Constraints'),
      flags.list('constraint-add'),
      flags.list('constraint-rm'),
    );
    if (constraints.length > 0) placement.Constraints = constraints;
    else delete placement.Constraints;
  }
  if (anyChanged(flags, ['placement-pref-add', 'placement-pref-rm'])) {
    const desc = (p: unknown) =>
      String(((p as JsonObject).Spread as JsonObject | undefined)?.SpreadDescriptor);
    const removeDescs = new Set(
      flags.list('placement-pref-rm').map((v) => parsePlacementPref(v).Spread.SpreadDescriptor),
    );
    const current = (Array.isArray(placement.Preferences) ? placement.Preferences : []).filter(
      (p) => !removeDescs.has(desc(p)),
    );
    const prefs = [...current, ...flags.list('placement-pref-add').map(parsePlacementPref)];
    if (prefs.length > 0) placement.Preferences = prefs;
    else delete placement.Preferences;
  }
  if (flags.changed('replicas-max-per-node')) {
    const mode = (spec.Mode ?? {}) as JsonObject;
    if (!('Replicated' in mode || 'ReplicatedJob' in mode)) {
      throw new SpecError('replicas-max-per-node can only be used with replicated or replicated-job mode');
    }
    const max = flags.number('replicas-max-per-node') ?? 0;
    if (max > 0) placement.MaxReplicas = max;
    else delete placement.MaxReplicas;
  }
  if (anyChanged(flags, ['network-add', 'network-rm'])) {
    const remove = new Set(flags.list('network-rm').flatMap((n) => [n, refs.networks.get(n) ?? n]));
    const current = (Array.isArray(tt.Networks) ? (tt.Networks as JsonObject[]) : []).filter(
      (n) => !remove.has(String(n.Target)),
    );
    const nets = [...current, ...flags.list('network-add').map((n) => networkAttachment(n, refs))];
    if (nets.length > 0) tt.Networks = nets;
    else delete tt.Networks;
  }
  if (flags.changed('log-driver')) {
    tt.LogDriver = { Name: flags.string('log-driver'), Options: parseLabels(flags.list('log-opt')) };
  }
  if (flags.bool('force')) tt.ForceUpdate = (typeof tt.ForceUpdate === 'number' ? tt.ForceUpdate : 0) + 1;

  if (flags.changed('replicas')) {
    const mode = objectAt(spec, 'Mode');
    const replicas = flags.number('replicas');
    if (mode.Replicated) objectAt(mode, 'Replicated').Replicas = replicas;
    else if (mode.ReplicatedJob) objectAt(mode, 'ReplicatedJob').TotalCompletions = replicas;
    else throw new SpecError('replicas can only be used with replicated or replicated-job mode');
  }
  if (flags.changed('max-concurrent')) {
    const mode = objectAt(spec, 'Mode');
    if (!mode.ReplicatedJob) throw new SpecError('max-concurrent can only be used with replicated-job mode');
    objectAt(mode, 'ReplicatedJob').MaxConcurrent = flags.number('max-concurrent');
  }
  const uc = updateConfig(flags, 'update', spec.UpdateConfig);
  if (uc) spec.UpdateConfig = uc;
  const rc = updateConfig(flags, 'rollback', spec.RollbackConfig);
  if (rc) spec.RollbackConfig = rc;
  const endpoint = objectAt(spec, 'EndpointSpec');
  if (flags.changed('endpoint-mode')) endpoint.Mode = flags.string('endpoint-mode');
  updatePorts(flags, endpoint);
  return spec;
}

/** Applies `service scale NAME=N` to a spec. */
export function scaleServiceSpec(original: ServiceSpec, replicas: number): ServiceSpec {
  const spec = structuredClone(original) as JsonObject;
  const mode = objectAt(spec, 'Mode');
  if (mode.Replicated) objectAt(mode, 'Replicated').Replicas = replicas;
  else if (mode.ReplicatedJob) objectAt(mode, 'ReplicatedJob').TotalCompletions = replicas;
  else throw new SpecError('scale can only be used with replicated or replicated-job mode');
  return spec;
}

/** Docker's CLI names an untagged image with ":latest" before sending it (reference.TagNameOnly). */
export function withDefaultTag(image: string): string {
  if (image === '' || image.includes('@')) return image;
  const last = image.slice(image.lastIndexOf('/') + 1);
  return last.includes(':') ? image : `${image}:latest`;
}
