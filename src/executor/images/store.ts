// The node's content-addressed image store: loads archives, pulls from registries, unpacks layers
// once (shared by every image and container that uses them), keeps tags, and refuses to delete an
// image a container holds. Layout and crash rules: README.md in this folder.
import { access, mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { invalidArgument, notFound, SwarmError } from '../../api/errors.js';
import { createLogger } from '../../lib/log.js';
import type { ImageResolver, RegistryAuth } from '../types.js';
import { readImageArchive } from './archive.js';
import {
  decompressHashed,
  detectCompression,
  digestHex,
  fsyncPath,
  readJsonFile,
  sha256Digest,
  writeFileAtomic,
  writeStreamHashed,
} from './fsutil.js';
import { unpackLayer } from './layers.js';
import { layerCompression, noPlatformError, parseManifest, pickPlatform } from './manifests.js';
import { truncateDigest } from './naming.js';
import {
  familiarize,
  familiarString,
  formatReference,
  type ImageReference,
  isDigest,
  parseReference,
  repositoryName,
  withDefaultTag,
} from './reference.js';
import { DEFAULT_INSECURE_REGISTRIES, isInsecureRegistry, RegistryClient } from './registry.js';
import { planRemoval } from './removal.js';
import {
  type Image,
  type ImageConfigBlob,
  type ImageRecord,
  imageConfigSchema,
  imageRecordSchema,
  repositoriesSchema,
} from './types.js';

const log = createLogger({ component: 'images' });

/** One line of pull/load progress, in Docker's JSON-message vocabulary. */
export interface ProgressEvent {
  status: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
}
export type ProgressSink = (e: ProgressEvent) => void;

export interface PullOptions {
  auth?: RegistryAuth;
  /** Registries reached over http: 'host', 'host:port' or IPv4 CIDR. Default: localhost, 127.0.0.0/8. */
  insecureRegistries?: readonly string[];
  onProgress?: ProgressSink;
  signal?: AbortSignal;
}

export interface PullResult {
  id: string;
  /** Digest of the manifest (or manifest list) that was pulled. */
  digest: string;
  /** Familiar reference, e.g. 'localhost:5000/busybox:1'. */
  ref: string;
  /** True when nothing new was stored (Docker's "Image is up to date"). */
  upToDate: boolean;
}

export interface LoadedImage {
  id: string;
  /** Familiar tags given by the archive ([] for an untagged image). */
  tags: string[];
}

export type RemovalReport = { Untagged: string } | { Deleted: string };

/** A layer ready to be committed: either already in the store or unpacked in our temp dir. */
interface PreparedLayer {
  diffId: string;
  size: number;
  /** Set when we unpacked it; absent when the store already had it. */
  tmpDir?: string;
}

interface PreparedImage {
  config: Buffer;
  layers: PreparedLayer[];
  tags: string[];
  manifest?: { digest: string; body: Buffer; repository: string };
}

export class ImageStore implements ImageResolver {
  private readonly blobsDir: string;
  private readonly layersDir: string;
  private readonly imagedbDir: string;
  private readonly tmpDir: string;
  private readonly reposFile: string;

  private readonly tags = new Map<string, string>();
  private readonly records = new Map<string, ImageRecord>();
  private readonly configs = new Map<string, ImageConfigBlob>();
  private readonly holders = new Map<string, Set<string>>();
  /** Layers an operation in flight relies on: never garbage-collected meanwhile. */
  private readonly pinned = new Map<string, number>();
  private lockTail: Promise<unknown> = Promise.resolve();
  private readyPromise: Promise<void> | undefined;
  private tmpSeq = 0;

  constructor(readonly root: string) {
    this.blobsDir = join(root, 'blobs', 'sha256');
    this.layersDir = join(root, 'layers');
    this.imagedbDir = join(root, 'imagedb');
    this.tmpDir = join(root, 'tmp');
    this.reposFile = join(root, 'repositories.json');
  }

  /**
   * Opens the store: creates the layout, deletes what a crash left in tmp/, reads tags and images,
   * and drops layers and blobs no image references. Every other method awaits it; calling it
   * explicitly at daemon start surfaces errors early.
   */
  init(): Promise<void> {
    this.readyPromise ??= this.locked(() => this.open());
    return this.readyPromise;
  }

  // ---- the runtime's view ---------------------------------------------------------------------

  /** The image a reference (name[:tag], name@digest, full or short ID) denotes; NOT_FOUND "No such image: …". */
  async resolve(ref: string): Promise<Image> {
    await this.init();
    return this.toImage(this.lookup(ref));
  }

  /** Same as resolve (Docker's `image inspect`). */
  inspect(ref: string): Promise<Image> {
    return this.resolve(ref);
  }

  async list(): Promise<Image[]> {
    await this.init();
    return [...this.records.keys()].map((id) => this.toImage(id)).sort((a, b) => b.created - a.created);
  }

  /**
   * Marks `imageId` as used by `holderId` (a container ID): `remove` refuses to delete it until
   * every holder has released it. In memory only: after a restart the executor re-acquires for the
   * containers it finds.
   */
  acquire(imageId: string, holderId: string): void {
    let set = this.holders.get(imageId);
    if (!set) {
      set = new Set();
      this.holders.set(imageId, set);
    }
    set.add(holderId);
  }

  release(imageId: string, holderId: string): void {
    const set = this.holders.get(imageId);
    if (!set) return;
    set.delete(holderId);
    if (set.size === 0) this.holders.delete(imageId);
  }

  holdersOf(imageId: string): string[] {
    return [...(this.holders.get(imageId) ?? [])];
  }

  // ---- sources ------------------------------------------------------------------------------

  /** Loads a `docker save` or OCI-layout archive (tar, optionally gzipped) from a file or a stream. */
  async load(source: Readable | string, onProgress?: ProgressSink): Promise<LoadedImage[]> {
    await this.init();
    const work = await this.makeTemp('load');
    const pins: string[] = [];
    try {
      let archive: string;
      if (typeof source === 'string') {
        archive = source;
      } else {
        archive = join(work, 'archive.tar');
        await writeStreamHashed(source, archive);
      }
      const candidates = await readImageArchive(archive, join(work, 'archive'));
      if (candidates.length === 0) throw invalidArgument('invalid archive: it holds no images');
      const unpacked = new Map<string, PreparedLayer>();
      const prepared: PreparedImage[] = [];
      for (const c of candidates) {
        const config = parseConfig(c.config, 'image config');
        if (config.rootfs.diff_ids.length !== c.layers.length) {
          throw invalidArgument(
            `invalid archive: image config lists ${config.rootfs.diff_ids.length} layers, the manifest ${c.layers.length}`,
          );
        }
        const layers: PreparedLayer[] = [];
        for (const [i, layer] of c.layers.entries()) {
          const diffId = config.rootfs.diff_ids[i]!;
          let p = unpacked.get(diffId);
          if (!p) {
            onProgress?.({ status: 'Loading layer', id: truncateDigest(diffId) });
            p = await this.prepareLayer(layer.file, layer.compression, diffId, work, layer.what, pins);
            unpacked.set(diffId, p);
          }
          layers.push(p);
        }
        prepared.push({ config: c.config, layers, tags: c.tags });
      }
      const out: LoadedImage[] = [];
      await this.locked(async () => {
        for (const p of prepared) out.push({ id: await this.commit(p), tags: p.tags.map(familiarize) });
      });
      return out;
    } finally {
      this.unpin(pins);
      await rm(work, { recursive: true, force: true });
    }
  }

  /** Pulls `ref` (tag defaults to latest) from its registry; every blob is digest-checked. */
  async pull(refString: string, opts: PullOptions = {}): Promise<PullResult> {
    await this.init();
    const ref = withDefaultTag(parseReference(refString));
    const display = familiarString(ref);
    const progress: ProgressSink = opts.onProgress ?? (() => undefined);
    const client = new RegistryClient(ref.domain, ref.path, {
      insecure: isInsecureRegistry(ref.domain, opts.insecureRegistries ?? DEFAULT_INSECURE_REGISTRIES),
      display,
      ...(opts.auth ? { auth: opts.auth } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    const work = await this.makeTemp('pull');
    const pins: string[] = [];
    try {
      const top = await client.getManifest(ref.digest ?? ref.tag!);
      progress({ status: `Pulling from ${ref.path}`, id: ref.tag ?? ref.digest! });
      let parsed = parseManifest(top.body, top.contentType, `manifest for ${display}`);
      if (parsed.kind === 'index') {
        const chosen = pickPlatform(parsed.index);
        if (chosen === undefined) throw noPlatformError(display, parsed.index);
        const m = await client.getManifest(chosen.digest);
        parsed = parseManifest(m.body, m.contentType, `manifest ${chosen.digest} of ${display}`);
        if (parsed.kind !== 'manifest')
          throw invalidArgument(`${display}: a manifest list inside a manifest list`);
      }
      const { manifest } = parsed;
      for (const l of manifest.layers) layerCompression(l.mediaType, `layer ${l.digest} of ${display}`);
      const configBytes = await client.getBlob(
        manifest.config,
        `config ${manifest.config.digest} of ${display}`,
      );
      const config = parseConfig(configBytes, `config ${manifest.config.digest} of ${display}`);
      if (config.rootfs.diff_ids.length !== manifest.layers.length) {
        throw invalidArgument(
          `${display}: the image config lists ${config.rootfs.diff_ids.length} layers, the manifest ${manifest.layers.length}`,
        );
      }
      const id = sha256Digest(configBytes);
      const repoDigest = `${repositoryName(ref)}@${top.digest}`;
      const canonicalTag =
        ref.tag !== undefined && ref.digest === undefined ? formatReference(ref) : undefined;
      const existing = this.records.get(id);
      const upToDate =
        existing?.repoDigests.includes(repoDigest) === true &&
        (canonicalTag === undefined || this.tags.get(canonicalTag) === id);

      const layers: PreparedLayer[] = [];
      for (const [i, desc] of manifest.layers.entries()) {
        const diffId = config.rootfs.diff_ids[i]!;
        const short = truncateDigest(desc.digest);
        const what = `layer ${desc.digest} of ${display}`;
        if (this.pinIfPresent(diffId, pins)) {
          progress({ status: 'Already exists', id: short, progressDetail: {} });
          layers.push({ diffId, size: await this.layerSize(diffId) });
          continue;
        }
        progress({ status: 'Pulling fs layer', id: short, progressDetail: {} });
        const blob = join(work, `blob-${digestHex(desc.digest)}`);
        let lastReport = 0;
        await client.downloadBlob(desc, blob, what, (current) => {
          const now = Date.now();
          if (now - lastReport < 100 && current < desc.size) return;
          lastReport = now;
          progress({ status: 'Downloading', id: short, progressDetail: { current, total: desc.size } });
        });
        progress({ status: 'Verifying Checksum', id: short, progressDetail: {} });
        progress({ status: 'Download complete', id: short, progressDetail: {} });
        progress({
          status: 'Extracting',
          id: short,
          progressDetail: { current: desc.size, total: desc.size },
        });
        layers.push(
          await this.prepareLayer(blob, layerCompression(desc.mediaType, what), diffId, work, what, pins),
        );
        await rm(blob, { force: true });
        progress({ status: 'Pull complete', id: short, progressDetail: {} });
      }
      const prepared: PreparedImage = {
        config: configBytes,
        layers,
        tags: canonicalTag ? [canonicalTag] : [],
        manifest: { digest: top.digest, body: top.body, repository: repositoryName(ref) },
      };
      await this.locked(() => this.commit(prepared));
      progress({ status: `Digest: ${top.digest}` });
      progress({
        status: upToDate
          ? `Status: Image is up to date for ${display}`
          : `Status: Downloaded newer image for ${display}`,
      });
      return { id, digest: top.digest, ref: display, upToDate };
    } finally {
      this.unpin(pins);
      await rm(work, { recursive: true, force: true });
    }
  }

  /** Points the tag `target` at the image `source` denotes (docker tag). */
  async tag(source: string, target: string): Promise<void> {
    await this.init();
    const id = this.lookup(source);
    const ref = withDefaultTag(parseReference(target));
    if (ref.digest !== undefined)
      throw invalidArgument(`refusing to create a tag with a digest reference: ${target}`);
    await this.locked(async () => {
      this.tags.set(formatReference(ref), id);
      await this.saveTags();
    });
  }

  /** Untags and/or deletes (docker rmi). Refused with CONFLICT while a holder uses the image. */
  async remove(ref: string, opts: { force?: boolean } = {}): Promise<RemovalReport[]> {
    await this.init();
    return this.locked(async () => {
      const id = this.lookup(ref);
      const named = this.namedTag(ref, id);
      const tags = this.tagsOf(id);
      const plan = planRemoval({
        imageId: id,
        namedTag: named,
        tags,
        holders: this.holdersOf(id),
        force: opts.force ?? false,
        familiar: familiarize,
      });
      if (!plan.ok) throw plan.error;
      const report: RemovalReport[] = [];
      for (const t of plan.untag) {
        this.tags.delete(t);
        report.push({ Untagged: familiarize(t) });
      }
      if (!plan.deleteImage) {
        await this.saveTags();
        return report;
      }
      const record = this.records.get(id)!;
      for (const d of record.repoDigests) report.push({ Untagged: familiarize(d) });
      for (const t of this.tagsOf(id)) this.tags.delete(t);
      await this.saveTags();
      await rm(join(this.imagedbDir, `${digestHex(id)}.json`), { force: true });
      this.records.delete(id);
      this.configs.delete(id);
      report.push({ Deleted: id });
      for (const layer of await this.collectGarbage()) report.push({ Deleted: layer });
      return report;
    });
  }

  // ---- internals ------------------------------------------------------------------------------

  private async open(): Promise<void> {
    for (const d of [this.blobsDir, this.layersDir, this.imagedbDir]) await mkdir(d, { recursive: true });
    // A crash mid-load/pull leaves only temp dirs: drop them.
    await rm(this.tmpDir, { recursive: true, force: true });
    await mkdir(this.tmpDir, { recursive: true });
    for (const name of await readdir(this.imagedbDir)) {
      const path = join(this.imagedbDir, name);
      if (!name.endsWith('.json')) {
        await rm(path, { force: true });
        continue;
      }
      try {
        const record = imageRecordSchema.parse(await readJsonFile(path));
        for (const d of record.diffIds) await access(join(this.layersDir, digestHex(d), 'diff'));
        const config = parseConfig(
          await readFile(join(this.blobsDir, digestHex(record.id))),
          `config ${record.id}`,
        );
        this.records.set(record.id, record);
        this.configs.set(record.id, config);
      } catch (err) {
        log.warn('dropping unreadable image record', { file: path, error: String(err) });
        await rm(path, { force: true });
      }
    }
    try {
      const repos = repositoriesSchema.parse(await readJsonFile(this.reposFile));
      for (const [tag, id] of Object.entries(repos.tags)) if (this.records.has(id)) this.tags.set(tag, id);
    } catch (err) {
      if (!(err instanceof Error && 'code' in err && err.code === 'ENOENT')) {
        log.warn('repositories.json unreadable; starting with no tags', { error: String(err) });
      }
    }
    await this.collectGarbage();
  }

  /** Removes layers and blobs no image references; returns the diff IDs of removed layers. */
  private async collectGarbage(): Promise<string[]> {
    const liveLayers = new Set<string>();
    const liveBlobs = new Set<string>();
    for (const r of this.records.values()) {
      for (const d of r.diffIds) liveLayers.add(digestHex(d));
      liveBlobs.add(digestHex(r.id));
      for (const rd of r.repoDigests) liveBlobs.add(digestHex(rd.slice(rd.indexOf('@') + 1)));
    }
    for (const d of this.pinned.keys()) liveLayers.add(digestHex(d));
    const removed: string[] = [];
    for (const name of await readdir(this.layersDir)) {
      if (liveLayers.has(name)) continue;
      await rm(join(this.layersDir, name), { recursive: true, force: true });
      removed.push(`sha256:${name}`);
    }
    for (const name of await readdir(this.blobsDir)) {
      if (!liveBlobs.has(name)) await rm(join(this.blobsDir, name), { force: true });
    }
    return removed;
  }

  /** Writes the prepared image into the store. Caller holds the lock. Returns the image ID. */
  private async commit(p: PreparedImage): Promise<string> {
    const id = sha256Digest(p.config);
    for (const layer of p.layers) {
      const final = join(this.layersDir, digestHex(layer.diffId));
      if (await exists(final)) {
        if (layer.tmpDir) await rm(layer.tmpDir, { recursive: true, force: true });
        continue;
      }
      if (!layer.tmpDir)
        throw new SwarmError('INTERNAL', `layer ${layer.diffId} vanished during the operation`);
      await rename(layer.tmpDir, final);
      layer.tmpDir = undefined;
    }
    await fsyncPath(this.layersDir);
    await this.putBlob(p.config);
    const old = this.records.get(id);
    const repoDigests = new Set(old?.repoDigests ?? []);
    if (p.manifest) {
      await this.putBlob(p.manifest.body);
      // One digest per repository, as Docker: a re-pull that moved the tag replaces it.
      for (const rd of repoDigests) if (rd.startsWith(`${p.manifest.repository}@`)) repoDigests.delete(rd);
      repoDigests.add(`${p.manifest.repository}@${p.manifest.digest}`);
    }
    const record: ImageRecord = {
      id,
      diffIds: p.layers.map((l) => l.diffId),
      layerSizes: p.layers.map((l) => l.size),
      repoDigests: [...repoDigests],
      loadedAt: old?.loadedAt ?? Date.now(),
    };
    await writeFileAtomic(join(this.imagedbDir, `${digestHex(id)}.json`), JSON.stringify(record));
    this.records.set(id, record);
    this.configs.set(id, parseConfig(p.config, `config ${id}`));
    for (const t of p.tags) this.tags.set(t, id);
    await this.saveTags();
    return id;
  }

  private async putBlob(data: Buffer): Promise<void> {
    const path = join(this.blobsDir, digestHex(sha256Digest(data)));
    if (!(await exists(path))) await writeFileAtomic(path, data);
  }

  private async saveTags(): Promise<void> {
    const tags: Record<string, string> = {};
    for (const [t, id] of [...this.tags].sort(([a], [b]) => a.localeCompare(b))) tags[t] = id;
    await writeFileAtomic(this.reposFile, `${JSON.stringify({ tags }, null, 1)}\n`);
  }

  /**
   * Verifies a layer blob against its diff ID and unpacks it into our temp dir, unless the store
   * already has that layer (then it is pinned and reused).
   */
  private async prepareLayer(
    blob: string,
    compression: 'gzip' | 'zstd' | 'none' | 'detect',
    diffId: string,
    work: string,
    what: string,
    pins: string[],
  ): Promise<PreparedLayer> {
    if (this.pinIfPresent(diffId, pins)) return { diffId, size: await this.layerSize(diffId) };
    const how = compression === 'detect' ? await detectCompression(blob) : compression;
    const tar = join(work, `layer-${this.tmpSeq++}.tar`);
    let got: { digest: string; size: number };
    try {
      got = await decompressHashed(blob, tar, how);
    } catch (err) {
      throw invalidArgument(
        `${what}: cannot decompress: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    if (got.digest !== diffId) {
      await rm(tar, { force: true });
      throw invalidArgument(
        `${what}: content does not match its diff ID (expected ${diffId}, got ${got.digest})`,
      );
    }
    const dir = join(work, `unpacked-${digestHex(diffId)}`);
    await mkdir(join(dir, 'diff'), { recursive: true });
    await unpackLayer(tar, join(dir, 'diff'), what);
    await rm(tar, { force: true });
    await writeFileAtomic(join(dir, 'layer.json'), JSON.stringify({ diffId, size: got.size }));
    await fsyncPath(dir);
    return { diffId, size: got.size, tmpDir: dir };
  }

  private pinIfPresent(diffId: string, pins: string[]): boolean {
    // Records are the source of truth: a layer dir on disk without a record is garbage-in-waiting.
    for (const r of this.records.values()) {
      if (r.diffIds.includes(diffId)) {
        this.pinned.set(diffId, (this.pinned.get(diffId) ?? 0) + 1);
        pins.push(diffId);
        return true;
      }
    }
    return false;
  }

  private unpin(pins: string[]): void {
    for (const d of pins) {
      const n = (this.pinned.get(d) ?? 1) - 1;
      if (n <= 0) this.pinned.delete(d);
      else this.pinned.set(d, n);
    }
  }

  private async layerSize(diffId: string): Promise<number> {
    for (const r of this.records.values()) {
      const i = r.diffIds.indexOf(diffId);
      if (i >= 0) return r.layerSizes[i] ?? 0;
    }
    return 0;
  }

  private async makeTemp(kind: string): Promise<string> {
    await this.init();
    const dir = join(this.tmpDir, `${kind}-${process.pid}-${Date.now()}-${this.tmpSeq++}`);
    await mkdir(dir, { recursive: true });
    return dir;
  }

  /** Runs `fn` alone among the store's mutations. */
  private locked<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lockTail.then(fn, fn);
    this.lockTail = run.catch(() => undefined);
    return run;
  }

  /** Reference or ID → image ID. */
  private lookup(input: string): string {
    const byRef = this.lookupReference(input);
    if (byRef !== undefined) return byRef;
    const hex = input.startsWith('sha256:') ? input.slice(7) : input;
    if (/^[a-f0-9]{1,64}$/.test(hex)) {
      const matches = [...this.records.keys()].filter((id) => id.slice(7).startsWith(hex));
      if (matches.length === 1) return matches[0]!;
      if (matches.length > 1)
        throw invalidArgument(`ambiguous image ID prefix ${input}: ${matches.length} images match`);
    }
    throw notFound(`No such image: ${displayRef(input)}`);
  }

  private lookupReference(input: string): string | undefined {
    let ref: ImageReference;
    try {
      ref = parseReference(input);
    } catch {
      return undefined;
    }
    if (ref.digest !== undefined) {
      const want = `${repositoryName(ref)}@${ref.digest}`;
      for (const r of this.records.values()) if (r.repoDigests.includes(want)) return r.id;
      return undefined;
    }
    return this.tags.get(formatReference(withDefaultTag(ref)));
  }

  /** The canonical tag `input` names, when it names one (not an ID or digest). */
  private namedTag(input: string, id: string): string | undefined {
    try {
      const ref = parseReference(input);
      if (ref.digest !== undefined) return undefined;
      const canonical = formatReference(withDefaultTag(ref));
      return this.tags.get(canonical) === id ? canonical : undefined;
    } catch {
      return undefined;
    }
  }

  private tagsOf(id: string): string[] {
    return [...this.tags].filter(([, v]) => v === id).map(([t]) => t);
  }

  private toImage(id: string): Image {
    const record = this.records.get(id)!;
    const raw = this.configs.get(id)!;
    const c = raw.config ?? {};
    const config: Image['config'] = {};
    if (c.Env) config.Env = c.Env;
    if (c.Cmd) config.Cmd = c.Cmd;
    if (c.Entrypoint) config.Entrypoint = c.Entrypoint;
    if (c.WorkingDir) config.WorkingDir = c.WorkingDir;
    if (c.User) config.User = c.User;
    if (c.Healthcheck) config.Healthcheck = c.Healthcheck;
    if (c.StopSignal) config.StopSignal = c.StopSignal;
    if (c.Labels) config.Labels = c.Labels;
    if (c.ExposedPorts) config.ExposedPorts = c.ExposedPorts;
    if (c.Volumes) config.Volumes = c.Volumes;
    const created = raw.created ? Math.floor(Date.parse(raw.created) / 1000) : 0;
    return {
      id,
      repoTags: this.tagsOf(id).map(familiarize).sort(),
      repoDigests: record.repoDigests.map(familiarize).sort(),
      config,
      layers: record.diffIds.map((d) => join(this.layersDir, digestHex(d), 'diff')),
      diffIds: [...record.diffIds],
      size: record.layerSizes.reduce((a, b) => a + b, 0),
      created: Number.isFinite(created) ? created : 0,
      architecture: raw.architecture,
      os: raw.os,
      raw,
    };
  }
}

function parseConfig(bytes: Buffer, what: string): ImageConfigBlob {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw invalidArgument(`${what}: not valid JSON`);
  }
  const r = imageConfigSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw invalidArgument(`${what}: invalid image config: ${issue?.path.join('.')}: ${issue?.message}`);
  }
  return r.data;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** How "No such image: X" names X: the familiar tagged form for references, the input for IDs. */
function displayRef(input: string): string {
  if (isDigest(input) || /^[a-f0-9]{12,64}$/.test(input)) return input;
  try {
    return familiarString(withDefaultTag(parseReference(input)));
  } catch {
    return input;
  }
}
