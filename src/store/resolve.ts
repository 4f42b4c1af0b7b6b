// Docker's lookup of an object by what a user typed: full ID, then exact name, then unique ID prefix.
// "<kind> X not found" (404) or "<kind> X is ambiguous (N matches found)" (400), as moby words them.
import { invalidArgument, notFound } from '../api/errors.js';
import type { StoreCache } from './cache.js';
import type { ObjectOf, StoredObject, TableSet } from './table.js';

/** What the lookup needs to see of a table. */
export interface LookupView<T extends StoredObject> {
  get(id: string): T | undefined;
  /** Objects with exactly this name (several only for tables without unique names, e.g. node hostnames). */
  named(name: string): T[];
  all(): Iterable<T>;
}

/** The lookup itself (pure over the view). */
export function lookup<T extends StoredObject>(kind: string, ref: string, view: LookupView<T>): T {
  if (ref === '') throw notFound(`${kind} ${ref} not found`);
  const byId = view.get(ref);
  if (byId) return byId;
  const named = view.named(ref);
  if (named.length === 1 && named[0]) return named[0];
  if (named.length > 1) throw invalidArgument(`${kind} ${ref} is ambiguous (${named.length} matches found)`);
  const prefixed: T[] = [];
  for (const o of view.all()) if (o.ID.startsWith(ref)) prefixed.push(o);
  if (prefixed.length === 1 && prefixed[0]) return prefixed[0];
  if (prefixed.length > 1)
    throw invalidArgument(`${kind} ${ref} is ambiguous (${prefixed.length} matches found)`);
  throw notFound(`${kind} ${ref} not found`);
}

/**
 * Resolves `ref` in the cache. Tables with unique names use the name index; for others pass
 * `nameOf` (e.g. a node's Description.Hostname) to match names by scanning.
 */
export function resolve<S extends TableSet, K extends keyof S & string>(
  cache: StoreCache<S>,
  kind: K,
  ref: string,
  nameOf?: (obj: ObjectOf<S, K>) => string | undefined,
): ObjectOf<S, K> {
  return lookup(kind, ref, {
    get: (id) => cache.get(kind, id),
    named: (name) => {
      if (nameOf) return cache.list(kind).filter((o) => nameOf(o) === name);
      const o = cache.byName(kind, name);
      return o ? [o] : [];
    },
    all: () => cache.list(kind),
  });
}
