// `swarmctl stack deploy|ls|services|ps|rm`: Docker's stack commands, done by our own code (the
// docker CLI does the same through the same Engine API). Deploy reads the compose files
// (src/stack/compose.ts), converts them (src/stack/convert.ts), plans against the cluster
// (src/stack/plan.ts) and applies the plan: networks, secrets, configs, then services in
// depends_on waves, waiting for each wave's dependencies to run (healthy, for services with a
// health check) before the next. Beyond Docker: depends_on honoured, `--dry-run` prints the plan.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { normalizeServiceSpec, withRuntime } from '../../api/defaults.js';
import type { ServiceSpec } from '../../api/types.js';
import { loadCompose, parseDotEnv } from '../../stack/compose.js';
import { stackObjects } from '../../stack/convert.js';
import {
  type CurrentStack,
  type DesiredStack,
  planStack,
  renderPlan,
  STACK_LABEL,
} from '../../stack/plan.js';
import type { Invocation } from '../args.js';
import { DaemonError, encodeFilters } from '../client.js';
import { CliError, type CommandContext, interruptibleSleep } from '../context.js';
import { renderTable, type TableKind } from '../formatters.js';
import { type Service, ServiceSchema } from '../types.js';
import { FILTER_FLAG, filtersFrom, listTasks, QUIET_FLAG } from './common.js';
import { type ContextualCommand, printServices, printTasks, registryAuthHeaders } from './service.js';

type Run = (ctx: CommandContext, inv: Invocation) => Promise<number>;

const NamedSchema = z.object({
  ID: z.string(),
  Spec: z.object({ Name: z.string(), Data: z.string().optional() }).passthrough(),
});
const NetworkListSchema = z.array(
  z.object({ Id: z.string(), Name: z.string(), Labels: z.record(z.string(), z.string()).nullish() }),
);
const DEPENDENCY_TIMEOUT_MS = 300_000;

const STACK_TABLE: TableKind = {
  defaultFormat: 'table {{.Name}}\t{{.Services}}',
  headers: { Name: 'NAME', Services: 'SERVICES' },
};

/** The compose files' text (`-` is stdin) and the variables they see: the environment over `.env`. */
function readProject(files: string[]): {
  texts: { path: string; text: string }[];
  env: Record<string, string | undefined>;
  dir: string;
} {
  if (files.length === 0) throw new CliError('Please specify a Compose file (with --compose-file).');
  const texts = files.map((f) => {
    try {
      return {
        path: f === '-' ? join(process.cwd(), '-') : resolve(f),
        text: readFileSync(f === '-' ? 0 : f, 'utf8'),
      };
    } catch (e) {
      throw new CliError(
        `open ${f}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`,
      );
    }
  });
  const dir = files[0] === '-' ? process.cwd() : dirname(resolve(files[0] ?? '.'));
  let dotEnv: Record<string, string> = {};
  try {
    dotEnv = parseDotEnv(readFileSync(join(dir, '.env'), 'utf8'));
  } catch {
    // no .env: the environment alone
  }
  return { texts, env: { ...dotEnv, ...process.env }, dir };
}

/** Fills each service's SecretID/ConfigID from the objects by name (those not created yet stay ""). */
function withIds(
  desired: DesiredStack,
  secrets: Map<string, string>,
  configs: Map<string, string>,
): DesiredStack {
  const fill = (spec: object): object => {
    const s = structuredClone(spec) as {
      TaskTemplate?: {
        ContainerSpec?: {
          Secrets?: { SecretID: string; SecretName: string }[];
          Configs?: { ConfigID: string; ConfigName: string }[];
        };
      };
    };
    const c = s.TaskTemplate?.ContainerSpec;
    for (const r of c?.Secrets ?? []) r.SecretID = secrets.get(r.SecretName) ?? r.SecretID;
    for (const r of c?.Configs ?? []) r.ConfigID = configs.get(r.ConfigName) ?? r.ConfigID;
    return s;
  };
  return { ...desired, services: desired.services.map((x) => ({ ...x, spec: fill(x.spec) })) };
}

