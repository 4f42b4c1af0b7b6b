// `swarmctl network create|ls|inspect|rm|prune`: Docker's network commands, flags and output. The
// one difference: `--driver` defaults to overlay (swarmd builds swarm networks only; docker's bridge
// default would always be refused).

import { z } from 'zod';
import type { FlagSpec, Invocation } from '../args.js';
import { DaemonError } from '../client.js';
import { CliError, type CommandContext } from '../context.js';
import { naturalLess, type Row, renderTable, type TableKind, truncateId } from '../formatters.js';
import { NetworkSchema } from '../types.js';
import { goTimeString } from '../units.js';
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

const NetworkResourceSchema = NetworkSchema.extend({
  Driver: z.string(),
  Scope: z.string(),
  Created: z.string().optional(),
  EnableIPv6: z.boolean().optional(),
  Internal: z.boolean().optional(),
  Labels: z.record(z.string(), z.string()).nullish(),
});
type NetworkResource = z.infer<typeof NetworkResourceSchema>;

export const NETWORK_TABLE: TableKind = {
  defaultFormat: 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}',
  headers: {
    ID: 'NETWORK ID',
    Name: 'NAME',
    Driver: 'DRIVER',
    Scope: 'SCOPE',
    IPv6: 'IPV6',
    Internal: 'INTERNAL',
    Labels: 'LABELS',
    CreatedAt: 'CREATED AT',
  },
};

