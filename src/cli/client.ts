// The Engine API client of swarmctl: HTTP/1.1 over a unix socket or plain TCP, like the docker
// CLI. One `HEAD /_ping` per invocation negotiates the API version (the lower of ours and the
// daemon's `Api-Version` header); every later request is sent as `/v<version>/path`. A daemon
// error body `{"message": …}` becomes a DaemonError, a refused connection a ConnectError.

import http from 'node:http';
import type { Readable } from 'node:stream';
import type { ZodType, ZodTypeDef } from 'zod';

/** Highest Engine API version swarmctl speaks; the daemon may lower it in `/_ping`. */
export const CLIENT_API_VERSION = '1.47';
/** Used when the daemon's ping carries no Api-Version header. */
const FALLBACK_API_VERSION = '1.41';

export const DEFAULT_SOCKET = '/run/swarmd/swarmd.sock';

export type Endpoint = { kind: 'unix'; socketPath: string } | { kind: 'tcp'; host: string; port: number };

/** Resolves --socket / -H / SWARM_SOCKET / DOCKER_HOST (first set wins, in that order). */
export function resolveEndpoint(opts: {
  socket?: string;
  host?: string;
  env: Record<string, string | undefined>;
}): Endpoint {
  if (opts.socket) return { kind: 'unix', socketPath: opts.socket };
  if (opts.host) return parseHost(opts.host);
  if (opts.env.SWARM_SOCKET) return { kind: 'unix', socketPath: opts.env.SWARM_SOCKET };
  if (opts.env.DOCKER_HOST) return parseHost(opts.env.DOCKER_HOST);
  return { kind: 'unix', socketPath: DEFAULT_SOCKET };
}

export function parseHost(host: string): Endpoint {
  if (host.startsWith('unix://')) return { kind: 'unix', socketPath: host.slice('unix://'.length) };
  const m = /^(?:tcp|http):\/\/\[?([^\]/]*?)\]?:(\d+)\/?$/.exec(host);
  if (m) return { kind: 'tcp', host: m[1] || '127.0.0.1', port: Number(m[2]) };
  if (host.startsWith('/')) return { kind: 'unix', socketPath: host };
  throw new Error(`unable to parse docker host \`${host}\``);
}

export function endpointUrl(ep: Endpoint): string {
  return ep.kind === 'unix' ? `unix://${ep.socketPath}` : `tcp://${ep.host}:${ep.port}`;
}

/** An error answer from the daemon; printed as "Error response from daemon: <message>". */
export class DaemonError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The daemon could not be reached at all. */
export class ConnectError extends Error {
  constructor(readonly endpoint: Endpoint) {
    super(`Cannot connect to the swarmd daemon at ${endpointUrl(endpoint)}. Is the daemon running?`);
  }
}

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  rawBody?: Buffer | Readable;
  headers?: Record<string, string>;
}

export interface EngineResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** Filters in the map form the docker CLI sends: {"name":{"web":true}}. */
export function encodeFilters(filters: Record<string, string[]>): string {
  const out: Record<string, Record<string, boolean>> = {};
  for (const [k, vs] of Object.entries(filters)) {
    if (vs.length === 0) continue;
    out[k] = Object.fromEntries(vs.map((v) => [v, true]));
  }
  return JSON.stringify(out);
}

function buildQuery(query: Query | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
  const s = params.toString();
  return s ? `?${s}` : '';
}

function errorMessage(status: number, body: Buffer): string {
  const text = body.toString('utf8');
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && 'message' in parsed && typeof parsed.message === 'string') {
      return parsed.message;
    }
  } catch {
    // not JSON: fall through to the raw text, as the docker CLI does
  }
  return text.trim() || `${status} ${http.STATUS_CODES[status] ?? ''}`.trim();
}

export class EngineClient {
  private version: string | undefined;
  readonly agent: http.Agent;

