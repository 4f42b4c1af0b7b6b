// deliveryDelay (pure): how long a newly assigned task took to reach its node, for the
// swarm_node_task_stage_seconds{stage="delivery"} histogram.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deliveryDelay } from '../../src/agent/agent.js';
import type { Task } from '../../src/api/types.js';

const task = (state: Task['Status']['State'], timestamp: string) =>
  ({ Status: { State: state, Timestamp: timestamp } }) as unknown as Task;

test('deliveryDelay: seconds since the assignment, for a task still as the leader assigned it', () => {
  const now = new Date('2026-12-07T10:00:00.250Z');
  assert.equal(deliveryDelay(task('assigned', '2026-12-07T10:00:00.000Z'), now), 0.25);
  // A task met again later (after an agent restart, already past assigned) is no delivery.
  assert.equal(deliveryDelay(task('running', '2026-12-07T10:00:00.000Z'), now), undefined);
  // Clocks of two nodes may disagree: never negative; no timestamp, no figure.
  assert.equal(deliveryDelay(task('assigned', '2026-12-07T10:00:01.000Z'), now), 0);
  assert.equal(deliveryDelay(task('assigned', 'not a time'), now), undefined);
});