/**
 * A stored spec as a compose file would say it (pure), so that an unchanged file shows no
 * difference: network IDs back to names (the manager stores IDs), replicas 1 when unset.
 */
function asDeployed(spec: object, networkNames: Map<string, string>): object {
  const s = structuredClone(spec) as { TaskTemplate?: { Networks?: { Target: string }[] } };
  for (const n of s.TaskTemplate?.Networks ?? []) n.Target = networkNames.get(n.Target) ?? n.Target;
  return s;
}

/**
 * What the server fills in that a compose file leaves out (one replica; the spec as the engine
 * keeps and shows it: Isolation, Runtime), so an unchanged file plans no update.
 */
function withDefaults(spec: object): object {
  const s = structuredClone(spec) as ServiceSpec;
  if (s.Mode?.Replicated && s.Mode.Replicated.Replicas === undefined) s.Mode.Replicated.Replicas = 1;
  return s.TaskTemplate ? withRuntime(normalizeServiceSpec(s)) : s;
}

async function currentStack(
  ctx: CommandContext,
  stack: string,
  desired: DesiredStack,
): Promise<
  CurrentStack & {
    serviceIds: Map<string, string>;
    secretIds: Map<string, string>;
    configIds: Map<string, string>;
  }
> {
  const networks = await ctx.client.json('GET', '/networks', NetworkListSchema);
  const secrets = await ctx.client.json('GET', '/secrets', z.array(NamedSchema));
  const configs = await ctx.client.json('GET', '/configs', z.array(NamedSchema));
  const names = new Set(desired.services.map((s) => s.name));
  // The stack's services, and any other service under a name the files ask for.
  const services = (await ctx.client.json('GET', '/services', z.array(ServiceSchema))).filter(
    (s) => s.Spec.Labels?.[STACK_LABEL] === stack || names.has(s.Spec.Name ?? ''),
  );
  return {
    networks: networks.map((n) => ({ name: n.Name })),
    secrets: secrets.map((s) => ({ name: s.Spec.Name })),
    configs: configs.map((c) => ({
      name: c.Spec.Name,
      ...(c.Spec.Data !== undefined ? { data: c.Spec.Data } : {}),
    })),
    services: services.map((s) => ({
      id: s.ID,
      name: s.Spec.Name ?? s.ID,
      version: s.Version.Index,
      spec: asDeployed(s.Spec, new Map(networks.map((n) => [n.Id, n.Name]))),
      ...(s.Spec.Labels?.[STACK_LABEL] ? { stack: s.Spec.Labels[STACK_LABEL] } : {}),
    })),
    serviceIds: new Map(services.map((s) => [s.Spec.Name ?? s.ID, s.ID])),
    secretIds: new Map(secrets.map((x) => [x.Spec.Name, x.ID])),
    configIds: new Map(configs.map((x) => [x.Spec.Name, x.ID])),
  };
}

/** Waits until a service's tasks satisfy a depends_on condition (running: healthy when it has a check). */
async function waitFor(ctx: CommandContext, service: string, condition: string): Promise<void> {
  const end = Date.now() + DEPENDENCY_TIMEOUT_MS;
  for (;;) {
    const [svc] = await ctx.client.json('GET', '/services', z.array(ServiceSchema), {
      query: { filters: encodeFilters({ name: [service] }), status: true },
    });
    const tasks = svc ? await listTasks(ctx, { service: [svc.ID] }) : [];
    const current = tasks.filter((t) => t.DesiredState !== 'shutdown');
    const ok =
      condition === 'service_completed_successfully'
        ? current.length > 0 && current.every((t) => t.Status.State === 'complete')
        : current.length > 0 && current.every((t) => t.Status.State === 'running');
    if (ok) return;
    if (Date.now() > end) throw new CliError(`timed out waiting for ${service} (${condition})`);
    if (!(await interruptibleSleep(250, ctx.interrupt))) throw new CliError('interrupted');
  }
}

