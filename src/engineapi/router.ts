// The Engine API's routing contract: a route is (method, path pattern, handler). Route modules
// (swarm, nodes, services, tasks, containers, images …) export `Route[]`; the server mounts them.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { invalidArgument, SwarmError } from '../api/errors.js';

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  /** Path parameters, e.g. `{ id: 'web' }` for '/services/:id' (already URI-decoded). */
  params: Record<string, string>;
  query: URLSearchParams;
  /** The API version the client asked for (from the /vX.Y prefix) or the server's default. */
  apiVersion: string;
  /** Reads and parses the JSON body (limit 1 MiB unless the route says otherwise); 400 on bad JSON. */
  json(): Promise<unknown>;
}

export type Handler = (ctx: RouteContext) => Promise<void> | void;

export interface Route {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE';
  /** Pattern with ':name' segments; a final ':name*' takes the rest of the path (image names). */
  path: string;
  handler: Handler;
  /** Largest request body buffered, bytes (default 1 MiB). A route that streams its body (image load) reads it itself. */
  maxBody?: number;
  /** A long-lived response (logs, events): counted against the client's open-stream limit. */
  stream?: true;
}

export function sendJSON(res: ServerResponse, status: number, body: unknown): void {
  const data = Buffer.from(`${JSON.stringify(body)}\n`);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': data.length });
  res.end(data);
}

/**
 * Most bytes a stream (events, logs) may have waiting for a client that does not read: past it the
 * stream is cut, rather than swarmd holding an unread backlog without bound.
 */
export const MAX_STREAM_BACKLOG = 4 * 1024 * 1024;

/** Writes a stream chunk, or cuts the stream (false) when the client has left MAX_STREAM_BACKLOG unread. */
export function writeStreamChunk(res: ServerResponse, chunk: string | Buffer): boolean {
  if (res.destroyed) return false;
  if (res.writableLength > MAX_STREAM_BACKLOG) {
    res.destroy();
    return false;
  }
  res.write(chunk);
  return true;
}

export function sendNoContent(res: ServerResponse, status = 204): void {
  res.writeHead(status);
  res.end();
}

/** Docker's `filters` query parameter: JSON of `{name: {value: true}}` or (old clients) `{name: [values]}`. */
export function parseFilters(query: URLSearchParams): Map<string, string[]> {
  const raw = query.get('filters');
  const out = new Map<string, string[]>();
  if (!raw) return out;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw invalidArgument(`invalid filter: ${raw} is not valid JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw invalidArgument('invalid filter: filters must be a JSON object');
  }
  for (const [k, v] of Object.entries(parsed)) {
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) out.set(k, v as string[]);
    else if (typeof v === 'object' && v !== null) out.set(k, Object.keys(v));
    else throw invalidArgument(`invalid filter '${k}': values must be an object or a list of strings`);
  }
  return out;
}

/** Rejects filter names a route does not know, with Docker's wording. */
export function checkFilterNames(filters: Map<string, string[]>, allowed: readonly string[]): void {
  for (const k of filters.keys()) {
    if (!allowed.includes(k)) throw invalidArgument(`invalid filter '${k}'`);
  }
}

/** Docker's boolean query values: '1', 'true', 'True' are true; '', '0', 'false' false. */
export function boolParam(query: URLSearchParams, name: string, dflt = false): boolean {
  const v = query.get(name);
  if (v === null) return dflt;
  const s = v.toLowerCase();
  if (s === '1' || s === 'true') return true;
  if (s === '' || s === '0' || s === 'false') return false;
  throw invalidArgument(`invalid value for ${name}: ${v} (expected true or false)`);
}

export function intParam(query: URLSearchParams, name: string): number | undefined {
  const v = query.get(name);
  if (v === null || v === '') return undefined;
  if (!/^-?\d+$/.test(v)) throw invalidArgument(`invalid value for ${name}: ${v} (expected an integer)`);
  return Number(v);
}

export { SwarmError };