  constructor(readonly endpoint: Endpoint) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  }

  /** The negotiated API version (after the first request). */
  get apiVersion(): string | undefined {
    return this.version;
  }

  close(): void {
    this.agent.destroy();
  }

  private async negotiate(): Promise<string> {
    if (this.version) return this.version;
    const res = await this.send('HEAD', '/_ping', {});
    const header = res.headers['api-version'];
    const server = typeof header === 'string' && /^\d+\.\d+$/.test(header) ? header : FALLBACK_API_VERSION;
    this.version = compareVersions(server, CLIENT_API_VERSION) < 0 ? server : CLIENT_API_VERSION;
    return this.version;
  }

  private open(method: string, path: string, opts: RequestOptions): Promise<http.IncomingMessage> {
    const headers: Record<string, string> = { ...opts.headers };
    let payload: Buffer | undefined;
    if (opts.body !== undefined) {
      payload = Buffer.from(JSON.stringify(opts.body));
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = String(payload.length);
    }
    const base = {
      method,
      path: path + buildQuery(opts.query),
      headers: { ...headers, 'User-Agent': 'swarmctl (linux)' },
      agent: this.agent,
    };
    const options: http.RequestOptions =
      this.endpoint.kind === 'unix'
        ? { ...base, socketPath: this.endpoint.socketPath, host: 'docker' }
        : { ...base, host: this.endpoint.host, port: this.endpoint.port };
    return new Promise((resolve, reject) => {
      const req = http.request(options, resolve);
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (['ECONNREFUSED', 'ENOENT', 'EACCES', 'ECONNRESET', 'EHOSTUNREACH'].includes(err.code ?? '')) {
          reject(new ConnectError(this.endpoint));
        } else reject(err);
      });
      if (payload) req.end(payload);
      else if (Buffer.isBuffer(opts.rawBody)) req.end(opts.rawBody);
      else if (opts.rawBody) opts.rawBody.pipe(req);
      else req.end();
    });
  }

  private async send(method: string, path: string, opts: RequestOptions): Promise<EngineResponse> {
    const res = await this.open(method, path, opts);
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    return { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) };
  }

  /** Sends a versioned request and returns the raw answer; throws DaemonError on status ≥ 400. */
  async request(method: string, path: string, opts: RequestOptions = {}): Promise<EngineResponse> {
    const v = await this.negotiate();
    const res = await this.send(method, `/v${v}${path}`, opts);
    if (res.status >= 400) throw new DaemonError(res.status, errorMessage(res.status, res.body));
    return res;
  }

  /** Sends a request and validates the JSON answer against a schema. */
  async json<T>(
    method: string,
    path: string,
    schema: ZodType<T, ZodTypeDef, unknown>,
    opts: RequestOptions = {},
  ): Promise<T> {
    const res = await this.request(method, path, opts);
    const text = res.body.toString('utf8');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new DaemonError(
        res.status,
        `invalid JSON from daemon for ${method} ${path}: ${text.slice(0, 200)}`,
      );
    }
    const r = schema.safeParse(parsed);
    if (!r.success) {
      throw new DaemonError(
        res.status,
        `unexpected answer from daemon for ${method} ${path}: ${r.error.message}`,
      );
    }
    return r.data;
  }

  /** Opens a streamed response (logs, image pull/load); the caller reads it. */
  async stream(method: string, path: string, opts: RequestOptions = {}): Promise<http.IncomingMessage> {
    const v = await this.negotiate();
    const res = await this.open(method, `/v${v}${path}`, opts);
    if ((res.statusCode ?? 0) >= 400) {
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      throw new DaemonError(res.statusCode ?? 0, errorMessage(res.statusCode ?? 0, Buffer.concat(chunks)));
    }
    return res;
  }
}

export function compareVersions(a: string, b: string): number {
  const [a1 = 0, a2 = 0] = a.split('.').map(Number);
  const [b1 = 0, b2 = 0] = b.split('.').map(Number);
  return a1 !== b1 ? a1 - b1 : a2 - b2;
}