/** The CLI's network formatter context: what `{{.ID}}`, `{{.Labels}}`… print for a network. */
export function networkRow(n: NetworkResource, noTrunc: boolean): Row {
  const labels = Object.entries(n.Labels ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`);
  return {
    ID: noTrunc ? n.Id : truncateId(n.Id),
    Name: n.Name,
    Driver: n.Driver,
    Scope: n.Scope,
    IPv6: String(n.EnableIPv6 ?? false),
    Internal: String(n.Internal ?? false),
    Labels: labels.join(','),
    CreatedAt: goTimeString(n.Created ?? ''),
  };
}

function cidrContains(subnet: string, data: string): boolean {
  const toInt = (ip: string) => ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  const [base = '', bits = ''] = subnet.split('/');
  const ip = data.split('/')[0] ?? '';
  const ipv4 = /^\d{1,3}(\.\d{1,3}){3}$/;
  if (!ipv4.test(base) || !/^\d{1,2}$/.test(bits) || Number(bits) > 32) {
    throw new CliError(`invalid subnet: invalid CIDR address: ${subnet}`);
  }
  if (!ipv4.test(ip)) return false;
  const size = 2 ** (32 - Number(bits));
  const start = toInt(base) - (toInt(base) % size);
  return toInt(ip) >= start && toInt(ip) < start + size;
}

interface IpamConfig {
  Subnet: string;
  IPRange?: string;
  Gateway?: string;
}

/** The CLI's consolidateIpam: each --ip-range and --gateway goes with the --subnet containing it. */
export function consolidateIpam(subnets: string[], ranges: string[], gateways: string[]): IpamConfig[] {
  if (subnets.length < ranges.length || subnets.length < gateways.length) {
    throw new CliError('every ip-range or gateway must have a corresponding subnet');
  }
  const configs: IpamConfig[] = [];
  for (const s of subnets) {
    if (configs.some((c) => cidrContains(s, c.Subnet) || cidrContains(c.Subnet, s))) {
      throw new CliError('multiple overlapping subnet configuration is not allowed');
    }
    configs.push({ Subnet: s });
  }
  for (const [values, key, what] of [
    [ranges, 'IPRange', 'range'],
    [gateways, 'Gateway', 'gateway'],
  ] as const) {
    for (const v of values) {
      const matching = configs.filter((c) => cidrContains(c.Subnet, v));
      if (matching.length === 0) throw new CliError(`no matching subnet for ${what} ${v}`);
      for (const c of matching) {
        const previous = c[key];
        if (previous) {
          throw new CliError(
            `cannot configure multiple ${what === 'range' ? 'ranges' : 'gateways'} (${v}, ${previous}) ${what === 'range' ? 'on' : 'for'} the same subnet (${c.Subnet})`,
          );
        }
        c[key] = v;
      }
    }
  }
  return configs;
}

const networkCreate: Run = async (ctx, inv) => {
  const f = inv.flags;
  // pflag's `strings` flags also take comma-separated values.
  const strings = (name: string) => f.list(name).flatMap((v) => v.split(','));
  const body = {
    CheckDuplicate: true,
    Driver: f.string('driver', 'overlay'),
    Scope: f.string('scope'),
    EnableIPv6: false,
    IPAM: {
      Driver: 'default',
      Options: {},
      Config: consolidateIpam(strings('subnet'), strings('ip-range'), strings('gateway')),
    },
    Internal: f.bool('internal'),
    Attachable: f.bool('attachable'),
    Ingress: f.bool('ingress'),
    ConfigOnly: false,
    ConfigFrom: null,
    Options: keyValues(f.list('opt')),
    Labels: keyValues(f.list('label')),
    Name: inv.args[0] ?? '',
  };
  const created = await ctx.client.json('POST', '/networks/create', z.object({ Id: z.string() }), { body });
  ctx.stdout(`${created.Id}\n`);
  return 0;
};

const networkLs: Run = async (ctx, inv) => {
  const f = inv.flags;
  const networks = await ctx.client.json('GET', '/networks', z.array(NetworkResourceSchema), {
    query: { filters: filtersQuery(filtersFrom(f.list('filter'))) },
  });
  const rows = networks
    .sort((a, b) => naturalLess(a.Name, b.Name))
    .map((n) => networkRow(n, f.bool('no-trunc')));
  ctx.stdout(renderTable(NETWORK_TABLE, rows, f.bool('quiet') ? '{{.ID}}' : f.string('format')));
  return 0;
};

/** Like docker 20.10: what was found is printed (`[]` when nothing was), then the daemon's errors. */
const networkInspect: Run = async (ctx, inv) => {
  const found: unknown[] = [];
  const format = inv.flags.optionalString('format');
  const verbose = inv.flags.bool('verbose') ? 'true' : undefined;
  const failed = await eachRef(inv.args, async (ref) => {
    const path = `/networks/${encodeURIComponent(ref)}`;
    found.push(await ctx.client.json('GET', path, z.record(z.string(), z.unknown()), { query: { verbose } }));
  });
  if (format && found.length === 0) ctx.stdout('\n');
  else writeInspect(ctx, found, format);
  if (failed) throw failed;
  return 0;
};

const INGRESS_WARNING =
  'WARNING! Before removing the routing-mesh network, make sure all the nodes in your swarm run the same docker engine version. Otherwise, removal may not be effective and functionality of newly create ingress networks will be impaired.\nAre you sure you want to continue?';

const networkRm: Run = async (ctx, inv) => {
  let status = 0;
  for (const ref of inv.args) {
    try {
      const n = await ctx.client.json(
        'GET',
        `/networks/${encodeURIComponent(ref)}`,
        z.object({ Ingress: z.boolean() }).passthrough(),
      );
      if (n.Ingress && !(await confirm(ctx, INGRESS_WARNING))) continue;
    } catch (e) {
      // docker removes anyway: the daemon's answer to the removal is what is shown.
      if (!(e instanceof DaemonError)) throw e;
    }
    try {
      await ctx.client.request('DELETE', `/networks/${encodeURIComponent(ref)}`);
      ctx.stdout(`${ref}\n`);
    } catch (e) {
      if (!(e instanceof DaemonError)) throw e;
      ctx.stderr(`Error response from daemon: ${e.message}\n`);
      status = 1;
    }
  }
  // docker 20.10 ends a partly failed rm with its status error's text.
  if (status !== 0) ctx.stderr(`exit status ${status}\n`);
  return status;
};

const PRUNE_WARNING =
  'WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue?';

const networkPrune: Run = async (ctx, inv) => {
  if (!inv.flags.bool('force') && !(await confirm(ctx, PRUNE_WARNING))) return 0;
  const filters = filtersFrom(inv.flags.list('filter'));
  const report = await ctx.client.json(
    'POST',
    '/networks/prune',
    z.object({ NetworksDeleted: z.array(z.string()).nullish() }),
    { query: { filters: filtersQuery(filters) } },
  );
  const deleted = report.NetworksDeleted ?? [];
  if (deleted.length > 0) ctx.stdout(`Deleted Networks:\n${deleted.map((n) => `${n}\n`).join('')}\n`);
  return 0;
};

/** prune's `--filter` has no `-f`: that is `--force`. */
const { short: _short, ...PRUNE_FILTER_FLAG } = FILTER_FLAG;

const listFlag = (name: string, description: string, short?: string): FlagSpec => ({
  name,
  kind: 'list',
  description,
  ...(short ? { short } : {}),
});

export const networkCommand: ContextualCommand = {
  name: 'network',
  usage: 'COMMAND',
  description: 'Manage networks',
  subcommands: [
    {
      name: 'create',
      usage: '[OPTIONS] NETWORK',
      description: 'Create a network',
      args: { min: 1, max: 1 },
      flags: [
        { name: 'attachable', kind: 'bool', description: 'Enable manual container attachment' },
        {
          name: 'driver',
          short: 'd',
          kind: 'string',
          description: 'Driver to manage the Network',
          defaultText: '"overlay"',
        },
        { ...listFlag('gateway', 'IPv4 or IPv6 Gateway for the master subnet'), typeName: 'strings' },
        { name: 'ingress', kind: 'bool', description: 'Create swarm routing-mesh network' },
        { name: 'internal', kind: 'bool', description: 'Restrict external access to the network' },
        { ...listFlag('ip-range', 'Allocate container ip from a sub-range'), typeName: 'strings' },
        listFlag('label', 'Set metadata on a network'),
        { ...listFlag('opt', 'Set driver specific options', 'o'), typeName: 'map' },
        { name: 'scope', kind: 'string', description: "Control the network's scope" },
        {
          ...listFlag('subnet', 'Subnet in CIDR format that represents a network segment'),
          typeName: 'strings',
        },
      ],
      exec: networkCreate,
    },
    {
      name: 'inspect',
      usage: '[OPTIONS] NETWORK [NETWORK...]',
      description: 'Display detailed information on one or more networks',
      args: { min: 1 },
      flags: [
        INSPECT_FORMAT_FLAG,
        { name: 'verbose', short: 'v', kind: 'bool', description: 'Verbose output for diagnostics' },
      ],
      exec: networkInspect,
    },
    {
      name: 'ls',
      aliases: ['list'],
      usage: '[OPTIONS]',
      description: 'List networks',
      args: { max: 0 },
      flags: [
        { ...FILTER_FLAG, description: "Provide filter values (e.g. 'driver=bridge')" },
        { name: 'format', kind: 'string', description: 'Pretty-print networks using a Go template' },
        { name: 'no-trunc', kind: 'bool', description: 'Do not truncate the output' },
        { name: 'quiet', short: 'q', kind: 'bool', description: 'Only display network IDs' },
      ],
      exec: networkLs,
    },
    {
      name: 'prune',
      usage: '[OPTIONS]',
      description: 'Remove all unused networks',
      args: { max: 0 },
      flags: [
        { ...PRUNE_FILTER_FLAG, description: "Provide filter values (e.g. 'until=<timestamp>')" },
        { name: 'force', short: 'f', kind: 'bool', description: 'Do not prompt for confirmation' },
      ],
      exec: networkPrune,
    },
    {
      name: 'rm',
      aliases: ['remove'],
      usage: 'NETWORK [NETWORK...]',
      description: 'Remove one or more networks',
      args: { min: 1 },
      exec: networkRm,
    },
  ],
};
