// The create → N breakdown of bench/services.ts (pure parts): when every task had reached each
// state, and the mean time per step between two scrapes of swarmd's /metrics.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MilestoneClock, stageMeans, stageTotals } from '../../bench/lib/stages.js';

test('MilestoneClock: a milestone is the first poll at which every task had reached that state', () => {
  const clock = new MilestoneClock(3, 1000);
  clock.observe(['assigned', 'assigned'], 1010); // fewer tasks than expected: nothing counts yet
  assert.equal(clock.reached.size, 0);
  clock.observe(['assigned', 'preparing', 'new'], 1020);
  assert.equal(clock.reached.has('assigned'), false);
  clock.observe(['accepted', 'preparing', 'assigned'], 1030);
  assert.equal(clock.reached.get('assigned'), 30);
  clock.observe(['running', 'ready', 'preparing'], 1040);
  assert.equal(clock.reached.get('preparing'), 40);
  assert.equal(clock.reached.get('accepted'), 40);
  clock.observe(['running', 'running', 'running'], 1100);
  assert.equal(clock.reached.get('running'), 100);
  assert.equal(clock.reached.get('assigned'), 30, 'a milestone is never moved later');
});

test('stageTotals reads the sums and counts of the stage and scheduling histograms; stageMeans gives ms per step', () => {
  const page = (delivery: [number, number], network: [number, number], scheduling: [number, number]) =>
    [
      '# HELP swarm_node_task_stage_seconds Starting a task',
      '# TYPE swarm_node_task_stage_seconds histogram',
      'swarm_node_task_stage_seconds_bucket{le="0.001",stage="delivery"} 0',
      `swarm_node_task_stage_seconds_sum{stage="delivery"} ${delivery[0]}`,
      `swarm_node_task_stage_seconds_count{stage="delivery"} ${delivery[1]}`,
      `swarm_node_task_stage_seconds_sum{stage="network"} ${network[0]}`,
      `swarm_node_task_stage_seconds_count{stage="network"} ${network[1]}`,
      `swarm_dispatcher_scheduling_delay_seconds_sum ${scheduling[0]}`,
      `swarm_dispatcher_scheduling_delay_seconds_count ${scheduling[1]}`,
      'swarm_store_write_tx_latency_seconds_sum 9',
      'swarm_store_write_tx_latency_seconds_count 9',
    ].join('\n');
  const before = stageTotals(page([0.02, 2], [0.1, 2], [0, 2]));
  assert.deepEqual(before.get('delivery'), { sum: 0.02, count: 2 });
  assert.deepEqual([...before.keys()].sort(), ['delivery', 'network', 'scheduling']);
  const after = stageTotals(page([0.52, 52], [5.1, 52], [0, 52]));
  const means = stageMeans(before, after);
  assert.equal(Math.round((means.get('delivery') ?? 0) * 1000) / 1000, 10);
  assert.equal(Math.round((means.get('network') ?? 0) * 1000) / 1000, 100);
  assert.equal(means.get('scheduling'), 0);
  // A step nothing went through between the scrapes is left out.
  assert.equal(stageMeans(after, after).size, 0);
});
