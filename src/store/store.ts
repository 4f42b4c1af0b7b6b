// The cluster store: typed tables on etcd. Every write is one or more etcd transactions that keep the
// object and its name index consistent, compare Version.Index (= mod_revision) for updates, can carry
// a leader fence, and treat a timed-out write as "unknown" (read back, then retry only when safe).
// Every write and linearizable read has a deadline: without a quorum the caller gets Docker's
// "The swarm does not have a leader" at once instead of waiting out etcd's own timeouts.
import type { Etcd3, IKeyValue, IRequestOp, ITxnRequest, ITxnResponse } from 'etcd3';
import {
  ClientClosedError,
  EtcdPermissionDeniedError,
  GRPCFailedPreconditionError,
  GRPCInvalidArgumentError,
  GRPCNotImplementedError,
  GRPCOutOfRangeError,
  GRPCResourceExhastedError,
  GRPCUnauthenticatedError,
} from 'etcd3';
import { internal, invalidArgument, noLeader, notFound, SwarmError, unavailable } from '../api/errors.js';
import { createLogger } from '../lib/log.js';
import {
  type Compare,
  initialState,
  type Judgement,
  judgeAmbiguous,
  judgeFailed,
  type OpState,
  packTransactions,
  planWrite,
  type ReadKV,
  type WriteOp,
  withVersion,
} from './plan.js';
import {
  checkTableSet,
  DEFAULT_ROOT,
  type DecodeResult,
  decodeObject,
  type KeyLayout,
  keyLayout,
  type NewObject,
  type ObjectOf,
  prefixEnd,
  type StoredObject,
  type TableDef,
  type TableSet,
} from './table.js';

const log = createLogger({ component: 'store' });

/** A leader fence: the write applies only while `key` is still the one created at `createRevision`. */
export interface Fence {
  key: string;
  createRevision: number;
}

export interface WriteOptions {
  fence?: Fence;
}

/** The error of a fenced write made by a deposed leader. `code` FAILED_PRECONDITION, message "not the leader". */
export class NotLeaderError extends SwarmError {
  constructor() {
    super('FAILED_PRECONDITION', 'not the leader');
    this.name = 'NotLeaderError';
  }
}

export function isNotLeader(err: unknown): err is NotLeaderError {
  return err instanceof NotLeaderError;
}

const notLeader = () => new NotLeaderError();

/** A transaction group's results; `halt` gives the error of every group after it (none is tried). */
interface GroupOutcome {
  results: BatchResult[];
  halt?: () => SwarmError;
}

/**
 * One write of a batch. Ops sharing an `atomic` key go in one transaction and stand or fall
 * together: when one fails, the others are not written either (they fail with ABORTED).
 */
export type BatchOp<S extends TableSet> = {
  [K in keyof S & string]:
    | { op: 'create'; kind: K; object: NewObject<ObjectOf<S, K>>; atomic?: string }
    | { op: 'update'; kind: K; object: ObjectOf<S, K>; atomic?: string }
    | { op: 'delete'; kind: K; id: string; version?: number; atomic?: string };
}[keyof S & string];

/** What batch() accepts internally: the schema check in prepare() is what types the object. */
type InputOp =
  | { op: 'create' | 'update'; kind: string; object: object; atomic?: string }
  | { op: 'delete'; kind: string; id: string; version?: number; atomic?: string };

interface PendingOp {
  state: OpState;
  /** Position in the caller's batch. */
  pos: number;
  atomic: string | undefined;
}

export type BatchResult =
  /** `object` is set for create and update (with its new Version); `revision` is the write's revision. */
  { ok: true; revision: number; object?: StoredObject } | { ok: false; error: SwarmError };

/** A key-value pair of a list, for the watch cache. */
export interface RawKV {
  key: string;
  value: Buffer;
  mod: number;
}

export interface StoreOptions {
  root?: string;
  now?: () => Date;
  /** Attempts per transaction group before an unknown outcome is reported as UNAVAILABLE. */
  maxAttempts?: number;
  /** Page size of full listings. */
  pageSize?: number;
  /** How long one transaction group or one linearizable read may wait for etcd. Default QUORUM_DEADLINE_MS. */
  deadlineMs?: number;
  /** The end of a write's deadline kept for reading back an attempt whose outcome is unknown. Default 500 ms. */
  readBackMs?: number;
  /** Deadline of each etcd call of a write (default: what is left of the write's deadline). */
  callTimeoutMs?: number;
}

