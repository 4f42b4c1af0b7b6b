// Test images and registries: builds a busybox image from Debian's static /bin/busybox (as a
// `docker save` or an OCI-layout archive, or in memory), starts Debian's docker-registry (optionally
// behind bearer-token auth served by a tiny token server here), a fake registry whose answers a
// test can corrupt, and pushes images with the registry v2 upload API. Everything lives in
// /tmp/skt-img-* and goes away in stop() / cleanup().
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash, createSign } from 'node:crypto';
import { once } from 'node:events';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import * as tarStream from 'tar-stream';
import { run } from '../../src/lib/exec.js';

export const MT = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function tempDir(tag: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `skt-img-${tag}-`));
}

// ---- layers and images ------------------------------------------------------------------------

export interface LayerEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  content?: string | Buffer;
  mode?: number;
  linkname?: string;
}

type TarHeader = Partial<tarStream.Header> & { name: string };

/** Packs entries (header + optional content) into a tar in memory. */
async function packTar(entries: { header: TarHeader; data?: string | Buffer }[]): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => {
    if (c instanceof Uint8Array) chunks.push(Buffer.from(c));
  });
  const ended = new Promise<void>((resolve, reject) => {
    pack.on('end', () => resolve());
    pack.on('error', reject);
  });
  for (const { header, data } of entries) {
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (data === undefined) pack.entry(header, cb);
      else pack.entry(header, data, cb);
    });
  }
  pack.finalize();
  await ended;
  return Buffer.concat(chunks);
}

/** A tar layer from a list of entries (uid/gid 0, mtime 0: the same entries give the same digest). */
export function makeLayerTar(entries: LayerEntry[]): Promise<Buffer> {
  return packTar(
    entries.map((e) => {
      const type = e.type ?? 'file';
      const header: TarHeader = {
        name: e.name,
        type,
        mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644),
        uid: 0,
        gid: 0,
        mtime: new Date(0),
      };
      if (e.linkname !== undefined) header.linkname = e.linkname;
      return type === 'file' ? { header, data: e.content ?? '' } : { header };
    }),
  );
}

let busyboxLayerCache: Promise<Buffer> | undefined;

/**
 * The busybox root filesystem layer: /bin/busybox, one absolute symlink per applet (what
 * `busybox --install -s` makes), /etc/passwd, /etc/group, /tmp 1777, /www/index.html.
 */
