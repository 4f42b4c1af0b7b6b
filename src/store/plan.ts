// Pure decisions of the write path: how one store operation becomes etcd compares and writes, how
// operations are packed into transactions (≤128 ops, ≤~1.4 MiB, no key twice), and what a failed or
// ambiguous transaction means for each operation, judged from keys read back. No I/O here.
import { alreadyExists, notFound, outOfSequence, type SwarmError } from '../api/errors.js';
import { decodeObject, encodeObject, type KeyLayout, type StoredObject, type TableDef } from './table.js';

export const MAX_TXN_OPS = 128; // etcd --max-txn-ops default
export const MAX_TXN_BYTES = 1_400_000; // under etcd's 1.5 MiB --max-request-bytes, with room for framing

export type WriteOp =
  /** The object is complete (ID, timestamps); its Version is ignored. */
  | { op: 'create'; kind: string; object: StoredObject }
  /** object.Version.Index is the mod revision the caller read (compare-and-swap). */
  | { op: 'update'; kind: string; object: StoredObject }
  /** Without `version` the delete is unconditional (still consistent with the name index). */
  | { op: 'delete'; kind: string; id: string; version?: number };

export interface Compare {
  key: string;
  target: 'Create' | 'Mod' | 'Value';
  result: 'Equal' | 'NotEqual' | 'Greater' | 'Less';
  value: number | string;
}

export interface PlannedWrite {
  compares: Compare[];
  puts: { key: string; value: string }[];
  deletes: string[];
  /** Keys read in the failure branch and on read-back, to judge each operation. */
  reads: string[];
  bytes: number;
}

/** What the store knows about one operation between attempts. */
export interface OpState {
  op: WriteOp;
  table: TableDef;
  /** create/update: the value written to the object key. */
  encoded?: string;
  /** create/update: the object as it will read back (without the new Version). */
  object?: StoredObject;
  /** create/update: its unique name; delete: the name whose index key goes with it. */
  name?: string;
  /**
   * update: undefined = name assumed unchanged; a string = rename from that name; null = the name key
   * is missing and must be claimed. delete: the name is known once `probed` is true.
   */
  oldName?: string | null;
  /** delete: the mod revision to compare (the caller's version, or the one read by the probe). */
  expectMod?: number;
  /** delete on a named table: whether the object (and so its name) has been read yet. */
  probed?: boolean;
  /** An earlier attempt had an unknown outcome: it may still apply, so "already done" counts as ours. */
  uncertain?: boolean;
}

/** A key as read back: undefined when absent. */
export interface ReadKV {
  value: string;
  mod: number;
  create: number;
}

export type Judgement =
  /** The op's own preconditions hold; it failed only because another op in the txn did. */
  | { kind: 'ok' }
  | { kind: 'fail'; error: SwarmError }
  /** Try again with this state (rename detected, delete probed, or an ambiguous write not applied). */
  | { kind: 'retry'; state: OpState }
  /** Read-back shows the write is in place. */
  | { kind: 'applied'; revision: number };

export function initialState(op: WriteOp, table: TableDef): OpState {
  if (op.op === 'delete') {
    const named = table.nameOf !== undefined;
    return { op, table, probed: !named, expectMod: op.version };
  }
  const object = op.object;
  const encoded = encodeObject(object);
  return { op, table, encoded, object, name: table.nameOf?.(object) };
}

function opKind(s: OpState): string {
  return s.op.kind;
}
function opId(s: OpState): string {
  return s.op.op === 'delete' ? s.op.id : s.op.object.ID;
}

