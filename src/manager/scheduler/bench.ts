// Scheduler micro-benchmark: synthetic nodes and pending tasks, timed placement. Called from bench/
// (which prints the figures); pure and self-contained, no I/O.
import type { Node, Task } from '../../api/types.js';
import { schedule } from './scheduler.js';

export interface SchedulerBenchOptions {
  nodes: number;
  tasks: number;
  /** Tasks are spread over this many services (one batch each). */
  services: number;
  /** Add a `node.labels.zone!=z0` constraint and a zone spread preference to every task. */
  withConstraints?: boolean;
}

export interface SchedulerBenchResult {
  nodes: number;
  tasks: number;
  placed: number;
  ms: number;
  placementsPerSecond: number;
}

const EPOCH = Date.parse('2030-01-01T00:00:00Z');
const at = new Date(EPOCH).toISOString();

function benchNode(i: number): Node {
  return {
    ID: `node${i}`,
    Version: { Index: 1 },
    CreatedAt: at,
    UpdatedAt: at,
    Spec: { Role: 'worker', Availability: 'active', Labels: { zone: `z${i % 4}` } },
    Description: {
      Hostname: `host${i}`,
      Platform: { OS: 'linux', Architecture: 'x86_64' },
      Resources: { NanoCPUs: 64e9, MemoryBytes: 256 * 2 ** 30 },
      Engine: { EngineVersion: 'bench' },
    },
    Status: { State: 'ready' },
  };
}

function benchTasks(o: SchedulerBenchOptions): Task[] {
  const tasks: Task[] = [];
  for (let i = 0; i < o.tasks; i++) {
    const s = i % o.services;
    tasks.push({
      ID: `task${i}`,
      Version: { Index: 1 },
      CreatedAt: at,
      UpdatedAt: at,
      ServiceID: `svc${s}`,
      SpecVersion: { Index: 1 },
      Slot: Math.floor(i / o.services) + 1,
      Spec: {
        ContainerSpec: { Image: 'busybox' },
        Resources: { Reservations: { NanoCPUs: 1e6, MemoryBytes: 2 ** 20 } },
        Placement: o.withConstraints
          ? {
              Constraints: ['node.labels.zone!=z0'],
              Preferences: [{ Spread: { SpreadDescriptor: 'node.labels.zone' } }],
            }
          : undefined,
      },
      Status: { Timestamp: at, State: 'pending', Message: 'pending task scheduling' },
      DesiredState: 'running',
    });
  }
  return tasks;
}

/** Builds the inputs, then times one `schedule` call over all of them. */
export function benchScheduler(o: SchedulerBenchOptions): SchedulerBenchResult {
  const nodes = Array.from({ length: o.nodes }, (_, i) => benchNode(i));
  const tasks = benchTasks(o);
  const started = performance.now();
  const result = schedule(nodes, tasks, { now: EPOCH });
  const ms = performance.now() - started;
  return {
    nodes: o.nodes,
    tasks: o.tasks,
    placed: result.placements.length,
    ms,
    placementsPerSecond: Math.round((result.placements.length / ms) * 1000),
  };
}
