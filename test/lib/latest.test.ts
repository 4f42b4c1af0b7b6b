// LatestApplier: per key one apply at a time, requests folded into the apply that has not started,
// the quiet/max-wait hold for requests that are not urgent, the concurrency limit with urgent ones
// first, and failures reported to the requests they answer.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LatestApplier } from '../../src/lib/latest.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An apply function that records each call and waits until released (or `ms`). */
function recorder(ms = 5) {
  const calls: string[] = [];
  let running = 0;
  let maxRunning = 0;
  const apply = async (key: string) => {
    running++;
    maxRunning = Math.max(maxRunning, running);
    calls.push(key);
    await sleep(ms);
    running--;
  };
  return { calls, apply, max: () => maxRunning };
}

test('requests made while an apply waits fold into it; one apply per key at a time', async () => {
  const r = recorder(20);
  const applier = new LatestApplier(r.apply, { limit: 4, quietMs: 0, maxWaitMs: 0 });
  const first = applier.request('a');
  await sleep(5); // the first apply is running now
  const later = [applier.request('a'), applier.request('a'), applier.request('a')];
  assert.equal(later[0], later[1], 'requests join the queued apply');
  await Promise.all([first, ...later]);
  assert.deepEqual(r.calls, ['a', 'a'], 'one apply running, one more for everything asked meanwhile');
  assert.equal(r.max(), 1);
  assert.equal(applier.busyKeys, 0, 'idle keys are forgotten');
});

test('a request that is not urgent waits for its key to be quiet, at most maxWaitMs', async () => {
  const r = recorder(1);
  const applier = new LatestApplier(r.apply, { limit: 4, quietMs: 30, maxWaitMs: 80 });
  const started = performance.now();
  const p = applier.request('k');
  // Keep asking every 10 ms: the key never turns quiet, so the deadline decides.
  const nag = setInterval(() => void applier.request('k'), 10);
  await p;
  clearInterval(nag);
  const waited = performance.now() - started;
  assert.ok(waited >= 75 && waited < 200, `applied after ${Math.round(waited)} ms (deadline 80)`);
  assert.equal(r.calls.length, 1);
  await sleep(60); // the nagging after the apply started asks for one more
  assert.ok(r.calls.length <= 2);
});

test('an urgent request ends the hold at once and goes before calm ones at the limit', async () => {
  const r = recorder(30);
  const applier = new LatestApplier(r.apply, { limit: 1, quietMs: 500, maxWaitMs: 1000 });
  const held = applier.request('calm');
  const t0 = performance.now();
  await applier.request('calm', true);
  assert.ok(performance.now() - t0 < 200, 'the urgent request did not wait for the quiet period');
  await held;

  // limit 1: `busy` runs; `x` (calm) and `y` (urgent) wait for the slot; `y` goes first.
  const noHold = new LatestApplier(r.apply, { limit: 1, quietMs: 0, maxWaitMs: 0 });
  r.calls.length = 0;
  const all = [noHold.request('busy'), noHold.request('x'), noHold.request('y', true)];
  await Promise.all(all);
  assert.deepEqual(r.calls, ['busy', 'y', 'x']);
  assert.equal(r.max(), 1);
});

test('a failed apply rejects the requests it answers; the next request applies again', async () => {
  let fail = true;
  let applied = 0;
  const applier = new LatestApplier(
    async () => {
      applied++;
      if (fail) throw new Error('boom');
    },
    { limit: 2, quietMs: 0, maxWaitMs: 0 },
  );
  await assert.rejects(applier.request('k'), /boom/);
  fail = false;
  await applier.request('k');
  assert.equal(applied, 2);
});

test('options are checked', () => {
  assert.throws(() => new LatestApplier(async () => {}, { limit: 0, quietMs: 0, maxWaitMs: 0 }), /limit/);
  assert.throws(
    () => new LatestApplier(async () => {}, { limit: 1, quietMs: 50, maxWaitMs: 10 }),
    /maxWaitMs/,
  );
});
