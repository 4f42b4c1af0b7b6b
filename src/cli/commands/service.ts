// `swarmctl service …`: create, ls, ps, inspect, rm, scale, update, rollback, logs. Each command
// sends the same requests as the docker CLI (docker-cli-api-trace.md) and prints its output.

import { z } from 'zod';
import type { CommandSpec, Invocation } from '../args.js';
import { UsageError } from '../args.js';
import { DaemonError, encodeFilters } from '../client.js';
import { CliError, type CommandContext, interruptibleSleep } from '../context.js';
import {
  naturalLess,
  type ReplicaCounts,
  renderTable,
  SERVICE_TABLE,
  serviceRow,
  TASK_TABLE,
  taskRows,
} from '../formatters.js';
import { writeServiceLogs } from '../logs.js';
import { prettyService } from '../pretty.js';
import {
  PlainProgressWriter,
  ProgressError,
  type ProgressWriter,
  TtyProgressWriter,
  watchServiceProgress,
} from '../progress.js';
import { registryAuthFor } from '../registryauth.js';
import {
  applyServiceUpdate,
  buildServiceSpec,
  COMMON_SERVICE_FLAGS,
  CREATE_ONLY_FLAGS,
  type ResolvedRefs,
  referencedNames,
  SpecError,
  scaleServiceSpec,
  UPDATE_ONLY_FLAGS,
} from '../servicespec.js';
import {
  IdResponseSchema,
  NamedObjectSchema,
  NetworkSchema,
  NodeSchema,
  type Service,
  ServiceSchema,
  type Task,
  UpdateResponseSchema,
} from '../types.js';
import {
  eachRef,
  FILTER_FLAG,
  FORMAT_FLAG,
  filtersFrom,
  filtersQuery,
  findService,
  getService,
  INSPECT_FORMAT_FLAG,
  listTasks,
  nodeNames,
  PRETTY_FLAG,
  QUIET_FLAG,
  writeInspect,
} from './common.js';

type Run = (ctx: CommandContext, inv: Invocation) => Promise<number>;
export type ContextualCommand = Omit<CommandSpec, 'run' | 'subcommands'> & {
  exec?: Run;
  subcommands?: ContextualCommand[];
};

async function resolveRefs(
  ctx: CommandContext,
  names: ReturnType<typeof referencedNames>,
): Promise<ResolvedRefs> {
  const refs: ResolvedRefs = { networks: new Map(), secrets: new Map(), configs: new Map() };
  for (const n of names.networks) {
    const net = await ctx.client.json('GET', `/networks/${encodeURIComponent(n)}`, NetworkSchema, {
      query: { scope: 'swarm' },
    });
    refs.networks.set(n, net.Id);
  }
  for (const [kind, list, map] of [
    ['secrets', names.secrets, refs.secrets],
    ['configs', names.configs, refs.configs],
  ] as const) {
    if (list.length === 0) continue;
    const found = await ctx.client.json('GET', `/${kind}`, z.array(NamedObjectSchema), {
      query: { filters: encodeFilters({ name: list }) },
    });
    for (const name of list) {
      const hit = found.find((o) => o.Spec.Name === name) ?? found.find((o) => o.ID === name);
      if (!hit) throw new CliError(`Error response from daemon: ${kind.slice(0, -1)} not found: ${name}`);
      map.set(name, hit.ID);
    }
  }
  return refs;
}

