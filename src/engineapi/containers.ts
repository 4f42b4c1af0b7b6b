// Engine API routes for the node-local containers (docker ps, inspect, logs, kill, stop, rm), in
// Docker's shapes and wording, over the runc ContainerRuntime; exec and attach are in attach.ts,
// the runtime's volumes in volumes.ts (mounted with these routes).
import { invalidArgument } from '../api/errors.js';
import type { ContainerRecord } from '../executor/runc/record.js';
import type { ContainerRuntime } from '../executor/runc/runtime.js';
import type { HealthState } from '../executor/types.js';
import { attachRoutes, frame } from './attach.js';
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
import { volumeRoutes } from './volumes.js';

export { frame };

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
      stream: true,
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
        const abort = new AbortController();
        const exited = runtime.waitExit(ctx.params.id ?? '', abort.signal); // 404 before any header
        // Docker answers 200 at once and the body at the exit: `docker attach` waits for these
        // headers before it attaches.
        ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
        ctx.res.flushHeaders();
        ctx.res.on('close', () => abort.abort());
        const rec = await exited.catch(() => undefined); // undefined: the client left
        if (!rec) return;
        const body = {
          StatusCode: rec.State.ExitCode,
          Error: rec.State.Error ? { Message: rec.State.Error } : null,
        };
        ctx.res.end(`${JSON.stringify(body)}\n`);
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
    ...attachRoutes(runtime),
    ...volumeRoutes(runtime.volumes),
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
  // HEAD has its answer in the headers: a stream left open would hold the connection for good.
  if (ctx.req.method === 'HEAD') {
    abort.abort();
    ctx.res.end();
    return;
  }
  for await (const e of entries) {
    if (abort.signal.aborted) break;
    const payload = Buffer.from(timestamps ? `${rfc3339Nano(e.timeNs)} ${e.line}` : e.line);
    ctx.res.write(frame(e.stream, payload));
  }
  ctx.res.end();
}