export function busyboxLayer(): Promise<Buffer> {
  busyboxLayerCache ??= (async () => {
    const dir = await tempDir('rootfs');
    try {
      const root = join(dir, 'rootfs');
      for (const d of [
        'bin',
        'sbin',
        'usr/bin',
        'usr/sbin',
        'etc',
        'tmp',
        'root',
        'www',
        'proc',
        'sys',
        'dev',
      ]) {
        await mkdir(join(root, d), { recursive: true });
      }
      await copyFile('/bin/busybox', join(root, 'bin/busybox'));
      await chmod(join(root, 'bin/busybox'), 0o755);
      const applets = (await run('/bin/busybox', ['--list-full'])).stdout.split('\n').filter(Boolean);
      for (const a of applets) {
        if (a === 'bin/busybox') continue;
        await mkdir(dirname(join(root, a)), { recursive: true });
        await symlink('/bin/busybox', join(root, a));
      }
      await writeFile(
        join(root, 'etc/passwd'),
        'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n',
      );
      await writeFile(join(root, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
      await writeFile(join(root, 'www/index.html'), 'hello from busybox\n');
      await chmod(join(root, 'tmp'), 0o1777);
      const tar = join(dir, 'layer.tar');
      await run('tar', [
        '-C',
        root,
        '--sort=name',
        '--mtime=@0',
        '--owner=0',
        '--group=0',
        '--numeric-owner',
        '-cf',
        tar,
        'bin',
        'dev',
        'etc',
        'proc',
        'root',
        'sbin',
        'sys',
        'tmp',
        'usr',
        'www',
      ]);
      return await readFile(tar);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  })();
  return busyboxLayerCache;
}

export interface BuiltLayer {
  tar: Buffer;
  gz: Buffer;
  diffId: string;
  /** Digest of the gzipped blob (what a registry and an OCI layout hold). */
  digest: string;
}

export interface BuiltImage {
  config: Buffer;
  /** 'sha256:<hex of config>' — the image ID. */
  id: string;
  layers: BuiltLayer[];
  architecture: string;
}

export interface ImageOptions {
  cmd?: string[];
  entrypoint?: string[];
  env?: string[];
  labels?: Record<string, string>;
  architecture?: string;
  workingDir?: string;
  healthcheck?: { Test: string[]; Interval?: number };
  created?: string;
}

export function buildImage(layerTars: Buffer[], opts: ImageOptions = {}): BuiltImage {
  const layers = layerTars.map((tar) => {
    const gz = gzipSync(tar);
    return { tar, gz, diffId: sha256(tar), digest: sha256(gz) };
  });
  const architecture = opts.architecture ?? 'amd64';
  const containerConfig: Record<string, unknown> = {
    Env: opts.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
    Cmd: opts.cmd ?? ['sh'],
  };
  if (opts.entrypoint) containerConfig.Entrypoint = opts.entrypoint;
  if (opts.labels) containerConfig.Labels = opts.labels;
  if (opts.workingDir) containerConfig.WorkingDir = opts.workingDir;
  if (opts.healthcheck) containerConfig.Healthcheck = opts.healthcheck;
  const config = Buffer.from(
    JSON.stringify({
      architecture,
      os: 'linux',
      created: opts.created ?? '2026-01-02T03:04:05Z',
      config: containerConfig,
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: layers.map(() => ({ created: '2026-01-02T03:04:05Z', created_by: 'skt test image builder' })),
    }),
  );
  return { config, id: sha256(config), layers, architecture };
}

export async function busyboxImage(opts: ImageOptions = {}): Promise<BuiltImage> {
  return buildImage([await busyboxLayer()], opts);
}

function hex(digest: string): string {
  return digest.slice(7);
}

async function writeTar(path: string, files: { name: string; data: Buffer }[]): Promise<void> {
  await writeFile(
    path,
    await packTar(files.map((f) => ({ header: { name: f.name, mtime: new Date(0) }, data: f.data }))),
  );
}

/** Writes a `docker save` archive (legacy layout: <id>/layer.tar) holding the given images. */
export async function writeDockerArchive(
  path: string,
  images: { image: BuiltImage; tags: string[] }[],
  opts: { gzipLayers?: boolean } = {},
): Promise<void> {
  const files = new Map<string, Buffer>();
  const manifest = images.map(({ image, tags }) => {
    files.set(`${hex(image.id)}.json`, image.config);
    const layers = image.layers.map((l) => {
      const name = `${hex(l.diffId)}/layer.tar`;
      files.set(name, opts.gzipLayers ? l.gz : l.tar);
      return name;
    });
    return { Config: `${hex(image.id)}.json`, RepoTags: tags, Layers: layers };
  });
  files.set('manifest.json', Buffer.from(JSON.stringify(manifest)));
  await writeTar(
    path,
    [...files].map(([name, data]) => ({ name, data })),
  );
}

/** A manifest for the image (its layers gzipped, unless `layers` says otherwise). */
export function manifestFor(
  image: BuiltImage,
  kind: 'docker' | 'oci' = 'docker',
  layers: { mediaType: string; digest: string; size: number }[] = image.layers.map((l) => ({
    mediaType: kind === 'docker' ? MT.dockerLayerGzip : MT.ociLayerGzip,
    digest: l.digest,
    size: l.gz.length,
  })),
): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: kind === 'docker' ? MT.dockerManifest : MT.ociManifest,
      config: {
        mediaType: kind === 'docker' ? MT.dockerConfig : MT.ociConfig,
        digest: image.id,
        size: image.config.length,
      },
      layers,
    }),
  );
}

