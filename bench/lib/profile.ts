// Optional profile of the external programs a benchmark causes (SKT_BENCH_PROFILE=1): every
// child_process.spawn in this process is timed from spawn to exit and summed per command, so a
// slow figure can be broken down (ip, runc, conmon, mount …) without touching the code measured.
import childProcess, { type ChildProcess } from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';

interface Tally {
  count: number;
  totalMs: number;
  maxMs: number;
}

const tallies = new Map<string, Tally>();
let installed = false;

export const profiling = process.env.SKT_BENCH_PROFILE === '1';

/** A short key: the program and its verb (`runc delete`, `ip -batch`, `ip netns`). */
function keyOf(cmd: string, args: readonly string[]): string {
  const prog = cmd.split('/').pop() ?? cmd;
  if (prog === 'runc') {
    const i = args.indexOf('--root');
    const rest = i >= 0 ? args.slice(i + 2) : args;
    return `runc ${rest[0] ?? ''}`;
  }
  if (prog === 'ip') {
    // Drop the netns selector (-n NS) and output flags: the verb is what costs.
    const rest = args.filter((_, i) => args[i] !== '-n' && args[i - 1] !== '-n' && args[i] !== '-j');
    if (rest.includes('-batch')) return 'ip -batch';
    return `ip ${rest.slice(0, 2).join(' ')}`;
  }
  return prog;
}

/** Wraps child_process.spawn (and the ESM bindings of it) with a timer. Idempotent. */
export function installSpawnProfile(): void {
  if (installed) return;
  installed = true;
  const original = childProcess.spawn;
  const timed = ((...a: Parameters<typeof original>) => {
    const [cmd, maybeArgs] = a;
    const args = Array.isArray(maybeArgs) ? (maybeArgs as readonly string[]) : [];
    const key = keyOf(String(cmd), args);
    const t0 = performance.now();
    const child: ChildProcess = original(...a);
    child.once('exit', () => {
      const ms = performance.now() - t0;
      const t = tallies.get(key) ?? { count: 0, totalMs: 0, maxMs: 0 };
      t.count++;
      t.totalMs += ms;
      t.maxMs = Math.max(t.maxMs, ms);
      tallies.set(key, t);
    });
    return child;
  }) as typeof original;
  childProcess.spawn = timed;
  syncBuiltinESMExports();
}

/** Clears the tallies (call before the phase to profile). */
export function resetProfile(): void {
  tallies.clear();
}

/** Prints the tallies, largest total first, with per-call averages and `perUnit` shares. */
export function printProfile(title: string, units: number): void {
  if (!profiling) return;
  console.log(
    `\n  profile: ${title} (external programs, spawn → exit, wall time; overlapping in parallel phases)`,
  );
  const rows = [...tallies.entries()].sort((a, b) => b[1].totalMs - a[1].totalMs);
  for (const [key, t] of rows) {
    console.log(
      `    ${key.padEnd(18)} ${String(t.count).padStart(5)} calls  ${t.totalMs.toFixed(0).padStart(7)} ms total  ${(t.totalMs / t.count).toFixed(1).padStart(6)} ms avg  ${t.maxMs.toFixed(0).padStart(5)} ms max  ${(t.totalMs / units).toFixed(1).padStart(6)} ms per unit`,
    );
  }
}
