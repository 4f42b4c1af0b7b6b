// Each manager's in-memory copy of the cluster store: list everything at revision R, watch the store
// root from R+1, keep per-table maps with the name index and secondary indexes, and emit one typed
// event per change. On compaction (or any cancelled watch) it lists again and emits the differences,
// so consumers never miss a change. Reads are synchronous map lookups.
import type { IWatchResponse } from 'etcd3';
import { internal, type SwarmError, unavailable } from '../api/errors.js';
import { createLogger } from '../lib/log.js';
import type { ClusterStore } from './store.js';
import { type ObjectOf, prefixEnd, type StoredObject, type TableDef, type TableSet } from './table.js';

const log = createLogger({ component: 'store-cache' });

export type StoreAction = 'create' | 'update' | 'delete';

/** One change of one object. For deletes, `object` is the last version the cache held. */
export type StoreEvent<S extends TableSet> = {
  [K in keyof S & string]: {
    kind: K;
    action: StoreAction;
    object: ObjectOf<S, K>;
    /** The version before an update. */
    previous?: ObjectOf<S, K>;
    /** The etcd revision of the change (for events from a re-list: the list's revision). */
    revision: number;
  };
}[keyof S & string];

class TableCache {
  readonly objects = new Map<string, StoredObject>();
  readonly names = new Map<string, string>();
  readonly indexes = new Map<string, Map<string, Set<string>>>();

  constructor(readonly table: TableDef) {
    for (const name of Object.keys(table.indexes ?? {})) this.indexes.set(name, new Map());
  }

  private indexValues(
    obj: StoredObject,
    fn: (o: StoredObject) => string | readonly string[] | undefined,
  ): string[] {
    const v = fn(obj);
    if (v === undefined) return [];
    return typeof v === 'string' ? [v] : [...v];
  }

  private unindex(obj: StoredObject): void {
    const name = this.table.nameOf?.(obj);
    if (name !== undefined && this.names.get(name) === obj.ID) this.names.delete(name);
    for (const [idx, fn] of Object.entries(this.table.indexes ?? {})) {
      const m = this.indexes.get(idx);
      for (const v of this.indexValues(obj, fn)) {
        const set = m?.get(v);
        set?.delete(obj.ID);
        if (set?.size === 0) m?.delete(v);
      }
    }
  }

  private index(obj: StoredObject): void {
    const name = this.table.nameOf?.(obj);
    if (name !== undefined) this.names.set(name, obj.ID);
    for (const [idx, fn] of Object.entries(this.table.indexes ?? {})) {
      const m = this.indexes.get(idx);
      if (!m) continue;
      for (const v of this.indexValues(obj, fn)) {
        let set = m.get(v);
        if (!set) {
          set = new Set();
          m.set(v, set);
        }
        set.add(obj.ID);
      }
    }
  }

  /** Stores `obj` (or removes `id`); returns what was there before. */
  put(obj: StoredObject): StoredObject | undefined {
    const prev = this.objects.get(obj.ID);
    if (prev) this.unindex(prev);
    this.objects.set(obj.ID, obj);
    this.index(obj);
    return prev;
  }

  remove(id: string): StoredObject | undefined {
    const prev = this.objects.get(id);
    if (!prev) return undefined;
    this.unindex(prev);
    this.objects.delete(id);
    return prev;
  }
}

/** Freezes the cached objects: a handler that mutated one would corrupt every other reader's view. */
function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

interface Waiter {
  revision: number;
  resolve: () => void;
  reject: (e: SwarmError) => void;
  timer: NodeJS.Timeout;
}

export interface CacheOptions {
  /** Reconnect backoff of the watch stream, first and max (ms). */
  backoffMs?: [number, number];
}

export class StoreCache<S extends TableSet> {
  private readonly tables = new Map<string, TableCache>();
  private rev = 0;
  private listeners = new Set<(ev: StoreEvent<S>) => void>();
  private waiters: Waiter[] = [];
  private stopped = false;
  private stream: { cancel(): void; end(): void } | undefined;
  private loop: Promise<void> | undefined;
  private needList = true;
  private relists = 0;
  private readonly backoff: [number, number];

  constructor(
    readonly store: ClusterStore<S>,
    opts: CacheOptions = {},
  ) {
    for (const [kind, t] of Object.entries(store.tables)) this.tables.set(kind, new TableCache(t));
    this.backoff = opts.backoffMs ?? [50, 1000];
  }