const MAX_ATTEMPTS = 6;

/**
 * How long a store write (one transaction group, read-back included) or a linearizable read waits
 * for etcd before the caller gets NO_LEADER. Without a quorum etcd waits its own request timeout
 * (~7 s) or forever; SwarmKit answers at once. A round trip takes milliseconds: this fires only
 * without a quorum, or for a write caught in an etcd leader election (1-2 s measured).
 */
export const QUORUM_DEADLINE_MS = 1500;
/** The end of a write's deadline in which no attempt starts: time to read back one that timed out. */
const READ_BACK_MS = 500;

/** Errors after which etcd certainly did not apply the request. Anything else may have committed. */
function partnerFailed(): SwarmError {
  return new SwarmError('CONFLICT', 'not written: another write of its atomic group failed');
}

/**
 * Fails (without writing) every pending op whose atomic group has a failed op among `all`; returns
 * the pending ops left.
 */
function dropPartnersOfFailed(
  all: readonly PendingOp[],
  pending: PendingOp[],
  results: (BatchResult | undefined)[],
): PendingOp[] {
  const failedKeys = new Set<string>();
  for (const p of all) if (p.atomic !== undefined && results[p.pos]?.ok === false) failedKeys.add(p.atomic);
  return pending.filter((p) => {
    if (p.atomic === undefined || !failedKeys.has(p.atomic)) return true;
    results[p.pos] = { ok: false, error: partnerFailed() };
    return false;
  });
}

function isDefinitiveRejection(err: unknown): boolean {
  return (
    err instanceof GRPCInvalidArgumentError ||
    err instanceof GRPCResourceExhastedError ||
    err instanceof GRPCFailedPreconditionError ||
    err instanceof GRPCOutOfRangeError ||
    err instanceof GRPCUnauthenticatedError ||
    err instanceof GRPCNotImplementedError ||
    err instanceof EtcdPermissionDeniedError ||
    err instanceof ClientClosedError
  );
}

function rejectionError(err: unknown): SwarmError {
  const msg = err instanceof Error ? err.message : String(err);
  if (msg.includes('request is too large') || msg.includes('larger than max'))
    return new SwarmError('PAYLOAD_TOO_LARGE', 'object too large for the cluster store', { cause: err });
  if (msg.includes('database space exceeded'))
    return unavailable('the cluster store is full (etcd NOSPACE alarm)', err);
  if (err instanceof ClientClosedError) return unavailable('cluster store client closed', err);
  return internal(`cluster store: ${msg}`, err);
}

function toCompare(c: Compare): NonNullable<ITxnRequest['compare']>[number] {
  const key = Buffer.from(c.key);
  switch (c.target) {
    case 'Create':
      return { key, target: 'Create', result: c.result, create_revision: c.value };
    case 'Mod':
      return { key, target: 'Mod', result: c.result, mod_revision: c.value };
    case 'Value':
      return { key, target: 'Value', result: c.result, value: Buffer.from(String(c.value)) };
  }
}

function rangeOp(key: string): IRequestOp {
  return { request_range: { key: Buffer.from(key) } };
}

function toReadKV(kv: IKeyValue | undefined): ReadKV | undefined {
  if (!kv) return undefined;
  return {
    value: kv.value.toString('utf8'),
    mod: Number(kv.mod_revision),
    create: Number(kv.create_revision),
  };
}

export class ClusterStore<S extends TableSet> {
  readonly keys: KeyLayout;
  private readonly now: () => Date;
  private readonly maxAttempts: number;
  private readonly pageSize: number;
  private readonly deadlineMs: number;
  private readonly readBackMs: number;
  private readonly callTimeoutMs: number | undefined;
  private readonly writeObservers = new Set<(seconds: number) => void>();

  constructor(
    readonly client: Etcd3,
    readonly tables: S,
    opts: StoreOptions = {},
  ) {
    checkTableSet(tables);
    this.keys = keyLayout(opts.root ?? DEFAULT_ROOT);
    this.now = opts.now ?? (() => new Date());
    this.maxAttempts = opts.maxAttempts ?? MAX_ATTEMPTS;
    this.pageSize = opts.pageSize ?? 500;
    this.deadlineMs = opts.deadlineMs ?? QUORUM_DEADLINE_MS;
    this.readBackMs = opts.readBackMs ?? READ_BACK_MS;
    this.callTimeoutMs = opts.callTimeoutMs;
    if (this.readBackMs >= this.deadlineMs) throw new Error('readBackMs must be shorter than deadlineMs');
  }

