// Container logs as conmon writes them (k8s-file: `<RFC3339Nano> stdout|stderr F|P <text>`): a pure
// parser, and a reader with tail/since/until/follow that survives conmon truncating the file.

import { watch } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import type { LogEntry, LogOptions } from '../types.js';

/** "2026-11-23T07:27:57.677506792+00:00" → ns since the epoch (undefined if not a timestamp). */
export function parseTimeNs(t: string): bigint | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(t);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}${m[3] === 'Z' ? 'Z' : m[3]}`);
  if (Number.isNaN(ms)) return undefined;
  const frac = (m[2] ?? '').padEnd(9, '0');
  return BigInt(ms) * 1_000_000n + BigInt(frac);
}

interface Pending {
  time: string;
  timeNs: bigint;
  text: string;
}

/**
 * Stateful k8s-file parser: feed it complete lines; partial (P) records are joined with the record
 * that completes them and reported once, stamped with the time of their first part.
 */
export class K8sFileParser {
  private pending = new Map<'stdout' | 'stderr', Pending>();

  /** Returns the entry the line completes, if any. Malformed lines are skipped. */
  push(raw: string): LogEntry | undefined {
    const s1 = raw.indexOf(' ');
    const s2 = raw.indexOf(' ', s1 + 1);
    const s3 = raw.indexOf(' ', s2 + 1);
    if (s1 < 0 || s2 < 0) return undefined;
    const time = raw.slice(0, s1);
    const stream = raw.slice(s1 + 1, s2);
    const tag = s3 < 0 ? raw.slice(s2 + 1) : raw.slice(s2 + 1, s3);
    const text = s3 < 0 ? '' : raw.slice(s3 + 1);
    if (stream !== 'stdout' && stream !== 'stderr') return undefined;
    const timeNs = parseTimeNs(time);
    if (timeNs === undefined) return undefined;
    const prev = this.pending.get(stream);
    if (tag === 'P') {
      if (prev) prev.text += text;
      else this.pending.set(stream, { time, timeNs, text });
      return undefined;
    }
    this.pending.delete(stream);
    if (prev) return { stream, time: prev.time, timeNs: prev.timeNs, line: `${prev.text}${text}\n` };
    return { stream, time, timeNs, line: `${text}\n` };
  }

  /** Partial records still waiting for their end (reported as-is when the log ends). */
  flush(): LogEntry[] {
    const out = [...this.pending.entries()].map(([stream, p]) => ({
      stream,
      time: p.time,
      timeNs: p.timeNs,
      line: p.text,
    }));
    this.pending.clear();
    return out;
  }
}

/** Parses a whole k8s-file text. */
export function parseK8sFile(text: string): LogEntry[] {
  const parser = new K8sFileParser();
  const out: LogEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const e = parser.push(line);
    if (e) out.push(e);
  }
  out.push(...parser.flush());
  return out;
}

const secondsToNs = (s: number) => BigInt(Math.round(s * 1e6)) * 1000n;

/** Pure filter: streams, since/until (exclusive/inclusive, as Docker), then tail. */
export function selectEntries(entries: LogEntry[], opts: LogOptions): LogEntry[] {
  const wantOut = opts.stdout ?? true;
  const wantErr = opts.stderr ?? true;
  const since = opts.since ? secondsToNs(opts.since) : undefined;
  const until = opts.until ? secondsToNs(opts.until) : undefined;
  const sel = entries.filter(
    (e) =>
      (e.stream === 'stdout' ? wantOut : wantErr) &&
      (since === undefined || e.timeNs > since) &&
      (until === undefined || e.timeNs <= until),
  );
  if (opts.tail !== undefined && opts.tail >= 0) return opts.tail === 0 ? [] : sel.slice(-opts.tail);
  return sel;
}

/**
 * Reads a container's log file. With `follow`, keeps reading until `opts.signal` aborts or
 * `stillRunning()` turns false and the file has been drained. A file that shrank was truncated by
 * conmon (--log-size-max): reading restarts at its beginning.
 */
export async function* readLogFile(
  path: string,
  opts: LogOptions,
  stillRunning: () => boolean,
): AsyncGenerator<LogEntry> {
  let offset = 0;
  let text = '';
  try {
    const fh = await open(path, 'r');
    try {
      const buf = await fh.readFile();
      offset = buf.length;
      text = buf.toString('utf8');
    } finally {
      await fh.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  // Keep an incomplete last line for the follow phase.
  const lastNl = text.lastIndexOf('\n');
  const complete = lastNl >= 0 ? text.slice(0, lastNl + 1) : '';
  let carry = lastNl >= 0 ? text.slice(lastNl + 1) : text;
  const parser = new K8sFileParser();
  const initial: LogEntry[] = [];
  for (const line of complete.split('\n')) {
    if (line === '') continue;
    const e = parser.push(line);
    if (e) initial.push(e);
  }
  if (!opts.follow) initial.push(...parser.flush());
  for (const e of selectEntries(initial, opts)) yield e;
  if (!opts.follow) return;

  const liveOpts: LogOptions = { ...opts, tail: undefined };
  let wake: (() => void) | undefined;
  const poke = () => wake?.();
  let watcher: ReturnType<typeof watch> | undefined;
  try {
    watcher = watch(path, poke);
  } catch {
    watcher = undefined; // the file may not exist yet: the poll below covers it
  }
  const onAbort = () => poke();
  opts.signal?.addEventListener('abort', onAbort);
  try {
    for (;;) {
      if (opts.signal?.aborted) return;
      const running = stillRunning();
      let size = 0;
      try {
        size = (await stat(path)).size;
      } catch {
        size = 0;
      }
      if (size < offset) {
        offset = 0;
        carry = '';
      }
      if (size > offset) {
        const fh = await open(path, 'r');
        try {
          const chunk = Buffer.alloc(size - offset);
          const { bytesRead } = await fh.read(chunk, 0, chunk.length, offset);
          offset += bytesRead;
          carry += chunk.subarray(0, bytesRead).toString('utf8');
        } finally {
          await fh.close();
        }
        const nl = carry.lastIndexOf('\n');
        if (nl >= 0) {
          const lines = carry.slice(0, nl).split('\n');
          carry = carry.slice(nl + 1);
          const fresh: LogEntry[] = [];
          for (const line of lines) {
            if (line === '') continue;
            const e = parser.push(line);
            if (e) fresh.push(e);
          }
          for (const e of selectEntries(fresh, liveOpts)) yield e;
        }
        continue;
      }
      if (!running) {
        for (const e of selectEntries(parser.flush(), liveOpts)) yield e;
        return;
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 250);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      wake = undefined;
    }
  } finally {
    watcher?.close();
    opts.signal?.removeEventListener('abort', onAbort);
  }
}
