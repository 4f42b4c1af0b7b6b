// `swarmctl swarm …`, `node …`, `task …`, `image …` and `info`: the cluster and node commands,
// with SwarmKit's shortcuts (`node drain|activate|pause`, `task ls|inspect`).

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { tokenExpiry } from '../../ca/tokens.js';
import type { Invocation } from '../args.js';
import { DaemonError } from '../client.js';
import { CliError, type CommandContext, interruptibleSleep } from '../context.js';
import { IMAGE_TABLE, imageRows, NODE_TABLE, naturalLess, nodeRow, renderTable } from '../formatters.js';
import { prettyInfo } from '../pretty.js';
import {
  PlainProgressWriter,
  type ProgressWriter,
  rootRotationProgress,
  TtyProgressWriter,
} from '../progress.js';
import { ImageSummarySchema, InfoSchema, type Node, NodeSchema, SwarmSchema, TaskSchema } from '../types.js';
import { bytesSize, goTimeString, humanDuration } from '../units.js';

import {
  eachRef,
  FILTER_FLAG,
  FORMAT_FLAG,
  filtersFrom,
  filtersQuery,
  getNode,
  INSPECT_FORMAT_FLAG,
  listTasks,
  PRETTY_FLAG,
  QUIET_FLAG,
  selfNodeId,
  writeInspect,
} from './common.js';
import { type ContextualCommand, printTasks } from './service.js';

type Run = (ctx: CommandContext, inv: Invocation) => Promise<number>;

// --- swarm -------------------------------------------------------------------------------------

/** The cluster with our join token expiry policy (not in Docker's Swarm object). */
const SwarmWithTokenTTLSchema = SwarmSchema.extend({
  JoinTokenTTL: z.number().optional(),
  JoinTokensIssuedAt: z.object({ Worker: z.string().optional(), Manager: z.string().optional() }).optional(),
});

/** Our line after Docker's join-token text when the token expires: when, and how to get a new one. */
function tokenExpiryNote(
  ctx: CommandContext,
  swarm: z.infer<typeof SwarmWithTokenTTLSchema>,
  role: 'worker' | 'manager',
): string {
  const issuedAt = role === 'worker' ? swarm.JoinTokensIssuedAt?.Worker : swarm.JoinTokensIssuedAt?.Manager;
  const expiry = tokenExpiry(issuedAt, swarm.JoinTokenTTL);
  if (!expiry || Number.isNaN(expiry.getTime())) return '';
  const at = expiry.toISOString().replace(/\.\d+Z$/, 'Z');
  const left = expiry.getTime() - ctx.now();
  if (left > 0) return `This token expires at ${at} (in ${humanDuration(left).toLowerCase()}).\n\n`;
  return `This token expired at ${at}. Rotate it with "${ctx.prog} swarm join-token --rotate ${role}".\n\n`;
}

async function joinCommand(ctx: CommandContext, role: 'worker' | 'manager', quiet: boolean): Promise<void> {
  const swarm = await ctx.client.json('GET', '/swarm', SwarmWithTokenTTLSchema, {
    query: { joinTokensIssuedAt: 1 },
  });
  const token = role === 'worker' ? swarm.JoinTokens.Worker : swarm.JoinTokens.Manager;
  if (quiet) {
    ctx.stdout(`${token}\n`);
    return;
  }
  const info = await ctx.client.json('GET', '/info', InfoSchema);
  const node = await ctx.client.json('GET', `/nodes/${info.Swarm?.NodeID ?? ''}`, NodeSchema);
  const addr = node.ManagerStatus?.Addr ?? info.Swarm?.RemoteManagers?.[0]?.Addr ?? '';
  ctx.stdout(
    `To add a ${role} to this swarm, run the following command:\n\n    ${ctx.prog} swarm join --token ${token} ${addr}\n\n`,
  );
  ctx.stdout(tokenExpiryNote(ctx, swarm, role));
}

const swarmInit: Run = async (ctx, inv) => {
  const f = inv.flags;
  const orchestration: Record<string, unknown> = {};
  if (f.changed('task-history-limit'))
    orchestration.TaskHistoryRetentionLimit = f.number('task-history-limit');
  const dispatcher: Record<string, unknown> = {};
  if (f.changed('dispatcher-heartbeat')) dispatcher.HeartbeatPeriod = f.duration('dispatcher-heartbeat');
  const ca: Record<string, unknown> = {};
  if (f.changed('cert-expiry')) ca.NodeCertExpiry = f.duration('cert-expiry');
  const raft: Record<string, unknown> = { ElectionTick: 0, HeartbeatTick: 0 };
  if (f.changed('snapshot-interval')) raft.SnapshotInterval = f.number('snapshot-interval');
  if (f.changed('max-snapshots')) raft.KeepOldSnapshots = f.number('max-snapshots');
  const pools = f.list('default-addr-pool');
  const body = {
    ListenAddr: f.string('listen-addr', '0.0.0.0:2377'),
    AdvertiseAddr: f.string('advertise-addr'),
    DataPathAddr: f.string('data-path-addr'),
    DataPathPort: f.number('data-path-port') ?? 0,
    ForceNewCluster: f.bool('force-new-cluster'),
    Spec: {
      Labels: null,
      Orchestration: orchestration,
      Raft: raft,
      Dispatcher: dispatcher,
      CAConfig: ca,
      TaskDefaults: {},
      EncryptionConfig: { AutoLockManagers: f.bool('autolock') },
    },
    AutoLockManagers: f.bool('autolock'),
    Availability: f.string('availability'),
    DefaultAddrPool: pools.length > 0 ? pools : null,
    SubnetSize: f.number('default-addr-pool-mask-length') ?? 24,
    ...(f.changed('token-ttl') ? { JoinTokenTTL: f.duration('token-ttl') } : {}),
  };
  const nodeId = await ctx.client.json('POST', '/swarm/init', z.string(), { body });
  ctx.stdout(`Swarm initialized: current node (${nodeId}) is now a manager.\n\n`);
  await joinCommand(ctx, 'worker', false);
  ctx.stdout(
    `To add a manager to this swarm, run '${ctx.prog} swarm join-token manager' and follow the instructions.\n\n`,
  );
  if (f.bool('autolock')) await printUnlockKey(ctx);
  return 0;
};