/** Waits for every request to finish, then fails with the first error (none is left in flight). */
async function settleAll(sends: readonly Promise<unknown>[]): Promise<void> {
  const failed = (await Promise.allSettled(sends)).find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
}

const deploy: Run = async (ctx, inv) => {
  const [stack = ''] = inv.args;
  const files = inv.flags.list('compose-file');
  // Image digests are not pinned (no registry lookups here): the value is only checked.
  const resolveImage = inv.flags.string('resolve-image');
  if (resolveImage !== '' && !['always', 'changed', 'never'].includes(resolveImage))
    throw new CliError(`Invalid option ${resolveImage} for flag --resolve-image`);
  const { texts, env, dir } = readProject(files);
  // Relative paths in the files resolve against the first file's directory (Docker's rule).
  const readFile = (p: string) => readFileSync(resolve(dir, p));
  const project = loadCompose(texts, env, { readFile });
  const converted = stackObjects(stack, project, { readFile });
  for (const w of converted.warnings) ctx.stderr(`${w}\n`);
  const desired0: DesiredStack = converted;
  const current = await currentStack(ctx, stack, desired0);
  const { secretIds, configIds } = current;
  const filled = withIds(desired0, secretIds, configIds);
  const desired = { ...filled, services: filled.services.map((x) => ({ ...x, spec: withDefaults(x.spec) })) };
  const plan = planStack(stack, desired, current, inv.flags.bool('prune'));
  if (inv.flags.bool('dry-run')) {
    ctx.stdout(renderPlan(plan));
    return 0;
  }
  if (plan.changedConfigs.length > 0)
    throw new CliError(
      `config ${plan.changedConfigs.join(', ')} changed in the compose files: a config's value cannot change in place; give it a new name, or run "swarmctl config update NAME --data-file FILE"`,
    );
  for (const n of plan.createNetworks) {
    ctx.stdout(`Creating network ${n}\n`);
    await ctx.client.json('POST', '/networks/create', z.unknown(), {
      body: desired.networks.find((x) => x.name === n)?.create ?? {},
    });
  }
  for (const [kind, names, list, ids] of [
    ['secret', plan.createSecrets, desired.secrets, secretIds],
    ['config', plan.createConfigs, desired.configs, configIds],
  ] as const) {
    for (const n of names) {
      ctx.stdout(`Creating ${kind} ${n}\n`);
      const r = await ctx.client.json('POST', `/${kind}s/create`, z.object({ ID: z.string() }), {
        body: list.find((x) => x.name === n)?.create ?? {},
      });
      ids.set(n, r.ID);
    }
  }
  const ready = withIds(desired, secretIds, configIds);
  const dependedOn = new Map<string, string>();
  for (const s of ready.services) for (const d of s.dependsOn) dependedOn.set(d.service, d.condition);
  for (const wave of plan.waves) {
    // The services of one wave do not depend on each other: they are sent at once (Docker's CLI
    // sends one after the other), the messages still in the file's order.
    const sends: Promise<unknown>[] = [];
    for (const name of wave) {
      const spec = ready.services.find((s) => s.name === name)?.spec ?? {};
      if (plan.createServices.includes(name)) {
        ctx.stdout(`Creating service ${name}\n`);
        sends.push(
          registryAuthHeaders(ctx, inv, spec as Service['Spec']).then((headers) =>
            ctx.client.json('POST', '/services/create', z.unknown(), { body: spec, headers }),
          ),
        );
      } else if (plan.updateServices.some((u) => u.name === name)) {
        const found = current.services.find((c) => c.name === name);
        if (!found) continue;
        ctx.stdout(`Updating service ${name} (id: ${found.id})\n`);
        sends.push(
          registryAuthHeaders(ctx, inv, spec as Service['Spec']).then((headers) =>
            ctx.client.json('POST', `/services/${found.id}/update`, z.unknown(), {
              query: { version: String(found.version) },
              body: spec,
              headers,
            }),
          ),
        );
      }
    }
    await settleAll(sends);
    for (const name of wave) {
      const condition = dependedOn.get(name);
      if (condition === undefined) continue;
      ctx.stdout(`Waiting for ${name} (${condition.replace('service_', '')})\n`);
      await waitFor(ctx, name, condition);
    }
  }
  for (const n of plan.removeServices) {
    ctx.stdout(`Removing service ${n}\n`);
    const id = current.serviceIds.get(n);
    if (id) await ctx.client.request('DELETE', `/services/${id}`);
  }
  return 0;
};

