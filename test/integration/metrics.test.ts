// `--metrics-addr` (issue 15): swarmd serves Prometheus' text format at /metrics; a Prometheus text
// parser reads all of it; the cluster counts match what `docker service ps` and `docker node ls`
// show; store writes, task scheduling and container starts have been observed; other paths are 404.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import parsePrometheusTextFormat, { type PromFamily } from 'parse-prometheus-text-format';
import { docker } from '../helpers/cli.js';
import { type Cluster, loadBusybox, startCluster, until } from '../helpers/cluster.js';

const ADDR = '127.0.0.1:9323';

describe('metrics', { timeout: 180_000 }, () => {
  let cluster: Cluster;
  const scrape = async (path = '/metrics') =>
    cluster.manager.inNetns('curl', ['-s', '-w', '\n%{http_code}', `http://${ADDR}${path}`]);
  const families = async () => {
    const r = await scrape();
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines.pop(), '200');
    return parsePrometheusTextFormat(`${lines.join('\n')}\n`);
  };
  const value = (fs: PromFamily[], name: string, labels: Record<string, string> = {}) => {
    const f = fs.find((x) => x.name === name);
    assert.ok(f, `${name} is exposed`);
    const m = f.metrics.find((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v));
    assert.ok(m, `${name} ${JSON.stringify(labels)}`);
    return Number(m.value ?? m.count);
  };

  before(async () => {
    cluster = await startCluster({ workers: 0, extraArgs: ['--metrics-addr', ADDR] });
    await loadBusybox(cluster.hosts);
  });
  after(() => cluster?.destroy());

  it('exposes the cluster as docker shows it, and the latencies it observed', async () => {
    const m = cluster.manager;
    const r = await docker(m, [
      'service',
      'create',
      '--detach',
      '--name',
      'm',
      '--replicas',
      '2',
      'busybox:latest',
      'sleep',
      '3600',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const running = async () =>
      (
        await docker(m, [
          'service',
          'ps',
          '--filter',
          'desired-state=running',
          '--format',
          '{{.CurrentState}}',
          'm',
        ])
      ).stdout
        .split('\n')
        .filter((l) => l.startsWith('Running')).length;
    await until('2 tasks running', async () => ((await running()) === 2 ? true : undefined), 60_000);
    const fs = await families();
    assert.equal(value(fs, 'swarm_manager_tasks_total', { state: 'running' }), await running());
    assert.equal(value(fs, 'swarm_manager_services_total'), 1);
    const ready = (await docker(m, ['node', 'ls', '--format', '{{.Status}}'])).stdout
      .split('\n')
      .filter((l) => l === 'Ready');
    assert.equal(value(fs, 'swarm_manager_nodes', { state: 'ready' }), ready.length);
    assert.equal(value(fs, 'swarm_manager_nodes', { state: 'down' }), 0);
    assert.equal(value(fs, 'swarm_manager_leader'), 1);
    assert.equal(value(fs, 'swarm_node_manager'), 1);
    assert.equal(value(fs, 'swarm_dispatcher_sessions'), 1);
    assert.equal(value(fs, 'swarm_etcd_healthy'), 1);
    assert.ok(value(fs, 'swarm_manager_leader_changes_total') >= 1);
    assert.ok(value(fs, 'swarm_store_write_tx_latency_seconds') > 0, 'store writes observed');
    assert.ok(
      value(fs, 'swarm_dispatcher_scheduling_delay_seconds') >= 2,
      `both tasks scheduled: ${JSON.stringify(fs.find((f) => f.name === 'swarm_dispatcher_scheduling_delay_seconds'))}`,
    );
    assert.ok(value(fs, 'swarm_node_container_start_seconds') >= 2, 'both containers started');
    assert.ok(
      fs.some((f) => f.name === 'process_resident_memory_bytes'),
      "Node's process metrics",
    );
    const notFound = await scrape('/other');
    assert.match(notFound.stdout, /404$/);
  });
});