async function printUnlockKey(ctx: CommandContext): Promise<void> {
  const key = await ctx.client.json(
    'GET',
    '/swarm/unlockkey',
    z.object({ UnlockKey: z.string() }).passthrough(),
  );
  printUnlockCommand(ctx, key.UnlockKey);
}

function printUnlockCommand(ctx: CommandContext, key: string): void {
  ctx.stdout(
    `To unlock a swarm manager after it restarts, run the \`${ctx.prog} swarm unlock\`\ncommand and provide the following key:\n\n    ${key}\n\nRemember to store this key in a password manager, since without it you\nwill not be able to restart the manager.\n`,
  );
}

const swarmJoin: Run = async (ctx, inv) => {
  const f = inv.flags;
  await ctx.client.request('POST', '/swarm/join', {
    body: {
      ListenAddr: f.string('listen-addr', '0.0.0.0:2377'),
      AdvertiseAddr: f.string('advertise-addr'),
      DataPathAddr: f.string('data-path-addr'),
      RemoteAddrs: [inv.args[0] ?? ''],
      JoinToken: f.string('token'),
      Availability: f.string('availability'),
    },
  });
  const info = await ctx.client.json('GET', '/info', InfoSchema);
  ctx.stdout(
    info.Swarm?.ControlAvailable
      ? 'This node joined a swarm as a manager.\n'
      : 'This node joined a swarm as a worker.\n',
  );
  return 0;
};

const ROTATE_QUERY = { rotateManagerToken: false, rotateManagerUnlockKey: false, rotateWorkerToken: false };

const swarmJoinToken: Run = async (ctx, inv) => {
  const role = inv.args[0];
  if (role !== 'worker' && role !== 'manager') throw new CliError('unknown role ' + role);
  if (inv.flags.bool('rotate')) {
    const swarm = await ctx.client.json('GET', '/swarm', SwarmSchema);
    await ctx.client.request('POST', '/swarm/update', {
      body: swarm.Spec,
      query: {
        ...ROTATE_QUERY,
        rotateManagerToken: role === 'manager',
        rotateWorkerToken: role === 'worker',
        version: swarm.Version.Index,
      },
    });
    if (!inv.flags.bool('quiet')) ctx.stdout(`Successfully rotated ${role} join token.\n\n`);
  }
  await joinCommand(ctx, role, inv.flags.bool('quiet'));
  return 0;
};

const swarmLeave: Run = async (ctx, inv) => {
  await ctx.client.request('POST', '/swarm/leave', {
    query: { force: inv.flags.bool('force') ? 1 : undefined },
  });
  ctx.stdout('Node left the swarm.\n');
  return 0;
};

const swarmUpdate: Run = async (ctx, inv) => {
  const f = inv.flags;
  const swarm = await ctx.client.json('GET', '/swarm', SwarmSchema);
  const spec = structuredClone(swarm.Spec) as Record<string, Record<string, unknown>>;
  const section = (k: string) => {
    spec[k] ??= {};
    return spec[k];
  };
  if (f.changed('task-history-limit'))
    section('Orchestration').TaskHistoryRetentionLimit = f.number('task-history-limit');
  if (f.changed('dispatcher-heartbeat'))
    section('Dispatcher').HeartbeatPeriod = f.duration('dispatcher-heartbeat');
  if (f.changed('cert-expiry')) section('CAConfig').NodeCertExpiry = f.duration('cert-expiry');
  if (f.changed('snapshot-interval')) section('Raft').SnapshotInterval = f.number('snapshot-interval');
  if (f.changed('max-snapshots')) section('Raft').KeepOldSnapshots = f.number('max-snapshots');
  if (f.changed('autolock')) section('EncryptionConfig').AutoLockManagers = f.bool('autolock');
  await ctx.client.request('POST', '/swarm/update', {
    body: spec,
    query: {
      ...ROTATE_QUERY,
      version: swarm.Version.Index,
      joinTokenTTL: f.changed('token-ttl') ? f.duration('token-ttl') : undefined,
    },
  });
  ctx.stdout('Swarm updated.\n');
  if (f.changed('autolock') && f.bool('autolock')) await printUnlockKey(ctx);
  return 0;
};

const RotationSwarmSchema = z
  .object({
    TLSInfo: z
      .object({ TrustRoot: z.string(), CertIssuerSubject: z.string(), CertIssuerPublicKey: z.string() })
      .partial()
      .optional(),
    RootRotationInProgress: z.boolean().optional(),
  })
  .passthrough();