/** Runs the convergence display; Ctrl-C leaves the operation running and exits 0. */
async function waitOnService(ctx: CommandContext, serviceId: string, quiet: boolean): Promise<number> {
  const sink = quiet ? () => {} : ctx.stdout;
  const writer: ProgressWriter = ctx.isTTY ? new TtyProgressWriter(sink) : new PlainProgressWriter(sink);
  try {
    const result = await watchServiceProgress(
      {
        service: () => getService(ctx, serviceId),
        tasks: () => listTasks(ctx, { '_up-to-date': ['true'], service: [serviceId] }),
        activeNodes: async () => {
          const nodes = await ctx.client.json('GET', '/nodes', z.array(NodeSchema));
          return new Set(nodes.filter((n) => n.Status.State !== 'down').map((n) => n.ID));
        },
      },
      writer,
      { now: ctx.now, sleep: (ms) => interruptibleSleep(ms, ctx.interrupt) },
    );
    if (result === 'interrupted') {
      writer.line('Operation continuing in background.');
      writer.line(`Use \`${ctx.prog} service ps ${serviceId}\` to check progress.`);
    }
    return 0;
  } catch (e) {
    if (e instanceof ProgressError) throw new CliError(e.message);
    throw e;
  }
}

function isJob(spec: Service['Spec']): boolean {
  const mode = spec.Mode ?? {};
  return 'ReplicatedJob' in mode || 'GlobalJob' in mode;
}

const create: Run = async (ctx, inv) => {
  const { flags, args } = inv;
  if (!flags.changed('image') && args.length === 0) {
    throw new UsageError(
      `"${ctx.prog} service create" requires at least 1 argument.`,
      1,
      `${ctx.prog} service create`,
      `Usage:  ${ctx.prog} service create [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nCreate a new service`,
    );
  }
  const refs = await resolveRefs(ctx, referencedNames(flags, false));
  const spec = buildServiceSpec(flags, args, refs, (k) => ctx.env[k]);
  const created = await ctx.client.json('POST', '/services/create', IdResponseSchema, {
    body: spec,
    headers: await registryAuthHeaders(ctx, inv, spec),
  });
  if (created.Warning) ctx.stderr(`${created.Warning}\n`);
  ctx.stdout(`${created.ID}\n`);
  if (flags.bool('detach') || isJob(spec)) return 0;
  return waitOnService(ctx, created.ID, flags.bool('quiet'));
};

async function replicaCounts(ctx: CommandContext, services: Service[]): Promise<Map<string, ReplicaCounts>> {
  const counts = new Map<string, ReplicaCounts>();
  const missing = services.filter((s) => !s.ServiceStatus);
  if (missing.length === 0) return counts;
  const tasks = await listTasks(ctx, { service: missing.map((s) => s.ID) });
  const nodes = await ctx.client.json('GET', '/nodes', z.array(NodeSchema));
  const active = new Set(nodes.filter((n) => n.Status.State !== 'down').map((n) => n.ID));
  for (const s of missing) counts.set(s.ID, { running: 0, desired: 0, completed: 0 });
  for (const t of tasks) {
    const c = counts.get(t.ServiceID);
    if (!c) continue;
    if (t.DesiredState !== 'shutdown') c.desired++;
    if (t.Status.State === 'running' && (!t.NodeID || active.has(t.NodeID))) c.running++;
    if (t.Status.State === 'complete') c.completed++;
  }
  return counts;
}

/** `service ls`'s table for the services `filters` select (also `stack services`). */
export async function printServices(
  ctx: CommandContext,
  filters: Record<string, string[]>,
  opts: { quiet: boolean; format: string },
): Promise<void> {
  const services = await ctx.client.json('GET', '/services', z.array(ServiceSchema), {
    query: { filters: filtersQuery(filters), status: true },
  });
  services.sort((a, b) => naturalLess(a.Spec.Name ?? '', b.Spec.Name ?? ''));
  const counts = await replicaCounts(ctx, services);
  const rows = services.map((s) => serviceRow(s, counts.get(s.ID)));
  ctx.stdout(renderTable(SERVICE_TABLE, rows, opts.quiet ? '{{.ID}}' : opts.format));
}

const ls: Run = async (ctx, inv) => {
  await printServices(ctx, filtersFrom(inv.flags.list('filter')), {
    quiet: inv.flags.bool('quiet'),
    format: inv.flags.string('format'),
  });
  return 0;
};

