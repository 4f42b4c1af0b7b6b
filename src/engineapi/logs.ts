// `GET /services/{id}/logs` and `GET /tasks/{id}/logs`: the logs of a service's (or one task's)
// containers in Docker's multiplexed stream, with `details` (the task/service/node labels that
// `docker service logs` uses to prefix lines), `follow`, `tail`, `since`, `timestamps`.
import { invalidArgument } from '../api/errors.js';
import type { Service, Task } from '../api/types.js';
import type { LogEntry, LogOptions } from '../executor/types.js';
import { frame, rfc3339Nano } from './containers.js';
import { boolParam, type Route, type RouteContext } from './router.js';

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
    ctx.res.write(frame(e.stream, payload));
  };
  const readers = tasks
    .map((t) => ({ t, it: source.taskLogs(t, { ...p.opts, signal: abort.signal }) }))
    .filter((r): r is { t: Task; it: AsyncIterable<LogEntry> } => r.it !== undefined);
  if (!p.opts.follow) {
    // Interleave by time, as one stream of the whole service.
    const all: { t: Task; e: LogEntry }[] = [];
    for (const r of readers) for await (const e of r.it) all.push({ t: r.t, e });
    all.sort((a, b) => (a.e.timeNs < b.e.timeNs ? -1 : a.e.timeNs > b.e.timeNs ? 1 : 0));
    for (const x of all) write(x.t, x.e);
  } else {
    await Promise.all(
      readers.map(async (r) => {
        try {
          for await (const e of r.it) write(r.t, e);
        } catch (e) {
          if (!abort.signal.aborted) throw e;
        }
      }),
    );
  }
  ctx.res.end();
}

export function logRoutes(source: LogSource): Route[] {
  return [
    {
      method: 'GET',
      path: '/services/:id/logs',
      handler: async (ctx) => {
        const s = source.service(ctx.params.id ?? '');
        await stream(ctx, source, source.tasksOf(s.ID));
      },
    },
    {
      method: 'GET',
      path: '/tasks/:id/logs',
      handler: async (ctx) => {
        const t = source.task(ctx.params.id ?? '');
        await stream(ctx, source, [t]);
      },
    },
  ];
}