/** A `pem-file` flag's contents: the file must hold PEM (Docker's PEMFile). */
async function readPemFile(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new CliError(
      `open ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : String(e)}`,
    );
  }
  if (!/-----BEGIN [A-Z0-9 ]+-----/.test(text)) throw new CliError(`file contents must be in PEM format`);
  return text;
}

function printTrustRoot(ctx: CommandContext, swarm: { TLSInfo?: { TrustRoot?: string } }): void {
  const root = swarm.TLSInfo?.TrustRoot ?? '';
  if (root === '') throw new CliError('No CA information available');
  ctx.stdout(`${root.trim()}\n`);
}

/** `swarm ca`: shows the root CA, or rotates it (a new one, or the one given) and follows the nodes over. */
const swarmCa: Run = async (ctx, inv) => {
  const f = inv.flags;
  const swarm = await ctx.client.json('GET', '/swarm', SwarmSchema.merge(RotationSwarmSchema));
  if (!f.bool('rotate')) {
    for (const flag of ['ca-cert', 'ca-key', 'cert-expiry', 'external-ca'])
      if (f.changed(flag))
        throw new CliError(`\`--${flag}\` flag requires the \`--rotate\` flag to update the CA`);
    printTrustRoot(ctx, swarm);
    return 0;
  }
  const externalCAs = f.list('external-ca');
  if (externalCAs.length > 0 && !f.changed('ca-cert'))
    throw new CliError(
      "rotating to an external CA requires the `--ca-cert` flag to specify the external CA's cert - to add an external CA with the current root CA certificate, use the `update` command instead",
    );
  if (f.changed('ca-cert') && externalCAs.length === 0 && !f.changed('ca-key'))
    throw new CliError(
      'the --ca-cert flag requires that a --ca-key flag and/or --external-ca flag be provided as well',
    );
  const caCert = f.changed('ca-cert') ? await readPemFile(f.string('ca-cert')) : '';
  const caKey = f.changed('ca-key') ? await readPemFile(f.string('ca-key')) : '';
  const spec = structuredClone(swarm.Spec) as Record<string, Record<string, unknown>>;
  spec.CAConfig ??= {};
  const ca = spec.CAConfig;
  if (f.changed('cert-expiry')) ca.NodeCertExpiry = f.duration('cert-expiry');
  if (externalCAs.length > 0) ca.ExternalCAs = externalCAs.map(parseExternalCA);
  ca.SigningCACert = caCert;
  ca.SigningCAKey = caKey;
  if (caCert === '' && caKey === '') ca.ForceRotate = Number(ca.ForceRotate ?? 0) + 1;
  await ctx.client.request('POST', '/swarm/update', {
    body: spec,
    query: { ...ROTATE_QUERY, version: swarm.Version.Index },
  });
  if (f.bool('detach')) return 0;
  const quiet = f.bool('quiet');
  const sink = quiet ? () => {} : ctx.stdout;
  const writer: ProgressWriter = ctx.isTTY ? new TtyProgressWriter(sink) : new PlainProgressWriter(sink);
  const shown = new Map<string, string>();
  for (;;) {
    const now = await ctx.client.json('GET', '/swarm', RotationSwarmSchema);
    const nodes = await ctx.client.json('GET', '/nodes', z.array(NodeSchema));
    const digest = `sha256:${createHash('sha256')
      .update(now.TLSInfo?.TrustRoot ?? '')
      .digest('hex')}`;
    const view = rootRotationProgress(now, nodes, digest);
    for (const m of view.messages) {
      // A pipe gets a line when a count changes, a terminal redraws the bars.
      if (!ctx.isTTY && shown.get(m.id) === m.action) continue;
      shown.set(m.id, m.action);
      writer.write(m);
    }
    if (view.done) {
      if (!quiet) printTrustRoot(ctx, now);
      return 0;
    }
    if (!(await interruptibleSleep(200, ctx.interrupt))) {
      writer.line('Operation continuing in background.');
      writer.line(`Use \`${ctx.prog} swarm ca\` to check progress.`);
      return 0;
    }
  }
};

/** `--external-ca protocol=cfssl,url=https://…[,cacert=file]` as Docker's ExternalCA. */
function parseExternalCA(value: string): Record<string, unknown> {
  const out: Record<string, unknown> = { Protocol: '', URL: '', Options: {} };
  for (const field of value.split(',')) {
    const [k = '', ...rest] = field.split('=');
    const v = rest.join('=');
    if (rest.length === 0) throw new CliError(`invalid field '${field}' must be a key=value pair`);
    if (k.toLowerCase() === 'protocol') out.Protocol = v.toLowerCase();
    else if (k.toLowerCase() === 'url') out.URL = v;
    else (out.Options as Record<string, string>)[k] = v;
  }
  if (out.Protocol !== 'cfssl')
    throw new CliError(`unrecognized external CA protocol ${String(out.Protocol)}`);
  if (out.URL === '') throw new CliError('the external-ca option needs a url= parameter');
  return out;
}

/** One line of stdin: the unlock key, typed (the terminal shows nothing) or piped. */
async function readUnlockKey(ctx: CommandContext): Promise<string> {
  const stdin = process.stdin;
  if (stdin.isTTY) {
    ctx.stdout('Enter unlock key: ');
    stdin.setRawMode(true);
  }
  try {
    let text = '';
    for await (const chunk of stdin) {
      text += String(chunk);
      if (/[\r\n\u0003]/.test(text)) break;
    }
    if (text.includes('\u0003')) throw new CliError('unlock cancelled');
    return text.split(/[\r\n]/)[0]?.trim() ?? '';
  } finally {
    if (stdin.isTTY) {
      stdin.setRawMode(false);
      ctx.stdout('\n');
    }
    stdin.pause();
  }
}