  /**
   * Lists everything, then keeps watching in the background; resolves once the first list is in.
   * After stop(), start() resumes watching from the cache's revision (re-listing if etcd compacted
   * that history meanwhile) and emits what changed in between.
   */
  async start(): Promise<void> {
    if (this.loop) throw new Error('store cache already started');
    this.stopped = false;
    if (this.needList) await this.relist();
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stream?.cancel();
    await this.loop;
    this.loop = undefined;
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(unavailable('store cache stopped'));
    }
    this.waiters = [];
  }

  /** The revision the cache reflects: every change up to it has been applied and emitted. */
  get revision(): number {
    return this.rev;
  }

  /** How many times the cache listed the store (1 after start; more after compactions). */
  get listCount(): number {
    return this.relists;
  }

  // -------------------------------------------------------------------------------------------
  // Reads (synchronous; objects are frozen: clone before changing one)
  // -------------------------------------------------------------------------------------------

  private t(kind: string): TableCache {
    const t = this.tables.get(kind);
    if (!t) throw new Error(`unknown object kind ${kind}`);
    return t;
  }

  // The per-kind maps hold objects decoded with that kind's schema (see ClusterStore.decode).
  get<K extends keyof S & string>(kind: K, id: string): ObjectOf<S, K> | undefined {
    return this.t(kind).objects.get(id) as ObjectOf<S, K> | undefined;
  }

  list<K extends keyof S & string>(kind: K): ObjectOf<S, K>[] {
    return [...this.t(kind).objects.values()] as ObjectOf<S, K>[];
  }

  /** The one object of a singleton table (e.g. 'cluster'); undefined before it is created. */
  single<K extends keyof S & string>(kind: K): ObjectOf<S, K> | undefined {
    const objects = this.t(kind).objects;
    if (objects.size > 1) throw internal(`${kind} table holds ${objects.size} objects; expected one`);
    return objects.values().next().value as ObjectOf<S, K> | undefined;
  }

  count(kind: keyof S & string): number {
    return this.t(kind).objects.size;
  }

  byName<K extends keyof S & string>(kind: K, name: string): ObjectOf<S, K> | undefined {
    const t = this.t(kind);
    const id = t.names.get(name);
    return id === undefined ? undefined : (t.objects.get(id) as ObjectOf<S, K> | undefined);
  }

  byIndex<K extends keyof S & string>(kind: K, index: string, value: string): ObjectOf<S, K>[] {
    const t = this.t(kind);
    const m = t.indexes.get(index);
    if (!m) throw new Error(`table ${kind} has no index ${index}`);
    const out: ObjectOf<S, K>[] = [];
    for (const id of m.get(value) ?? []) {
      const o = t.objects.get(id);
      if (o) out.push(o as ObjectOf<S, K>);
    }
    return out;
  }

  // -------------------------------------------------------------------------------------------
  // Events
  // -------------------------------------------------------------------------------------------

  /**
   * Calls `fn` for every change, in revision order, synchronously as the cache applies it (the cache
   * already holds the change). Reading the cache and subscribing in the same tick misses nothing.
   */
  subscribe(fn: (ev: StoreEvent<S>) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** The same events as an async iterator (unbounded queue; `return()` unsubscribes). */
  events(): AsyncIterableIterator<StoreEvent<S>> {
    const queue: StoreEvent<S>[] = [];
    let wake: (() => void) | undefined;
    let done = false;
    const off = this.subscribe((ev) => {
      queue.push(ev);
      wake?.();
    });
    const iter: AsyncIterableIterator<StoreEvent<S>> = {
      next: async () => {
        while (queue.length === 0 && !done) await new Promise<void>((r) => (wake = r));
        wake = undefined;
        const value = queue.shift();
        if (value === undefined) return { done: true, value: undefined };
        return { done: false, value };
      },
      return: async () => {
        done = true;
        off();
        wake?.();
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]: () => iter,
    };
    return iter;
  }

  /** Resolves once the cache reflects `revision` (e.g. the revision of the caller's own write). */
  waitForRevision(revision: number, timeoutMs = 5000): Promise<void> {
    if (this.rev >= revision) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        revision,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((x) => x !== w);
          reject(
            unavailable(`cluster store cache did not reach revision ${revision} within ${timeoutMs} ms`),
          );
        }, timeoutMs),
      };
      this.waiters.push(w);
    });
  }

  private advance(revision: number): void {
    if (revision <= this.rev) return;
    this.rev = revision;
    const ready = this.waiters.filter((w) => w.revision <= revision);
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((w) => w.revision > revision);
    for (const w of ready) {
      clearTimeout(w.timer);
      w.resolve();
    }
  }

  private emit(ev: StoreEvent<S>): void {
    for (const fn of this.listeners) {
      try {
        fn(ev);
      } catch (err) {
        log.error('store event subscriber threw', { err, kind: ev.kind });
      }
    }
  }

  private emitChange(
    kind: string,
    action: StoreAction,
    object: StoredObject,
    revision: number,
    previous?: StoredObject,
  ): void {
    // Built from the kind's own table: the object types match the event's kind.
    this.emit({ kind, action, object, previous, revision } as StoreEvent<S>);
  }

  /** Applies one key's new value (undefined = deleted) at `revision`, emitting the change. */
  private applyKey(key: string, value: Buffer | undefined, revision: number): void {
    const parsed = this.store.keys.parseObjectKey(key);
    if (!parsed) return; // name index, leader key …
    const t = this.tables.get(parsed.kind);
    if (!t) return;
    if (value === undefined) {
      const prev = t.remove(parsed.id);
      if (prev) this.emitChange(parsed.kind, 'delete', prev, revision);
      return;
    }
    const d = this.store.decode(parsed.kind, value, revision);
    if (!d.ok || d.object.ID !== parsed.id) {
      // A corrupt value is skipped: it is as if the object were absent.
      log.warn('corrupt object in store skipped', { key, reason: d.ok ? 'ID does not match key' : d.reason });
      const prev = t.remove(parsed.id);
      if (prev) this.emitChange(parsed.kind, 'delete', prev, revision);
      return;
    }
    const obj = deepFreeze(d.object);
    const prev = t.put(obj);
    this.emitChange(parsed.kind, prev ? 'update' : 'create', obj, revision, prev);
  }

  /** Lists the whole store and turns the differences with the cache into events. */
  private async relist(): Promise<void> {
    const { revision, kvs } = await this.store.listRaw();
    this.relists++;
    const seen = new Map<string, Set<string>>();
    for (const kind of this.tables.keys()) seen.set(kind, new Set());
    for (const kv of kvs) {
      const parsed = this.store.keys.parseObjectKey(kv.key);
      if (!parsed || !this.tables.has(parsed.kind)) continue;
      seen.get(parsed.kind)?.add(parsed.id);
      const cur = this.tables.get(parsed.kind)?.objects.get(parsed.id);
      if (cur && cur.Version.Index === kv.mod) continue; // unchanged
      this.applyKey(kv.key, kv.value, kv.mod);
    }
    for (const [kind, t] of this.tables) {
      const ids = seen.get(kind) ?? new Set();
      for (const id of [...t.objects.keys()]) {
        if (!ids.has(id)) this.applyKey(this.store.keys.objectKey(kind, id), undefined, revision);
      }
    }
    this.needList = false;
    this.advance(revision);
  }

  private async run(): Promise<void> {
    let delay = this.backoff[0];
    while (!this.stopped) {
      try {
        if (this.needList) {
          log.info('store cache re-listing', { fromRevision: this.rev });
          await this.relist();
        }
        const progressed = await this.watchOnce();
        if (progressed) delay = this.backoff[0];
      } catch (err) {
        if (this.stopped) break;
        log.warn('store cache watch failed', { err });
      }
      if (this.stopped) break;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, this.backoff[1]);
    }
  }

  /** One watch stream from rev+1 until it ends. Returns whether any response arrived. */
  private async watchOnce(): Promise<boolean> {
    const stream = await this.store.client.watchClient.watch();
    if (this.stopped) {
      stream.cancel();
      return false;
    }
    this.stream = stream;
    const root = this.store.keys.root;
    let progressed = false;
    await new Promise<void>((resolve) => {
      const finish = () => {
        stream.cancel();
        resolve();
      };
      stream.on('data', (res: IWatchResponse) => {
        progressed = true;
        if (res.canceled) {
          // Compacted past our revision (compact_revision set) or refused: list again.
          log.warn('store watch cancelled; will re-list', {
            compactRevision: res.compact_revision,
            reason: res.cancel_reason,
          });
          this.needList = true;
          finish();
          return;
        }
        // etcd never splits one revision (one txn) across responses: skip what a resumed stream
        // repeats, apply the rest, then mark the response's last revision complete.
        let last = 0;
        for (const ev of res.events ?? []) {
          const rev = Number(ev.kv.mod_revision);
          if (rev <= this.rev) continue;
          this.applyKey(ev.kv.key.toString('utf8'), ev.type === 'Delete' ? undefined : ev.kv.value, rev);
          last = rev;
        }
        if (last) this.advance(last);
      });
      stream.on('error', (err: Error) => {
        if (!this.stopped) log.warn('store watch stream error', { err });
        resolve();
      });
      stream.on('end', () => resolve());
      stream.write({
        create_request: { key: Buffer.from(root), range_end: prefixEnd(root), start_revision: this.rev + 1 },
      });
    });
    this.stream = undefined;
    return progressed;
  }
}