async function stackServices(ctx: CommandContext, stack: string) {
  return ctx.client.json('GET', '/services', z.array(ServiceSchema), {
    query: { filters: encodeFilters({ label: [`${STACK_LABEL}=${stack}`] }) },
  });
}

const ls: Run = async (ctx, inv) => {
  const services = await ctx.client.json('GET', '/services', z.array(ServiceSchema), {
    query: { filters: encodeFilters({ label: [STACK_LABEL] }) },
  });
  const counts = new Map<string, number>();
  for (const s of services) {
    const name = s.Spec.Labels?.[STACK_LABEL];
    if (name) counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  const rows = [...counts]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([Name, n]) => ({ Name, Services: String(n) }));
  ctx.stdout(renderTable(STACK_TABLE, rows, inv.flags.string('format')));
  return 0;
};

const services: Run = async (ctx, inv) => {
  const [stack = ''] = inv.args;
  if ((await stackServices(ctx, stack)).length === 0) throw new CliError(`Nothing found in stack: ${stack}`);
  const filters = filtersFrom(inv.flags.list('filter'));
  await printServices(
    ctx,
    { ...filters, label: [...(filters.label ?? []), `${STACK_LABEL}=${stack}`] },
    {
      quiet: inv.flags.bool('quiet'),
      format: inv.flags.string('format'),
    },
  );
  return 0;
};

const ps: Run = async (ctx, inv) => {
  const [stack = ''] = inv.args;
  const list = await stackServices(ctx, stack);
  if (list.length === 0) throw new CliError(`Nothing found in stack: ${stack}`);
  const tasks = await listTasks(ctx, {
    ...filtersFrom(inv.flags.list('filter')),
    service: list.map((s) => s.ID),
  });
  await printTasks(ctx, tasks, {
    noTrunc: inv.flags.bool('no-trunc'),
    quiet: inv.flags.bool('quiet'),
    format: inv.flags.string('format'),
    services: new Map(list.map((s) => [s.ID, s])),
  });
  return 0;
};

