// What the cluster-in-a-box benchmarks (bench/cluster.ts, bench/ha.ts) share: polling through the
// Engine API every 20 ms, Docker's figures from the "several nodes" table of research/anchors.md, a
// `swarm join` with the body Docker's CLI sends, busybox loaded on every host, a service spec.
import { readFileSync } from 'node:fs';
import { type ClusterHost, until as untilEvery } from '../../test/helpers/cluster.js';
import { ANCHORS_FILE } from './report.js';

/** Polled every 20 ms: the figures are times. */
export const until = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000) =>
  untilEvery(what, probe, timeoutMs, 20);

/** The cells of the several-nodes table's row starting with `label`; undefined if none or unreadable. */
function anchorRow(label: string): string[] | undefined {
  try {
    const line = readFileSync(ANCHORS_FILE, 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`| ${label}`));
    return line?.split('|').map((c) => c.trim().replaceAll('*', ''));
  } catch {
    return undefined;
  }
}

const UNIT = /\s*[^\d.–-]+$/;

/**
 * Docker's figure from the several-nodes table of anchors.md: the row starting with `label`, its
 * value column (a median). `part` picks one of the figures a cell gives as "a / b / c unit";
 * `slowest` gives the upper end of the row's spread column (the slowest of Docker's runs).
 */
export function dockerFigure(label: string, opts: { part?: number; slowest?: boolean } = {}) {
  const cells = anchorRow(label);
  const from = opts.slowest ? 'anchors.md, several nodes: slowest of 3–6 runs' : 'anchors.md, several nodes';
  const cell = cells?.[2];
  if (!cell) return { value: 'n/a', from: cells ? from : `${from} (no such row)` };
  const unit = UNIT.exec(cell)?.[0] ?? '';
  let value: string | undefined = cell;
  if (opts.slowest) value = cells[3]?.includes('–') ? `${cells[3].split('–').at(-1)}${unit}` : undefined;
  else if (opts.part !== undefined) {
    const part = cell.split(' / ')[opts.part]?.replace(UNIT, '');
    value = part ? `${part}${unit}` : undefined;
  }
  return { value: value ?? 'n/a', from };
}

/** POST /swarm/join on `host` as Docker's CLI sends it, `remote` being a manager of the swarm. */
export async function joinSwarm(host: ClusterHost, remote: ClusterHost, token: string): Promise<void> {
  const r = await host.api('POST', '/swarm/join', {
    ListenAddr: `${host.ip}:2377`,
    AdvertiseAddr: `${host.ip}:2377`,
    RemoteAddrs: [`${remote.ip}:2377`],
    JoinToken: token,
  });
  if (r.status !== 200) throw new Error(`join ${host.name}: ${r.status} ${r.body}`);
}

/** A replicated busybox service that sleeps and stops at once (StopGracePeriod 0). */
export function sleepSpec(name: string, replicas: number, labels: Record<string, string> = {}) {
  return {
    Name: name,
    Labels: labels,
    TaskTemplate: { ContainerSpec: { Image: 'busybox', Command: ['sleep', '3600'], StopGracePeriod: 0 } },
    Mode: { Replicated: { Replicas: replicas } },
  };
}

export interface BoxTask {
  ID: string;
  NodeID?: string;
  Slot?: number;
  DesiredState: string;
  Status: { State: string };
}

/** GET /tasks of one service (name or ID) on `via`. */
export async function tasksOf(via: ClusterHost, service: string): Promise<BoxTask[]> {
  const r = await via.api(
    'GET',
    `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [service] }))}`,
  );
  if (r.status !== 200) throw new Error(`GET /tasks on ${via.name}: ${r.status} ${r.body}`);
  return r.json<BoxTask[]>();
}

/** POST /services/create on `via`; returns the service's ID. */
export async function createService(via: ClusterHost, spec: unknown): Promise<string> {
  const r = await via.api('POST', '/services/create', spec);
  if (r.status !== 201) throw new Error(`service create: ${r.status} ${r.body}`);
  return r.json<{ ID: string }>().ID;
}
