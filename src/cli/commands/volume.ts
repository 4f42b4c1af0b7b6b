// `swarmctl volume create|ls|inspect|rm|prune`: Docker's volume commands, flags and output, for the
// node's local volumes. Where the two docker CLIs differ, this follows 28.x (API 1.47): `prune`
// takes only anonymous volumes unless `-a`, and a failed lookup shows the daemon's own text.

import { z } from 'zod';
import type { Invocation } from '../args.js';
import type { CommandContext } from '../context.js';
import { naturalLess, type Row, renderTable, type TableKind } from '../formatters.js';
import { NIL_MAP, OMITTED_NIL_MAP } from '../template.js';
import { humanSize } from '../units.js';
import {
  confirm,
  eachRef,
  FILTER_FLAG,
  filtersFrom,
  filtersQuery,
  INSPECT_FORMAT_FLAG,
  keyValues,
  writeInspect,
} from './common.js';
import type { ContextualCommand } from './service.js';

type Run = (ctx: CommandContext, inv: Invocation) => Promise<number>;

const VolumeSchema = z
  .object({
    Name: z.string(),
    Driver: z.string(),
    Mountpoint: z.string(),
    Scope: z.string(),
    Labels: z.record(z.string(), z.string()).nullish(),
  })
  .passthrough();
type Volume = z.infer<typeof VolumeSchema>;

export const VOLUME_TABLE: TableKind = {
  defaultFormat: 'table {{.Driver}}\t{{.Name}}',
  headers: {
    Name: 'VOLUME NAME',
    Driver: 'DRIVER',
    Scope: 'SCOPE',
    Mountpoint: 'MOUNTPOINT',
    Labels: 'LABELS',
    Links: 'LINKS',
    Size: 'SIZE',
    Group: 'GROUP',
    Availability: 'AVAILABILITY',
    Status: 'STATUS',
  },
};

/**
 * The CLI's volume formatter context (28.x's fields, in the order `{{json .}}` prints them): what
 * `ls` knows of size, links and cluster state is "N/A", as docker shows without `system df`.
 */
export function volumeRow(v: Volume): Row {
  const labels = Object.entries(v.Labels ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, val]) => `${k}=${val}`);
  return {
    Availability: 'N/A',
    Driver: v.Driver,
    Group: 'N/A',
    Labels: labels.join(','),
    Links: 'N/A',
    Mountpoint: v.Mountpoint,
    Name: v.Name,
    Scope: v.Scope,
    Size: 'N/A',
    Status: 'N/A',
  };
}

/** prune's report: the names deleted (if any), then the space reclaimed in go-units' decimal form. */
export function pruneReport(deleted: readonly string[], reclaimed: number): string {
  const names = deleted.length > 0 ? `Deleted Volumes:\n${deleted.map((n) => `${n}\n`).join('')}\n` : '';
  return `${names}Total reclaimed space: ${humanSize(reclaimed)}\n`;
}

const volumeCreate: Run = async (ctx, inv) => {
  const f = inv.flags;
  const name = inv.args[0] ?? f.string('name');
  // docker 28.x leaves out what is empty (omitempty): no labels or options read back as null.
  const options = f.list('opt');
  const labels = f.list('label');
  const body = {
    Driver: f.string('driver', 'local'),
    ...(options.length > 0 ? { DriverOpts: keyValues(options) } : {}),
    ...(labels.length > 0 ? { Labels: keyValues(labels) } : {}),
    ...(name ? { Name: name } : {}),
  };
  const created = await ctx.client.json('POST', '/volumes/create', VolumeSchema, { body });
  ctx.stdout(`${created.Name}\n`);
  return 0;
};

const volumeLs: Run = async (ctx, inv) => {
  const f = inv.flags;
  const list = await ctx.client.json(
    'GET',
    '/volumes',
    z.object({ Volumes: z.array(VolumeSchema).nullish(), Warnings: z.array(z.string()).nullish() }),
    { query: { filters: filtersQuery(filtersFrom(f.list('filter'))) } },
  );
  for (const w of list.Warnings ?? []) ctx.stderr(`${w}\n`);
  const rows = (list.Volumes ?? []).sort((a, b) => naturalLess(a.Name, b.Name)).map(volumeRow);
  ctx.stdout(renderTable(VOLUME_TABLE, rows, f.bool('quiet') ? '{{.Name}}' : f.string('format')));
  return 0;
};

/**
 * A volume as docker's templates see it: its map fields are Go maps, so a null or absent one (no
 * labels, no options, no status) prints as `map[]`, not `<nil>`.
 */
export function templateVolume(v: Record<string, unknown>): Record<string, unknown> {
  return {
    ...v,
    Labels: v.Labels ?? NIL_MAP,
    Options: v.Options ?? NIL_MAP,
    Status: v.Status ?? OMITTED_NIL_MAP,
  };
}