/** Removes each stack's services, secrets, configs and networks (Docker's order), then waits for its tasks to go. */
const rm: Run = async (ctx, inv) => {
  let failed = false;
  for (const stack of inv.args) {
    const label = encodeFilters({ label: [`${STACK_LABEL}=${stack}`] });
    const svcs = await stackServices(ctx, stack);
    const secrets = await ctx.client.json('GET', '/secrets', z.array(NamedSchema), {
      query: { filters: label },
    });
    const configs = await ctx.client.json('GET', '/configs', z.array(NamedSchema), {
      query: { filters: label },
    });
    const networks = (
      await ctx.client.json('GET', '/networks', NetworkListSchema, { query: { filters: label } })
    ).filter((n) => n.Labels?.[STACK_LABEL] === stack);
    if (svcs.length + secrets.length + configs.length + networks.length === 0) {
      ctx.stderr(`Nothing found in stack: ${stack}\n`);
      continue;
    }
    const remove = async (what: string, name: string, path: string) => {
      ctx.stdout(`Removing ${what} ${name}\n`);
      try {
        await ctx.client.request('DELETE', path);
      } catch (e) {
        if (!(e instanceof DaemonError)) throw e;
        ctx.stderr(`Failed to remove ${what} ${name}: ${e.message}\n`);
        failed = true;
      }
    };
    for (const s of svcs.sort((a, b) => (a.Spec.Name ?? '').localeCompare(b.Spec.Name ?? '')))
      await remove('service', s.Spec.Name ?? s.ID, `/services/${s.ID}`);
    for (const s of secrets) await remove('secret', s.Spec.Name, `/secrets/${s.ID}`);
    for (const c of configs) await remove('config', c.Spec.Name, `/configs/${c.ID}`);
    for (const n of networks) await remove('network', n.Name, `/networks/${n.Id}`);
    if (!inv.flags.bool('detach')) {
      // By label: a removed service's tasks no longer answer to its ID.
      const end = Date.now() + 120_000;
      while ((await listTasks(ctx, { label: [`${STACK_LABEL}=${stack}`] })).length > 0 && Date.now() < end)
        if (!(await interruptibleSleep(250, ctx.interrupt))) break;
    }
  }
  return failed ? 1 : 0;
};

export const stackCommand: ContextualCommand = {
  name: 'stack',
  usage: 'COMMAND',
  description: 'Manage Swarm stacks',
  subcommands: [
    {
      name: 'deploy',
      usage: '[OPTIONS] STACK',
      description: 'Deploy a new stack or update an existing stack',
      args: { min: 1, max: 1 },
      flags: [
        {
          name: 'compose-file',
          short: 'c',
          kind: 'list',
          typeName: 'strings',
          description: 'Path to a Compose file, or "-" to read from stdin',
        },
        { name: 'prune', kind: 'bool', description: 'Prune services that are no longer referenced' },
        {
          name: 'with-registry-auth',
          kind: 'bool',
          description: 'Send registry authentication details to Swarm agents',
        },
        {
          name: 'resolve-image',
          kind: 'string',
          description:
            'Accepted as the docker CLI takes it ("always", "changed", "never"); images are not pinned to digests here',
          defaultText: '"always"',
        },
        {
          name: 'dry-run',
          kind: 'bool',
          description: 'Print what would be created, updated and removed, and change nothing (swarmkit-ts)',
        },
        {
          name: 'detach',
          short: 'd',
          kind: 'bool',
          description: 'Exit immediately instead of waiting for the stack services to converge',
          defaultText: 'true',
        },
      ],
      exec: deploy,
    },
    {
      name: 'ls',
      aliases: ['list'],
      usage: '[OPTIONS]',
      description: 'List stacks',
      args: { max: 0 },
      flags: [{ name: 'format', kind: 'string', description: 'Format output using a custom template' }],
      exec: ls,
    },
    {
      name: 'services',
      usage: '[OPTIONS] STACK',
      description: 'List the services in the stack',
      args: { min: 1, max: 1 },
      flags: [
        FILTER_FLAG,
        { name: 'format', kind: 'string', description: 'Format output using a custom template' },
        QUIET_FLAG,
      ],
      exec: services,
    },
    {
      name: 'ps',
      usage: '[OPTIONS] STACK',
      description: 'List the tasks in the stack',
      args: { min: 1, max: 1 },
      flags: [
        FILTER_FLAG,
        { name: 'format', kind: 'string', description: 'Pretty-print tasks using a Go template' },
        { name: 'no-trunc', kind: 'bool', description: 'Do not truncate output' },
        QUIET_FLAG,
      ],
      exec: ps,
    },
    {
      name: 'rm',
      aliases: ['remove', 'down'],
      usage: '[OPTIONS] STACK [STACK...]',
      description: 'Remove one or more stacks',
      args: { min: 1 },
      flags: [
        { name: 'detach', short: 'd', kind: 'bool', description: 'Do not wait for the stack to be removed' },
      ],
      exec: rm,
    },
  ],
};
