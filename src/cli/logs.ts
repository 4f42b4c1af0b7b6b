// `service logs`: reads the Engine API's multiplexed log stream (8-byte frame headers: stream
// byte, 3 zero bytes, big-endian length), takes the `details=1` context the daemon prepends to
// each line (node, service and task IDs), resolves them to names and prints
// `<service>.<slot>.<task id>@<node>    | <line>`, stdout frames to stdout, stderr to stderr.

import type { Readable } from 'node:stream';
import { DaemonError } from './client.js';
import type { CommandContext } from './context.js';
import { NodeSchema, ServiceSchema, TaskSchema } from './types.js';

export interface LogFrame {
  stream: 'stdout' | 'stderr';
  payload: Buffer;
}

/** Incremental demultiplexer: push chunks, get complete frames back. */
export class FrameDecoder {
  private buffered = Buffer.alloc(0);

  push(chunk: Buffer): LogFrame[] {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    const frames: LogFrame[] = [];
    while (this.buffered.length >= 8) {
      const length = this.buffered.readUInt32BE(4);
      if (this.buffered.length < 8 + length) break;
      const kind = this.buffered[0];
      frames.push({
        stream: kind === 2 ? 'stderr' : 'stdout',
        payload: this.buffered.subarray(8, 8 + length),
      });
      this.buffered = this.buffered.subarray(8 + length);
    }
    return frames;
  }
}

export interface LogLine {
  timestamp?: string;
  context: Record<string, string>;
  message: string;
}

/** Splits "[timestamp ]k=v,k=v message" into its parts. */
export function parseLogLine(line: string, timestamps: boolean): LogLine {
  let rest = line;
  let timestamp: string | undefined;
  if (timestamps) {
    const sp = rest.indexOf(' ');
    timestamp = sp === -1 ? rest : rest.slice(0, sp);
    rest = sp === -1 ? '' : rest.slice(sp + 1);
  }
  const sp = rest.indexOf(' ');
  const details = sp === -1 ? rest : rest.slice(0, sp);
  const message = sp === -1 ? '' : rest.slice(sp + 1);
  const context: Record<string, string> = {};
  for (const kv of details.split(',')) {
    const eq = kv.indexOf('=');
    if (eq > 0) context[decodeURIComponent(kv.slice(0, eq))] = decodeURIComponent(kv.slice(eq + 1));
  }
  return { ...(timestamp !== undefined ? { timestamp } : {}), context, message };
}

export interface LogOptions {
  follow: boolean;
  tail: string;
  timestamps: boolean;
  noTaskIds: boolean;
  noResolve: boolean;
  noTrunc: boolean;
  raw: boolean;
  since?: string;
}

class NameResolver {
  private readonly cache = new Map<string, Promise<string>>();
  constructor(private readonly ctx: CommandContext) {}

  private once(key: string, load: () => Promise<string>, fallback: string): Promise<string> {
    let p = this.cache.get(key);
    if (!p) {
      p = load().catch((e) => {
        if (e instanceof DaemonError) return fallback;
        throw e;
      });
      this.cache.set(key, p);
    }
    return p;
  }

  node(id: string) {
    return this.once(
      `n/${id}`,
      async () => (await this.ctx.client.json('GET', `/nodes/${id}`, NodeSchema)).Description?.Hostname ?? id,
      id,
    );
  }
  service(id: string) {
    return this.once(
      `s/${id}`,
      async () =>
        (
          await this.ctx.client.json('GET', `/services/${id}`, ServiceSchema, {
            query: { insertDefaults: false },
          })
        ).Spec.Name ?? id,
      id,
    );
  }
  slot(id: string) {
    return this.once(
      `t/${id}`,
      async () => {
        const t = await this.ctx.client.json('GET', `/tasks/${id}`, TaskSchema);
        return t.Slot ? String(t.Slot) : (t.NodeID ?? '');
      },
      '',
    );
  }
}

export async function writeServiceLogs(ctx: CommandContext, ref: string, opts: LogOptions): Promise<void> {
  let path: string;
  try {
    const service = await ctx.client.json('GET', `/services/${encodeURIComponent(ref)}`, ServiceSchema, {
      query: { insertDefaults: false },
    });
    path = `/services/${encodeURIComponent(service.Spec.Name === ref ? ref : service.ID)}/logs`;
  } catch (e) {
    if (!(e instanceof DaemonError) || e.status !== 404) throw e;
    const task = await ctx.client.json('GET', `/tasks/${encodeURIComponent(ref)}`, TaskSchema);
    path = `/tasks/${task.ID}/logs`;
  }
  const query: Record<string, string | number | undefined> = {
    details: 1,
    follow: opts.follow ? 1 : undefined,
    since: opts.since,
    stderr: 1,
    stdout: 1,
    tail: opts.tail,
    timestamps: opts.timestamps ? 1 : undefined,
  };
  const stream: Readable = await ctx.client.stream('GET', path, { query });
  const decoder = new FrameDecoder();
  const names = new NameResolver(ctx);
  const onAbort = () => stream.destroy();
  ctx.interrupt.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const chunk of stream) {
      for (const frame of decoder.push(chunk as Buffer)) {
        const text = frame.payload.toString('utf8').replace(/\n$/, '');
        for (const line of text.split('\n')) {
          const out = await formatLine(parseLogLine(line, opts.timestamps), names, opts);
          (frame.stream === 'stderr' ? ctx.stderr : ctx.stdout)(`${out}\n`);
        }
      }
    }
  } catch (e) {
    if (!ctx.interrupt.aborted) throw e;
  } finally {
    ctx.interrupt.removeEventListener('abort', onAbort);
  }
}

async function formatLine(line: LogLine, names: NameResolver, opts: LogOptions): Promise<string> {
  const ts = line.timestamp !== undefined ? `${line.timestamp} ` : '';
  if (opts.raw) return `${ts}${line.message}`;
  const nodeId = line.context['com.docker.swarm.node.id'] ?? '';
  const serviceId = line.context['com.docker.swarm.service.id'] ?? '';
  const taskId = line.context['com.docker.swarm.task.id'] ?? '';
  const [node, service, slot] = opts.noResolve
    ? [nodeId, serviceId, '']
    : await Promise.all([names.node(nodeId), names.service(serviceId), names.slot(taskId)]);
  const shownTask = opts.noTrunc ? taskId : taskId.slice(0, 12);
  const taskName = opts.noTaskIds
    ? `${service}.${slot}`
    : opts.noResolve
      ? shownTask
      : `${service}.${slot}.${shownTask}`;
  return `${ts}${taskName}@${node}    | ${line.message}`;
}
