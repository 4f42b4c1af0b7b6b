// `swarmctl secret create|ls|inspect|rm` and `swarmctl config create|ls|inspect|rm`: Docker's
// commands, flags and output for the Engine API's `/secrets` and `/configs`. The two trees differ
// only in a few places (a secret may have a driver and no payload; a config shows its payload in
// `inspect --pretty`), so their runners share one `PayloadKind` description.

import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import { type FlagSpec, type Invocation, UsageError } from '../args.js';
import { CliError, type CommandContext } from '../context.js';
import { naturalLess, type Row, renderTable, type TableKind } from '../formatters.js';
import { parseLabels } from '../serviceopts.js';
import { IdResponseSchema } from '../types.js';
import { goTimeString, humanDuration } from '../units.js';
import {
  eachRef,
  FILTER_FLAG,
  filtersFrom,
  filtersQuery,
  INSPECT_FORMAT_FLAG,
  PRETTY_FLAG,
  QUIET_FLAG,
  writeInspect,
} from './common.js';
import type { ContextualCommand } from './service.js';

type Run = (ctx: CommandContext, inv: Invocation) => Promise<number>;

const DriverSchema = z.object({ Name: z.string() }).passthrough();

/** A secret or a config as the API returns it; `Spec.Data` (base64) is set for configs only. */
const PayloadObjectSchema = z
  .object({
    ID: z.string(),
    CreatedAt: z.string().optional(),
    UpdatedAt: z.string().optional(),
    Spec: z
      .object({
        Name: z.string(),
        Labels: z.record(z.string()).nullish(),
        Data: z.string().nullish(),
        Driver: DriverSchema.nullish(),
        Templating: DriverSchema.nullish(),
      })
      .passthrough(),
  })
  .passthrough();
export type PayloadObject = z.infer<typeof PayloadObjectSchema>;

/** What Go prints for a zero time.Time (a timestamp the daemon left out). */
const GO_ZERO_TIME = '0001-01-01T00:00:00Z';

/** The swarmkit limit is 500 KiB; like docker ≥ 28 we read twice that at most and let the daemon refuse. */
const MAX_READ_BYTES = 2 * 500 * 1024;

// --- pure formatting helpers ------------------------------------------------------------------

export const SECRET_TABLE: TableKind = {
  defaultFormat: 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.CreatedAt}}\t{{.UpdatedAt}}',
  headers: {
    ID: 'ID',
    Name: 'NAME',
    Driver: 'DRIVER',
    CreatedAt: 'CREATED',
    UpdatedAt: 'UPDATED',
    Labels: 'LABELS',
  },
};

export const CONFIG_TABLE: TableKind = {
  defaultFormat: 'table {{.ID}}\t{{.Name}}\t{{.CreatedAt}}\t{{.UpdatedAt}}',
  headers: { ID: 'ID', Name: 'NAME', CreatedAt: 'CREATED', UpdatedAt: 'UPDATED', Labels: 'LABELS' },
};