/** Writes an OCI image-layout archive (oci-layout, index.json, blobs/sha256/…) with one image. */
export async function writeOciArchive(
  path: string,
  image: BuiltImage,
  opts: { tag?: string } = {},
): Promise<void> {
  const manifest = manifestFor(image, 'oci');
  const annotations: Record<string, string> = {};
  if (opts.tag) {
    annotations['io.containerd.image.name'] = opts.tag;
    annotations['org.opencontainers.image.ref.name'] = opts.tag.slice(opts.tag.lastIndexOf(':') + 1);
  }
  const index = {
    schemaVersion: 2,
    mediaType: MT.ociIndex,
    manifests: [{ mediaType: MT.ociManifest, digest: sha256(manifest), size: manifest.length, annotations }],
  };
  const files: { name: string; data: Buffer }[] = [
    { name: 'oci-layout', data: Buffer.from('{"imageLayoutVersion":"1.0.0"}') },
    { name: 'index.json', data: Buffer.from(JSON.stringify(index)) },
    { name: `blobs/sha256/${hex(sha256(manifest))}`, data: manifest },
    { name: `blobs/sha256/${hex(image.id)}`, data: image.config },
    ...image.layers.map((l) => ({ name: `blobs/sha256/${hex(l.digest)}`, data: l.gz })),
  ];
  await writeTar(path, files);
}

export async function buildBusyboxDockerArchive(
  path: string,
  opts: { tag?: string } = {},
): Promise<BuiltImage> {
  const image = await busyboxImage();
  await writeDockerArchive(path, [{ image, tags: [opts.tag ?? 'busybox:latest'] }]);
  return image;
}

export async function buildBusyboxOciArchive(path: string, opts: { tag?: string } = {}): Promise<BuiltImage> {
  const image = await busyboxImage();
  await writeOciArchive(path, image, { tag: opts.tag ?? 'docker.io/library/busybox:latest' });
  return image;
}

// ---- registries -------------------------------------------------------------------------------

