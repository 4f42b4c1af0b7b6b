// The metrics' pure parts: cluster counts by state (every state present, zero when none) and the
// scheduling delay of a task (created → assigned, counted once, at the step that assigns it); the
// registry renders Docker's metric names in Prometheus' text format.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Node, Task } from '../../src/api/types.js';
import { clusterCounts, NodeMetrics, schedulingDelay } from '../../src/daemon/metrics.js';

const task = (state: Task['Status']['State'], at = '2026-12-07T10:00:00.250Z'): Task =>
  ({
    ID: 't',
    Version: { Index: 1 },
    CreatedAt: '2026-12-07T10:00:00.000Z',
    UpdatedAt: at,
    Spec: {},
    ServiceID: 's',
    Status: { State: state, Timestamp: at },
    DesiredState: 'running',
  }) as Task;

test('cluster counts: nodes and tasks by state, every state listed', () => {
  const nodes = [
    { Status: { State: 'ready' } },
    { Status: { State: 'down' } },
    { Status: { State: 'ready' } },
  ] as Node[];
  const c = clusterCounts(nodes, [], [task('running'), task('running'), task('shutdown')]);
  assert.equal(c.nodes.ready, 2);
  assert.equal(c.nodes.down, 1);
  assert.equal(c.nodes.disconnected, 0);
  assert.equal(c.services, 0);
  assert.equal(c.tasks.running, 2);
  assert.equal(c.tasks.shutdown, 1);
  assert.equal(c.tasks.pending, 0);
});

test('scheduling delay: created → assigned, once', () => {
  assert.equal(schedulingDelay(task('assigned'), task('pending')), 0.25);
  assert.equal(schedulingDelay(task('assigned'), undefined), 0.25, 'written already assigned');
  assert.equal(schedulingDelay(task('running'), task('assigned')), undefined, 'counted at assignment only');
  assert.equal(schedulingDelay(task('pending'), undefined), undefined);
  assert.equal(
    schedulingDelay(task('assigned', '2026-12-07T09:59:59.999Z'), undefined),
    0,
    'stamped a moment before',
  );
});

test('the registry renders the swarm metrics (a worker: zero counts, not a manager)', async () => {
  const m = new NodeMetrics();
  const text = await m.registry.metrics();
  for (const name of [
    'swarm_manager_nodes',
    'swarm_manager_tasks_total',
    'swarm_manager_leader 0',
    'swarm_node_manager 0',
    'swarm_store_write_tx_latency_seconds_bucket',
    'swarm_node_container_start_seconds_count 0',
  ])
    assert.ok(text.includes(name), name);
  m.close();
});