function sortedLabels(labels: Record<string, string> | null | undefined): Array<[string, string]> {
  return Object.entries(labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** "2 minutes ago", "About an hour ago": go-units HumanDuration as the CLI's list columns print it. */
function ago(timestamp: string | undefined, now: number): string {
  return `${humanDuration(now - Date.parse(timestamp ?? GO_ZERO_TIME))} ago`;
}

/** The CLI's secret/config formatter context: what `{{.ID}}`, `{{.Driver}}`… print in `ls`. */
export function payloadRow(o: PayloadObject, now: number): Row {
  return {
    ID: o.ID,
    Name: o.Spec.Name,
    Driver: o.Spec.Driver?.Name ?? '',
    CreatedAt: ago(o.CreatedAt, now),
    UpdatedAt: ago(o.UpdatedAt, now),
    Labels: sortedLabels(o.Spec.Labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(','),
  };
}

/** `ls` output format: an explicit --format wins over -q, as in the CLI's NewFormat. */
export function listFormat(format: string, quiet: boolean): string | undefined {
  if (quiet && (format === '' || format === 'table')) return '{{.ID}}';
  return format === '' ? undefined : format;
}

function labelLines(labels: Record<string, string> | null | undefined): string[] {
  const entries = sortedLabels(labels);
  if (entries.length === 0) return [];
  return ['Labels:', ...entries.map(([k, v]) => ` - ${k}${v ? `=${v}` : ''}`)];
}

/** A timestamp as `command.PrettyPrint(time.Time)` prints it: Go's time.String(). */
function prettyTime(timestamp: string | undefined): string {
  return goTimeString(timestamp ?? GO_ZERO_TIME);
}

/** `secret inspect --pretty` for one secret, byte for byte Docker's template (its ID line is misaligned too). */
export function prettySecret(s: PayloadObject): string {
  const lines = [
    `ID:              ${s.ID}`,
    `Name:              ${s.Spec.Name}`,
    ...labelLines(s.Spec.Labels),
    `Driver:            ${s.Spec.Driver?.Name ?? ''}`,
    `Created at:        ${prettyTime(s.CreatedAt)}`,
    `Updated at:        ${prettyTime(s.UpdatedAt)}`,
  ];
  return `${lines.join('\n')}\n`;
}

/** `config inspect --pretty` for one config: Docker's tab-separated template, then the payload as text. */
export function prettyConfig(c: PayloadObject): string {
  const lines = [
    `ID:\t\t\t${c.ID}`,
    `Name:\t\t\t${c.Spec.Name}`,
    ...labelLines(c.Spec.Labels),
    `Created at:            \t${prettyTime(c.CreatedAt)}`,
    `Updated at:            \t${prettyTime(c.UpdatedAt)}`,
    'Data:',
    Buffer.from(c.Spec.Data ?? '', 'base64').toString('utf8'),
  ];
  return `${lines.join('\n')}\n`;
}

// --- reading the payload --------------------------------------------------------------------------

const GO_ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EISDIR: 'is a directory',
  ENOTDIR: 'not a directory',
  ELOOP: 'too many levels of symbolic links',
};

/** A failed file read as Go's *PathError prints it: "open x: no such file or directory". */
class PayloadReadError extends Error {
  constructor(
    readonly op: 'open' | 'read',
    file: string,
    cause: NodeJS.ErrnoException,
  ) {
    super(`${op} ${file}: ${GO_ERRNO_TEXT[cause.code ?? ''] ?? cause.message}`);
  }
}

async function readUpTo(stream: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream.iterator({ destroyOnReturn: false })) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    chunks.push(b);
    size += b.length;
    if (size >= limit) break;
  }
  return Buffer.concat(chunks).subarray(0, limit);
}

/** The payload of `create`: the file's bytes, or stdin's for "-". */
async function readPayload(file: string): Promise<Buffer> {
  if (file === '-') return readUpTo(process.stdin, MAX_READ_BYTES);
  const stream = createReadStream(file);
  try {
    return await readUpTo(stream, MAX_READ_BYTES);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (typeof err.code !== 'string') throw e;
    throw new PayloadReadError(err.syscall === 'open' ? 'open' : 'read', file, err);
  } finally {
    stream.destroy();
  }
}

// --- runners shared by both trees -----------------------------------------------------------------

interface PayloadKind {
  noun: 'secret' | 'config';
  path: '/secrets' | '/configs';
  table: TableKind;
  pretty: (o: PayloadObject) => string;
}

const SECRET: PayloadKind = { noun: 'secret', path: '/secrets', table: SECRET_TABLE, pretty: prettySecret };
const CONFIG: PayloadKind = { noun: 'config', path: '/configs', table: CONFIG_TABLE, pretty: prettyConfig };

async function postCreate(ctx: CommandContext, kind: PayloadKind, body: object): Promise<number> {
  const created = await ctx.client.json('POST', `${kind.path}/create`, IdResponseSchema, { body });
  ctx.stdout(`${created.ID}\n`);
  return 0;
}