/** A free port in 5000–5099 on 127.0.0.1 (our allotted range), checked by binding it. */
export async function freePort(): Promise<number> {
  const start = 5000 + Math.floor(Math.random() * 100);
  for (let i = 0; i < 100; i++) {
    const port = 5000 + ((start - 5000 + i) % 100);
    const srv = createNetServer();
    const ok = await new Promise<boolean>((resolve) => {
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (ok) {
      await new Promise<void>((r) => srv.close(() => r()));
      return port;
    }
  }
  throw new Error('no free port in 127.0.0.1:5000-5099');
}

export interface Credentials {
  username: string;
  password: string;
}

export interface TestRegistry {
  /** 'http://127.0.0.1:PORT' */
  url: string;
  /** 'localhost:PORT' — the reference domain (an insecure registry by default). */
  host: string;
  /** Credentials the token server accepts (token auth only). */
  credentials?: Credentials;
  stop(): Promise<void>;
}

/**
 * Starts Debian's docker-registry on 127.0.0.1 (storage in a temp dir). With `tokenAuth`, the
 * registry demands bearer tokens, which a token server here hands out for `credentials` only.
 */
export async function startRegistry(opts: { tokenAuth?: boolean } = {}): Promise<TestRegistry> {
  const dir = await tempDir('registry');
  let child: ChildProcess | undefined;
  let tokenServer: Server | undefined;
  const stop = async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child?.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    if (tokenServer) await new Promise<void>((r) => tokenServer!.close(() => r()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    let auth = '';
    let credentials: Credentials | undefined;
    if (opts.tokenAuth) {
      credentials = { username: 'skt', password: 'sekret' };
      const t = await startTokenServer(dir, credentials);
      tokenServer = t.server;
      auth = [
        'auth:',
        '  token:',
        `    realm: http://127.0.0.1:${t.port}/token`,
        '    service: skt-registry',
        '    issuer: skt-token-issuer',
        `    rootcertbundle: ${join(dir, 'token.crt')}`,
      ].join('\n');
    }
    for (let attempt = 0; attempt < 5; attempt++) {
      const port = await freePort();
      const config = [
        'version: 0.1',
        'log:',
        '  level: error',
        '  accesslog:',
        '    disabled: true',
        'storage:',
        '  filesystem:',
        `    rootdirectory: ${join(dir, 'data')}`,
        '  delete:',
        '    enabled: true',
        'http:',
        `  addr: 127.0.0.1:${port}`,
        auth,
        '',
      ].join('\n');
      await writeFile(join(dir, 'config.yml'), config);
      const stderr: Buffer[] = [];
      child = spawn('/usr/bin/docker-registry', ['serve', join(dir, 'config.yml')], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      child.stderr?.on('data', (b: Buffer) => stderr.push(b));
      const url = `http://127.0.0.1:${port}`;
      if (await waitForRegistry(url, child)) {
        const reg: TestRegistry = { url, host: `localhost:${port}`, stop };
        if (credentials) reg.credentials = credentials;
        return reg;
      }
      if (child.exitCode === null) child.kill('SIGKILL');
      if (attempt === 4)
        throw new Error(`docker-registry did not start: ${Buffer.concat(stderr).toString()}`);
    }
    throw new Error('unreachable');
  } catch (err) {
    await stop();
    throw err;
  }
}

async function waitForRegistry(url: string, child: ChildProcess): Promise<boolean> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) return false;
    try {
      const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      if (res.status === 200 || res.status === 401) return true;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

function b64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}

/** A token server for registry bearer auth: RS256 JWTs carrying the signing cert in x5c. */
async function startTokenServer(dir: string, creds: Credentials): Promise<{ server: Server; port: number }> {
  const key = join(dir, 'token.key');
  const crt = join(dir, 'token.crt');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    key,
    '-out',
    crt,
    '-days',
    '1',
    '-subj',
    '/CN=skt-token-issuer',
  ]);
  const keyPem = await readFile(key, 'utf8');
  const certDer = Buffer.from(
    (await readFile(crt, 'utf8')).replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, ''),
    'base64',
  );
  const expected = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
  const server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    if (u.pathname !== '/token' || req.headers.authorization !== expected) {
      res.writeHead(401, { 'Content-Type': 'application/json' });
      res.end('{"details":"invalid credentials"}');
      return;
    }
    const access = u.searchParams.getAll('scope').flatMap((s) => {
      const [type, name, actions] = s.split(':');
      return type && name && actions ? [{ type, name, actions: actions.split(',') }] : [];
    });
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', x5c: [certDer.toString('base64')] }));
    const claims = b64url(
      JSON.stringify({
        iss: 'skt-token-issuer',
        sub: creds.username,
        aud: u.searchParams.get('service') ?? 'skt-registry',
        exp: now + 600,
        nbf: now - 10,
        iat: now,
        jti: Math.random().toString(36).slice(2),
        access,
      }),
    );
    const sig = createSign('RSA-SHA256').update(`${header}.${claims}`).sign(keyPem);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ token: `${header}.${claims}.${b64url(sig)}`, expires_in: 600 }));
  });
  const port = await freePort();
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return { server, port };
}

/** Gets a bearer token for `scope` from a registry's challenge (pushes with token auth). */
async function pushAuthorization(
  url: string,
  repo: string,
  creds?: Credentials,
): Promise<string | undefined> {
  const res = await fetch(`${url}/v2/`);
  await res.body?.cancel();
  if (res.status !== 401) return undefined;
  const ch = res.headers.get('www-authenticate') ?? '';
  const realm = /realm="([^"]+)"/.exec(ch)?.[1];
  const service = /service="([^"]+)"/.exec(ch)?.[1];
  if (!realm || !creds) throw new Error(`registry wants auth (${ch}) and no credentials were given`);
  const t = new URL(realm);
  if (service) t.searchParams.set('service', service);
  t.searchParams.set('scope', `repository:${repo}:pull,push`);
  const tr = await fetch(t, {
    headers: {
      Authorization: `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`,
    },
  });
  if (!tr.ok) throw new Error(`token server said ${tr.status}`);
  const body = (await tr.json()) as { token: string };
  return `Bearer ${body.token}`;
}

