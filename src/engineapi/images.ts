// Engine API routes for the node's images: docker load / pull / images / image inspect / rmi / tag,
// answered from the ImageStore with Docker's shapes (JSON-message streams for load and pull).
import type { ServerResponse } from 'node:http';
import { asSwarmError, invalidArgument, SwarmError } from '../api/errors.js';
import { familiarName, parseReference } from '../executor/images/reference.js';
import { decodeRegistryAuth } from '../executor/images/registry.js';
import type { ImageStore, ProgressEvent } from '../executor/images/store.js';
import type { Image } from '../executor/images/types.js';
import { boolParam, checkFilterNames, parseFilters, type Route, sendJSON } from './router.js';
import { compareVersions } from './server.js';

export interface ImageRoutesOptions {
  /** Registries pulled over plain http (default: localhost, 127.0.0.0/8). */
  insecureRegistries?: readonly string[];
}

/** Newline-delimited JSON messages, headers sent with the first one (so early errors stay HTTP errors). */
class JsonMessageStream {
  constructor(private readonly res: ServerResponse) {}

  get started(): boolean {
    return this.res.headersSent;
  }

  write(msg: object): void {
    if (!this.res.headersSent) this.res.writeHead(200, { 'Content-Type': 'application/json' });
    this.res.write(`${JSON.stringify(msg)}\r\n`);
  }

  /** Ends the stream; an error after the stream began goes in-band, as Docker does. */
  end(err?: unknown): void {
    if (err !== undefined) {
      if (!this.res.headersSent) throw err;
      const message = asSwarmError(err).message;
      this.write({ errorDetail: { message }, error: message });
    }
    this.res.end();
  }
}

function progressMessage(e: ProgressEvent): object {
  const msg: Record<string, unknown> = { status: e.status };
  if (e.progressDetail !== undefined) msg.progressDetail = e.progressDetail;
  const { current, total } = e.progressDetail ?? {};
  if (current !== undefined && total) msg.progress = progressBar(current, total);
  if (e.id !== undefined) msg.id = e.id;
  return msg;
}

/** Docker's text bar for non-terminal clients: "[=====>     ]  1.2MB/2.1MB". */
function progressBar(current: number, total: number): string {
  const width = 50;
  const filled = Math.min(width, Math.floor((current / total) * width));
  const bar = `${'='.repeat(Math.max(0, filled - 1))}${filled > 0 ? '>' : ''}${' '.repeat(width - filled)}`;
  return `[${bar}] ${humanSize(current)}/${humanSize(total)}`;
}