  /** Options of one etcd call made before `until` (a time in ms). */
  private callOptions(until: number): { deadline: number } {
    const deadline =
      this.callTimeoutMs === undefined ? until : Math.min(until, Date.now() + this.callTimeoutMs);
    return { deadline };
  }

  tableOf(kind: string): TableDef {
    const t = this.tables[kind];
    if (!t) throw invalidArgument(`unknown object kind ${kind}`);
    return t;
  }

  /** Decodes a value of table `kind`: the table's schema produced it, so it is that kind's type. */
  decode<K extends keyof S & string>(
    kind: K,
    value: Buffer | string,
    mod: number,
  ): DecodeResult<ObjectOf<S, K>> {
    const d = decodeObject(this.tableOf(kind), value, mod);
    return d.ok ? { ok: true, object: d.object as ObjectOf<S, K> } : d;
  }

  // ---------------------------------------------------------------------------------------------
  // Single-object writes (a batch of one that throws instead of returning the error)
  // ---------------------------------------------------------------------------------------------

  /** Creates an object; sets CreatedAt/UpdatedAt; returns it with its Version. */
  async create<K extends keyof S & string>(
    kind: K,
    object: NewObject<ObjectOf<S, K>>,
    opts: WriteOptions = {},
  ): Promise<ObjectOf<S, K>> {
    const [r] = await this.write([{ op: 'create', kind, object }], opts);
    return this.unwrap<K>(r);
  }

  /** Compare-and-swap on object.Version.Index; stale → OUT_OF_SEQUENCE; sets UpdatedAt. */
  async update<K extends keyof S & string>(
    kind: K,
    object: ObjectOf<S, K>,
    opts: WriteOptions = {},
  ): Promise<ObjectOf<S, K>> {
    const [r] = await this.write([{ op: 'update', kind, object }], opts);
    return this.unwrap<K>(r);
  }

  /** Deletes an object and its name index key; with `version`, only if unchanged since. */
  async delete<K extends keyof S & string>(
    kind: K,
    id: string,
    opts: WriteOptions & { version?: number } = {},
  ): Promise<number> {
    const [r] = await this.write([{ op: 'delete', kind, id, version: opts.version }], opts);
    if (!r) throw internal('empty batch result');
    if (!r.ok) throw r.error;
    return r.revision;
  }

  private unwrap<K extends keyof S & string>(r: BatchResult | undefined): ObjectOf<S, K> {
    if (!r) throw internal('empty batch result');
    if (!r.ok) throw r.error;
    if (!r.object) throw internal('write returned no object');
    // batch() returns the validated object of this kind's table.
    return r.object as ObjectOf<S, K>;
  }

  /** Stamps and validates a create/update; a schema failure is the caller's INVALID_ARGUMENT. */
  private prepare(op: InputOp): WriteOp {
    const table = this.tableOf(op.kind);
    if (op.op === 'delete') return { op: 'delete', kind: op.kind, id: op.id, version: op.version };
    const now = this.now().toISOString();
    const stamped =
      op.op === 'create'
        ? { ...op.object, Version: { Index: 0 }, CreatedAt: now, UpdatedAt: now }
        : { ...op.object, UpdatedAt: now };
    const parsed = table.schema.safeParse(stamped);
    if (!parsed.success) throw invalidArgument(`invalid ${op.kind}: ${parsed.error.message.slice(0, 500)}`);
    if (!parsed.data.ID) throw invalidArgument(`invalid ${op.kind}: empty ID`);
    return { op: op.op, kind: op.kind, object: parsed.data };
  }

  /**
   * Writes many objects: split into etcd transactions (≤128 ops, ≤1.4 MiB, no key twice), run in
   * order. Atomic within a transaction only. One result per op, in order; a failing op does not fail
   * the others (they are retried without it). With a fence that no longer holds, every op not yet
   * written fails with NotLeaderError.
   */
  batch(ops: BatchOp<S>[], opts: WriteOptions = {}): Promise<BatchResult[]> {
    return this.write(ops, opts);
  }

  /** Calls `fn` with the duration of every write (a batch, until etcd answered), in seconds. */
  observeWrites(fn: (seconds: number) => void): () => void {
    this.writeObservers.add(fn);
    return () => this.writeObservers.delete(fn);
  }