async function pushBlob(url: string, repo: string, data: Buffer, authz: string | undefined): Promise<void> {
  const digest = sha256(data);
  const headers: Record<string, string> = authz ? { Authorization: authz } : {};
  const head = await fetch(`${url}/v2/${repo}/blobs/${digest}`, { method: 'HEAD', headers });
  if (head.status === 200) return;
  const start = await fetch(`${url}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers });
  await start.body?.cancel();
  if (start.status !== 202) throw new Error(`upload start for ${digest}: ${start.status}`);
  const location = new URL(start.headers.get('location') ?? '', url);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, {
    method: 'PUT',
    headers: { ...headers, 'Content-Type': 'application/octet-stream' },
    body: data,
  });
  const text = await put.text();
  if (put.status !== 201) throw new Error(`upload of ${digest}: ${put.status} ${text}`);
}

/** Uploads a manifest (or list) document under `reference`; returns its digest. */
export async function pushManifest(
  registry: TestRegistry,
  repo: string,
  reference: string,
  body: Buffer,
  mediaType: string,
): Promise<string> {
  const authz = await pushAuthorization(registry.url, repo, registry.credentials);
  const res = await fetch(`${registry.url}/v2/${repo}/manifests/${reference}`, {
    method: 'PUT',
    headers: { 'Content-Type': mediaType, ...(authz ? { Authorization: authz } : {}) },
    body,
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`manifest put ${repo}:${reference}: ${res.status} ${text}`);
  return sha256(body);
}

/** Pushes an image (config, gzipped layers, docker schema2 manifest) as repo:tag; returns the manifest digest. */
export async function pushImage(
  registry: TestRegistry,
  repo: string,
  tag: string,
  image: BuiltImage,
): Promise<string> {
  const authz = await pushAuthorization(registry.url, repo, registry.credentials);
  for (const l of image.layers) await pushBlob(registry.url, repo, l.gz, authz);
  await pushBlob(registry.url, repo, image.config, authz);
  return pushManifest(registry, repo, tag, manifestFor(image), MT.dockerManifest);
}

/** How a pushed layer is stored in the registry (pushImageWithLayers). */
export type LayerForm = 'gzip' | 'none' | 'zstd';

const LAYER_MEDIA_TYPES: Record<'docker' | 'oci', Record<LayerForm, string | undefined>> = {
  docker: {
    gzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
    none: 'application/vnd.docker.image.rootfs.diff.tar',
    zstd: undefined,
  },
  oci: {
    gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
    none: 'application/vnd.oci.image.layer.v1.tar',
    zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  },
};

/**
 * Pushes an image whose layers are stored as `forms` says (uncompressed, gzip, or zstd made by
 * Debian's zstd), each with its media type, in a Docker or OCI manifest. Returns the manifest digest.
 */
export async function pushImageWithLayers(
  registry: TestRegistry,
  repo: string,
  tag: string,
  image: BuiltImage,
  forms: LayerForm[],
  kind: 'docker' | 'oci',
): Promise<string> {
  const authz = await pushAuthorization(registry.url, repo, registry.credentials);
  const layers = image.layers.map((l, i) => {
    const form = forms[i] ?? 'gzip';
    const mediaType = LAYER_MEDIA_TYPES[kind][form];
    if (!mediaType) throw new Error(`no ${kind} media type for a ${form} layer`);
    const data =
      form === 'gzip' ? l.gz : form === 'none' ? l.tar : execFileSync('zstd', ['-q', '-c'], { input: l.tar });
    return { data, descriptor: { mediaType, digest: sha256(data), size: data.length } };
  });
  for (const l of layers) await pushBlob(registry.url, repo, l.data, authz);
  await pushBlob(registry.url, repo, image.config, authz);
  const manifest = manifestFor(
    image,
    kind,
    layers.map((l) => l.descriptor),
  );
  return pushManifest(registry, repo, tag, manifest, kind === 'docker' ? MT.dockerManifest : MT.ociManifest);
}

/** Reads a `docker save` archive written by writeDockerArchive (first image) back into a BuiltImage. */
export async function readDockerArchive(path: string): Promise<BuiltImage> {
  const files = new Map<string, Buffer>();
  const extract = tarStream.extract();
  const feeding = new Promise<void>((resolve, reject) => {
    extract.on('finish', () => resolve());
    extract.on('error', reject);
  });
  extract.on('entry', (header, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: unknown) => {
      if (c instanceof Uint8Array) chunks.push(Buffer.from(c));
    });
    stream.on('end', () => {
      files.set(header.name, Buffer.concat(chunks));
      next();
    });
  });
  extract.end(await readFile(path));
  await feeding;
  const manifest = JSON.parse(String(files.get('manifest.json'))) as { Config: string; Layers: string[] }[];
  const first = manifest[0]!;
  const config = files.get(first.Config)!;
  const layers = first.Layers.map((name) => {
    const data = files.get(name)!;
    const tar = data[0] === 0x1f && data[1] === 0x8b ? gunzipSync(data) : data;
    const gz = gzipSync(tar);
    return { tar, gz, diffId: sha256(tar), digest: sha256(gz) };
  });
  const parsed = JSON.parse(String(config)) as { architecture?: string };
  return { config, id: sha256(config), layers, architecture: parsed.architecture ?? 'amd64' };
}

/** Pushes the (first) image of a `docker save` archive as repo:tag; returns the manifest digest. */
export async function pushArchive(
  registry: TestRegistry,
  repo: string,
  tag: string,
  archivePath: string,
): Promise<string> {
  return pushImage(registry, repo, tag, await readDockerArchive(archivePath));
}

/** Pushes several platform images and a manifest list naming them as repo:tag; returns the list's digest. */
export async function pushManifestList(
  registry: TestRegistry,
  repo: string,
  tag: string,
  images: BuiltImage[],
): Promise<string> {
  const entries = [];
  for (const image of images) {
    const m = manifestFor(image);
    const digest = await pushImage(registry, repo, `${tag}-${image.architecture}`, image);
    entries.push({
      mediaType: MT.dockerManifest,
      digest,
      size: m.length,
      platform: { architecture: image.architecture, os: 'linux' },
    });
  }
  const list = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: MT.dockerList, manifests: entries }),
  );
  return pushManifest(registry, repo, tag, list, MT.dockerList);
}

// ---- a fake registry whose answers tests control ----------------------------------------------

export interface FakeRegistry {
  url: string;
  host: string;
  manifests: Map<string, { body: Buffer; contentType: string }>;
  blobs: Map<string, Buffer>;
  /** Serve only the first half of this blob, then cut the connection. */
  truncate: Set<string>;
  /** Every request path seen, in order. */
  requests: string[];
  stop(): Promise<void>;
}

/** A registry in this process serving whatever the test puts in its maps (anonymous access). */
export async function startFakeRegistry(): Promise<FakeRegistry> {
  const manifests = new Map<string, { body: Buffer; contentType: string }>();
  const blobs = new Map<string, Buffer>();
  const truncate = new Set<string>();
  const requests: string[] = [];
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? '/';
    requests.push(path);
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(path);
    if (path === '/v2/') {
      res.writeHead(200).end('{}');
      return;
    }
    if (!m) {
      res.writeHead(404).end();
      return;
    }
    const [, repo, kind, ref] = m;
    if (kind === 'manifests') {
      const doc = manifests.get(`${repo}:${ref}`) ?? manifests.get(`${repo}@${ref}`);
      if (!doc) {
        res.writeHead(404, { 'Content-Type': 'application/json' });
        res.end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}');
        return;
      }
      res.writeHead(200, { 'Content-Type': doc.contentType, 'Content-Length': doc.body.length });
      res.end(doc.body);
      return;
    }
    const data = blobs.get(ref!);
    if (!data) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': data.length });
    if (truncate.has(ref!)) {
      res.write(data.subarray(0, Math.floor(data.length / 2)), () => res.socket?.destroy());
      return;
    }
    res.end(data);
  };
  const server = createServer(handler);
  const port = await freePort();
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${port}`,
    host: `localhost:${port}`,
    manifests,
    blobs,
    truncate,
    requests,
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Puts an image into a fake registry as repo:tag (schema2 manifest). */
export function serveImage(fake: FakeRegistry, repo: string, tag: string, image: BuiltImage): string {
  const body = manifestFor(image);
  for (const l of image.layers) fake.blobs.set(l.digest, l.gz);
  fake.blobs.set(image.id, image.config);
  const doc = { body, contentType: MT.dockerManifest };
  fake.manifests.set(`${repo}:${tag}`, doc);
  fake.manifests.set(`${repo}@${sha256(body)}`, doc);
  return sha256(body);
}