/** What was found is printed (`[]` when nothing was), then the daemon's errors. */
const volumeInspect: Run = async (ctx, inv) => {
  const found: Record<string, unknown>[] = [];
  const format = inv.flags.optionalString('format');
  const failed = await eachRef(inv.args, async (ref) => {
    found.push(
      await ctx.client.json('GET', `/volumes/${encodeURIComponent(ref)}`, z.record(z.string(), z.unknown())),
    );
  });
  if (!(format && found.length === 0)) writeInspect(ctx, format ? found.map(templateVolume) : found, format);
  if (failed) throw failed;
  return 0;
};

const volumeRm: Run = async (ctx, inv) => {
  const force = inv.flags.bool('force') ? '1' : undefined;
  const failed = await eachRef(inv.args, async (ref) => {
    await ctx.client.request('DELETE', `/volumes/${encodeURIComponent(ref)}`, { query: { force } });
    ctx.stdout(`${ref}\n`);
  });
  if (failed) throw failed;
  return 0;
};

const PRUNE_WARNING = (all: boolean) =>
  `WARNING! This will remove ${all ? 'all' : 'anonymous'} local volumes not used by at least one container.\nAre you sure you want to continue?`;

const volumePrune: Run = async (ctx, inv) => {
  const all = inv.flags.bool('all');
  if (!inv.flags.bool('force') && !(await confirm(ctx, PRUNE_WARNING(all)))) return 0;
  const filters = filtersFrom(inv.flags.list('filter'));
  if (all) filters.all = ['true'];
  const report = await ctx.client.json(
    'POST',
    '/volumes/prune',
    z.object({ VolumesDeleted: z.array(z.string()).nullish(), SpaceReclaimed: z.number().nullish() }),
    { query: { filters: filtersQuery(filters) } },
  );
  ctx.stdout(pruneReport(report.VolumesDeleted ?? [], report.SpaceReclaimed ?? 0));
  return 0;
};

/** prune's `--filter` has no `-f`: that is `--force`. */
const { short: _short, ...PRUNE_FILTER_FLAG } = FILTER_FLAG;

export const volumeCommand: ContextualCommand = {
  name: 'volume',
  usage: 'COMMAND',
  description: 'Manage volumes',
  subcommands: [
    {
      name: 'create',
      usage: '[OPTIONS] [VOLUME]',
      description: 'Create a volume',
      args: { max: 1 },
      flags: [
        {
          name: 'driver',
          short: 'd',
          kind: 'string',
          description: 'Specify volume driver name',
          defaultText: '"local"',
        },
        { name: 'label', kind: 'list', description: 'Set metadata for a volume' },
        { name: 'name', kind: 'string', description: 'Specify volume name', hidden: true },
        {
          name: 'opt',
          short: 'o',
          kind: 'list',
          typeName: 'map',
          description: 'Set driver specific options',
        },
      ],
      exec: volumeCreate,
    },
    {
      name: 'inspect',
      usage: '[OPTIONS] VOLUME [VOLUME...]',
      description: 'Display detailed information on one or more volumes',
      args: { min: 1 },
      flags: [INSPECT_FORMAT_FLAG],
      exec: volumeInspect,
    },
    {
      name: 'ls',
      aliases: ['list'],
      usage: '[OPTIONS]',
      description: 'List volumes',
      args: { max: 0 },
      flags: [
        { ...FILTER_FLAG, description: "Provide filter values (e.g. 'dangling=true')" },
        { name: 'format', kind: 'string', description: 'Pretty-print volumes using a Go template' },
        { name: 'quiet', short: 'q', kind: 'bool', description: 'Only display volume names' },
      ],
      exec: volumeLs,
    },
    {
      name: 'prune',
      usage: '[OPTIONS]',
      description: 'Remove unused local volumes',
      args: { max: 0 },
      flags: [
        {
          name: 'all',
          short: 'a',
          kind: 'bool',
          description: 'Remove all unused volumes, not just anonymous ones',
        },
        { ...PRUNE_FILTER_FLAG, description: "Provide filter values (e.g. 'label=<label>')" },
        { name: 'force', short: 'f', kind: 'bool', description: 'Do not prompt for confirmation' },
      ],
      exec: volumePrune,
    },
    {
      name: 'rm',
      aliases: ['remove'],
      usage: '[OPTIONS] VOLUME [VOLUME...]',
      description: 'Remove one or more volumes',
      args: { min: 1 },
      flags: [
        {
          name: 'force',
          short: 'f',
          kind: 'bool',
          description: 'Force the removal of one or more volumes',
        },
      ],
      exec: volumeRm,
    },
  ],
};
