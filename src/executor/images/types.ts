// Wire formats the image store reads (validated with zod at the boundary) and the Image it hands out.
import { z } from 'zod';
import type { ImageConfig } from '../types.js';

export const MediaType = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociLayerNondistGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  ociLayerNondist: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  ociLayerNondistZstd: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
} as const;

/** Layer media types we can unpack, and how they are compressed. */
export const LAYER_COMPRESSION: Record<string, 'gzip' | 'zstd' | 'none'> = {
  [MediaType.dockerLayer]: 'none',
  [MediaType.dockerLayerGzip]: 'gzip',
  [MediaType.ociLayerZstd]: 'zstd',
  [MediaType.ociLayerNondistZstd]: 'zstd',
  [MediaType.dockerForeignLayerGzip]: 'gzip',
  [MediaType.ociLayerGzip]: 'gzip',
  [MediaType.ociLayerNondistGzip]: 'gzip',
  [MediaType.ociLayer]: 'none',
  [MediaType.ociLayerNondist]: 'none',
};

const digestSchema = z.string().regex(/^sha256:[a-f0-9]{64}$/, 'expected a sha256 digest');

export const descriptorSchema = z.object({
  mediaType: z.string().optional(),
  digest: digestSchema,
  size: z.number().int().nonnegative(),
  annotations: z.record(z.string()).optional(),
  platform: z
    .object({ architecture: z.string(), os: z.string(), variant: z.string().optional() })
    .passthrough()
    .optional(),
});
export type Descriptor = z.infer<typeof descriptorSchema>;

/** Docker schema2 manifest and OCI image manifest share this shape. */
export const manifestSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  config: descriptorSchema,
  layers: z.array(descriptorSchema),
});
export type Manifest = z.infer<typeof manifestSchema>;

/** Docker manifest list and OCI index. */
export const indexSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  manifests: z.array(descriptorSchema),
});
export type ImageIndex = z.infer<typeof indexSchema>;

const healthSchema = z
  .object({
    Test: z.array(z.string()).optional(),
    Interval: z.number().optional(),
    Timeout: z.number().optional(),
    Retries: z.number().optional(),
    StartPeriod: z.number().optional(),
  })
  .passthrough();

/** The container config inside an image config (OCI + Docker's extensions such as Healthcheck). */
export const containerConfigSchema = z
  .object({
    User: z.string().optional(),
    ExposedPorts: z.record(z.object({}).passthrough()).nullish(),
    Env: z.array(z.string()).nullish(),
    Entrypoint: z.array(z.string()).nullish(),
    Cmd: z.array(z.string()).nullish(),
    Volumes: z.record(z.object({}).passthrough()).nullish(),
    WorkingDir: z.string().optional(),
    Labels: z.record(z.string()).nullish(),
    StopSignal: z.string().optional(),
    Healthcheck: healthSchema.nullish(),
  })
  .passthrough();

export const imageConfigSchema = z
  .object({
    created: z.string().optional(),
    author: z.string().optional(),
    architecture: z.string().default('amd64'),
    os: z.string().default('linux'),
    variant: z.string().optional(),
    config: containerConfigSchema.nullish(),
    rootfs: z.object({ type: z.literal('layers'), diff_ids: z.array(digestSchema) }),
  })
  .passthrough();
export type ImageConfigBlob = z.infer<typeof imageConfigSchema>;

/** One entry of a `docker save` manifest.json. */
export const saveManifestSchema = z.array(
  z.object({
    Config: z.string(),
    RepoTags: z.array(z.string()).nullish(),
    Layers: z.array(z.string()),
  }),
);

/** What the store keeps per image (imagedb/<hex>.json). */
export const imageRecordSchema = z.object({
  id: digestSchema,
  diffIds: z.array(digestSchema),
  /** Uncompressed size of each layer, bytes (same order as diffIds). */
  layerSizes: z.array(z.number().int().nonnegative()),
  /** Manifest digests this image was pulled by, per repository ('localhost:5000/busybox'). */
  repoDigests: z.array(z.string()),
  /** When this store first got the image (ms since epoch). */
  loadedAt: z.number(),
});
export type ImageRecord = z.infer<typeof imageRecordSchema>;

export const repositoriesSchema = z.object({
  /** Canonical tagged reference → image ID. */
  tags: z.record(digestSchema),
});

/** An image as the runtime and the Engine API see it. */
export interface Image {
  /** 'sha256:<hex of the config blob>' */
  id: string;
  /** Familiar tagged names, e.g. ['busybox:latest', 'localhost:5000/busybox:1']. */
  repoTags: string[];
  /** Familiar digested names, e.g. ['localhost:5000/busybox@sha256:…']. */
  repoDigests: string[];
  config: ImageConfig & {
    ExposedPorts?: Record<string, object>;
    Volumes?: Record<string, object>;
  };
  /** Unpacked layer directories (absolute), bottom → top: overlayfs lowerdirs in reverse order. */
  layers: string[];
  diffIds: string[];
  /** Sum of the uncompressed layer sizes, bytes. */
  size: number;
  /** Unix seconds, from the image config's `created` (0 when absent). */
  created: number;
  architecture: string;
  os: string;
  /** The raw validated image config blob (for inspect). */
  raw: ImageConfigBlob;
}
