// Merges compose files given in order (`-c base.yml -c prod.yml`): a later file overrides an earlier
// one. Follows the docker CLI's merge (cli/compose/loader/merge.go) on normalised files: mappings are
// merged key by key and scalars replaced; ports are the union of distinct entries, sorted by published
// port; volumes are keyed by target, secrets and configs by source (a later entry for the same key
// wins), each sorted by that key; command, entrypoint, healthcheck.test and network aliases are
// replaced; a logging section with another driver replaces the earlier one; every other list
// (dns, cap_add, extra_hosts, env_file, placement constraints…) is the union, in order. Top-level
// networks, volumes, secrets and configs are merged key by key, their lists replaced. Pure.
import type { ComposeFile, FileReference, ServicePort, ServiceVolume } from './schema.js';

type ListMerge = (base: unknown[], over: unknown[]) => unknown[];

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Entries keyed by `key`; a later entry replaces an earlier one with the same key; sorted by `order`. */
function keyed<T>(key: (x: T) => string, order: (a: T, b: T) => number): ListMerge {
  return (base, over) => {
    const byKey = new Map<string, T>();
    for (const x of [...base, ...over] as T[]) byKey.set(key(x), x);
    return [...byKey.values()].sort(order);
  };
}

const replace: ListMerge = (_base, over) => over;

const union: ListMerge = (base, over) => {
  const seen = new Set(base.map((x) => JSON.stringify(x)));
  return [...base, ...over.filter((x) => !seen.has(JSON.stringify(x)))];
};

const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

const mergePorts = keyed<ServicePort>(
  (p) => JSON.stringify(p),
  (a, b) => (a.published ?? 0) - (b.published ?? 0),
);
const mergeVolumes = keyed<ServiceVolume>(
  (v) => v.target,
  (a, b) => byString(a.target, b.target),
);
const mergeFileReferences = keyed<FileReference>(
  (r) => r.source,
  (a, b) => byString(a.source, b.source),
);

function serviceListMerge(path: readonly string[]): ListMerge {
  const p = path.join('.');
  if (p === 'ports') return mergePorts;
  if (p === 'volumes') return mergeVolumes;
  if (p === 'secrets' || p === 'configs') return mergeFileReferences;
  if (p === 'command' || p === 'entrypoint' || p === 'healthcheck.test') return replace;
  if (path[0] === 'networks' && path[2] === 'aliases') return replace;
  return union;
}

function mergeValue(
  base: unknown,
  over: unknown,
  path: readonly string[],
  listMerge: (path: readonly string[]) => ListMerge,
): unknown {
  if (over === undefined) return base;
  // `front:` with nothing after it (a network without options) keeps what an earlier file said.
  if (over === null) return base ?? null;
  if (Array.isArray(base) && Array.isArray(over)) return listMerge(path)(base, over);
  if (isObject(base) && isObject(over)) {
    if (
      path.length === 1 &&
      path[0] === 'logging' &&
      base.driver &&
      over.driver &&
      base.driver !== over.driver
    ) {
      return over;
    }
    const out: Record<string, unknown> = { ...base };
    for (const [k, v] of Object.entries(over)) out[k] = mergeValue(base[k], v, [...path, k], listMerge);
    return out;
  }
  return over;
}

/** `over` merged onto `base` by the rules above; both are normalised values of the same type. */
function mergeTyped<T>(base: T, over: T, listMerge: (path: readonly string[]) => ListMerge): T {
  // mergeValue keeps the shape of its inputs: a merge of two T is a T.
  return mergeValue(base, over, [], listMerge) as T;
}

function mergeSection<T>(
  base: Record<string, T> | undefined,
  over: Record<string, T> | undefined,
  listMerge: (path: readonly string[]) => ListMerge,
): Record<string, T> {
  const out: Record<string, T> = { ...base };
  for (const [name, def] of Object.entries(over ?? {})) {
    const earlier = out[name];
    out[name] = earlier === undefined ? def : mergeTyped(earlier, def, listMerge);
  }
  return out;
}

/** The files merged in order; the result has every section (empty when no file has it). */
export function mergeComposeFiles(
  files: readonly ComposeFile[],
): Required<Omit<ComposeFile, 'version' | 'name'>> {
  const merged = {
    services: {} as NonNullable<ComposeFile['services']>,
    networks: {} as NonNullable<ComposeFile['networks']>,
    volumes: {} as NonNullable<ComposeFile['volumes']>,
    secrets: {} as NonNullable<ComposeFile['secrets']>,
    configs: {} as NonNullable<ComposeFile['configs']>,
  };
  for (const file of files) {
    merged.services = mergeSection(merged.services, file.services, serviceListMerge);
    merged.networks = mergeSection(merged.networks, file.networks, () => replace);
    merged.volumes = mergeSection(merged.volumes, file.volumes, () => replace);
    merged.secrets = mergeSection(merged.secrets, file.secrets, () => replace);
    merged.configs = mergeSection(merged.configs, file.configs, () => replace);
  }
  return merged;
}