  private async write(ops: InputOp[], opts: WriteOptions): Promise<BatchResult[]> {
    if (this.writeObservers.size === 0) return this.writeOnce(ops, opts);
    const started = performance.now();
    try {
      return await this.writeOnce(ops, opts);
    } finally {
      const seconds = (performance.now() - started) / 1000;
      for (const fn of this.writeObservers) fn(seconds);
    }
  }

  private async writeOnce(ops: InputOp[], opts: WriteOptions): Promise<BatchResult[]> {
    const results: (BatchResult | undefined)[] = new Array(ops.length);
    const states: OpState[] = [];
    const index: number[] = [];
    const atomic: (string | undefined)[] = [];
    ops.forEach((op, i) => {
      try {
        const w = this.prepare(op);
        states.push(initialState(w, this.tableOf(w.kind)));
        index.push(i);
        atomic.push(op.atomic);
      } catch (err) {
        results[i] = { ok: false, error: err instanceof SwarmError ? err : internal(String(err)) };
      }
    });
    // An op refused before any transaction takes its atomic partners with it.
    const refused = new Set(ops.flatMap((op, i) => (results[i] && op.atomic ? [op.atomic] : [])));
    for (let j = states.length - 1; j >= 0; j--) {
      const key = atomic[j];
      if (key === undefined || !refused.has(key)) continue;
      results[index[j] ?? 0] = { ok: false, error: partnerFailed() };
      states.splice(j, 1);
      index.splice(j, 1);
      atomic.splice(j, 1);
    }
    const reserved = opts.fence ? 1 : 0;
    const groups = packTransactions(
      states.map((s) => planWrite(s, this.keys)),
      reserved,
      atomic,
    );
    // After a lost fence or a group that found no quorum, the remaining groups are not tried.
    let halt: (() => SwarmError) | undefined;
    for (const g of groups) {
      if (halt) {
        for (const j of g) results[index[j] ?? 0] = { ok: false, error: halt() };
        continue;
      }
      const out = await this.runGroup(
        g.map((j) => ({ state: states[j] as OpState, atomic: atomic[j] })),
        opts.fence,
      );
      out.results.forEach((r, k) => {
        results[index[g[k] ?? 0] ?? 0] = r;
      });
      halt = out.halt;
    }
    return results.map((r) => r ?? { ok: false, error: internal('operation not run') });
  }

