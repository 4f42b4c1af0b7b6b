// The Docker Engine API HTTP server: version prefixes and negotiation, routing, JSON bodies with
// limits, Docker's headers and `{"message": …}` errors. Route modules supply the behaviour.
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { asSwarmError, invalidArgument, SwarmError } from '../api/errors.js';
import { createLogger } from '../lib/log.js';
import type { Route, RouteContext } from './router.js';
import { sendJSON } from './router.js';

export const MIN_API_VERSION = '1.24';
export const MAX_API_VERSION = '1.47';
/** Largest JSON request body buffered (a route may set its own, e.g. secrets and configs). */
export const DEFAULT_MAX_BODY = 1024 * 1024;
/** Largest request head (request line and headers): a long X-Registry-Auth fits, a flood does not. */
export const MAX_HEADER_BYTES = 64 * 1024;
/** Longest request target (path and query); longer is 414. */
export const MAX_URL_BYTES = 16 * 1024;
/** A client must send its whole request head within this (slowloris), else 408 and close. */
export const HEADERS_TIMEOUT_MS = 10_000;
/** A buffered body must keep arriving: no byte for this long is 408. */
export const BODY_IDLE_TIMEOUT_MS = 10_000;
/** Open log and event streams one client (one remote address; every unix-socket peer is one) may hold. */
export const MAX_STREAMS_PER_CLIENT = 64;

const log = createLogger({ component: 'engineapi' });

interface CompiledRoute {
  route: Route;
  segments: string[];
  /** Index of the ':name*' segment that takes one or more path segments, or -1. */
  rest: number;
}

function compile(route: Route): CompiledRoute {
  const segments = route.path.split('/').filter(Boolean);
  return { route, segments, rest: segments.findIndex((s) => s.startsWith(':') && s.endsWith('*')) };
}

/** A path segment decoded; a malformed %-escape is the client's error (400), not ours. */
function decodeSegment(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw invalidArgument(`malformed URL path segment: ${part}`);
  }
}

function matchSegments(segments: string[], parts: string[], params: Record<string, string>): boolean {
  if (segments.length !== parts.length) return false;
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i] as string;
    const part = parts[i] as string;
    if (seg.startsWith(':')) params[seg.slice(1)] = decodeSegment(part);
    else if (seg !== part) return false;
  }
  return true;
}

function matchRoute(c: CompiledRoute, parts: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  if (c.rest < 0) return matchSegments(c.segments, parts, params) ? params : undefined;
  // A rest segment takes what the fixed segments before and after it leave (image names have '/').
  const before = c.segments.slice(0, c.rest);
  const afterSegs = c.segments.slice(c.rest + 1);
  const restLen = parts.length - before.length - afterSegs.length;
  if (restLen < 1) return undefined;
  if (!matchSegments(before, parts.slice(0, before.length), params)) return undefined;
  if (!matchSegments(afterSegs, parts.slice(parts.length - afterSegs.length), params)) return undefined;
  const name = (c.segments[c.rest] as string).slice(1, -1);
  params[name] = parts
    .slice(before.length, before.length + restLen)
    .map(decodeSegment)
    .join('/');
  return params;
}

/** Compares dotted API versions numerically: -1, 0 or 1. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/** Splits '/v1.41/services' into ['1.41', '/services']; checks the version is one we serve. */
export function splitVersion(pathname: string): { version: string; path: string } {
  const m = /^\/v([0-9]+(?:\.[0-9]+)?)(\/.*)?$/.exec(pathname);
  if (!m) return { version: MAX_API_VERSION, path: pathname };
  const version = m[1] as string;
  if (compareVersions(version, MAX_API_VERSION) > 0) {
    throw invalidArgument(
      `client version ${version} is too new. Maximum supported API version is ${MAX_API_VERSION}`,
    );
  }
  if (compareVersions(version, MIN_API_VERSION) < 0) {
    throw invalidArgument(
      `client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`,
    );
  }
  return { version, path: m[2] ?? '/' };
}

/**
 * Buffers a request body of at most `limit` bytes. Over the limit is 413 (the rest is drained, not
 * kept); a body that stops arriving for BODY_IDLE_TIMEOUT_MS is 408.
 */
export function readBody(
  req: IncomingMessage,
  limit: number,
  idleMs = BODY_IDLE_TIMEOUT_MS,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > limit) {
      req.resume();
      reject(
        new SwarmError('PAYLOAD_TOO_LARGE', `request body is too large: ${declared} bytes (limit ${limit})`),
      );
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let timer: NodeJS.Timeout | undefined;
    const settle = (err?: SwarmError) => {
      clearTimeout(timer);
      req.removeListener('data', onData);
      req.removeListener('end', onEnd);
      req.removeListener('error', onError);
      if (!err) {
        resolve(Buffer.concat(chunks));
        return;
      }
      // Nothing more is read into memory; the connection goes once the answer is written.
      req.resume();
      reject(err);
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(
        () =>
          settle(
            new SwarmError(
              'REQUEST_TIMEOUT',
              `timed out reading the request body (${idleMs} ms without data)`,
            ),
          ),
        idleMs,
      );
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        settle(new SwarmError('PAYLOAD_TOO_LARGE', `request body is too large (limit ${limit} bytes)`));
        return;
      }
      chunks.push(c);
      arm();
    };
    const onEnd = () => settle();
    const onError = () => settle(new SwarmError('INVALID_ARGUMENT', 'the request body was cut short'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    arm();
  });
}

