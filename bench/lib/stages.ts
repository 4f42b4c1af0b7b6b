// Where the time of "create → N running" goes, for bench/services.ts: the moments the API showed the
// last task reach each state (read from the polls the benchmark makes anyway), and the mean time a
// task spent in each step on the node (swarmd's own histograms, scraped before and after a run
// from --metrics-addr inside the benchmark's network namespace).
import { type TaskState, taskStateIndex } from '../../src/api/types.js';
import { run } from '../../src/lib/exec.js';

/** The states a task passes on its way to running, in order, as the API shows them. */
export const MILESTONES = ['assigned', 'accepted', 'preparing', 'ready', 'starting', 'running'] as const;
export type Milestone = (typeof MILESTONES)[number];

/**
 * Records, for each milestone, the first poll at which every one of `n` tasks had reached it
 * (ms since `t0`). Feed it each poll's task states; pure apart from the clock value passed in.
 */
export class MilestoneClock {
  readonly reached = new Map<Milestone, number>();
  constructor(
    private readonly n: number,
    private readonly t0: number,
  ) {}

  observe(states: readonly string[], now: number): void {
    if (states.length < this.n) return;
    for (const m of MILESTONES) {
      if (this.reached.has(m)) continue;
      const at = taskStateIndex(m);
      const past = states.filter((s) => taskStateIndex(s as TaskState) >= at).length;
      if (past >= this.n) this.reached.set(m, now - this.t0);
    }
  }
}

/** Per-step sums and counts of the histograms a start goes through (seconds). */
export type StageTotals = Map<string, { sum: number; count: number }>;

const SCHEDULING_METRIC = 'swarm_dispatcher_scheduling_delay_seconds';

/**
 * Sums and counts per stage, plus `scheduling`, from a /metrics page: only the histograms' `_sum` and
 * `_count` lines are read (parse-prometheus-text-format drops the labels and sums of a labelled
 * histogram).
 */
export function stageTotals(text: string): StageTotals {
  const out: StageTotals = new Map();
  const line =
    /^(swarm_node_task_stage_seconds|swarm_dispatcher_scheduling_delay_seconds)_(sum|count)(?:\{stage="([a-z]+)"\})? (\S+)$/;
  for (const l of text.split('\n')) {
    const m = line.exec(l);
    if (!m) continue;
    const stage = m[1] === SCHEDULING_METRIC ? 'scheduling' : (m[3] ?? '?');
    const t = out.get(stage) ?? { sum: 0, count: 0 };
    t[m[2] === 'sum' ? 'sum' : 'count'] = Number(m[4]);
    out.set(stage, t);
  }
  return out;
}

/** Mean ms per observation of each stage between two scrapes (stages with none left out). */
export function stageMeans(before: StageTotals, after: StageTotals): Map<string, number> {
  const out = new Map<string, number>();
  for (const [stage, a] of after) {
    const b = before.get(stage) ?? { sum: 0, count: 0 };
    const count = a.count - b.count;
    if (count > 0) out.set(stage, ((a.sum - b.sum) / count) * 1000);
  }
  return out;
}

/** GET /metrics from inside `netns` (swarmd listens on that namespace's loopback). */
export async function scrape(netns: string, address: string): Promise<StageTotals> {
  const r = await run('nsenter', [`--net=/run/netns/${netns}`, 'curl', '-sf', `http://${address}/metrics`]);
  return stageTotals(r.stdout);
}