async function printTasks(
  ctx: CommandContext,
  tasks: Task[],
  opts: { noTrunc: boolean; quiet: boolean; format: string; services?: Map<string, Service> },
): Promise<void> {
  const services = opts.services ?? new Map<string, Service>();
  for (const id of new Set(tasks.map((t) => t.ServiceID))) {
    if (services.has(id)) continue;
    try {
      services.set(id, await getService(ctx, id));
    } catch (e) {
      if (!(e instanceof DaemonError)) throw e;
    }
  }
  const rows = taskRows(tasks, {
    serviceNames: new Map([...services].map(([id, s]) => [id, s.Spec.Name ?? id])),
    globalServices: new Set(
      [...services].filter(([, s]) => 'Global' in (s.Spec.Mode ?? {})).map(([id]) => id),
    ),
    nodeNames: opts.quiet
      ? new Map()
      : await nodeNames(
          ctx,
          tasks.map((t) => t.NodeID ?? ''),
        ),
    now: ctx.now(),
    noTrunc: opts.noTrunc,
  });
  const format = opts.quiet ? '{{.ID}}' : opts.format;
  ctx.stdout(renderTable(TASK_TABLE, rows, format));
}

const ps: Run = async (ctx, inv) => {
  const filters = filtersFrom(inv.flags.list('filter'));
  const services = new Map<string, Service>();
  for (const ref of inv.args) {
    const s = await findService(ctx, ref);
    services.set(s.ID, s);
  }
  const tasks = await listTasks(ctx, { ...filters, service: [...services.keys()] });
  await printTasks(ctx, tasks, {
    noTrunc: inv.flags.bool('no-trunc'),
    quiet: inv.flags.bool('quiet'),
    format: inv.flags.string('format'),
  });
  return 0;
};

const inspect: Run = async (ctx, inv) => {
  const pretty = inv.flags.bool('pretty');
  const found: Service[] = [];
  let missing: string | undefined;
  for (const ref of inv.args) {
    try {
      found.push(await getService(ctx, ref, pretty));
    } catch (e) {
      if (e instanceof DaemonError && e.status === 404) {
        missing ??= ref;
        continue;
      }
      throw e;
    }
  }
  if (pretty) for (const s of found) ctx.stdout(prettyService(s));
  else writeInspect(ctx, found, inv.flags.optionalString('format'));
  if (missing !== undefined) throw new CliError(`Error: no such service: ${missing}`);
  return 0;
};

const rm: Run = async (ctx, inv) => {
  const failed = await eachRef(inv.args, async (ref) => {
    await ctx.client.request('DELETE', `/services/${encodeURIComponent(ref)}`);
    ctx.stdout(`${ref}\n`);
  });
  if (failed) throw failed;
  return 0;
};

const SPEC_IMAGE = z.object({ TaskTemplate: z.object({ ContainerSpec: z.object({ Image: z.string() }) }) });

/**
 * `--with-registry-auth`: X-Registry-Auth with the client's credentials for the spec's image (the
 * new one on update), as the docker CLI sends it; no header without the flag or without credentials.
 */
export async function registryAuthHeaders(
  ctx: CommandContext,
  inv: Invocation,
  spec: Service['Spec'],
): Promise<Record<string, string>> {
  if (!inv.flags.bool('with-registry-auth')) return {};
  const parsed = SPEC_IMAGE.safeParse(spec);
  if (!parsed.success) return {};
  const auth = await registryAuthFor(parsed.data.TaskTemplate.ContainerSpec.Image, ctx.env);
  return auth ? { 'X-Registry-Auth': auth } : {};
}

async function postUpdate(
  ctx: CommandContext,
  service: Service,
  spec: Service['Spec'],
  query: Record<string, string | number>,
  headers: Record<string, string> = {},
): Promise<void> {
  const res = await ctx.client.json('POST', `/services/${service.ID}/update`, UpdateResponseSchema, {
    body: spec,
    query,
    headers,
  });
  for (const w of res.Warnings ?? []) ctx.stderr(`${w}\n`);
}