/** Docker's `{"message"}` error as a raw HTTP response, for a connection Node's parser gave up on. */
function rawError(status: number, reason: string, message: string): string {
  const body = `${JSON.stringify({ message })}\n`;
  return `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

export interface EngineServerOptions {
  routes: Route[];
  /** Text for the `Server` header, e.g. "swarmd/0.1.0 (linux)". */
  serverName: string;
  /** Value of the `Swarm` header on /_ping (e.g. "active/manager"), read per request. */
  swarmHeader?: () => string;
}

export class EngineServer {
  private readonly routes: CompiledRoute[];
  readonly http: Server;
  /** Connections with a request being answered: a parse error there must not write a second response. */
  private readonly answering = new WeakSet<object>();
  /** Open log/event streams per client key (see MAX_STREAMS_PER_CLIENT). */
  private readonly streams = new Map<string, number>();

  constructor(private readonly opts: EngineServerOptions) {
    this.routes = opts.routes.map(compile);
    this.http = createServer(
      {
        maxHeaderSize: MAX_HEADER_BYTES,
        // Checked every second, so the header timeout is kept to within a second (Node's default is 30 s).
        connectionsCheckingInterval: 1_000,
        headersTimeout: HEADERS_TIMEOUT_MS,
        // Image loads stream big bodies: the whole request may take this long; JSON bodies have their own idle timeout.
        requestTimeout: 600_000,
      },
      (req, res) => {
        this.answering.add(req.socket);
        res.once('close', () => this.answering.delete(req.socket));
        this.handle(req, res).catch((err) => this.fail(res, err));
      },
    );
    this.http.keepAliveTimeout = 30_000;
    this.http.on('clientError', (err: NodeJS.ErrnoException, socket) => this.clientError(err, socket));
  }

  /** A request Node could not parse (head too large, bad syntax, too slow): Docker-style answer, then close. */
  private clientError(err: NodeJS.ErrnoException, socket: import('node:stream').Duplex): void {
    if (!socket.writable || err.code === 'ECONNRESET' || this.answering.has(socket)) {
      socket.destroy();
      return;
    }
    const reply =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? rawError(
            431,
            'Request Header Fields Too Large',
            `request header is too large (limit ${MAX_HEADER_BYTES} bytes)`,
          )
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? rawError(408, 'Request Timeout', 'timed out reading the request')
          : rawError(400, 'Bad Request', `malformed HTTP request: ${err.code ?? 'parse error'}`);
    socket.end(reply);
  }

  /** Counts a stream for its client while its response is open; refuses one too many with 429. */
  private openStream(req: IncomingMessage, res: ServerResponse): void {
    const key = req.socket.remoteAddress ?? 'unix';
    const n = this.streams.get(key) ?? 0;
    if (n >= MAX_STREAMS_PER_CLIENT)
      throw new SwarmError(
        'TOO_MANY_REQUESTS',
        `too many open log and event streams from this client (limit ${MAX_STREAMS_PER_CLIENT}): close one first`,
      );
    this.streams.set(key, n + 1);
    res.once('close', () => {
      const left = (this.streams.get(key) ?? 1) - 1;
      if (left > 0) this.streams.set(key, left);
      else this.streams.delete(key);
    });
  }

  private commonHeaders(res: ServerResponse): void {
    res.setHeader('Api-Version', MAX_API_VERSION);
    res.setHeader('Docker-Experimental', 'false');
    res.setHeader('Ostype', 'linux');
    res.setHeader('Server', this.opts.serverName);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.commonHeaders(res);
    if ((req.url ?? '').length > MAX_URL_BYTES)
      throw new SwarmError('URI_TOO_LONG', `request URI is too long (limit ${MAX_URL_BYTES} bytes)`);
    const url = new URL(req.url ?? '/', 'http://swarmd');
    const { version, path } = splitVersion(url.pathname);
    const parts = path.split('/').filter(Boolean);
    const method = req.method === 'HEAD' ? 'HEAD' : (req.method ?? 'GET');
    let pathMatched = false;
    for (const c of this.routes) {
      const params = matchRoute(c, parts);
      if (!params) continue;
      pathMatched = true;
      if (c.route.method !== method && !(method === 'HEAD' && c.route.method === 'GET')) continue;
      const limit = c.route.maxBody ?? DEFAULT_MAX_BODY;
      if (c.route.stream) this.openStream(req, res);
      const ctx: RouteContext = {
        req,
        res,
        params,
        query: url.searchParams,
        apiVersion: version,
        json: async () => {
          const body = await readBody(req, limit);
          if (body.length === 0) return undefined;
          try {
            return JSON.parse(body.toString('utf8')) as unknown;
          } catch (e) {
            throw invalidArgument(`invalid JSON in request body: ${(e as Error).message}`);
          }
        },
      };
      await c.route.handler(ctx);
      return;
    }
    if (pathMatched) throw new SwarmError('NOT_FOUND', `page not found: ${method} ${path} is not allowed`);
    throw new SwarmError('NOT_FOUND', `page not found`);
  }

  private fail(res: ServerResponse, err: unknown): void {
    const e = asSwarmError(err);
    if (e.code === 'INTERNAL') log.error('request failed', { err: e });
    if (res.headersSent) {
      res.destroy();
      return;
    }
    // A client too slow to send its body gets no more time on this connection.
    if (e.code === 'REQUEST_TIMEOUT') res.setHeader('Connection', 'close');
    sendJSON(res, e.httpStatus, { message: e.message });
  }

  /** The unix socket this server made (removed again on close). */
  private socketPath: string | undefined;

  /** The TLS listener in front of the HTTP server, when the API is served over TLS. */
  private tlsServer: TlsServer | undefined;

  /**
   * Listens on a unix socket path or on "tcp://host:port" (with `tls`: TLS in front of the same
   * HTTP server, client certificates required when `verifyClients`). A socket file nobody answers
   * on (left by a crash) is replaced; one that a live daemon answers on (a dockerd on
   * /var/run/docker.sock) is refused, never taken over. The socket is made 0660 from the start
   * (umask around the bind), owned by `group` when that group exists.
   */
  async listen(address: string, opts: ListenOptions = {}): Promise<void> {
    if (address.startsWith('tcp://')) {
      const u = new URL(address);
      const port = Number(u.port);
      const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
      const tlsOpts = opts.tls;
      if (tlsOpts) {
        const server = createTlsServer(
          {
            key: tlsOpts.key,
            cert: tlsOpts.cert,
            ...(tlsOpts.ca ? { ca: tlsOpts.ca } : {}),
            requestCert: tlsOpts.verifyClients,
            rejectUnauthorized: tlsOpts.verifyClients,
            minVersion: 'TLSv1.2',
          },
          // The HTTP server takes the decrypted connection: its limits and timeouts apply as on the socket.
          (socket) => this.http.emit('connection', socket),
        );
        server.on('tlsClientError', (err) => log.debug('TLS handshake refused', { err }));
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(port, host, () => resolve());
        });
        this.tlsServer = server;
        return;
      }
      await new Promise<void>((resolve, reject) => {
        this.http.once('error', reject);
        this.http.listen(port, host, () => resolve());
      });
      return;
    }
    const path = address.replace(/^unix:\/\//, '');
    mkdirSync(dirname(path), { recursive: true });
    if (existsSync(path)) {
      if (await answers(path))
        throw new SwarmError(
          'FAILED_PRECONDITION',
          `another daemon is listening on ${path} (is dockerd running?): stop it or choose another path`,
        );
      unlinkSync(path);
    }
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      // Node binds a unix socket within listen(): with this umask it never exists with wider modes.
      const umask = process.umask(0o117);
      try {
        this.http.listen(path, () => resolve());
      } finally {
        process.umask(umask);
      }
    });
    this.socketPath = path;
    const gid = opts.group === undefined ? undefined : groupId(opts.group);
    if (gid !== undefined) chownSync(path, 0, gid);
    chmodSync(path, 0o660);
  }

  close(): Promise<void> {
    this.tlsServer?.close();
    return new Promise((resolve) => {
      // Node removes its unix socket file when the server closes; a leftover is removed here.
      this.http.close(() => {
        if (this.socketPath && existsSync(this.socketPath)) rmSync(this.socketPath, { force: true });
        resolve();
      });
      this.http.closeAllConnections();
    });
  }
}

/** Whether something accepts connections on the unix socket at `path`. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(path);
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

export interface ListenOptions {
  /** TLS for a tcp:// address (PEM texts). */
  tls?: { key: string; cert: string; ca?: string; verifyClients: boolean };
  /** Group owning a unix socket, when it exists on this machine (Docker's -G, default "docker"). */
  group?: string;
}

/** The gid of a group named in /etc/group, or undefined. */
function groupId(name: string): number | undefined {
  try {
    for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
      const [n, , gid] = line.split(':');
      if (n === name && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
    }
  } catch {
    // no /etc/group: no group
  }
  return undefined;
}
