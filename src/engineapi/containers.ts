// Engine API routes for the node-local containers (docker ps, inspect, logs, exec, kill, stop, rm),
// in Docker's shapes and wording, over the runc ContainerRuntime.
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex, Readable } from 'node:stream';
import { z } from 'zod';
import { invalidArgument } from '../api/errors.js';
import type { ContainerRecord } from '../executor/runc/record.js';
import type { ContainerRuntime, ExecConfig } from '../executor/runc/runtime.js';
import type { HealthState } from '../executor/types.js';
import {
  boolParam,
  checkFilterNames,
  intParam,
  parseFilters,
  type Route,
  type RouteContext,
  sendJSON,
  sendNoContent,
} from './router.js';

// ------------------------------------------------------------------ pure presentation

/** go-units HumanDuration, which Docker uses for "Up 5 seconds" and "Exited (3) 2 minutes ago". */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.floor(ms / 3_600_000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(ms / 3_600_000 / 24 / 365)} years`;
}

/** Docker's container status column. */
export function statusText(rec: ContainerRecord, health: HealthState | undefined, now: number): string {
  const s = rec.State;
  if (s.Status === 'running') {
    const h = health ? (health.Status === 'starting' ? ' (health: starting)' : ` (${health.Status})`) : '';
    return `Up ${humanDuration(now - Date.parse(s.StartedAt))}${h}`;
  }
  if (s.Status === 'created') return 'Created';
  if (s.Status === 'dead') return 'Dead';
  if (s.FinishedAt.startsWith('0001-')) return `Exited (${s.ExitCode})`;
  return `Exited (${s.ExitCode}) ${humanDuration(now - Date.parse(s.FinishedAt))} ago`;
}

const unixSeconds = (iso: string) => Math.floor(Date.parse(iso) / 1000);

/**
 * The summary's Command as Docker's engine builds it: the path, then each argument, those holding
 * a blank wrapped in single quotes (nothing escaped), so `docker ps` shows `"sh -c 'echo hi'"`.
 */
export function summaryCommand(path: string, args: readonly string[]): string {
  if (args.length === 0) return path;
  return `${path} ${args.map((a) => (a.includes(' ') ? `'${a}'` : a)).join(' ')}`;
}

function mountsJSON(rec: ContainerRecord) {
  return rec.Mounts.map((m) => ({
    Type: m.Type,
    ...(m.Name ? { Name: m.Name, Driver: 'local' } : {}),
    Source: m.Source,
    Destination: m.Destination,
    Mode: m.Type === 'volume' ? 'z' : '',
    RW: m.RW,
    Propagation: m.Type === 'bind' ? 'rprivate' : '',
  }));
}

function networksJSON(rec: ContainerRecord) {
  const out: Record<string, unknown> = {};
  for (const [name, n] of Object.entries(rec.Network?.networks ?? {})) {
    out[name] = {
      IPAMConfig: null,
      Links: null,
      Aliases: null,
      NetworkID: n.NetworkID ?? '',
      EndpointID: '',
      Gateway: '',
      IPAddress: n.IPAddress,
      IPPrefixLen: n.IPPrefixLen,
      IPv6Gateway: '',
      GlobalIPv6Address: '',
      GlobalIPv6PrefixLen: 0,
      MacAddress: n.MacAddress ?? '',
    };
  }
  return out;
}

/** One row of GET /containers/json. */
export function containerSummary(rec: ContainerRecord, health: HealthState | undefined, now: number) {
  return {
    Id: rec.Id,
    Names: [`/${rec.Name}`],
    Image: rec.Image,
    ImageID: rec.ImageID,
    Command: summaryCommand(rec.Path, rec.Args),
    Created: unixSeconds(rec.Created),
    Ports: [],
    Labels: rec.Labels,
    State: rec.State.Status,
    Status: statusText(rec, health, now),
    HostConfig: { NetworkMode: rec.Network ? 'default' : 'none' },
    NetworkSettings: { Networks: networksJSON(rec) },
    Mounts: mountsJSON(rec),
  };
}

/** GET /containers/:id/json. */
export function containerInspect(
  rec: ContainerRecord,
  health: HealthState | undefined,
  paths: { bundle: string; dir: string },
  execIDs: string[],
) {
  const { bundle, dir } = paths;
  const s = rec.State;
  const spec = rec.Spec;
  const limits = rec.Resources?.Limits;
  return {
    Id: rec.Id,
    Created: rec.Created,
    Path: rec.Path,
    Args: rec.Args,
    State: {
      Status: s.Status,
      Running: s.Status === 'running',
      Paused: false,
      Restarting: false,
      OOMKilled: s.OOMKilled,
      Dead: s.Status === 'dead',
      Pid: s.Pid,
      ExitCode: s.ExitCode,
      Error: s.Error,
      StartedAt: s.StartedAt,
      FinishedAt: s.FinishedAt,
      ...(health ? { Health: health } : {}),
    },
    Image: rec.ImageID,
    ResolvConfPath: `${bundle}/resolv.conf`,
    HostnamePath: `${bundle}/hostname`,
    HostsPath: `${bundle}/hosts`,
    LogPath: `${dir}/ctr.log`,
    Name: `/${rec.Name}`,
    RestartCount: 0,
    Driver: 'overlay2',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: execIDs.length ? execIDs : null,
    HostConfig: {
      NetworkMode: rec.Network ? 'default' : 'none',
      RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
      AutoRemove: false,
      ReadonlyRootfs: spec.ReadOnly === true,
      Init: spec.Init ?? null,
      CapAdd: spec.CapabilityAdd ?? null,
      CapDrop: spec.CapabilityDrop ?? null,
      Sysctls: spec.Sysctls ?? null,
      Ulimits: spec.Ulimits ?? null,
      Memory: limits?.MemoryBytes ?? 0,
      MemorySwap: limits?.MemoryBytes ?? 0,
      NanoCpus: limits?.NanoCPUs ?? 0,
      PidsLimit: limits?.Pids ?? null,
      Mounts: spec.Mounts ?? null,
      LogConfig: { Type: 'k8s-file', Config: {} },
    },
    GraphDriver: {
      Name: 'overlay2',
      Data: { UpperDir: `${dir}/upper`, WorkDir: `${dir}/work`, MergedDir: `${bundle}/rootfs` },
    },
    Mounts: mountsJSON(rec),
    Config: {
      Hostname: rec.Hostname,
      Domainname: '',
      User: rec.User,
      AttachStdin: false,
      AttachStdout: false,
      AttachStderr: false,
      Tty: false,
      OpenStdin: false,
      StdinOnce: false,
      Env: rec.Env,
      Cmd: spec.Args ?? (spec.Command ? null : [rec.Path, ...rec.Args]),
      Image: rec.Image,
      Volumes: null,
      WorkingDir: rec.WorkingDir,
      Entrypoint: spec.Command ?? null,
      OnBuild: null,
      Labels: rec.Labels,
      StopSignal: rec.StopSignal,
      ...(spec.StopGracePeriod ? { StopTimeout: Math.round(spec.StopGracePeriod / 1e9) } : {}),
      ...(rec.Healthcheck ? { Healthcheck: rec.Healthcheck } : {}),
    },
    NetworkSettings: {
      Bridge: '',
      SandboxID: '',
      SandboxKey: rec.Network?.netnsPath ?? '',
      Ports: {},
      Networks: networksJSON(rec),
    },
  };
}

const STATUSES = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'];

/** docker ps filters: label (key or key=value), name (regexp on the name), status, id (prefix). */
export function matchesFilters(rec: ContainerRecord, filters: Map<string, string[]>): boolean {
  const labels = filters.get('label') ?? [];
  for (const l of labels) {
    const eq = l.indexOf('=');
    if (eq < 0 ? !(l in rec.Labels) : rec.Labels[l.slice(0, eq)] !== l.slice(eq + 1)) return false;
  }
  const names = filters.get('name') ?? [];
  if (names.length && !names.some((n) => safeRegExp(n).test(`/${rec.Name}`))) return false;
  const statuses = filters.get('status') ?? [];
  for (const s of statuses) {
    if (!STATUSES.includes(s)) {
      throw invalidArgument(`Invalid filter 'status=${s}': Unrecognised filter value for status`);
    }
  }
  if (statuses.length && !statuses.includes(rec.State.Status)) return false;
  const ids = filters.get('id') ?? [];
  if (ids.length && !ids.some((i) => rec.Id.startsWith(i))) return false;
  return true;
}

function safeRegExp(s: string): RegExp {
  try {
    return new RegExp(s);
  } catch {
    throw invalidArgument(`invalid filter: name ${s} is not a valid regular expression`);
  }
}

/** Docker's stream framing for non-tty streams: [stream, 0, 0, 0, size BE32] + payload. */
export function frame(stream: 'stdout' | 'stderr', payload: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head[0] = stream === 'stdout' ? 1 : 2;
  head.writeUInt32BE(payload.length, 4);
  return Buffer.concat([head, payload]);
}

/** ns since the epoch → RFC3339Nano in UTC, trailing zeros dropped (Go's time.RFC3339Nano). */
export function rfc3339Nano(ns: bigint): string {
  const secs = ns / 1_000_000_000n;
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  const base = new Date(Number(secs) * 1000).toISOString().slice(0, 19);
  return `${base}${frac ? `.${frac}` : ''}Z`;
}

/** Docker's since/until: unix seconds with an optional fraction ("1700000000.5"), or RFC3339. */
export function parseTimestampParam(v: string | null): number | undefined {
  if (v === null || v === '' || v === '0') return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v);
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw invalidArgument(`invalid value for since/until: ${v}`);
  return t / 1000;
}

// ------------------------------------------------------------------ routes

const execCreateSchema = z.object({
  Cmd: z.array(z.string()).min(1, 'No exec command specified'),
  Env: z.array(z.string()).nullish(),
  User: z.string().nullish(),
  WorkingDir: z.string().nullish(),
  Tty: z.boolean().nullish(),
  AttachStdin: z.boolean().nullish(),
  AttachStdout: z.boolean().nullish(),
  AttachStderr: z.boolean().nullish(),
  Privileged: z.boolean().nullish(),
  DetachKeys: z.string().nullish(),
});
const execStartSchema = z.object({ Detach: z.boolean().nullish(), Tty: z.boolean().nullish() }).nullish();

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body);
  if (!r.success) throw invalidArgument(r.error.issues.map((i) => i.message).join('; '));
  return r.data;
}

function streamContentType(apiVersion: string): string {
  const [maj = 1, min = 0] = apiVersion.split('.').map(Number);
  return maj > 1 || min >= 42
    ? 'application/vnd.docker.multiplexed-stream'
    : 'application/vnd.docker.raw-stream';
}

export function containerRoutes(runtime: ContainerRuntime): Route[] {
  const health = (rec: ContainerRecord) => runtime.healthOf(rec.Id);
  return [
    {
      method: 'GET',
      path: '/containers/json',
      handler: (ctx) => {
        const filters = parseFilters(ctx.query);
        checkFilterNames(filters, ['label', 'name', 'status', 'id']);
        const all = boolParam(ctx.query, 'all');
        const limit = intParam(ctx.query, 'limit');
        const now = Date.now();
        let rows = runtime
          .list()
          .filter((r) => (all || filters.has('status') ? true : r.State.Status === 'running'))
          .filter((r) => matchesFilters(r, filters));
        if (limit !== undefined && limit > 0) rows = rows.slice(0, limit);
        sendJSON(
          ctx.res,
          200,
          rows.map((r) => containerSummary(r, health(r), now)),
        );
      },
    },
    {
      method: 'GET',
      path: '/containers/:id/json',
      handler: (ctx) => {
        const rec = runtime.get(ctx.params.id ?? '');
        const execIDs = runtime.execIdsOf(rec.Id);
        sendJSON(
          ctx.res,
          200,
          containerInspect(
            rec,
            health(rec),
            { bundle: runtime.bundleDir(rec.Id), dir: runtime.containerDir(rec.Id) },
            execIDs,
          ),
        );
      },
    },
    {
      method: 'GET',
      path: '/containers/:id/logs',
      handler: (ctx) => logsHandler(runtime, ctx),
    },
    {
      method: 'POST',
      path: '/containers/:id/kill',
      handler: async (ctx) => {
        await runtime.kill(ctx.params.id ?? '', ctx.query.get('signal') || 'SIGKILL');
        sendNoContent(ctx.res);
      },
    },
    {
      method: 'POST',
      path: '/containers/:id/stop',
      handler: async (ctx) => {
        const rec = runtime.get(ctx.params.id ?? '');
        if (rec.State.Status !== 'running') {
          sendNoContent(ctx.res, 304);
          return;
        }
        const t = intParam(ctx.query, 't') ?? intParam(ctx.query, 'timeout');
        await runtime.stop(rec.Id, t === undefined ? undefined : Math.max(0, t) * 1000);
        sendNoContent(ctx.res);
      },
    },
    {
      method: 'POST',
      path: '/containers/:id/wait',
      handler: async (ctx) => {
        const rec = await runtime.waitExit(ctx.params.id ?? '');
        sendJSON(ctx.res, 200, {
          StatusCode: rec.State.ExitCode,
          Error: rec.State.Error ? { Message: rec.State.Error } : null,
        });
      },
    },
    {
      method: 'DELETE',
      path: '/containers/:id',
      handler: async (ctx) => {
        await runtime.remove(ctx.params.id ?? '', { force: boolParam(ctx.query, 'force') });
        sendNoContent(ctx.res);
      },
    },
    {
      method: 'POST',
      path: '/containers/:id/exec',
      handler: async (ctx) => {
        const body = parse(execCreateSchema, await ctx.json());
        const config: ExecConfig = {
          Cmd: body.Cmd,
          ...(body.Env ? { Env: body.Env } : {}),
          ...(body.User ? { User: body.User } : {}),
          ...(body.WorkingDir ? { WorkingDir: body.WorkingDir } : {}),
          Tty: body.Tty ?? false,
          AttachStdin: body.AttachStdin ?? false,
          AttachStdout: body.AttachStdout ?? false,
          AttachStderr: body.AttachStderr ?? false,
        };
        const inst = runtime.createExec(ctx.params.id ?? '', config);
        sendJSON(ctx.res, 201, { Id: inst.ID });
      },
    },
    {
      method: 'POST',
      path: '/exec/:id/start',
      handler: (ctx) => execStartHandler(runtime, ctx),
    },
    {
      method: 'GET',
      path: '/exec/:id/json',
      handler: (ctx) => {
        const e = runtime.getExec(ctx.params.id ?? '');
        sendJSON(ctx.res, 200, {
          ID: e.ID,
          Running: e.Running,
          ExitCode: e.ExitCode,
          ProcessConfig: {
            tty: e.Config.Tty ?? false,
            entrypoint: e.Config.Cmd[0] ?? '',
            arguments: e.Config.Cmd.slice(1),
            privileged: false,
            user: e.Config.User ?? '',
          },
          OpenStdin: e.Config.AttachStdin ?? false,
          OpenStdout: e.Config.AttachStdout ?? false,
          OpenStderr: e.Config.AttachStderr ?? false,
          CanRemove: false,
          ContainerID: e.ContainerID,
          DetachKeys: '',
          Pid: e.Pid,
        });
      },
    },
  ];
}

async function logsHandler(runtime: ContainerRuntime, ctx: RouteContext): Promise<void> {
  const rec = runtime.get(ctx.params.id ?? '');
  const stdout = boolParam(ctx.query, 'stdout');
  const stderr = boolParam(ctx.query, 'stderr');
  if (!stdout && !stderr) throw invalidArgument('Bad parameters: you must choose at least one stream');
  const tailRaw = ctx.query.get('tail');
  let tail: number | undefined;
  if (tailRaw !== null && tailRaw !== '' && tailRaw !== 'all') {
    if (!/^\d+$/.test(tailRaw)) throw invalidArgument(`invalid value for tail: ${tailRaw}`);
    tail = Number(tailRaw);
  }
  const timestamps = boolParam(ctx.query, 'timestamps');
  const abort = new AbortController();
  ctx.res.on('close', () => abort.abort());
  const since = parseTimestampParam(ctx.query.get('since'));
  const until = parseTimestampParam(ctx.query.get('until'));
  const entries = runtime.logs(rec.Id, {
    follow: boolParam(ctx.query, 'follow'),
    stdout,
    stderr,
    ...(tail !== undefined ? { tail } : {}),
    ...(since !== undefined ? { since } : {}),
    ...(until !== undefined ? { until } : {}),
    signal: abort.signal,
  });
  // Streamed responses carry no Content-Type (docker-cli-api-trace.md), chunked.
  ctx.res.writeHead(200);
  ctx.res.flushHeaders();
  for await (const e of entries) {
    if (abort.signal.aborted) break;
    const payload = Buffer.from(timestamps ? `${rfc3339Nano(e.timeNs)} ${e.line}` : e.line);
    ctx.res.write(frame(e.stream, payload));
  }
  ctx.res.end();
}

/**
 * POST /exec/:id/start. Detached: 200 at once. Otherwise the CLI asks to upgrade the connection
 * (`Connection: Upgrade`, `Upgrade: tcp`) and needs `101 UPGRADED`; the response is then written
 * straight onto the socket, as Docker's hijack does. Without the upgrade headers: a plain 200 stream.
 * With a tty the stream is raw; without, frames carry the stream id.
 */
async function execStartHandler(runtime: ContainerRuntime, ctx: RouteContext): Promise<void> {
  const inst = runtime.getExec(ctx.params.id ?? '');
  const body = parse(execStartSchema, await ctx.json());
  if (body?.Detach) {
    inst.Config.Detach = true;
    const p = await runtime.startExec(inst.ID);
    void p.exit;
    sendJSON(ctx.res, 200, {});
    return;
  }
  const tty = body?.Tty ?? inst.Config.Tty ?? false;
  inst.Config.Tty = tty;
  const contentType = tty ? 'application/vnd.docker.raw-stream' : streamContentType(ctx.apiVersion);
  const upgrade = /upgrade/i.test(ctx.req.headers.connection ?? '') && (ctx.req.headers.upgrade ?? '') !== '';
  const proc = await runtime.startExec(inst.ID);
  let out: Duplex | ServerResponse;
  if (upgrade) {
    const sock = ctx.req.socket;
    detachHttpParser(sock);
    sock.write(
      `HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`,
    );
    if (proc.stdin) {
      sock.pipe(proc.stdin);
      sock.on('error', () => proc.stdin?.destroy());
    }
    out = sock;
  } else {
    ctx.res.writeHead(200, { 'Content-Type': contentType });
    proc.stdin?.end();
    out = ctx.res;
  }
  const pump = (r: Readable | null, stream: 'stdout' | 'stderr') =>
    new Promise<void>((resolve) => {
      if (!r) return resolve();
      r.on('data', (b: Buffer) => out.write(tty ? b : frame(stream, b)));
      r.on('end', resolve);
      r.on('error', () => resolve());
    });
  await Promise.all([pump(proc.stdout, 'stdout'), pump(proc.stderr, 'stderr'), proc.exit]);
  out.end();
}

/**
 * Takes a request's socket away from Node's HTTP parser so later bytes (the exec's stdin) reach us
 * instead of being parsed as a new request. Node does the same on its own 'upgrade' path; the server
 * here has no upgrade listener, so hijacking happens inside the request handler.
 */
function detachHttpParser(sock: Socket): void {
  const parser: unknown = Reflect.get(sock, 'parser');
  if (
    typeof parser === 'object' &&
    parser !== null &&
    'unconsume' in parser &&
    typeof parser.unconsume === 'function'
  ) {
    parser.unconsume();
  }
  // The CLI half-closes its side once stdin is done (or at once without stdin): the server's own
  // 'end' handler would then end our side too and cut the output short.
  for (const ev of ['data', 'end', 'timeout', 'drain', 'error']) sock.removeAllListeners(ev);
  sock.on('error', () => sock.destroy());
  sock.setTimeout(0);
}