const scale: Run = async (ctx, inv) => {
  const targets: Array<{ name: string; replicas: number }> = [];
  for (const arg of inv.args) {
    const [name = '', n, ...rest] = arg.split('=');
    if (n === undefined || rest.length > 0 || name === '') {
      throw new UsageError(
        `Invalid scale specifier '${arg}'.`,
        1,
        `${ctx.prog} service scale`,
        `Usage:  ${ctx.prog} service scale SERVICE=REPLICAS [SERVICE=REPLICAS...]\n\nScale one or multiple replicated services`,
      );
    }
    if (!/^\d+$/.test(n))
      throw new CliError(`invalid replicas value ${n}: strconv.ParseUint: parsing "${n}": invalid syntax`);
    targets.push({ name, replicas: Number(n) });
  }
  const errors: string[] = [];
  const scaledIds: string[] = [];
  for (const t of targets) {
    try {
      const service = await getService(ctx, t.name);
      const spec = scaleServiceSpec(service.Spec, t.replicas);
      await postUpdate(ctx, service, spec, { version: service.Version.Index });
      ctx.stdout(`${t.name} scaled to ${t.replicas}\n`);
      scaledIds.push(service.ID);
    } catch (e) {
      if (e instanceof DaemonError) errors.push(`${t.name}: Error response from daemon: ${e.message}`);
      else if (e instanceof SpecError) errors.push(`${t.name}: ${e.message}`);
      else throw e;
    }
  }
  if (!inv.flags.bool('detach')) {
    for (const id of scaledIds) {
      const code = await waitOnService(ctx, id, false);
      if (code !== 0) return code;
    }
  }
  if (errors.length > 0) throw new CliError(errors.join('\n'));
  return 0;
};

const update: Run = async (ctx, inv) => {
  const ref = inv.args[0] ?? '';
  const service = await getService(ctx, ref);
  const refs = await resolveRefs(ctx, referencedNames(inv.flags, true));
  const rollback = inv.flags.bool('rollback');
  const spec = rollback ? service.Spec : applyServiceUpdate(service.Spec, inv.flags, refs, (k) => ctx.env[k]);
  const query: Record<string, string | number> = { registryAuthFrom: 'spec' };
  if (rollback) query.rollback = 'previous';
  query.version = service.Version.Index;
  await postUpdate(ctx, service, spec, query, await registryAuthHeaders(ctx, inv, spec));
  ctx.stdout(`${ref}\n`);
  if (inv.flags.bool('detach')) return 0;
  return waitOnService(ctx, service.ID, inv.flags.bool('quiet'));
};

const rollback: Run = async (ctx, inv) => {
  const ref = inv.args[0] ?? '';
  const service = await getService(ctx, ref);
  await postUpdate(ctx, service, service.Spec, { rollback: 'previous', version: service.Version.Index });
  ctx.stdout(`${ref}\n`);
  if (inv.flags.bool('detach')) return 0;
  return waitOnService(ctx, service.ID, inv.flags.bool('quiet'));
};

const logs: Run = async (ctx, inv) => {
  await writeServiceLogs(ctx, inv.args[0] ?? '', {
    follow: inv.flags.bool('follow'),
    tail: inv.flags.string('tail', 'all'),
    timestamps: inv.flags.bool('timestamps'),
    noTaskIds: inv.flags.bool('no-task-ids'),
    noResolve: inv.flags.bool('no-resolve'),
    noTrunc: inv.flags.bool('no-trunc'),
    raw: inv.flags.bool('raw'),
    since: inv.flags.optionalString('since'),
  });
  return 0;
};