/** The compares and writes of one operation in its current state. */
export function planWrite(s: OpState, keys: KeyLayout): PlannedWrite {
  const kind = opKind(s);
  const id = opId(s);
  const objKey = keys.objectKey(kind, id);
  const nameKey = s.name !== undefined ? keys.nameKey(kind, s.name) : undefined;
  const compares: Compare[] = [];
  const puts: { key: string; value: string }[] = [];
  const deletes: string[] = [];
  const reads = [objKey];
  switch (s.op.op) {
    case 'create': {
      compares.push({ key: objKey, target: 'Create', result: 'Equal', value: 0 });
      puts.push({ key: objKey, value: s.encoded ?? '' });
      if (nameKey) {
        compares.push({ key: nameKey, target: 'Create', result: 'Equal', value: 0 });
        puts.push({ key: nameKey, value: id });
        reads.push(nameKey);
      }
      break;
    }
    case 'update': {
      compares.push({ key: objKey, target: 'Mod', result: 'Equal', value: s.op.object.Version.Index });
      puts.push({ key: objKey, value: s.encoded ?? '' });
      if (s.oldName === undefined) {
        // Common case: the name did not change; the index must still point at us.
        if (nameKey) {
          compares.push({ key: nameKey, target: 'Value', result: 'Equal', value: id });
          reads.push(nameKey);
        }
      } else if (s.oldName !== s.name) {
        if (nameKey) {
          compares.push({ key: nameKey, target: 'Create', result: 'Equal', value: 0 });
          puts.push({ key: nameKey, value: id });
          reads.push(nameKey);
        }
        if (s.oldName !== null) deletes.push(keys.nameKey(kind, s.oldName));
      } else if (nameKey) {
        // oldName === name: the index key went missing; claim it again.
        compares.push({ key: nameKey, target: 'Create', result: 'Equal', value: 0 });
        puts.push({ key: nameKey, value: id });
        reads.push(nameKey);
      }
      break;
    }
    case 'delete': {
      if (!s.probed) {
        // Named table, name unknown: a compare that always fails reads the object in the failure branch.
        compares.push({ key: objKey, target: 'Create', result: 'Less', value: 0 });
        break;
      }
      if (s.expectMod !== undefined) {
        compares.push({ key: objKey, target: 'Mod', result: 'Equal', value: s.expectMod });
      } else {
        compares.push({ key: objKey, target: 'Create', result: 'Greater', value: 0 });
      }
      deletes.push(objKey);
      if (nameKey) deletes.push(nameKey);
      break;
    }
  }
  let bytes = 0;
  for (const p of puts) bytes += p.key.length + Buffer.byteLength(p.value) + 16;
  for (const d of deletes) bytes += d.length + 8;
  for (const c of compares) bytes += c.key.length + 16;
  for (const r of reads) bytes += r.length + 8;
  return { compares, puts, deletes, reads, bytes };
}

/**
 * Packs planned writes, in order, into transactions: at most MAX_TXN_OPS compares, writes and reads
 * each (`reserved` are taken by the fence), at most MAX_TXN_BYTES, and no key written twice.
 */
export function packTransactions(
  plans: PlannedWrite[],
  reserved = 0,
  atomic: readonly (string | undefined)[] = [],
): number[][] {
  const groups: number[][] = [];
  let cur: number[] = [];
  let compares = reserved;
  let writes = 0;
  let reads = reserved;
  let bytes = 0;
  let keys = new Set<string>();
  const flush = () => {
    if (cur.length > 0) groups.push(cur);
    cur = [];
    compares = reserved;
    writes = 0;
    reads = reserved;
    bytes = 0;
    keys = new Set();
  };
  const written = plans.map((p) => [...p.puts.map((x) => x.key), ...p.deletes]);
  const fits = (unit: readonly number[]) => {
    let c = compares;
    let w = writes;
    let r = reads;
    let b = bytes;
    const mine = unit.length > 1 ? new Set<string>() : undefined;
    for (const i of unit) {
      const p = plans[i] as PlannedWrite;
      c += p.compares.length;
      r += p.reads.length;
      b += p.bytes;
      for (const k of written[i] ?? []) {
        w++;
        if (keys.has(k) || mine?.has(k)) return false;
        mine?.add(k);
      }
    }
    return c <= MAX_TXN_OPS && w <= MAX_TXN_OPS && r <= MAX_TXN_OPS && b <= MAX_TXN_BYTES;
  };
  const add = (i: number) => {
    const p = plans[i] as PlannedWrite;
    cur.push(i);
    compares += p.compares.length;
    reads += p.reads.length;
    bytes += p.bytes;
    for (const k of written[i] ?? []) {
      writes++;
      keys.add(k);
    }
  };
  for (const unit of atomicUnits(plans.length, atomic)) {
    if (!fits(unit)) flush();
    if (cur.length === 0 && !fits(unit)) {
      // A unit too big for one transaction (never the leader's slots) is split: atomic per part only.
      for (const i of unit) {
        if (!fits([i])) flush();
        add(i);
      }
      continue;
    }
    for (const i of unit) add(i);
  }
  flush();
  return groups;
}

/**
 * Ops sharing an atomic key, together where the first of them stands; ops without one alone.
 * Order is kept otherwise.
 */
export function atomicUnits(count: number, atomic: readonly (string | undefined)[]): number[][] {
  const units: number[][] = [];
  const byKey = new Map<string, number[]>();
  for (let i = 0; i < count; i++) {
    const key = atomic[i];
    if (key === undefined) {
      units.push([i]);
      continue;
    }
    const unit = byKey.get(key);
    if (unit) unit.push(i);
    else {
      const fresh = [i];
      byKey.set(key, fresh);
      units.push(fresh);
    }
  }
  return units;
}