/** `swarm unlock`: a locked manager (autolock, after a restart) given its unlock key. */
const swarmUnlock: Run = async (ctx) => {
  const info = await ctx.client.json('GET', '/info', InfoSchema);
  const state = info.Swarm?.LocalNodeState ?? 'inactive';
  if (state === 'inactive') throw new CliError('Error: This node is not part of a swarm');
  if (state !== 'locked') throw new CliError('Error: swarm is not locked');
  const key = await readUnlockKey(ctx);
  await ctx.client.request('POST', '/swarm/unlock', { body: { UnlockKey: key } });
  return 0;
};

/** `swarm unlock-key [--rotate] [-q]`: shows (after rotating) the key that unlocks a restarted manager. */
const swarmUnlockKey: Run = async (ctx, inv) => {
  const quiet = inv.flags.bool('quiet');
  if (inv.flags.bool('rotate')) {
    const swarm = await ctx.client.json('GET', '/swarm', SwarmSchema);
    if (swarm.Spec.EncryptionConfig?.AutoLockManagers !== true)
      throw new CliError('cannot rotate because autolock is not turned on');
    await ctx.client.request('POST', '/swarm/update', {
      body: swarm.Spec,
      query: { ...ROTATE_QUERY, rotateManagerUnlockKey: true, version: swarm.Version.Index },
    });
    if (!quiet) ctx.stdout('Successfully rotated manager unlock key.\n');
  }
  const key = await ctx.client
    .json('GET', '/swarm/unlockkey', z.object({ UnlockKey: z.string() }).passthrough())
    .catch((e: unknown) => {
      throw e instanceof DaemonError ? new CliError(`could not fetch unlock key: ${e.message}`) : e;
    });
  if (key.UnlockKey === '') throw new CliError('no unlock key is set');
  if (quiet) ctx.stdout(`${key.UnlockKey}\n`);
  else printUnlockCommand(ctx, key.UnlockKey);
  return 0;
};

const durationFlag = (name: string, description: string, defaultText?: string) => ({
  name,
  kind: 'duration' as const,
  description,
  ...(defaultText ? { defaultText } : {}),
});

const SWARM_SPEC_FLAGS = [
  { name: 'autolock', kind: 'bool' as const, description: 'Change manager autolocking setting (true|false)' },
  durationFlag('cert-expiry', 'Validity period for node certificates (ns|us|ms|s|m|h)', '2160h0m0s'),
  durationFlag('dispatcher-heartbeat', 'Dispatcher heartbeat period (ns|us|ms|s|m|h)', '5s'),
  {
    name: 'max-snapshots',
    kind: 'uint' as const,
    description: 'Number of additional Raft snapshots to retain',
  },
  {
    name: 'snapshot-interval',
    kind: 'uint' as const,
    description: 'Number of log entries between Raft snapshots',
    defaultText: '10000',
  },
  {
    name: 'task-history-limit',
    kind: 'int' as const,
    description: 'Task history retention limit',
    defaultText: '5',
  },
];

/** Ours: join tokens expire this long after they are made (the cluster's JoinTokenTTL). */
const TOKEN_TTL_FLAG = durationFlag(
  'token-ttl',
  'Join tokens expire this long after they are made, 0 for never (ns|us|ms|s|m|h)',
  '0s',
);

