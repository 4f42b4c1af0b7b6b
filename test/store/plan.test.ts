// Pure parts of the store: transaction packing limits, failure judgements, Docker's lookup order.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SwarmError } from '../../src/api/errors.js';
import {
  initialState,
  judgeAmbiguous,
  judgeFailed,
  MAX_TXN_BYTES,
  MAX_TXN_OPS,
  type PlannedWrite,
  packTransactions,
  planWrite,
  type ReadKV,
} from '../../src/store/plan.js';
import { lookup } from '../../src/store/resolve.js';
import { encodeObject, keyLayout } from '../../src/store/table.js';
import { testTables } from './tables.js';

const keys = keyLayout();

const plannedArb = fc.record({
  compares: fc.integer({ min: 1, max: 3 }),
  keys: fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'), { minLength: 1, maxLength: 3 }),
  bytes: fc.integer({ min: 10, max: 400_000 }),
});

function toPlan(p: { compares: number; keys: string[]; bytes: number }): PlannedWrite {
  return {
    compares: Array.from({ length: p.compares }, () => ({
      key: 'k',
      target: 'Mod',
      result: 'Equal',
      value: 1,
    })),
    puts: [...new Set(p.keys)].map((key) => ({ key, value: '' })),
    deletes: [],
    reads: [...new Set(p.keys)],
    bytes: p.bytes,
  };
}

describe('transaction packing', () => {
  it('keeps every transaction within etcd limits, writes no key twice, and keeps op order', () => {
    fc.assert(
      fc.property(
        fc.array(plannedArb, { maxLength: 400 }),
        fc.integer({ min: 0, max: 1 }),
        (raw, reserved) => {
          const plans = raw.map(toPlan);
          const groups = packTransactions(plans, reserved);
          assert.deepEqual(
            groups.flat(),
            plans.map((_, i) => i),
          );
          for (const g of groups) {
            const ps = g.map((i) => plans[i] as PlannedWrite);
            const written = ps.flatMap((p) => p.puts.map((x) => x.key));
            assert.equal(new Set(written).size, written.length);
            if (g.length > 1) {
              assert.ok(ps.reduce((n, p) => n + p.compares.length, reserved) <= MAX_TXN_OPS);
              assert.ok(ps.reduce((n, p) => n + p.reads.length, reserved) <= MAX_TXN_OPS);
              assert.ok(ps.reduce((n, p) => n + p.bytes, 0) <= MAX_TXN_BYTES);
            }
          }
        },
      ),
    );
  });

  it('puts the ops of an atomic group in one transaction whenever they fit in one', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(plannedArb, fc.option(fc.constantFrom('s1', 's2', 's3'), { nil: undefined })), {
          maxLength: 200,
        }),
        (raw) => {
          const plans = raw.map(([p]) => toPlan({ ...p, keys: [`k${Math.random()}`], bytes: 100 }));
          const atomic = raw.map(([, k]) => k);
          const groups = packTransactions(plans, 1, atomic);
          assert.deepEqual(
            groups.flat().sort((a, b) => a - b),
            plans.map((_, i) => i),
          );
          for (const key of ['s1', 's2', 's3']) {
            const members = atomic.flatMap((k, i) => (k === key ? [i] : []));
            const size = members.reduce((n, i) => n + (plans[i]?.compares.length ?? 0), 1);
            if (members.length === 0 || size > MAX_TXN_OPS) continue;
            const holding = groups.filter((g) => g.some((i) => members.includes(i)));
            assert.equal(holding.length, 1, `group ${key} spans ${holding.length} transactions`);
          }
        },
      ),
    );
  });

  it('packs 300 single-key creates into 128 + 128 + 44', () => {
    const plans = Array.from({ length: 300 }, (_, i) => toPlan({ compares: 1, keys: [`t${i}`], bytes: 300 }));
    assert.deepEqual(
      packTransactions(plans).map((g) => g.length),
      [128, 128, 44],
    );
  });
});

const svc = (id: string, name: string, index = 5) => ({
  ID: id,
  Version: { Index: index },
  CreatedAt: 't',
  UpdatedAt: 't',
  Spec: { Name: name },
});
const kv = (value: string, mod: number): ReadKV => ({ value, mod, create: 1 });

describe('judging a failed or unknown write', () => {
  it('an update whose name key is missing is a rename: retried with the stored name as the old one', () => {
    const s = initialState({ op: 'update', kind: 'service', object: svc('x', 'new') }, testTables.service);
    const stored = kv(encodeObject(svc('x', 'old')), 5);
    const j = judgeFailed(s, keys, (k) => (k === keys.objectKey('service', 'x') ? stored : undefined), 10);
    assert.equal(j.kind, 'retry');
    if (j.kind !== 'retry') return;
    assert.equal(j.state.oldName, 'old');
    const plan = planWrite(j.state, keys);
    assert.deepEqual(plan.deletes, [keys.nameKey('service', 'old')]);
    assert.ok(plan.puts.some((p) => p.key === keys.nameKey('service', 'new') && p.value === 'x'));
  });

  it('a create that timed out but is in place counts as done; one not in place is retried', () => {
    const s = initialState({ op: 'create', kind: 'service', object: svc('x', 'web') }, testTables.service);
    const mine = kv(s.encoded ?? '', 42);
    const applied = judgeAmbiguous(
      s,
      keys,
      (k) => (k === keys.objectKey('service', 'x') ? mine : undefined),
      50,
    );
    assert.deepEqual(applied, { kind: 'applied', revision: 42 });
    assert.equal(judgeAmbiguous(s, keys, () => undefined, 50).kind, 'retry');
  });

  it('an update that timed out while someone else changed the object is out of sequence, not retried', () => {
    const s = initialState({ op: 'update', kind: 'service', object: svc('x', 'web', 5) }, testTables.service);
    const theirs = kv(encodeObject({ ...svc('x', 'web'), UpdatedAt: 'later' }), 9);
    const j = judgeAmbiguous(s, keys, (k) => (k === keys.objectKey('service', 'x') ? theirs : undefined), 9);
    assert.equal(j.kind, 'fail');
    assert.ok(j.kind === 'fail' && j.error instanceof SwarmError && j.error.code === 'OUT_OF_SEQUENCE');
  });
});

describe("Docker's lookup order", () => {
  const objs = [svc('abc111', 'web'), svc('abc222', 'api'), svc('web', 'other'), svc('def333', 'abc')];
  const view = {
    get: (id: string) => objs.find((o) => o.ID === id),
    named: (n: string) => objs.filter((o) => o.Spec.Name === n),
    all: () => objs,
  };
  it('full ID first, then exact name, then a unique ID prefix', () => {
    assert.equal(lookup('service', 'web', view).ID, 'web');
    assert.equal(lookup('service', 'api', view).ID, 'abc222');
    assert.equal(lookup('service', 'abc', view).ID, 'def333');
    assert.equal(lookup('service', 'abc1', view).ID, 'abc111');
  });
  it('an ambiguous prefix is a 400 and a miss is a 404, in moby wording', () => {
    assert.throws(
      () => lookup('service', 'ab', view),
      (e: unknown) =>
        e instanceof SwarmError &&
        e.httpStatus === 400 &&
        e.message === 'service ab is ambiguous (2 matches found)',
    );
    assert.throws(
      () => lookup('service', 'zzz', view),
      (e: unknown) =>
        e instanceof SwarmError && e.httpStatus === 404 && e.message === 'service zzz not found',
    );
  });
});