const DETACH = COMMON_SERVICE_FLAGS.find((f) => f.name === 'detach');
const QUIET_PROGRESS = COMMON_SERVICE_FLAGS.find((f) => f.name === 'quiet');
const progressFlags = [DETACH, QUIET_PROGRESS].filter((f) => f !== undefined);

export const serviceCommand: ContextualCommand = {
  name: 'service',
  usage: 'COMMAND',
  description: 'Manage services',
  subcommands: [
    {
      name: 'create',
      usage: '[OPTIONS] IMAGE [COMMAND] [ARG...]',
      description: 'Create a new service',
      flags: [...COMMON_SERVICE_FLAGS, ...CREATE_ONLY_FLAGS],
      stopAtFirstArg: true,
      exec: create,
    },
    {
      name: 'ls',
      aliases: ['list'],
      usage: '[OPTIONS]',
      description: 'List services',
      flags: [FILTER_FLAG, FORMAT_FLAG('services'), QUIET_FLAG],
      args: { max: 0 },
      exec: ls,
    },
    {
      name: 'ps',
      usage: '[OPTIONS] SERVICE [SERVICE...]',
      description: 'List the tasks of one or more services',
      flags: [
        FILTER_FLAG,
        FORMAT_FLAG('tasks'),
        { name: 'no-resolve', kind: 'bool', description: 'Do not map IDs to Names' },
        { name: 'no-trunc', kind: 'bool', description: 'Do not truncate output' },
        { name: 'quiet', short: 'q', kind: 'bool', description: 'Only display task IDs' },
      ],
      args: { min: 1 },
      exec: ps,
    },
    {
      name: 'inspect',
      usage: '[OPTIONS] SERVICE [SERVICE...]',
      description: 'Display detailed information on one or more services',
      flags: [INSPECT_FORMAT_FLAG, PRETTY_FLAG],
      args: { min: 1 },
      exec: inspect,
    },
    {
      name: 'rm',
      aliases: ['remove'],
      usage: 'SERVICE [SERVICE...]',
      description: 'Remove one or more services',
      args: { min: 1 },
      exec: rm,
    },
    {
      name: 'scale',
      usage: 'SERVICE=REPLICAS [SERVICE=REPLICAS...]',
      description: 'Scale one or multiple replicated services',
      flags: [DETACH].filter((f) => f !== undefined),
      args: { min: 1 },
      exec: scale,
    },
    {
      name: 'update',
      usage: '[OPTIONS] SERVICE',
      description: 'Update a service',
      flags: [...COMMON_SERVICE_FLAGS, ...UPDATE_ONLY_FLAGS],
      args: { min: 1, max: 1 },
      exec: update,
    },
    {
      name: 'rollback',
      usage: '[OPTIONS] SERVICE',
      description: "Revert changes to a service's configuration",
      flags: progressFlags,
      args: { min: 1, max: 1 },
      exec: rollback,
    },
    {
      name: 'logs',
      usage: '[OPTIONS] SERVICE|TASK',
      description: 'Fetch the logs of a service or task',
      flags: [
        { name: 'details', kind: 'bool', description: 'Show extra details provided to logs' },
        { name: 'follow', short: 'f', kind: 'bool', description: 'Follow log output' },
        { name: 'no-resolve', kind: 'bool', description: 'Do not map IDs to Names in output' },
        { name: 'no-task-ids', kind: 'bool', description: 'Do not include task IDs in output' },
        { name: 'no-trunc', kind: 'bool', description: 'Do not truncate output' },
        { name: 'raw', kind: 'bool', description: 'Do not neatly format logs' },
        {
          name: 'since',
          kind: 'string',
          description:
            'Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)',
        },
        {
          name: 'tail',
          short: 'n',
          kind: 'string',
          description: 'Number of lines to show from the end of the logs',
          defaultText: '"all"',
        },
        { name: 'timestamps', short: 't', kind: 'bool', description: 'Show timestamps' },
      ],
      args: { min: 1, max: 1 },
      exec: logs,
    },
  ],
};

export { printTasks };
