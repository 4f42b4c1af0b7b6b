// `swarmctl events`: Docker's `docker events` — the daemon's events, live (and from --since), one
// line each as the docker CLI prints them: "TIME TYPE ACTION ID (k=v, …)", or --format.
import type { Readable } from 'node:stream';
import { z } from 'zod';
import { CliError } from '../context.js';
import { executeTemplate, parseTemplate, unescapeFormat } from '../template.js';
import { filtersFrom, filtersQuery } from './common.js';
import type { ContextualCommand } from './service.js';

const EventSchema = z.object({
  Type: z.string(),
  Action: z.string(),
  Actor: z.object({ ID: z.string(), Attributes: z.record(z.string()).nullish() }),
  scope: z.string().optional(),
  time: z.number().optional(),
});
type Event = z.infer<typeof EventSchema> & {
  /** Exact nanoseconds (read from the JSON text: a double cannot hold them). */
  timeNano?: bigint;
};

/** One JSON line of the stream, its timeNano kept exact. */
export function parseEventLine(line: string): Event | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return undefined;
  }
  const parsed = EventSchema.safeParse(raw);
  if (!parsed.success) return undefined;
  const nano = /"timeNano":\s*(\d+)/.exec(line)?.[1];
  return { ...parsed.data, ...(nano ? { timeNano: BigInt(nano) } : {}) };
}

const UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * The docker CLI's `--since`/`--until`: a Go duration before now ("10m", "1h30m"), a Unix time
 * ("1700000000.5") or a date ("2026-12-07", RFC 3339) → Unix seconds as the API takes them.
 */
export function eventTimeArg(value: string, name: string, nowMs: number): string {
  if (/^\d+(\.\d+)?$/.test(value)) return value;
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)];
  if (parts.length > 0 && parts.map((p) => p[0]).join('') === value) {
    const ms = parts.reduce((sum, p) => sum + Number(p[1]) * (UNITS[p[2] ?? ''] ?? 0), 0);
    return ((nowMs - ms) / 1000).toFixed(9);
  }
  const t = Date.parse(value);
  if (Number.isNaN(t))
    throw new CliError(
      `invalid value for --${name}: "${value}": use a duration ("10m"), a Unix time or a date (2026-12-07T10:00:00Z)`,
    );
  return (t / 1000).toFixed(9);
}

/** Docker's RFC3339NanoFixed in UTC: 2026-12-07T10:00:00.123456789Z. */
function timeOf(e: Event): string {
  const nano = e.timeNano ?? BigInt(e.time ?? 0) * 1_000_000_000n;
  const secs = nano / 1_000_000_000n;
  const frac = (nano % 1_000_000_000n).toString().padStart(9, '0');
  return `${new Date(Number(secs) * 1000).toISOString().slice(0, 19)}.${frac}Z`;
}

/** One event as `docker events` prints it (attributes sorted by key). */
export function eventLine(e: Event): string {
  const attrs = Object.entries(e.Actor.Attributes ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`);
  return `${timeOf(e)} ${e.Type} ${e.Action} ${e.Actor.ID}${attrs.length > 0 ? ` (${attrs.join(', ')})` : ''}`;
}

export const eventsCommand: ContextualCommand = {
  name: 'events',
  usage: '[OPTIONS]',
  description: 'Get real time events from the server',
  args: { max: 0 },
  flags: [
    { name: 'filter', short: 'f', kind: 'list', description: 'Filter output based on conditions provided' },
    { name: 'format', kind: 'string', description: 'Format the output using the given Go template' },
    { name: 'since', kind: 'string', description: 'Show all events created since timestamp' },
    { name: 'until', kind: 'string', description: 'Stream events until this timestamp' },
  ],
  exec: async (ctx, inv) => {
    const now = ctx.now();
    const since = inv.flags.optionalString('since');
    const until = inv.flags.optionalString('until');
    const format = inv.flags.optionalString('format');
    const template = format ? parseTemplate(unescapeFormat(format)) : undefined;
    const stream: Readable = await ctx.client.stream('GET', '/events', {
      query: {
        since: since ? eventTimeArg(since, 'since', now) : undefined,
        until: until ? eventTimeArg(until, 'until', now) : undefined,
        filters: filtersQuery(filtersFrom(inv.flags.list('filter'))),
      },
    });
    const onAbort = () => stream.destroy();
    ctx.interrupt.addEventListener('abort', onAbort, { once: true });
    let buf = '';
    try {
      for await (const chunk of stream) {
        buf += (chunk as Buffer).toString('utf8');
        let nl = buf.indexOf('\n');
        while (nl >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          nl = buf.indexOf('\n');
          if (line === '') continue;
          const event = parseEventLine(line);
          if (!event) continue;
          ctx.stdout(`${template ? executeTemplate(template, JSON.parse(line)) : eventLine(event)}\n`);
        }
      }
    } catch (e) {
      if (!ctx.interrupt.aborted) throw e;
    } finally {
      ctx.interrupt.removeEventListener('abort', onAbort);
    }
    return 0;
  },
};
