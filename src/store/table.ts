// Table definitions and the on-disk layout of the cluster store: which key holds which object, how an
// object is encoded (JSON without Version) and decoded (Version.Index = the key's mod_revision).
import type { z } from 'zod';

/** What every stored object looks like (Docker's Meta fields). */
export interface StoredObject {
  ID: string;
  Version: { Index: number };
  CreatedAt: string;
  UpdatedAt: string;
}

/** An object as a caller creates it: the store fills Version, CreatedAt and UpdatedAt. */
export type NewObject<T extends StoredObject> = Omit<T, 'Version' | 'CreatedAt' | 'UpdatedAt'>;

export interface TableDef<T extends StoredObject = StoredObject> {
  /** 'service', 'node', 'task', 'network', 'secret', 'config', 'cluster' … (the key segment too). */
  kind: string;
  /** Validates on write and on read from disk (a value failing it is logged and skipped). */
  schema: z.ZodType<T, z.ZodTypeDef, unknown>;
  /** The unique name, for tables whose names must be unique (services, networks, secrets, configs). */
  nameOf?(obj: T): string | undefined;
  /** Secondary indexes of the cache, e.g. tasks by ServiceID and by NodeID. */
  indexes?: Record<string, IndexFn<T>>;
}

/**
 * An index extractor. Declared through a method so that a table of Services is still a
 * TableDef<StoredObject> (method parameters are bivariant; plain function properties are not).
 */
export type IndexFn<T> = { extract(obj: T): string | readonly string[] | undefined }['extract'];

/** A set of tables keyed by kind: `{ service: serviceTable, task: taskTable, … }`. */
export type TableSet = { readonly [kind: string]: TableDef<StoredObject> };

/** The object type a table of the set holds. */
export type ObjectOf<S extends TableSet, K extends keyof S> = S[K] extends TableDef<infer T> ? T : never;

/** Keeps the object type of a table definition (helps inference). */
export function defineTable<T extends StoredObject>(def: TableDef<T>): TableDef<T> {
  return def;
}

/** The root of every key the store writes; the watch cache watches this prefix. */
export const DEFAULT_ROOT = '/swarm/';
/** The name index lives under `<root>names/<kind>/<name>`, so no table may be called 'names'. */
const NAMES = 'names';

export interface KeyLayout {
  root: string;
  objectKey(kind: string, id: string): string;
  kindPrefix(kind: string): string;
  nameKey(kind: string, name: string): string;
  /** Parses an object key back to kind and id; undefined for name-index and other keys. */
  parseObjectKey(key: string): { kind: string; id: string } | undefined;
}

export function keyLayout(root = DEFAULT_ROOT): KeyLayout {
  const r = root.endsWith('/') ? root : `${root}/`;
  return {
    root: r,
    objectKey: (kind, id) => `${r}${kind}/${id}`,
    kindPrefix: (kind) => `${r}${kind}/`,
    nameKey: (kind, name) => `${r}${NAMES}/${kind}/${name}`,
    parseObjectKey(key) {
      if (!key.startsWith(r)) return undefined;
      const rest = key.slice(r.length);
      const slash = rest.indexOf('/');
      if (slash <= 0) return undefined;
      const kind = rest.slice(0, slash);
      const id = rest.slice(slash + 1);
      if (kind === NAMES || id === '' || id.includes('/')) return undefined;
      return { kind, id };
    },
  };
}

export function checkTableSet(tables: TableSet): void {
  for (const [k, t] of Object.entries(tables)) {
    if (t.kind !== k) throw new Error(`table set key ${k} does not match table kind ${t.kind}`);
    if (t.kind === NAMES || t.kind.includes('/') || t.kind === '')
      throw new Error(`invalid table kind ${t.kind}`);
  }
}

/** The stored form: the object without Version (Version.Index is the key's mod_revision). */
export function encodeObject(obj: StoredObject): string {
  const { Version: _version, ...rest } = obj;
  return JSON.stringify(rest);
}

export type DecodeResult<T> = { ok: true; object: T } | { ok: false; reason: string };

/** Parses a stored value and sets Version.Index; never throws (corrupt data is a result, not a crash). */
export function decodeObject<T extends StoredObject>(
  table: TableDef<T>,
  value: Buffer | string,
  modRevision: number,
): DecodeResult<T> {
  let raw: unknown;
  try {
    raw = JSON.parse(typeof value === 'string' ? value : value.toString('utf8'));
  } catch (err) {
    return { ok: false, reason: `invalid JSON: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, reason: 'not a JSON object' };
  }
  const parsed = table.schema.safeParse({ ...raw, Version: { Index: modRevision } });
  if (!parsed.success) return { ok: false, reason: parsed.error.message.slice(0, 500) };
  return { ok: true, object: parsed.data };
}

/** The smallest key greater than every key with this prefix (etcd's range_end for a prefix). */
export function prefixEnd(prefix: string): Buffer {
  const b = Buffer.from(prefix);
  for (let i = b.length - 1; i >= 0; i--) {
    const byte = b[i] ?? 0;
    if (byte < 0xff) {
      const end = Buffer.from(b.subarray(0, i + 1));
      end[i] = byte + 1;
      return end;
    }
  }
  return Buffer.from([0]);
}
