// Lookups shared by several commands: services, nodes and tasks by name or ID, the local node,
// filters from -f flags, and JSON output for `inspect`.

import { z } from 'zod';
import type { FlagSpec } from '../args.js';
import { DaemonError, encodeFilters } from '../client.js';
import { CliError, type CommandContext } from '../context.js';
import { executeTemplate, parseTemplate, unescapeFormat } from '../template.js';
import { InfoSchema, type Node, NodeSchema, type Service, ServiceSchema, TaskSchema } from '../types.js';

/**
 * Runs `each` for every reference of a multi-object command (`rm A B`, `inspect A B`): a daemon
 * refusal does not stop the others, and all of them come back together as one error to throw once
 * the command has printed what it could, as docker does. Undefined when every one went through.
 */
export async function eachRef(
  refs: readonly string[],
  each: (ref: string) => Promise<void>,
): Promise<CliError | undefined> {
  const errors: string[] = [];
  for (const ref of refs) {
    try {
      await each(ref);
    } catch (e) {
      if (!(e instanceof DaemonError)) throw e;
      errors.push(`Error response from daemon: ${e.message}`);
    }
  }
  return errors.length > 0 ? new CliError(errors.join('\n')) : undefined;
}

/** `inspect -f`: a Go template for each object. */
export const INSPECT_FORMAT_FLAG: FlagSpec = {
  name: 'format',
  short: 'f',
  kind: 'string',
  description: 'Format the output using the given Go template',
};

/** `inspect --pretty`. */
export const PRETTY_FLAG: FlagSpec = {
  name: 'pretty',
  kind: 'bool',
  description: 'Print the information in a human friendly format',
};

export const FORMAT_FLAG = (what: string): FlagSpec => ({
  name: 'format',
  kind: 'string',
  description: `Pretty-print ${what} using a Go template`,
});
export const FILTER_FLAG: FlagSpec = {
  name: 'filter',
  short: 'f',
  kind: 'list',
  typeName: 'filter',
  description: 'Filter output based on conditions provided',
  validate: (v) => {
    if (!v.includes('=')) throw new Error(`bad format of filter (expected name=value)`);
  },
};
export const QUIET_FLAG: FlagSpec = {
  name: 'quiet',
  short: 'q',
  kind: 'bool',
  description: 'Only display IDs',
};

/** `-f name=web -f label=a` → {"name":["web"],"label":["a"]}. */
export function filtersFrom(values: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    const k = v.slice(0, eq).trim().toLowerCase();
    out[k] = [...(out[k] ?? []), v.slice(eq + 1)];
  }
  return out;
}

export function filtersQuery(filters: Record<string, string[]>): string | undefined {
  return Object.keys(filters).length > 0 ? encodeFilters(filters) : undefined;
}

export async function getService(ctx: CommandContext, ref: string, insertDefaults = false): Promise<Service> {
  return ctx.client.json('GET', `/services/${encodeURIComponent(ref)}`, ServiceSchema, {
    query: { insertDefaults },
  });
}

/** Like docker's `service ps`: an ID prefix first, then a name. */
export async function findService(ctx: CommandContext, ref: string): Promise<Service> {
  for (const key of ['id', 'name']) {
    const list = await ctx.client.json('GET', '/services', z.array(ServiceSchema), {
      query: { filters: encodeFilters({ [key]: [ref] }) },
    });
    const exact = list.filter((s) => s.ID === ref || s.Spec.Name === ref);
    if (exact.length === 1 && exact[0]) return exact[0];
    if (list.length === 1 && list[0] && key === 'id') return list[0];
    if (list.length > 1 && key === 'id')
      throw new CliError(`multiple services found with provided prefix: ${ref}`);
  }
  throw new CliError(`no such service: ${ref}`);
}

export async function selfNodeId(ctx: CommandContext): Promise<string> {
  const info = await ctx.client.json('GET', '/info', InfoSchema);
  return info.Swarm?.NodeID ?? '';
}

export async function getNode(ctx: CommandContext, ref: string): Promise<Node> {
  const id = ref === 'self' ? await selfNodeId(ctx) : ref;
  return ctx.client.json('GET', `/nodes/${encodeURIComponent(id)}`, NodeSchema);
}

/** Hostnames of the given node IDs (one GET /nodes/{id} per distinct node, as docker does). */
export async function nodeNames(ctx: CommandContext, ids: Iterable<string>): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  for (const id of new Set(ids)) {
    if (!id) continue;
    try {
      const n = await ctx.client.json('GET', `/nodes/${encodeURIComponent(id)}`, NodeSchema);
      names.set(id, n.Description?.Hostname ?? id);
    } catch (e) {
      if (!(e instanceof DaemonError)) throw e;
      names.set(id, id);
    }
  }
  return names;
}

export async function listTasks(ctx: CommandContext, filters: Record<string, string[]>) {
  return ctx.client.json('GET', '/tasks', z.array(TaskSchema), { query: { filters: filtersQuery(filters) } });
}

/** `inspect` output: a JSON array indented by 4 like docker, or one --format line per object. */
export function writeInspect(ctx: CommandContext, objects: unknown[], format: string | undefined): void {
  if (format) {
    const tmpl = parseTemplate(unescapeFormat(format));
    for (const o of objects) ctx.stdout(`${executeTemplate(tmpl, o)}\n`);
    return;
  }
  ctx.stdout(`${JSON.stringify(objects, null, 4)}\n`);
}

/** Docker's PromptForConfirmation: the question on stdout, "y" or "Y" on stdin confirms. */
export async function confirm(ctx: CommandContext, question: string): Promise<boolean> {
  ctx.stdout(`${question} [y/N] `);
  let answer = '';
  for await (const chunk of process.stdin) {
    answer += String(chunk);
    if (answer.includes('\n')) break;
  }
  process.stdin.pause();
  return answer.split('\n')[0]?.trim().toLowerCase() === 'y';
}

/** `key=value` pairs of map flags (`-o`, `--label`); a bare key maps to "". */
export function keyValues(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    out[eq === -1 ? v : v.slice(0, eq)] = eq === -1 ? '' : v.slice(eq + 1);
  }
  return out;
}