/** docker 20.10: a secret's open and read errors both get the "Error reading content" prefix. */
const secretCreate: Run = async (ctx, inv) => {
  const f = inv.flags;
  const [name = '', file] = inv.args;
  const driver = f.string('driver');
  const templateDriver = f.string('template-driver');
  if (driver !== '' && file !== undefined)
    throw new CliError('When using secret driver secret data must be empty');
  if (driver === '' && file === undefined) {
    // docker 20.10 would send an empty payload for the daemon to refuse; newer ones say this.
    const pathText = [ctx.prog, ...inv.path].join(' ');
    const usage = `Usage:  ${pathText} ${inv.command.usage}\n\n${inv.command.description}`;
    throw new UsageError('secret file is required', 1, pathText, usage);
  }
  let data: Buffer | undefined;
  if (file !== undefined) {
    try {
      data = await readPayload(file);
    } catch (e) {
      if (!(e instanceof PayloadReadError)) throw e;
      throw new CliError(`Error reading content from "${file}": ${e.message}`);
    }
  }
  return postCreate(ctx, SECRET, {
    Name: name,
    Labels: parseLabels(f.list('label')),
    ...(data && data.length > 0 ? { Data: data.toString('base64') } : {}),
    ...(driver ? { Driver: { Name: driver } } : {}),
    ...(templateDriver ? { Templating: { Name: templateDriver } } : {}),
  });
};

/** docker 20.10: a config's open error is shown as it is, a read error with the prefix. */
const configCreate: Run = async (ctx, inv) => {
  const [name = '', file = ''] = inv.args;
  const templateDriver = inv.flags.string('template-driver');
  let data: Buffer;
  try {
    data = await readPayload(file);
  } catch (e) {
    if (!(e instanceof PayloadReadError)) throw e;
    throw new CliError(e.op === 'open' ? e.message : `Error reading content from "${file}": ${e.message}`);
  }
  return postCreate(ctx, CONFIG, {
    Name: name,
    Labels: parseLabels(inv.flags.list('label')),
    ...(data.length > 0 ? { Data: data.toString('base64') } : {}),
    ...(templateDriver ? { Templating: { Name: templateDriver } } : {}),
  });
};

/**
 * Beyond Docker: `secret|config update NAME --data-file FILE|-` gives NAME a new value and rolls it
 * out to the services that use it, with their update config (POST /{kind}s/{id}/rotate).
 */
const updateRunner =
  (kind: PayloadKind): Run =>
  async (ctx, inv) => {
    const [name = ''] = inv.args;
    const file = inv.flags.string('data-file');
    if (file === '')
      throw new CliError(`"${kind.noun} update" needs the new value: --data-file FILE (or - for stdin)`);
    let data: Buffer;
    try {
      data = await readPayload(file);
    } catch (e) {
      if (!(e instanceof PayloadReadError)) throw e;
      throw new CliError(`Error reading content from "${file}": ${e.message}`);
    }
    const r = await ctx.client.json(
      'POST',
      `${kind.path}/${encodeURIComponent(name)}/rotate`,
      z.object({ ID: z.string(), Services: z.array(z.string()) }),
      { body: { Data: data.toString('base64') } },
    );
    ctx.stdout(`${r.ID}\n`);
    if (r.Services.length > 0)
      ctx.stderr(
        `rolling out to ${r.Services.length === 1 ? 'service' : 'services'}: ${r.Services.join(', ')}\n`,
      );
    return 0;
  };

const UPDATE_COMMAND = (kind: PayloadKind): ContextualCommand => ({
  name: 'update',
  usage: `[OPTIONS] ${kind.noun.toUpperCase()}`,
  description: `Give a ${kind.noun} a new value and roll it out to the services using it (swarmkit-ts)`,
  args: { min: 1, max: 1 },
  flags: [{ name: 'data-file', kind: 'string', description: 'The new value: a file, or - for STDIN' }],
  exec: updateRunner(kind),
});

const listRunner =
  (kind: PayloadKind): Run =>
  async (ctx, inv) => {
    const f = inv.flags;
    const objects = await ctx.client.json('GET', kind.path, z.array(PayloadObjectSchema), {
      query: { filters: filtersQuery(filtersFrom(f.list('filter'))) },
    });
    const now = ctx.now();
    const rows = objects.sort((a, b) => naturalLess(a.Spec.Name, b.Spec.Name)).map((o) => payloadRow(o, now));
    ctx.stdout(renderTable(kind.table, rows, listFormat(f.string('format'), f.bool('quiet'))));
    return 0;
  };

/**
 * `--pretty` (or `-f pretty`) prints nothing unless every object is found, like docker; the JSON
 * and template forms print what was found, then the daemon's errors (as `network inspect`).
 */
