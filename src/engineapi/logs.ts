// `GET /services/{id}/logs` and `GET /tasks/{id}/logs`: the logs of a service's (or one task's)
// containers in Docker's multiplexed stream, with `details` (the task/service/node labels that
// `docker service logs` uses to prefix lines), `follow`, `tail`, `since`, `timestamps`.
import { invalidArgument, SwarmError } from '../api/errors.js';
import type { Service, Task } from '../api/types.js';
import type { LogEntry, LogOptions } from '../executor/types.js';
import { frame, rfc3339Nano } from './containers.js';
import { boolParam, type Route, type RouteContext, writeStreamChunk } from './router.js';

export interface LogSource {
  service(ref: string): Service;
  task(ref: string): Task;
  tasksOf(serviceId: string): Task[];
  /** The task's container logs, when its container is on this node. */
  taskLogs(task: Task, opts: LogOptions): AsyncIterable<LogEntry> | undefined;
}

interface Parsed {
  opts: LogOptions;
  details: boolean;
  timestamps: boolean;
}

function parse(query: URLSearchParams): Parsed {
  const stdout = boolParam(query, 'stdout');
  const stderr = boolParam(query, 'stderr');
  if (!stdout && !stderr) throw invalidArgument("must specify at least one of 'stdout' or 'stderr'");
  const tailRaw = query.get('tail');
  let tail: number | undefined;
  if (tailRaw !== null && tailRaw !== '' && tailRaw !== 'all') {
    if (!/^\d+$/.test(tailRaw)) throw invalidArgument(`invalid value for tail: ${tailRaw}`);
    tail = Number(tailRaw);
  }
  const sinceRaw = query.get('since');
  let since: number | undefined;
  if (sinceRaw && sinceRaw !== '0') {
    since = /^\d+(\.\d+)?$/.test(sinceRaw) ? Number(sinceRaw) : Date.parse(sinceRaw) / 1000;
    if (Number.isNaN(since)) throw invalidArgument(`invalid value for since: ${sinceRaw}`);
  }
  return {
    opts: { follow: boolParam(query, 'follow'), tail, since, stdout, stderr },
    details: boolParam(query, 'details'),
    timestamps: boolParam(query, 'timestamps'),
  };
}

async function stream(ctx: RouteContext, source: LogSource, tasks: Task[]): Promise<void> {
  const p = parse(ctx.query);
  const abort = new AbortController();
  ctx.req.on('close', () => abort.abort());
  ctx.res.writeHead(200, { 'Transfer-Encoding': 'chunked' });
  // HEAD has its answer in the headers: a stream left open would hold the connection for good.
  if (ctx.req.method === 'HEAD') {
    ctx.res.end();
    return;
  }
  const write = (t: Task, e: LogEntry) => {
    const parts: string[] = [];
    if (p.timestamps) parts.push(`${rfc3339Nano(e.timeNs)} `);
    if (p.details) {
      parts.push(
        `com.docker.swarm.node.id=${t.NodeID ?? ''},com.docker.swarm.service.id=${t.ServiceID},com.docker.swarm.task.id=${t.ID} `,
      );
    }
    parts.push(e.line.endsWith('\n') ? e.line : `${e.line}\n`);
    const payload = Buffer.from(parts.join(''));
    // Following, a client that stops reading is cut off; a plain read's lines are in memory already.
    if (!p.opts.follow) ctx.res.write(frame(e.stream, payload));
    else if (!writeStreamChunk(ctx.res, frame(e.stream, payload))) abort.abort();
  };
  const readers = tasks
    .map((t) => ({ t, it: source.taskLogs(t, { ...p.opts, signal: abort.signal }) }))
    .filter((r): r is { t: Task; it: AsyncIterable<LogEntry> } => r.it !== undefined);
  // A node that cannot give its tasks' lines (down, not connected) is one warning at the end, as
  // Docker's daemon writes it: on the stream's system-error channel ("error from daemon in stream").
  const warnings = new Set<string>();
  const unavailable = (e: unknown) => {
    if (e instanceof SwarmError && e.code === 'UNAVAILABLE') warnings.add(e.message);
    else throw e;
  };
  if (!p.opts.follow) {
    // Interleave by time, as one stream of the whole service (nodes read in parallel).
    const all: { t: Task; e: LogEntry }[] = [];
    await Promise.all(
      readers.map(async (r) => {
        try {
          for await (const e of r.it) all.push({ t: r.t, e });
        } catch (e) {
          unavailable(e);
        }
      }),
    );
    all.sort((a, b) => (a.e.timeNs < b.e.timeNs ? -1 : a.e.timeNs > b.e.timeNs ? 1 : 0));
    for (const x of all) write(x.t, x.e);
  } else {
    await Promise.all(
      readers.map(async (r) => {
        try {
          for await (const e of r.it) write(r.t, e);
        } catch (e) {
          if (!abort.signal.aborted) unavailable(e);
        }
      }),
    );
  }
  for (const w of warnings) ctx.res.write(systemErrorFrame(`Error grabbing logs: ${w}`));
  ctx.res.end();
}

/** A frame on stdcopy's system-error stream (3): the docker CLI prints "error from daemon in stream: …". */
function systemErrorFrame(message: string): Buffer {
  const payload = Buffer.from(message);
  const head = Buffer.alloc(8);
  head[0] = 3;
  head.writeUInt32BE(payload.length, 4);
  return Buffer.concat([head, payload]);
}

export function logRoutes(source: LogSource): Route[] {
  return [
    {
      method: 'GET',
      path: '/services/:id/logs',
      stream: true,
      handler: async (ctx) => {
        const s = source.service(ctx.params.id ?? '');
        await stream(ctx, source, source.tasksOf(s.ID));
      },
    },
    {
      method: 'GET',
      path: '/tasks/:id/logs',
      stream: true,
      handler: async (ctx) => {
        const t = source.task(ctx.params.id ?? '');
        await stream(ctx, source, [t]);
      },
    },
  ];
}
