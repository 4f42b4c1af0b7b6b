// Reads image archives (`docker save` and OCI image-layout tarballs, optionally gzipped) into
// load candidates: config bytes, layer files and tags. The archive is unpacked by us, entry by
// entry, into a private temp dir under numbered names, so no archive path ever touches the disk
// as a path: traversal ('../x', absolute names, symlinks out) cannot escape.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import * as tarStream from 'tar-stream';
import { invalidArgument, SwarmError } from '../../api/errors.js';
import { detectCompression, sha256Digest } from './fsutil.js';
import { layerCompression, noPlatformError, parseManifest, pickPlatform } from './manifests.js';
import { normaliseTagged, parseReference } from './reference.js';
import { saveManifestSchema } from './types.js';

export interface ArchiveLayer {
  /** File holding the layer blob (compressed or not). */
  file: string;
  compression: 'gzip' | 'zstd' | 'none' | 'detect';
  /** Names the layer in errors. */
  what: string;
}

export interface LoadCandidate {
  config: Buffer;
  layers: ArchiveLayer[];
  /** Canonical tagged references ('docker.io/library/busybox:latest'). */
  tags: string[];
}

/**
 * Largest metadata file (manifest.json, index.json, an image config or manifest) read into memory
 * from a loaded archive: layers stream to disk, these are buffered. The same 4 MiB as a registry manifest.
 */
export const MAX_ARCHIVE_METADATA_BYTES = 4 << 20;

/** The unpacked archive: archive path → file on disk, with in-archive symlinks resolved. */
class ArchiveIndex {
  readonly files = new Map<string, string>();
  readonly links = new Map<string, string>();

  resolve(name: string): string | undefined {
    let n = cleanName(name);
    for (let hops = 0; n !== undefined && hops < 16; hops++) {
      const f = this.files.get(n);
      if (f !== undefined) return f;
      n = this.links.get(n);
    }
    return undefined;
  }

  async read(name: string): Promise<Buffer | undefined> {
    const f = this.resolve(name);
    if (f === undefined) return undefined;
    if ((await stat(f)).size > MAX_ARCHIVE_METADATA_BYTES)
      throw invalidArgument(`invalid archive: ${name} is larger than ${MAX_ARCHIVE_METADATA_BYTES} bytes`);
    return readFile(f);
  }
}

/** Archive member name → normalised relative path, or undefined if it would leave the archive. */
function cleanName(name: string): string | undefined {
  const n = posix.normalize(name.replace(/^\.\/+/, ''));
  if (n.startsWith('/') || n === '..' || n.startsWith('../') || n === '.') return undefined;
  return n.replace(/\/+$/, '');
}

function isSystemError(err: unknown): boolean {
  return err instanceof Error && 'syscall' in err;
}

async function unpackArchive(archive: string, workDir: string): Promise<ArchiveIndex> {
  const index = new ArchiveIndex();
  await mkdir(workDir, { recursive: true });
  const extract = tarStream.extract();
  const input = createReadStream(archive);
  const feeding =
    (await detectCompression(archive)) === 'gzip'
      ? pipeline(input, createGunzip(), extract)
      : pipeline(input, extract);
  let n = 0;
  try {
    for await (const entry of extract) {
      const { name, type, linkname } = entry.header;
      const clean = cleanName(name);
      if (clean === undefined) {
        entry.resume();
        throw invalidArgument(`invalid archive: entry ${JSON.stringify(name)} points outside the archive`);
      }
      if (type === 'file' || type === 'contiguous-file') {
        const file = join(workDir, String(n++));
        await pipeline(entry, createWriteStream(file));
        index.files.set(clean, file);
        continue;
      }
      if ((type === 'symlink' || type === 'link') && linkname) {
        const target =
          type === 'symlink' ? cleanName(posix.join(posix.dirname(clean), linkname)) : cleanName(linkname);
        if (target !== undefined) index.links.set(clean, target);
      }
      entry.resume();
    }
    await feeding;
  } catch (err) {
    extract.destroy();
    await feeding.catch(() => undefined);
    // System errors (ENOSPC …) and our own pass through; tar/gzip parse errors mean a bad archive.
    if (err instanceof SwarmError || isSystemError(err)) throw err;
    throw invalidArgument(`invalid archive: ${err instanceof Error ? err.message : String(err)}`);
  }
  return index;
}