const inspectRunner =
  (kind: PayloadKind): Run =>
  async (ctx, inv) => {
    const format = inv.flags.bool('pretty') ? 'pretty' : inv.flags.optionalString('format');
    const objectPath = (ref: string) => `${kind.path}/${encodeURIComponent(ref)}`;
    if (format?.startsWith('pretty')) {
      if (format !== 'pretty')
        throw new CliError('Cannot supply extra formatting options to the pretty template');
      let out = '';
      for (const ref of inv.args) {
        out += kind.pretty(await ctx.client.json('GET', objectPath(ref), PayloadObjectSchema));
      }
      ctx.stdout(out);
      return 0;
    }
    const found: unknown[] = [];
    const failed = await eachRef(inv.args, async (ref) => {
      found.push(await ctx.client.json('GET', objectPath(ref), z.record(z.string(), z.unknown())));
    });
    if (format && found.length === 0) ctx.stdout('\n');
    else writeInspect(ctx, found, format);
    if (failed) throw failed;
    return 0;
  };

/** Each name is echoed once removed; the failures are reported together at the end, as docker does. */
const removeRunner =
  (kind: PayloadKind): Run =>
  async (ctx, inv) => {
    const failed = await eachRef(inv.args, async (ref) => {
      await ctx.client.request('DELETE', `${kind.path}/${encodeURIComponent(ref)}`);
      ctx.stdout(`${ref}\n`);
    });
    if (failed) throw failed;
    return 0;
  };

// --- command trees ------------------------------------------------------------------------------

const LABEL_FLAG = (what: string): FlagSpec => ({
  name: 'label',
  short: 'l',
  kind: 'list',
  description: `${what} labels`,
});
const TEMPLATE_DRIVER_FLAG: FlagSpec = {
  name: 'template-driver',
  kind: 'string',
  description: 'Template driver',
};

/** inspect, ls and rm: the same grammar for secrets and configs. */
function readAndRemoveCommands(kind: PayloadKind): ContextualCommand[] {
  const upper = kind.noun.toUpperCase();
  return [
    {
      name: 'inspect',
      usage: `[OPTIONS] ${upper} [${upper}...]`,
      description: `Display detailed information on one or more ${kind.noun}s`,
      args: { min: 1 },
      flags: [INSPECT_FORMAT_FLAG, PRETTY_FLAG],
      exec: inspectRunner(kind),
    },
    {
      name: 'ls',
      aliases: ['list'],
      usage: '[OPTIONS]',
      description: `List ${kind.noun}s`,
      args: { max: 0 },
      flags: [
        FILTER_FLAG,
        { name: 'format', kind: 'string', description: `Pretty-print ${kind.noun}s using a Go template` },
        QUIET_FLAG,
      ],
      exec: listRunner(kind),
    },
    {
      name: 'rm',
      aliases: ['remove'],
      usage: `${upper} [${upper}...]`,
      description: `Remove one or more ${kind.noun}s`,
      args: { min: 1 },
      exec: removeRunner(kind),
    },
  ];
}

export const secretCommand: ContextualCommand = {
  name: 'secret',
  usage: 'COMMAND',
  description: 'Manage Swarm secrets',
  subcommands: [
    {
      name: 'create',
      usage: '[OPTIONS] SECRET [file|-]',
      description: 'Create a secret from a file or STDIN as content',
      args: { min: 1, max: 2 },
      flags: [
        { name: 'driver', short: 'd', kind: 'string', description: 'Secret driver' },
        LABEL_FLAG('Secret'),
        TEMPLATE_DRIVER_FLAG,
      ],
      exec: secretCreate,
    },
    UPDATE_COMMAND(SECRET),
    ...readAndRemoveCommands(SECRET),
  ],
};

export const configCommand: ContextualCommand = {
  name: 'config',
  usage: 'COMMAND',
  description: 'Manage Swarm configs',
  subcommands: [
    {
      name: 'create',
      usage: '[OPTIONS] CONFIG file|-',
      description: 'Create a config from a file or STDIN',
      args: { min: 2, max: 2 },
      flags: [LABEL_FLAG('Config'), TEMPLATE_DRIVER_FLAG],
      exec: configCreate,
    },
    UPDATE_COMMAND(CONFIG),
    ...readAndRemoveCommands(CONFIG),
  ],
};