  /**
   * Runs one transaction group to completion: retries without failed ops, resolves unknown outcomes.
   * Attempts start only in the first part of the deadline, the rest is kept to read back an attempt
   * that timed out; an outcome still unknown at the deadline is NO_LEADER (not claimed written).
   */
  private async runGroup(
    initial: { state: OpState; atomic: string | undefined }[],
    fence: Fence | undefined,
  ): Promise<GroupOutcome> {
    const results: (BatchResult | undefined)[] = new Array(initial.length);
    const all: PendingOp[] = initial.map((o, pos) => ({ ...o, pos }));
    const deadline = Date.now() + this.deadlineMs;
    const attemptsUntil = deadline - this.readBackMs;
    let pending = all;
    let lastError: unknown;
    let noQuorum = false;
    for (let attempt = 0; attempt < this.maxAttempts && pending.length > 0; attempt++) {
      if (Date.now() >= attemptsUntil) {
        noQuorum = true;
        break;
      }
      const plans = pending.map((p) => planWrite(p.state, this.keys));
      const compare = plans.flatMap((p) => p.compares.map(toCompare));
      const success: IRequestOp[] = [];
      for (const p of plans) {
        for (const put of p.puts)
          success.push({ request_put: { key: Buffer.from(put.key), value: Buffer.from(put.value) } });
        for (const d of p.deletes) success.push({ request_delete_range: { key: Buffer.from(d) } });
      }
      const readKeys = [...new Set(plans.flatMap((p) => p.reads))];
      if (fence) {
        compare.push({
          key: Buffer.from(fence.key),
          target: 'Create',
          result: 'Equal',
          create_revision: fence.createRevision,
        });
        readKeys.push(fence.key);
      }
      const failure = readKeys.map(rangeOp);
      let res: ITxnResponse;
      try {
        res = await this.client.kv.txn({ compare, success, failure }, this.callOptions(attemptsUntil));
      } catch (err) {
        if (isDefinitiveRejection(err)) {
          const e = rejectionError(err);
          for (const p of pending) results[p.pos] = { ok: false, error: e };
          return { results: results.map((r) => r ?? { ok: false, error: e }) };
        }
        lastError = err;
        log.warn('write outcome unknown; reading back', { err, ops: pending.length });
        // Never resend before knowing what happened: a resent CAS would conflict with its own write.
        const back = await this.readBack(readKeys, deadline);
        if (!back) {
          noQuorum = true;
          break;
        }
        const judge = (st: OpState) => judgeAmbiguous(st, this.keys, back.read, back.revision);
        if (fence && back.read(fence.key)?.create !== fence.createRevision) {
          // Whatever the first attempt did, a deposed leader must not keep writing.
          pending = this.judgeAll(pending, results, judge, true);
          for (const p of pending) results[p.pos] = { ok: false, error: new NotLeaderError() };
          return { results: this.fill(results), halt: notLeader };
        }
        pending = dropPartnersOfFailed(all, this.judgeAll(pending, results, judge).pending, results);
        continue;
      }
      if (res.succeeded) {
        const rev = Number(res.header.revision);
        for (const p of pending) results[p.pos] = this.applied(p.state, rev);
        return { results: this.fill(results) };
      }
      const reads = new Map<string, ReadKV | undefined>();
      readKeys.forEach((k, i) => {
        reads.set(k, toReadKV(res.responses[i]?.response_range?.kvs?.[0]));
      });
      const revision = Number(res.header.revision);
      const judge = (st: OpState) => judgeFailed(st, this.keys, (k) => reads.get(k), revision);
      if (fence && reads.get(fence.key)?.create !== fence.createRevision) {
        pending = this.judgeAll(pending, results, judge, true);
        for (const p of pending) results[p.pos] = { ok: false, error: new NotLeaderError() };
        return { results: this.fill(results), halt: notLeader };
      }
      const judged = this.judgeAll(pending, results, judge);
      if (!judged.progressed) {
        // Every op judged fine yet the txn failed: the index is inconsistent in a way we cannot fix here.
        const e = internal('cluster store transaction failed without a failing compare');
        for (const p of judged.pending) results[p.pos] = { ok: false, error: e };
        return { results: this.fill(results) };
      }
      pending = dropPartnersOfFailed(all, judged.pending, results);
    }
    if (noQuorum) log.warn('no etcd quorum within the write deadline', { ops: pending.length });
    const e = noQuorum
      ? noLeader(lastError)
      : unavailable('cluster store write outcome unknown: etcd did not answer');
    for (const p of pending) results[p.pos] = { ok: false, error: e };
    return { results: this.fill(results), halt: noQuorum ? () => noLeader() : undefined };
  }

  private fill(results: (BatchResult | undefined)[]): BatchResult[] {
    return results.map((r) => r ?? { ok: false, error: internal('operation not run') });
  }

  private applied(s: OpState, revision: number): BatchResult {
    if (s.op.op === 'delete') return { ok: true, revision };
    return { ok: true, revision, object: withVersion(s.object ?? s.op.object, revision) };
  }

  /**
   * Applies judgements to pending ops and returns those to try again. `final`: nothing will be retried
   * (ops not applied or failed are returned for the caller to fail). `progressed`: some op was settled
   * or changed state, so another attempt differs from the last.
   */
  private judgeAll(
    pending: PendingOp[],
    results: (BatchResult | undefined)[],
    judge: (s: OpState) => Judgement,
    final: true,
  ): PendingOp[];
  private judgeAll(
    pending: PendingOp[],
    results: (BatchResult | undefined)[],
    judge: (s: OpState) => Judgement,
  ): { pending: PendingOp[]; progressed: boolean };
  private judgeAll(
    pending: PendingOp[],
    results: (BatchResult | undefined)[],
    judge: (s: OpState) => Judgement,
    final?: true,
  ): PendingOp[] | { pending: PendingOp[]; progressed: boolean } {
    const keep: PendingOp[] = [];
    let progressed = false;
    for (const p of pending) {
      const j = judge(p.state);
      if (j.kind === 'applied') {
        results[p.pos] = this.applied(p.state, j.revision);
        progressed = true;
      } else if (j.kind === 'fail') {
        results[p.pos] = { ok: false, error: j.error };
        progressed = true;
      } else {
        if (j.kind === 'retry') {
          p.state = j.state;
          progressed = true;
        }
        keep.push(p);
      }
    }
    return final ? keep : { pending: keep, progressed };
  }