/** Unpacks `archive` into `workDir` and lists the images it holds. */
export async function readImageArchive(archive: string, workDir: string): Promise<LoadCandidate[]> {
  const index = await unpackArchive(archive, workDir);
  const saveManifest = await index.read('manifest.json');
  if (saveManifest !== undefined) return fromDockerSave(index, saveManifest);
  const ociIndex = await index.read('index.json');
  if (ociIndex !== undefined && index.resolve('oci-layout') !== undefined)
    return fromOciLayout(index, ociIndex);
  throw invalidArgument(
    'invalid archive: neither a docker save archive (manifest.json) nor an OCI layout (index.json)',
  );
}

async function fromDockerSave(index: ArchiveIndex, manifestBytes: Buffer): Promise<LoadCandidate[]> {
  let json: unknown;
  try {
    json = JSON.parse(manifestBytes.toString('utf8'));
  } catch (e) {
    throw invalidArgument(`invalid archive: manifest.json: ${(e as Error).message}`);
  }
  const parsed = saveManifestSchema.safeParse(json);
  if (!parsed.success)
    throw invalidArgument(`invalid archive: manifest.json: ${parsed.error.issues[0]?.message}`);
  const out: LoadCandidate[] = [];
  for (const entry of parsed.data) {
    const config = await index.read(entry.Config);
    if (config === undefined) throw invalidArgument(`invalid archive: missing config ${entry.Config}`);
    const layers = entry.Layers.map((name): ArchiveLayer => {
      const file = index.resolve(name);
      if (file === undefined) throw invalidArgument(`invalid archive: missing layer ${name}`);
      return { file, compression: 'detect', what: `layer ${name}` };
    });
    out.push({ config, layers, tags: (entry.RepoTags ?? []).map(normaliseTagged) });
  }
  return out;
}

function blobPath(digest: string): string {
  return `blobs/${digest.replace(':', '/')}`;
}

async function readBlob(index: ArchiveIndex, digest: string): Promise<Buffer> {
  const data = await index.read(blobPath(digest));
  if (data === undefined) throw invalidArgument(`invalid archive: missing blob ${digest}`);
  if (sha256Digest(data) !== digest)
    throw invalidArgument(`invalid archive: blob ${digest} does not match its digest`);
  return data;
}

/** A tag from an OCI index entry's annotations, when it names a full reference. */
function ociTag(annotations: Record<string, string> | undefined): string | undefined {
  const full = annotations?.['io.containerd.image.name'];
  if (full) return normaliseTagged(full);
  const refName = annotations?.['org.opencontainers.image.ref.name'];
  if (refName && /[:/]/.test(refName)) {
    try {
      parseReference(refName);
      return normaliseTagged(refName);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

async function fromOciLayout(index: ArchiveIndex, indexBytes: Buffer): Promise<LoadCandidate[]> {
  const top = parseManifest(indexBytes, undefined, 'index.json');
  if (top.kind !== 'index') throw invalidArgument('invalid archive: index.json is not an image index');
  const out: LoadCandidate[] = [];
  for (const desc of top.index.manifests) {
    let body = await readBlob(index, desc.digest);
    let parsed = parseManifest(body, desc.mediaType, `manifest ${desc.digest}`);
    if (parsed.kind === 'index') {
      const chosen = pickPlatform(parsed.index);
      if (chosen === undefined) throw noPlatformError(`manifest ${desc.digest}`, parsed.index);
      body = await readBlob(index, chosen.digest);
      parsed = parseManifest(body, chosen.mediaType, `manifest ${chosen.digest}`);
      if (parsed.kind !== 'manifest')
        throw invalidArgument(`manifest ${chosen.digest}: nested index not supported`);
    }
    const { manifest } = parsed;
    const config = await readBlob(index, manifest.config.digest);
    const layers = manifest.layers.map((l): ArchiveLayer => {
      const what = `layer ${l.digest}`;
      const file = index.resolve(blobPath(l.digest));
      if (file === undefined) throw invalidArgument(`invalid archive: missing ${what}`);
      return { file, compression: layerCompression(l.mediaType, what), what };
    });
    const tag = ociTag(desc.annotations);
    out.push({ config, layers, tags: tag ? [tag] : [] });
  }
  return out;
}