export const swarmCommand: ContextualCommand = {
  name: 'swarm',
  usage: 'COMMAND',
  description: 'Manage Swarm',
  subcommands: [
    {
      name: 'init',
      usage: '[OPTIONS]',
      description: 'Initialize a swarm',
      args: { max: 0 },
      flags: [
        {
          name: 'advertise-addr',
          kind: 'string',
          description: 'Advertised address (format: <ip|interface>[:port])',
        },
        {
          name: 'listen-addr',
          kind: 'string',
          typeName: 'node-addr',
          description: 'Listen address (format: <ip|interface>[:port])',
          defaultText: '0.0.0.0:2377',
        },
        {
          name: 'availability',
          kind: 'string',
          description: 'Availability of the node ("active"|"pause"|"drain")',
          defaultText: '"active"',
        },
        {
          name: 'data-path-addr',
          kind: 'string',
          description: 'Address or interface to use for data path traffic (format: <ip|interface>)',
        },
        {
          name: 'data-path-port',
          kind: 'uint',
          typeName: 'uint32',
          description:
            'Port number to use for data path traffic (1024 - 49151). If no value is set or is set to 0, the default port (4789) is used.',
        },
        {
          name: 'default-addr-pool',
          kind: 'list',
          typeName: 'ipNetSlice',
          description: 'default address pool in CIDR format',
          defaultText: '[]',
        },
        {
          name: 'default-addr-pool-mask-length',
          kind: 'uint',
          typeName: 'uint32',
          description: 'default address pool subnet mask length',
          defaultText: '24',
        },
        {
          name: 'force-new-cluster',
          kind: 'bool',
          description: 'Force create a new cluster from current state',
        },
        ...SWARM_SPEC_FLAGS,
        TOKEN_TTL_FLAG,
      ],
      exec: swarmInit,
    },
    {
      name: 'join',
      usage: '[OPTIONS] HOST:PORT',
      description: 'Join a swarm as a node and/or manager',
      args: { min: 1, max: 1 },
      flags: [
        { name: 'token', kind: 'string', description: 'Token for entry into the swarm' },
        {
          name: 'advertise-addr',
          kind: 'string',
          description: 'Advertised address (format: <ip|interface>[:port])',
        },
        {
          name: 'listen-addr',
          kind: 'string',
          typeName: 'node-addr',
          description: 'Listen address (format: <ip|interface>[:port])',
          defaultText: '0.0.0.0:2377',
        },
        {
          name: 'availability',
          kind: 'string',
          description: 'Availability of the node ("active"|"pause"|"drain")',
          defaultText: '"active"',
        },
        {
          name: 'data-path-addr',
          kind: 'string',
          description: 'Address or interface to use for data path traffic (format: <ip|interface>)',
        },
      ],
      exec: swarmJoin,
    },
    {
      name: 'join-token',
      usage: '[OPTIONS] (worker|manager)',
      description: 'Manage join tokens',
      args: { min: 1, max: 1 },
      flags: [
        { name: 'quiet', short: 'q', kind: 'bool', description: 'Only display token' },
        { name: 'rotate', kind: 'bool', description: 'Rotate join token' },
      ],
      exec: swarmJoinToken,
    },
    {
      name: 'unlock',
      usage: '',
      description: 'Unlock swarm',
      args: { max: 0 },
      flags: [],
      exec: swarmUnlock,
    },
    {
      name: 'unlock-key',
      usage: '[OPTIONS]',
      description: 'Manage the unlock key',
      args: { max: 0 },
      flags: [
        { name: 'quiet', short: 'q', kind: 'bool', description: 'Only display token' },
        { name: 'rotate', kind: 'bool', description: 'Rotate unlock key' },
      ],
      exec: swarmUnlockKey,
    },
    {
      name: 'ca',
      usage: '[OPTIONS]',
      description: 'Display and rotate the root CA',
      args: { max: 0 },
      flags: [
        {
          name: 'ca-cert',
          kind: 'string',
          typeName: 'pem-file',
          description: 'Path to the PEM-formatted root CA certificate to use for the new cluster',
        },
        {
          name: 'ca-key',
          kind: 'string',
          typeName: 'pem-file',
          description: 'Path to the PEM-formatted root CA key to use for the new cluster',
        },
        durationFlag('cert-expiry', 'Validity period for node certificates (ns|us|ms|s|m|h)', '2160h0m0s'),
        {
          name: 'detach',
          short: 'd',
          kind: 'bool',
          description: 'Exit immediately instead of waiting for the root rotation to converge',
        },
        {
          name: 'external-ca',
          kind: 'list',
          typeName: 'external-ca',
          description: 'Specifications of one or more certificate signing endpoints',
        },
        { name: 'quiet', short: 'q', kind: 'bool', description: 'Suppress progress output' },
        {
          name: 'rotate',
          kind: 'bool',
          description:
            'Rotate the swarm CA - if no certificate or key are provided, new ones will be generated',
        },
      ],
      exec: swarmCa,
    },
    {
      name: 'leave',
      usage: '[OPTIONS]',
      description: 'Leave the swarm',
      args: { max: 0 },
      flags: [
        {
          name: 'force',
          short: 'f',
          kind: 'bool',
          description: 'Force this node to leave the swarm, ignoring warnings',
        },
      ],
      exec: swarmLeave,
    },
    {
      name: 'update',
      usage: '[OPTIONS]',
      description: 'Update the swarm',
      args: { max: 0 },
      flags: [...SWARM_SPEC_FLAGS, TOKEN_TTL_FLAG],
      exec: swarmUpdate,
    },
  ],
};

// --- node --------------------------------------------------------------------------------------

const nodeLs: Run = async (ctx, inv) => {
  const filters = filtersFrom(inv.flags.list('filter'));
  const nodes = await ctx.client.json('GET', '/nodes', z.array(NodeSchema), {
    query: { filters: filtersQuery(filters) },
  });
  const self = await selfNodeId(ctx);
  nodes.sort((a, b) => naturalLess(a.Description?.Hostname ?? '', b.Description?.Hostname ?? ''));
  const format = inv.flags.bool('quiet') ? '{{.ID}}' : inv.flags.string('format');
  ctx.stdout(
    renderTable(
      NODE_TABLE,
      nodes.map((n) => nodeRow(n, self)),
      format,
    ),
  );
  return 0;
};

const nodeInspect: Run = async (ctx, inv) => {
  const nodes: Node[] = [];
  for (const ref of inv.args) nodes.push(await getNode(ctx, ref));
  if (inv.flags.bool('pretty')) {
    for (const n of nodes) ctx.stdout(prettyNode(n));
  } else writeInspect(ctx, nodes, inv.flags.optionalString('format'));
  return 0;
};

