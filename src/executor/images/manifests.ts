// Decisions about manifests, shared by the archive loader and the registry client: which kind of
// document a manifest is, which platform of an index to take, how a layer is compressed. Pure.
import { invalidArgument, SwarmError } from '../../api/errors.js';
import {
  type Descriptor,
  type ImageIndex,
  indexSchema,
  LAYER_COMPRESSION,
  type Manifest,
  MediaType,
  manifestSchema,
} from './types.js';

export const PLATFORM = { os: 'linux', architecture: 'amd64' } as const;

export type ParsedManifest = { kind: 'manifest'; manifest: Manifest } | { kind: 'index'; index: ImageIndex };

const MANIFEST_TYPES = new Set<string>([MediaType.dockerManifest, MediaType.ociManifest]);
const INDEX_TYPES = new Set<string>([MediaType.dockerManifestList, MediaType.ociIndex]);

/** The Accept header for manifest requests: every kind we understand. */
export const MANIFEST_ACCEPT = [...MANIFEST_TYPES, ...INDEX_TYPES].join(', ');

/**
 * Classifies a manifest body. `contentType` is the registry's Content-Type (or a descriptor's
 * mediaType); when absent or generic, the body's own mediaType / shape decides, as registries do.
 */
export function parseManifest(body: Buffer, contentType: string | undefined, what: string): ParsedManifest {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw invalidArgument(`${what}: manifest is not valid JSON`);
  }
  const declared = (contentType ?? '').split(';')[0]!.trim();
  const inner =
    typeof json === 'object' && json !== null && 'mediaType' in json && typeof json.mediaType === 'string'
      ? json.mediaType
      : '';
  const generic =
    declared === '' || declared === 'application/json' || declared === 'application/octet-stream';
  let type = generic ? inner : declared;
  if (type === '' && typeof json === 'object' && json !== null) {
    if ('manifests' in json) type = MediaType.ociIndex;
    else if ('config' in json && 'layers' in json) type = MediaType.ociManifest;
  }
  if (MANIFEST_TYPES.has(type)) {
    const r = manifestSchema.safeParse(json);
    if (!r.success) throw invalidArgument(`${what}: malformed manifest: ${r.error.issues[0]?.message}`);
    return { kind: 'manifest', manifest: r.data };
  }
  if (INDEX_TYPES.has(type)) {
    const r = indexSchema.safeParse(json);
    if (!r.success) throw invalidArgument(`${what}: malformed manifest list: ${r.error.issues[0]?.message}`);
    return { kind: 'index', index: r.data };
  }
  throw invalidArgument(`${what}: unsupported manifest media type ${JSON.stringify(type || declared)}`);
}

/** Picks linux/amd64 from a manifest list / OCI index (entries without a platform match any). */
export function pickPlatform(index: ImageIndex): Descriptor | undefined {
  const usable = index.manifests.filter(
    (d) => d.mediaType === undefined || !d.mediaType.includes('attestation'),
  );
  return (
    usable.find((d) => d.platform?.os === PLATFORM.os && d.platform.architecture === PLATFORM.architecture) ??
    usable.find((d) => d.platform === undefined && d.annotations?.['vnd.docker.reference.type'] === undefined)
  );
}

export function noPlatformError(what: string, index: ImageIndex): SwarmError {
  const have = index.manifests
    .map((d) => (d.platform ? `${d.platform.os}/${d.platform.architecture}` : 'unknown'))
    .join(', ');
  return new SwarmError(
    'NOT_FOUND',
    `no matching manifest for ${PLATFORM.os}/${PLATFORM.architecture} in the manifest list entries of ${what} (have: ${have})`,
  );
}

/** How a layer of this media type is compressed; throws a clear error for what we cannot unpack. */
export function layerCompression(
  mediaType: string | undefined,
  what: string,
): 'gzip' | 'zstd' | 'none' | 'detect' {
  if (mediaType === undefined) return 'detect';
  const c = LAYER_COMPRESSION[mediaType];
  if (c !== undefined) return c;
  throw invalidArgument(`${what}: unsupported layer media type ${JSON.stringify(mediaType)}`);
}