function humanSize(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(3).replace(/\.?0+$/, '')}${units[i]}`;
}

/** `fromImage` + `tag` as the CLI sends them → one reference. */
export function pullReference(fromImage: string, tag: string): string {
  if (fromImage === '') throw invalidArgument('fromImage is required');
  if (tag === '') return fromImage;
  return tag.startsWith('sha256:') ? `${fromImage}@${tag}` : `${fromImage}:${tag}`;
}

/** Glob match as Go's path.Match does for reference filters ('*' and '?' stop at '/'). */
function globMatch(pattern: string, s: string): boolean {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '[^/]*')
    .replace(/\?/g, '[^/]');
  return new RegExp(`^${re}$`).test(s);
}

function matchesReference(image: Image, patterns: string[]): boolean {
  return patterns.some((p) =>
    image.repoTags.some((t) => {
      if (globMatch(p, t)) return true;
      if (p.includes(':') && !p.includes('/')) return false;
      try {
        return globMatch(p, familiarName(parseReference(t)));
      } catch {
        return false;
      }
    }),
  );
}

function labelMatches(image: Image, filters: string[]): boolean {
  const labels = image.config.Labels ?? {};
  return filters.every((f) => {
    const eq = f.indexOf('=');
    if (eq < 0) return f in labels;
    return labels[f.slice(0, eq)] === f.slice(eq + 1);
  });
}

function oldApi(apiVersion: string): boolean {
  return compareVersions(apiVersion, '1.44') < 0;
}

/** GET /images/json item (Docker's ImageSummary). */
function summary(image: Image, apiVersion: string): Record<string, unknown> {
  const untagged = oldApi(apiVersion) && image.repoTags.length === 0;
  const out: Record<string, unknown> = {
    Containers: -1,
    Created: image.created,
    Id: image.id,
    Labels: image.config.Labels ?? {},
    ParentId: '',
    RepoDigests: image.repoDigests.length === 0 && untagged ? ['<none>@<none>'] : image.repoDigests,
    RepoTags: untagged ? ['<none>:<none>'] : image.repoTags,
    SharedSize: -1,
    Size: image.size,
  };
  if (oldApi(apiVersion)) out.VirtualSize = image.size;
  return out;
}

/** GET /images/{name}/json (Docker's ImageInspect). */
function inspectBody(image: Image, apiVersion: string): Record<string, unknown> {
  const c = image.config;
  const config = {
    Hostname: '',
    Domainname: '',
    User: c.User ?? '',
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    ...(c.ExposedPorts ? { ExposedPorts: c.ExposedPorts } : {}),
    Tty: false,
    OpenStdin: false,
    StdinOnce: false,
    Env: c.Env ?? null,
    Cmd: c.Cmd ?? null,
    ...(c.Healthcheck ? { Healthcheck: c.Healthcheck } : {}),
    Image: '',
    Volumes: c.Volumes ?? null,
    WorkingDir: c.WorkingDir ?? '',
    Entrypoint: c.Entrypoint ?? null,
    OnBuild: null,
    Labels: c.Labels ?? null,
    ...(c.StopSignal ? { StopSignal: c.StopSignal } : {}),
  };
  const out: Record<string, unknown> = {
    Id: image.id,
    RepoTags: image.repoTags,
    RepoDigests: image.repoDigests,
    Parent: '',
    Comment: typeof image.raw.comment === 'string' ? image.raw.comment : '',
    Created: image.raw.created ?? '0001-01-01T00:00:00Z',
    DockerVersion: typeof image.raw.docker_version === 'string' ? image.raw.docker_version : '',
    Author: image.raw.author ?? '',
    Config: config,
    Architecture: image.architecture,
    ...(image.raw.variant ? { Variant: image.raw.variant } : {}),
    Os: image.os,
    Size: image.size,
    GraphDriver: {
      Data: {
        LowerDir: image.layers.slice(0, -1).reverse().join(':') || undefined,
        UpperDir: image.layers.at(-1),
      },
      Name: 'overlay2',
    },
    RootFS: { Type: 'layers', Layers: image.diffIds },
    Metadata: { LastTagTime: '0001-01-01T00:00:00Z' },
  };
  if (oldApi(apiVersion)) {
    out.VirtualSize = image.size;
    out.Container = '';
    out.ContainerConfig = { ...config, Cmd: null, Env: null, Labels: null };
  }
  return out;
}

export function imageRoutes(store: ImageStore, opts: ImageRoutesOptions = {}): Route[] {
  return [
    {
      method: 'POST',
      path: '/images/load',
      handler: async ({ req, res, query }) => {
        const quiet = boolParam(query, 'quiet');
        const stream = new JsonMessageStream(res);
        try {
          const loaded = await store.load(req, (e) => {
            if (!quiet) stream.write(progressMessage(e));
          });
          for (const image of loaded) {
            if (image.tags.length === 0) stream.write({ stream: `Loaded image ID: ${image.id}\n` });
            for (const t of image.tags) stream.write({ stream: `Loaded image: ${t}\n` });
          }
          stream.end();
        } catch (err) {
          stream.end(err);
        }
      },
    },
    {
      method: 'POST',
      path: '/images/create',
      handler: async ({ req, res, query }) => {
        if (query.get('fromSrc')) {
          throw new SwarmError(
            'NOT_IMPLEMENTED',
            'importing a filesystem tarball (fromSrc) is not supported',
          );
        }
        const ref = pullReference(query.get('fromImage') ?? '', query.get('tag') ?? '');
        const header = req.headers['x-registry-auth'];
        const auth = decodeRegistryAuth(Array.isArray(header) ? header[0] : header);
        const stream = new JsonMessageStream(res);
        const abort = new AbortController();
        res.on('close', () => {
          if (!res.writableFinished) abort.abort();
        });
        try {
          await store.pull(ref, {
            ...(auth ? { auth } : {}),
            ...(opts.insecureRegistries ? { insecureRegistries: opts.insecureRegistries } : {}),
            onProgress: (e) => stream.write(progressMessage(e)),
            signal: abort.signal,
          });
          stream.end();
        } catch (err) {
          stream.end(err);
        }
      },
    },
    {
      method: 'GET',
      path: '/images/json',
      handler: async ({ res, query, apiVersion }) => {
        const filters = parseFilters(query);
        checkFilterNames(filters, ['reference', 'dangling', 'label', 'before', 'since']);
        let images = await store.list();
        const refs = filters.get('reference');
        if (refs) images = images.filter((i) => matchesReference(i, refs));
        const dangling = filters.get('dangling');
        if (dangling) {
          const want = dangling.includes('true') || dangling.includes('1');
          images = images.filter((i) => (i.repoTags.length === 0) === want);
        }
        const labels = filters.get('label');
        if (labels) images = images.filter((i) => labelMatches(i, labels));
        for (const [key, keep] of [
          ['before', (i: Image, pivot: Image) => i.created < pivot.created],
          ['since', (i: Image, pivot: Image) => i.created > pivot.created],
        ] as const) {
          for (const name of filters.get(key) ?? []) {
            const pivot = await store.resolve(name);
            images = images.filter((i) => keep(i, pivot));
          }
        }
        sendJSON(
          res,
          200,
          images.map((i) => summary(i, apiVersion)),
        );
      },
    },
    {
      method: 'GET',
      path: '/images/:name*/json',
      handler: async ({ res, params, apiVersion }) => {
        sendJSON(res, 200, inspectBody(await store.inspect(params.name!), apiVersion));
      },
    },
    {
      method: 'POST',
      path: '/images/:name*/tag',
      handler: async ({ res, params, query }) => {
        const repo = query.get('repo') ?? '';
        if (repo === '') throw invalidArgument('repository name (repo) is required');
        const tag = query.get('tag') ?? '';
        await store.tag(params.name!, tag === '' ? repo : `${repo}:${tag}`);
        res.writeHead(201);
        res.end();
      },
    },
    {
      method: 'DELETE',
      path: '/images/:name*',
      handler: async ({ res, params, query }) => {
        sendJSON(res, 200, await store.remove(params.name!, { force: boolParam(query, 'force') }));
      },
    },
  ];
}