/** A labels section as the CLI prints it: Go ranges over the map in key order; values keep their case. */
function labelLines(title: string, labels: Record<string, string> | null | undefined): string[] {
  const entries = Object.entries(labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (entries.length === 0) return [];
  return [title, ...entries.map(([k, v]) => ` - ${k}${v ? `=${v}` : ''}`)];
}

function prettyNode(n: Node): string {
  const lines = [`ID:\t\t\t${n.ID}`];
  if (n.Spec.Name) lines.push(`Name:\t\t\t${n.Spec.Name}`);
  lines.push(...labelLines('Labels:', n.Spec.Labels));
  lines.push(`Hostname:              \t${n.Description?.Hostname ?? ''}`);
  lines.push(`Joined at:             \t${prettyCase(goTimeString(n.CreatedAt ?? ''))}`);
  lines.push(
    'Status:',
    ` State:\t\t\t${prettyCase(n.Status.State)}`,
    ` Availability:         \t${prettyCase(n.Spec.Availability)}`,
  );
  if (n.Status.Addr) lines.push(` Address:\t\t${n.Status.Addr}`);
  if (n.ManagerStatus) {
    lines.push('Manager Status:', ` Address:\t\t${n.ManagerStatus.Addr ?? ''}`);
    lines.push(` Raft Status:\t\t${prettyCase(n.ManagerStatus.Reachability)}`);
    lines.push(` Leader:\t\t${n.ManagerStatus.Leader ? 'Yes' : 'No'}`);
  }
  const p = n.Description?.Platform;
  lines.push('Platform:', ` Operating System:\t${p?.OS ?? ''}`, ` Architecture:\t\t${p?.Architecture ?? ''}`);
  const r = n.Description?.Resources;
  lines.push(
    'Resources:',
    ` CPUs:\t\t\t${(r?.NanoCPUs ?? 0) / 1e9}`,
    ` Memory:\t\t${bytesSize(r?.MemoryBytes ?? 0)}`,
  );
  const plugins = new Map<string, string[]>();
  for (const p of n.Description?.Engine?.Plugins ?? [])
    plugins.set(p.Type, [...(plugins.get(p.Type) ?? []), p.Name]);
  if (plugins.size > 0) {
    lines.push('Plugins:');
    for (const t of [...plugins.keys()].sort()) lines.push(` ${t}:\t\t${plugins.get(t)?.join(', ')}`);
  }
  lines.push(`Engine Version:\t\t${n.Description?.Engine?.EngineVersion ?? ''}`);
  lines.push(...labelLines('Engine Labels:', n.Description?.Engine?.Labels));
  const tls = n.Description?.TLSInfo;
  if (tls?.TrustRoot) {
    lines.push(
      'TLS Info:',
      ' TrustRoot:',
      tls.TrustRoot,
      ` Issuer Subject:\t${tls.CertIssuerSubject ?? ''}`,
      ` Issuer Public Key:\t${tls.CertIssuerPublicKey ?? ''}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** The CLI's PrettyPrint: first letter upper case, the rest lower ("+0000 UTC" → "+0000 utc"). */
function prettyCase(s: string): string {
  return s.length <= 1 ? s.toLowerCase() : `${s[0]?.toUpperCase()}${s.slice(1).toLowerCase()}`;
}

async function updateNode(
  ctx: CommandContext,
  ref: string,
  change: (spec: Record<string, unknown>, node: Node) => void,
): Promise<Node> {
  const node = await ctx.client.json('GET', `/nodes/${encodeURIComponent(ref)}`, NodeSchema);
  const spec = structuredClone(node.Spec) as Record<string, unknown>;
  change(spec, node);
  await ctx.client.request('POST', `/nodes/${node.ID}/update`, {
    body: spec,
    query: { version: node.Version.Index },
  });
  return node;
}

const nodeUpdate: Run = async (ctx, inv) => {
  const f = inv.flags;
  const ref = inv.args[0] ?? '';
  await updateNode(ctx, ref, (spec) => {
    if (f.changed('role')) spec.Role = f.string('role');
    if (f.changed('availability')) spec.Availability = f.string('availability');
    if (f.changed('label-add') || f.changed('label-rm')) {
      const labels: Record<string, string> = { ...((spec.Labels as Record<string, string> | null) ?? {}) };
      for (const l of f.list('label-add')) {
        const eq = l.indexOf('=');
        labels[eq === -1 ? l : l.slice(0, eq)] = eq === -1 ? '' : l.slice(eq + 1);
      }
      for (const k of f.list('label-rm')) delete labels[k];
      spec.Labels = labels;
    }
  });
  ctx.stdout(`${ref}\n`);
  return 0;
};

const setRole =
  (role: 'manager' | 'worker'): Run =>
  async (ctx, inv) => {
    for (const ref of inv.args) {
      let already = false;
      const node = await updateNode(ctx, ref, (spec) => {
        already = spec.Role === role;
        spec.Role = role;
      });
      if (already) ctx.stdout(`Node ${node.ID} is already a ${role}.\n`);
      else
        ctx.stdout(
          role === 'manager'
            ? `Node ${ref} promoted to a manager in the swarm.\n`
            : `Manager ${ref} demoted in the swarm.\n`,
        );
    }
    return 0;
  };

const setAvailability =
  (availability: 'active' | 'pause' | 'drain'): Run =>
  async (ctx, inv) => {
    for (const ref of inv.args) {
      await updateNode(ctx, ref, (spec) => {
        spec.Availability = availability;
      });
      ctx.stdout(`${ref}\n`);
    }
    return 0;
  };

const nodeRm: Run = async (ctx, inv) => {
  const failed = await eachRef(inv.args, async (ref) => {
    await ctx.client.request('DELETE', `/nodes/${encodeURIComponent(ref)}`, {
      query: { force: inv.flags.bool('force') ? 1 : undefined },
    });
    ctx.stdout(`${ref}\n`);
  });
  if (failed) throw failed;
  return 0;
};

const TASK_LIST_FLAGS = [
  FILTER_FLAG,
  FORMAT_FLAG('tasks'),
  { name: 'no-resolve', kind: 'bool' as const, description: 'Do not map IDs to Names' },
  { name: 'no-trunc', kind: 'bool' as const, description: 'Do not truncate output' },
  { name: 'quiet', short: 'q', kind: 'bool' as const, description: 'Only display task IDs' },
];

const nodePs: Run = async (ctx, inv) => {
  const refs = inv.args.length > 0 ? inv.args : ['self'];
  const ids: string[] = [];
  for (const ref of refs) ids.push((await getNode(ctx, ref)).ID);
  const filters = filtersFrom(inv.flags.list('filter'));
  const tasks = await listTasks(ctx, { ...filters, node: ids });
  await printTasks(ctx, tasks, {
    noTrunc: inv.flags.bool('no-trunc'),
    quiet: inv.flags.bool('quiet'),
    format: inv.flags.string('format'),
  });
  return 0;
};

const nodeArgs = { min: 1 };
export const nodeCommand: ContextualCommand = {
  name: 'node',
  usage: 'COMMAND',
  description: 'Manage Swarm nodes',
  subcommands: [
    {
      name: 'ls',
      aliases: ['list'],
      usage: '[OPTIONS]',
      description: 'List nodes in the swarm',
      args: { max: 0 },
      flags: [FILTER_FLAG, FORMAT_FLAG('nodes'), QUIET_FLAG],
      exec: nodeLs,
    },
    {
      name: 'inspect',
      usage: '[OPTIONS] self|NODE [NODE...]',
      description: 'Display detailed information on one or more nodes',
      args: nodeArgs,
      flags: [INSPECT_FORMAT_FLAG, PRETTY_FLAG],
      exec: nodeInspect,
    },
    {
      name: 'update',
      usage: '[OPTIONS] NODE',
      description: 'Update a node',
      args: { min: 1, max: 1 },
      flags: [
        {
          name: 'availability',
          kind: 'string',
          description: 'Availability of the node ("active"|"pause"|"drain")',
        },
        { name: 'label-add', kind: 'list', description: 'Add or update a node label (key=value)' },
        { name: 'label-rm', kind: 'list', description: 'Remove a node label if exists' },
        { name: 'role', kind: 'string', description: 'Role of the node ("worker"|"manager")' },
      ],
      exec: nodeUpdate,
    },
    {
      name: 'rm',
      aliases: ['remove'],
      usage: '[OPTIONS] NODE [NODE...]',
      description: 'Remove one or more nodes from the swarm',
      args: nodeArgs,
      flags: [{ name: 'force', short: 'f', kind: 'bool', description: 'Force remove a node from the swarm' }],
      exec: nodeRm,
    },
    {
      name: 'promote',
      usage: 'NODE [NODE...]',
      description: 'Promote one or more nodes to manager in the swarm',
      args: nodeArgs,
      exec: setRole('manager'),
    },
    {
      name: 'demote',
      usage: 'NODE [NODE...]',
      description: 'Demote one or more nodes from manager in the swarm',
      args: nodeArgs,
      exec: setRole('worker'),
    },
    {
      name: 'drain',
      usage: 'NODE [NODE...]',
      description: 'Drain one or more nodes (SwarmKit shortcut for update --availability drain)',
      args: nodeArgs,
      exec: setAvailability('drain'),
    },
    {
      name: 'activate',
      usage: 'NODE [NODE...]',
      description: 'Activate one or more nodes (SwarmKit shortcut for update --availability active)',
      args: nodeArgs,
      exec: setAvailability('active'),
    },
    {
      name: 'pause',
      usage: 'NODE [NODE...]',
      description: 'Pause one or more nodes (SwarmKit shortcut for update --availability pause)',
      args: nodeArgs,
      exec: setAvailability('pause'),
    },
    {
      name: 'ps',
      usage: '[OPTIONS] [NODE...]',
      description: 'List tasks running on one or more nodes, defaults to current node',
      flags: TASK_LIST_FLAGS,
      exec: nodePs,
    },
  ],
};

// --- task (SwarmKit shortcuts) -----------------------------------------------------------------

const taskLs: Run = async (ctx, inv) => {
  const tasks = await listTasks(ctx, filtersFrom(inv.flags.list('filter')));
  await printTasks(ctx, tasks, {
    noTrunc: inv.flags.bool('no-trunc'),
    quiet: inv.flags.bool('quiet'),
    format: inv.flags.string('format'),
  });
  return 0;
};

const taskInspect: Run = async (ctx, inv) => {
  const tasks = [];
  for (const ref of inv.args)
    tasks.push(await ctx.client.json('GET', `/tasks/${encodeURIComponent(ref)}`, TaskSchema));
  writeInspect(ctx, tasks, inv.flags.optionalString('format'));
  return 0;
};

export const taskCommand: ContextualCommand = {
  name: 'task',
  usage: 'COMMAND',
  description: 'Manage tasks (SwarmKit)',
  subcommands: [
    {
      name: 'ls',
      aliases: ['list'],
      usage: '[OPTIONS]',
      description: 'List all tasks',
      args: { max: 0 },
      flags: TASK_LIST_FLAGS,
      exec: taskLs,
    },
    {
      name: 'inspect',
      usage: '[OPTIONS] TASK [TASK...]',
      description: 'Display detailed information on one or more tasks',
      args: { min: 1 },
      flags: [INSPECT_FORMAT_FLAG],
      exec: taskInspect,
    },
  ],
};

// --- image ---------------------------------------------------------------------------------

const imageLs: Run = async (ctx, inv) => {
  const images = await ctx.client.json('GET', '/images/json', z.array(ImageSummarySchema), {
    query: { filters: filtersQuery(filtersFrom(inv.flags.list('filter'))) },
  });
  const format = inv.flags.bool('quiet') ? '{{.ID}}' : inv.flags.string('format');
  const rows = imageRows(images, ctx.now(), inv.flags.bool('no-trunc'));
  if (inv.flags.bool('quiet')) {
    const seen = new Set<string>();
    for (const r of rows) if (!seen.has(String(r.ID))) seen.add(String(r.ID));
    ctx.stdout([...seen].map((id) => `${id}\n`).join(''));
    return 0;
  }
  ctx.stdout(renderTable(IMAGE_TABLE, rows, format));
  return 0;
};

/** Prints a JSON-message stream (image load/pull) as docker does without a terminal. */
async function printJsonMessages(ctx: CommandContext, stream: AsyncIterable<unknown>): Promise<void> {
  let buffered = '';
  for await (const chunk of stream) {
    buffered += (chunk as Buffer).toString('utf8');
    let nl = buffered.indexOf('\n');
    while (nl !== -1) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      nl = buffered.indexOf('\n');
      if (!line) continue;
      const msg = z
        .object({
          stream: z.string().optional(),
          status: z.string().optional(),
          id: z.string().optional(),
          progress: z.string().optional(),
          error: z.string().optional(),
          errorDetail: z.object({ message: z.string() }).passthrough().optional(),
        })
        .passthrough()
        .safeParse(JSON.parse(line));
      if (!msg.success) continue;
      const m = msg.data;
      if (m.error) throw new CliError(m.errorDetail?.message ?? m.error);
      if (m.stream !== undefined) ctx.stdout(m.stream);
      else if (m.status !== undefined) ctx.stdout(`${m.id ? `${m.id}: ` : ''}${m.status}\n`);
    }
  }
}

const imageLoad: Run = async (ctx, inv) => {
  const { createReadStream } = await import('node:fs');
  const file = inv.flags.optionalString('input');
  const body = file ? createReadStream(file) : process.stdin;
  const stream = await ctx.client.stream('POST', '/images/load', {
    rawBody: body,
    query: { quiet: inv.flags.bool('quiet') ? 1 : 0 },
    headers: { 'Content-Type': 'application/x-tar' },
  });
  await printJsonMessages(ctx, stream);
  return 0;
};

const imagePull: Run = async (ctx, inv) => {
  const ref = inv.args[0] ?? '';
  const at = ref.indexOf('@');
  const colon = ref.lastIndexOf(':');
  const [fromImage, tag] =
    at !== -1
      ? [ref, '']
      : colon > ref.lastIndexOf('/')
        ? [ref.slice(0, colon), ref.slice(colon + 1)]
        : [ref, 'latest'];
  const stream = await ctx.client.stream('POST', '/images/create', {
    query: { fromImage, tag: tag || undefined },
  });
  await printJsonMessages(ctx, stream);
  return 0;
};

export const imageCommand: ContextualCommand = {
  name: 'image',
  usage: 'COMMAND',
  description: 'Manage images',
  subcommands: [
    {
      name: 'ls',
      aliases: ['list'],
      usage: '[OPTIONS] [REPOSITORY[:TAG]]',
      description: 'List images',
      args: { max: 1 },
      flags: [
        FILTER_FLAG,
        FORMAT_FLAG('images'),
        { name: 'no-trunc', kind: 'bool', description: "Don't truncate output" },
        { name: 'quiet', short: 'q', kind: 'bool', description: 'Only show image IDs' },
      ],
      exec: imageLs,
    },
    {
      name: 'load',
      usage: '[OPTIONS]',
      description: 'Load an image from a tar archive or STDIN',
      args: { max: 0 },
      flags: [
        {
          name: 'input',
          short: 'i',
          kind: 'string',
          description: 'Read from tar archive file, instead of STDIN',
        },
        { name: 'quiet', short: 'q', kind: 'bool', description: 'Suppress the load output' },
      ],
      exec: imageLoad,
    },
    {
      name: 'pull',
      usage: '[OPTIONS] NAME[:TAG|@DIGEST]',
      description: 'Pull an image or a repository from a registry',
      args: { min: 1, max: 1 },
      exec: imagePull,
    },
  ],
};

export const infoCommand: ContextualCommand = {
  name: 'info',
  usage: '[OPTIONS]',
  description: 'Display system-wide information',
  args: { max: 0 },
  flags: [
    {
      name: 'format',
      short: 'f',
      kind: 'string',
      description: 'Format the output using the given Go template',
    },
  ],
  exec: async (ctx, inv) => {
    const info = await ctx.client.json('GET', '/info', InfoSchema);
    const format = inv.flags.optionalString('format');
    if (format) writeInspect(ctx, [info], format);
    else ctx.stdout(prettyInfo(info, 'default'));
    return 0;
  },
};