  /**
   * Reads the keys back (a linearizable read), retrying until `until`: until it answers, the write's
   * outcome is unknown.
   */
  private async readBack(
    keys: string[],
    until: number,
  ): Promise<{ read: (k: string) => ReadKV | undefined; revision: number } | undefined> {
    let delay = 100;
    for (;;) {
      try {
        const res = await this.client.kv.txn(
          { compare: [], success: keys.map(rangeOp), failure: [] },
          this.callOptions(until),
        );
        const m = new Map<string, ReadKV | undefined>();
        keys.forEach((k, i) => {
          m.set(k, toReadKV(res.responses[i]?.response_range?.kvs?.[0]));
        });
        return { read: (k) => m.get(k), revision: Number(res.header.revision) };
      } catch (err) {
        if (Date.now() + delay >= until) {
          log.warn('read-back failed; write outcome stays unknown', { err });
          return undefined;
        }
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 1000);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Reads straight from etcd (linearizable), within the deadline: no quorum in time → NO_LEADER.
  // Managers normally read from their StoreCache, which keeps serving without a quorum.
  // ---------------------------------------------------------------------------------------------

  private async linearizable<T>(read: (opts: { deadline: number }) => Promise<T>): Promise<T> {
    try {
      return await read({ deadline: Date.now() + this.deadlineMs });
    } catch (err) {
      throw isDefinitiveRejection(err) ? err : noLeader(err);
    }
  }

  async get<K extends keyof S & string>(kind: K, id: string): Promise<ObjectOf<S, K> | undefined> {
    const key = Buffer.from(this.keys.objectKey(kind, id));
    const res = await this.linearizable((o) => this.client.kv.range({ key }, o));
    const kv = res.kvs[0];
    if (!kv) return undefined;
    const d = this.decode(kind, kv.value, Number(kv.mod_revision));
    if (!d.ok) {
      log.warn('corrupt object in store skipped', { kind, id, reason: d.reason });
      return undefined;
    }
    return d.object;
  }

  /** Like get, but a missing object is NOT_FOUND "<kind> <id> not found". */
  async mustGet<K extends keyof S & string>(kind: K, id: string): Promise<ObjectOf<S, K>> {
    const o = await this.get(kind, id);
    if (!o) throw notFound(`${kind} ${id} not found`);
    return o;
  }

  async list<K extends keyof S & string>(kind: K): Promise<ObjectOf<S, K>[]> {
    const { kvs } = await this.listRaw(this.keys.kindPrefix(kind));
    const out: ObjectOf<S, K>[] = [];
    for (const kv of kvs) {
      const d = this.decode(kind, kv.value, kv.mod);
      if (d.ok) out.push(d.object);
      else log.warn('corrupt object in store skipped', { key: kv.key, reason: d.reason });
    }
    return out;
  }

  /**
   * Every key under `prefix` (default: the store root) at one revision, in pages (a large swarm does
   * not fit one gRPC message). Throws OUT_OF_RANGE-derived errors if that revision gets compacted
   * mid-way; callers list again.
   */
  async listRaw(prefix: string = this.keys.root): Promise<{ revision: number; kvs: RawKV[] }> {
    const end = prefixEnd(prefix);
    const kvs: RawKV[] = [];
    let from = Buffer.from(prefix);
    let revision = 0;
    for (;;) {
      const page = { key: from, range_end: end, limit: this.pageSize, ...(revision ? { revision } : {}) };
      const res = await this.linearizable((o) => this.client.kv.range(page, o));
      if (!revision) revision = Number(res.header.revision);
      for (const kv of res.kvs)
        kvs.push({ key: kv.key.toString('utf8'), value: kv.value, mod: Number(kv.mod_revision) });
      const last = res.kvs[res.kvs.length - 1];
      if (!res.more || !last) break;
      from = Buffer.concat([last.key, Buffer.from([0])]);
    }
    return { revision, kvs };
  }

  /** Current revision of the store (a cheap linearizable read). */
  async revision(): Promise<number> {
    const req = { key: Buffer.from(this.keys.root), limit: 1, keys_only: true };
    const res = await this.linearizable((o) => this.client.kv.range(req, o));
    return Number(res.header.revision);
  }
}
