// A small client for the Docker Registry HTTP API v2 / OCI distribution: manifests and blobs of one
// repository, anonymous / bearer-token / basic auth, http for insecure registries, and a digest
// check on everything it downloads.
import { createWriteStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { z } from 'zod';
import { invalidArgument, SwarmError } from '../../api/errors.js';
import { MAX_REGISTRY_AUTH_LENGTH } from '../../api/types.js';
import type { RegistryAuth } from '../types.js';
import { fsyncPath, HashingStream, sha256Digest } from './fsutil.js';
import { MANIFEST_ACCEPT } from './manifests.js';
import { DEFAULT_DOMAIN } from './reference.js';
import type { Descriptor } from './types.js';

const authSchema = z
  .object({
    username: z.string().optional(),
    password: z.string().optional(),
    serveraddress: z.string().optional(),
    identitytoken: z.string().optional(),
    registrytoken: z.string().optional(),
  })
  .passthrough();

/** Decodes X-Registry-Auth (base64url or base64 JSON). Empty or '{}' means anonymous. */
export function decodeRegistryAuth(header: string | undefined): RegistryAuth | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  if (header.length > MAX_REGISTRY_AUTH_LENGTH) throw registryAuthTooLong();
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(header.trim(), 'base64url').toString('utf8'));
  } catch {
    throw invalidArgument('invalid X-Registry-Auth header: not base64-encoded JSON');
  }
  const r = authSchema.safeParse(json);
  if (!r.success) throw invalidArgument('invalid X-Registry-Auth header: not an auth config object');
  const a = r.data;
  const out: RegistryAuth = {};
  for (const k of ['username', 'password', 'serveraddress', 'identitytoken', 'registrytoken'] as const) {
    if (a[k]) out[k] = a[k];
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

/** The canonical X-Registry-Auth of an auth config (base64url JSON), as a service stores it. */
export function encodeRegistryAuth(auth: RegistryAuth): string {
  const encoded = Buffer.from(JSON.stringify(auth)).toString('base64url');
  if (encoded.length > MAX_REGISTRY_AUTH_LENGTH) throw registryAuthTooLong();
  return encoded;
}

function registryAuthTooLong(): SwarmError {
  return invalidArgument(`invalid X-Registry-Auth header: longer than ${MAX_REGISTRY_AUTH_LENGTH} bytes`);
}

/** Registries reached over plain http unless configured otherwise (as Docker's defaults). */
export const DEFAULT_INSECURE_REGISTRIES = ['localhost', '127.0.0.0/8'];

function ipv4ToInt(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

/** Whether `domain` (host[:port]) matches an entry: 'host', 'host:port' or an IPv4 CIDR. */
/** A fetch failure from a pooled connection the server had closed (undici's socket errors, resets). */
export function isStaleConnection(err: unknown): boolean {
  const cause = (err as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  return (
    cause?.code === 'UND_ERR_SOCKET' ||
    cause?.code === 'ECONNRESET' ||
    cause?.code === 'EPIPE' ||
    /other side closed/.test(cause?.message ?? '')
  );
}

export function isInsecureRegistry(domain: string, insecure: readonly string[]): boolean {
  const host = domain.replace(/:\d+$/, '');
  for (const entry of insecure) {
    if (entry === domain || entry === host) return true;
    const cidr = /^([\d.]+)\/(\d{1,2})$/.exec(entry);
    const ip = ipv4ToInt(host);
    if (cidr && ip !== undefined) {
      const base = ipv4ToInt(cidr[1]!);
      const bits = Number(cidr[2]);
      if (base === undefined || bits > 32) continue;
      const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
      if ((ip & mask) >>> 0 === (base & mask) >>> 0) return true;
    }
  }
  return false;
}

/** Parses `Bearer realm="…",service="…",scope="…"` into its scheme and parameters. */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const m = /^\s*(\w+)\s*(.*)$/.exec(header);
  if (!m) return { scheme: '', params: {} };
  const params: Record<string, string> = {};
  const re = /(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  for (let p = re.exec(m[2]!); p !== null; p = re.exec(m[2]!)) {
    params[p[1]!.toLowerCase()] = (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1');
  }
  return { scheme: m[1]!.toLowerCase(), params };
}

export interface RegistryClientOptions {
  auth?: RegistryAuth;
  insecure: boolean;
  /** Names the image in messages ('localhost:5000/busybox:1'). */
  display: string;
  signal?: AbortSignal;
}

export interface FetchedManifest {
  body: Buffer;
  contentType: string | undefined;
  digest: string;
}

const MAX_MANIFEST_BYTES = 4 << 20;
const REQUEST_TIMEOUT_MS = 60_000;
const BLOB_TIMEOUT_MS = 30 * 60_000;

export class RegistryClient {
  private readonly base: string;
  private authorization: string | undefined;

  constructor(
    domain: string,
    private readonly path: string,
    private readonly opts: RegistryClientOptions,
  ) {
    const host = domain === DEFAULT_DOMAIN ? 'registry-1.docker.io' : domain;
    this.base = `${opts.insecure ? 'http' : 'https'}://${host}/v2/${path}`;
    if (opts.auth?.registrytoken) this.authorization = `Bearer ${opts.auth.registrytoken}`;
  }

  async getManifest(reference: string): Promise<FetchedManifest> {
    const url = `${this.base}/manifests/${reference}`;
    const res = await this.request(url, { Accept: MANIFEST_ACCEPT }, REQUEST_TIMEOUT_MS);
    if (res.status === 404) {
      await res.body?.cancel();
      throw new SwarmError('NOT_FOUND', `manifest for ${this.opts.display} not found: manifest unknown`);
    }
    await this.expectOk(res, url);
    const body = await readLimited(res, MAX_MANIFEST_BYTES, `manifest for ${this.opts.display}`);
    const digest = sha256Digest(body);
    if (reference.startsWith('sha256:') && reference !== digest) {
      throw invalidArgument(
        `manifest ${reference} of ${this.opts.display}: digest mismatch (content is ${digest})`,
      );
    }
    const header = res.headers.get('docker-content-digest');
    if (header?.startsWith('sha256:') && header !== digest) {
      throw invalidArgument(
        `manifest for ${this.opts.display}: Docker-Content-Digest ${header} does not match the content (${digest})`,
      );
    }
    return { body, contentType: res.headers.get('content-type') ?? undefined, digest };
  }

  /** Fetches a small blob (an image config) into memory, digest-checked. */
  async getBlob(desc: Descriptor, what: string): Promise<Buffer> {
    const url = `${this.base}/blobs/${desc.digest}`;
    const res = await this.request(url, {}, REQUEST_TIMEOUT_MS);
    await this.expectOk(res, url, what);
    const body = await readLimited(res, Math.max(desc.size, 1) + 1, what);
    checkBlob(what, desc, body.length, sha256Digest(body));
    return body;
  }

  /** Streams a blob into `dest` (fsynced), checking its size and digest; reports bytes as they come. */
  async downloadBlob(
    desc: Descriptor,
    dest: string,
    what: string,
    onBytes?: (n: number) => void,
  ): Promise<void> {
    const url = `${this.base}/blobs/${desc.digest}`;
    const res = await this.request(url, {}, BLOB_TIMEOUT_MS);
    await this.expectOk(res, url, what);
    if (res.body === null) throw new SwarmError('UNAVAILABLE', `${what}: empty response from registry`);
    const hasher = new HashingStream();
    const limit = desc.size;
    const guard = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        if (hasher.size + chunk.length > limit) {
          cb(invalidArgument(`${what}: registry sent more than the ${limit} bytes the manifest declares`));
          return;
        }
        onBytes?.(hasher.size + chunk.length);
        cb(null, chunk);
      },
    });
    try {
      await pipeline(
        Readable.fromWeb(res.body as WebReadableStream<Uint8Array>),
        guard,
        hasher,
        createWriteStream(dest),
      );
    } catch (err) {
      if (err instanceof SwarmError) throw err;
      throw new SwarmError(
        'UNAVAILABLE',
        `${what}: download failed after ${hasher.size} of ${desc.size} bytes: ${errorText(err)}`,
        { cause: err },
      );
    }
    await fsyncPath(dest);
    const got = hasher.result();
    checkBlob(what, desc, got.size, got.digest);
  }

  private async expectOk(res: Response, url: string, what?: string): Promise<void> {
    if (res.ok) return;
    const text = (await res.text().catch(() => '')).slice(0, 300).trim();
    const subject = what ?? this.opts.display;
    if (res.status === 401 || res.status === 403) {
      throw new SwarmError(
        'UNAUTHENTICATED',
        `pull access denied for ${this.opts.display}: ${res.status === 401 ? 'unauthorized: authentication required' : 'denied'}${text ? ` (${registryMessage(text)})` : ''}`,
      );
    }
    throw new SwarmError(
      res.status === 404 ? 'NOT_FOUND' : 'UNAVAILABLE',
      `${subject}: GET ${url}: ${res.status} ${res.statusText}${text ? `: ${registryMessage(text)}` : ''}`,
    );
  }

  /** One GET with our credentials; on a 401 challenge gets a token (or uses basic auth) and retries once. */
  private async request(url: string, headers: Record<string, string>, timeoutMs: number): Promise<Response> {
    const first = await this.get(url, headers, timeoutMs);
    if (first.status !== 401) return first;
    const challenge = parseChallenge(first.headers.get('www-authenticate') ?? '');
    await first.body?.cancel();
    const authorization = await this.authorize(challenge);
    if (authorization === undefined) {
      throw new SwarmError(
        'UNAUTHENTICATED',
        `pull access denied for ${this.opts.display}: unauthorized: authentication required (no credentials given)`,
      );
    }
    this.authorization = authorization;
    return this.get(url, headers, timeoutMs);
  }

  private async get(url: string, headers: Record<string, string>, timeoutMs: number): Promise<Response> {
    const all: Record<string, string> = { ...headers };
    if (this.authorization) all.Authorization = this.authorization;
    const signals = [AbortSignal.timeout(timeoutMs)];
    if (this.opts.signal) signals.push(this.opts.signal);
    const attempt = () => fetch(url, { headers: all, signal: AbortSignal.any(signals), redirect: 'follow' });
    try {
      try {
        return await attempt();
      } catch (err) {
        // A kept-alive connection the registry had already closed (a restarted registry on the
        // same port, an idle timeout): a GET is safe to send once more on a fresh connection.
        if (!isStaleConnection(err)) throw err;
        return await attempt();
      }
    } catch (err) {
      throw new SwarmError('UNAVAILABLE', `Get "${url}": ${errorText(err)}`, { cause: err });
    }
  }

  private basic(): string | undefined {
    const a = this.opts.auth;
    if (!a?.username) return undefined;
    return `Basic ${Buffer.from(`${a.username}:${a.password ?? ''}`).toString('base64')}`;
  }

  private async authorize(ch: {
    scheme: string;
    params: Record<string, string>;
  }): Promise<string | undefined> {
    if (ch.scheme === 'basic') return this.basic();
    if (ch.scheme !== 'bearer' || !ch.params.realm) {
      throw new SwarmError(
        'UNAUTHENTICATED',
        `${this.opts.display}: registry asked for unsupported auth "${ch.scheme}"`,
      );
    }
    const scope = ch.params.scope || `repository:${this.path}:pull`;
    const realm = new URL(ch.params.realm);
    const a = this.opts.auth;
    let res: Response;
    try {
      if (a?.identitytoken) {
        const form = new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: a.identitytoken,
          client_id: 'swarmkit-ts',
          scope,
        });
        if (ch.params.service) form.set('service', ch.params.service);
        res = await fetch(realm, {
          method: 'POST',
          body: form,
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
      } else {
        if (ch.params.service) realm.searchParams.set('service', ch.params.service);
        realm.searchParams.set('scope', scope);
        const basic = this.basic();
        res = await fetch(realm, {
          headers: basic ? { Authorization: basic } : {},
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
      }
    } catch (err) {
      throw new SwarmError(
        'UNAVAILABLE',
        `${this.opts.display}: token server ${realm.origin}: ${errorText(err)}`,
        {
          cause: err,
        },
      );
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      const why = a ? 'the credentials were rejected' : 'authentication required (no credentials given)';
      throw new SwarmError(
        'UNAUTHENTICATED',
        `pull access denied for ${this.opts.display}: unauthorized: ${why}`,
      );
    }
    if (!res.ok) {
      throw new SwarmError('UNAVAILABLE', `${this.opts.display}: token server answered ${res.status}`);
    }
    const parsed = z
      .object({ token: z.string().optional(), access_token: z.string().optional() })
      .safeParse(await res.json().catch(() => undefined));
    const token = parsed.success ? (parsed.data.token ?? parsed.data.access_token) : undefined;
    if (!token) throw new SwarmError('UNAVAILABLE', `${this.opts.display}: token server returned no token`);
    return `Bearer ${token}`;
  }
}

function checkBlob(what: string, desc: Descriptor, size: number, digest: string): void {
  if (size < desc.size) {
    throw invalidArgument(`${what}: truncated download: got ${size} of ${desc.size} bytes`);
  }
  if (digest !== desc.digest) {
    throw invalidArgument(`${what}: digest mismatch: expected ${desc.digest}, got ${digest}`);
  }
}

async function readLimited(res: Response, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  if (res.body === null) return Buffer.alloc(0);
  try {
    for await (const chunk of Readable.fromWeb(res.body as WebReadableStream<Uint8Array>)) {
      const b = Buffer.from(chunk as Uint8Array);
      n += b.length;
      if (n > limit) throw invalidArgument(`${what}: larger than ${limit} bytes`);
      chunks.push(b);
    }
  } catch (err) {
    if (err instanceof SwarmError) throw err;
    throw new SwarmError('UNAVAILABLE', `${what}: download failed: ${errorText(err)}`, { cause: err });
  }
  return Buffer.concat(chunks);
}

/** The first message of a registry's JSON error body, else the text itself. */
function registryMessage(text: string): string {
  try {
    const j = z
      .object({ errors: z.array(z.object({ code: z.string().optional(), message: z.string().optional() })) })
      .parse(JSON.parse(text));
    const e = j.errors[0];
    if (e) return [e.code?.toLowerCase(), e.message].filter(Boolean).join(': ');
  } catch {
    /* not a registry error document */
  }
  return text;
}

function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${err.message}${cause}`;
}