function nameConflict(kind: string, name: string): SwarmError {
  return alreadyExists(`name conflicts with an existing object: ${kind} ${name} already exists`);
}

function storedName(s: OpState, kv: ReadKV): string | undefined {
  const decoded = decodeObject(s.table, kv.value, kv.mod);
  return decoded.ok ? s.table.nameOf?.(decoded.object) : undefined;
}

/**
 * Judges an operation of a transaction whose compares failed, from the failure branch's reads (taken
 * at `readRevision`). Our own value in place means an earlier attempt of ours applied after all.
 */
export function judgeFailed(
  s: OpState,
  keys: KeyLayout,
  read: (key: string) => ReadKV | undefined,
  readRevision: number,
): Judgement {
  const kind = opKind(s);
  const id = opId(s);
  const obj = read(keys.objectKey(kind, id));
  if (s.op.op !== 'delete' && obj && obj.value === s.encoded) return { kind: 'applied', revision: obj.mod };
  if (s.op.op === 'delete' && !obj && s.uncertain && s.probed)
    return { kind: 'applied', revision: readRevision };
  const nameKV = s.name !== undefined ? read(keys.nameKey(kind, s.name)) : undefined;
  switch (s.op.op) {
    case 'create': {
      if (obj) return { kind: 'fail', error: alreadyExists(`${kind} ${id} already exists`) };
      if (s.name !== undefined && nameKV) return { kind: 'fail', error: nameConflict(kind, s.name) };
      return { kind: 'ok' };
    }
    case 'update': {
      if (!obj) return { kind: 'fail', error: notFound(`${kind} ${id} not found`) };
      if (obj.mod !== s.op.object.Version.Index) return { kind: 'fail', error: outOfSequence() };
      if (s.name === undefined) {
        // Unnamed now; if it had a name, its index key must go.
        const old = storedName(s, obj);
        if (old !== undefined && s.oldName === undefined)
          return { kind: 'retry', state: { ...s, oldName: old } };
        return { kind: 'ok' };
      }
      if (nameKV && nameKV.value === id) {
        return s.oldName === undefined
          ? { kind: 'ok' }
          : { kind: 'retry', state: { ...s, oldName: undefined } };
      }
      if (nameKV) return { kind: 'fail', error: nameConflict(kind, s.name) };
      if (s.oldName !== undefined) return { kind: 'ok' }; // already planned as a claim
      const old = storedName(s, obj);
      return { kind: 'retry', state: { ...s, oldName: old === undefined || old === s.name ? null : old } };
    }
    case 'delete': {
      if (!obj) return { kind: 'fail', error: notFound(`${kind} ${id} not found`) };
      if (!s.probed || (s.op.version === undefined && obj.mod !== s.expectMod)) {
        // Learn (again) the name and revision of what we are deleting.
        return {
          kind: 'retry',
          state: { ...s, probed: true, name: storedName(s, obj), expectMod: s.op.version ?? obj.mod },
        };
      }
      if (s.expectMod !== undefined && obj.mod !== s.expectMod)
        return { kind: 'fail', error: outOfSequence() };
      return { kind: 'ok' };
    }
  }
}

/**
 * Judges an operation whose transaction has an unknown outcome (timeout, connection lost), from a
 * later read. Retrying is safe only while the original can no longer apply or would be a no-op:
 * etcd evaluates compares when it applies, so once the key moved on, a late original does nothing.
 */
export function judgeAmbiguous(
  s: OpState,
  keys: KeyLayout,
  read: (key: string) => ReadKV | undefined,
  readRevision: number,
): Judgement {
  const kind = opKind(s);
  const id = opId(s);
  const obj = read(keys.objectKey(kind, id));
  switch (s.op.op) {
    case 'create':
    case 'update':
      return retryUnlessFailed(judgeFailed(s, keys, read, readRevision), s);
    case 'delete': {
      if (!obj)
        return s.probed
          ? { kind: 'applied', revision: readRevision }
          : judgeFailed(s, keys, read, readRevision);
      return retryUnlessFailed(judgeFailed(s, keys, read, readRevision), s);
    }
  }
}

function retryUnlessFailed(j: Judgement, s: OpState): Judgement {
  if (j.kind === 'ok') return { kind: 'retry', state: { ...s, uncertain: true } };
  if (j.kind === 'retry') return { kind: 'retry', state: { ...j.state, uncertain: true } };
  return j;
}

/** The object a successful create/update returns. */
export function withVersion<T extends StoredObject>(obj: T, revision: number): T {
  return { ...obj, Version: { Index: revision } };
}
