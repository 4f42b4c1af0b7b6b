// Readings from /proc: resident memory of a process, its children, the machine's load.
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';

/** VmRSS of a process in KiB, or undefined when it is gone (or a kernel thread). */
export function vmRssKiB(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** The command name (/proc/<pid>/comm) or '' when the process is gone. */
export function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** Pids whose parent is one of `parents` (one scan of /proc). */
export function childrenOf(parents: ReadonlySet<number>): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const m = /^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${entry}/status`, 'utf8'));
      const ppid = m ? Number(m[1]) : 0;
      if (!parents.has(ppid)) continue;
      const list = out.get(ppid) ?? [];
      list.push(Number(entry));
      out.set(ppid, list);
    } catch {
      // the process went away while we looked
    }
  }
  return out;
}

/** Busy and total jiffies of all CPUs (/proc/stat). */
function cpuJiffies(): { busy: number; total: number } {
  const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '')
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  return { busy: total - idle, total };
}

/**
 * Waits (at most `maxMs`) until the CPUs were less than `busyBelow` busy over half a second: the
 * kernel keeps tearing down the previous phase's network namespaces for seconds after they are
 * deleted, and a phase measured meanwhile measures that too. Returns the ms waited.
 */
export async function waitForQuietCpu(busyBelow = 0.25, maxMs = 15_000): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 < maxMs) {
    const a = cpuJiffies();
    await new Promise((r) => setTimeout(r, 500));
    const b = cpuJiffies();
    if ((b.busy - a.busy) / Math.max(1, b.total - a.total) < busyBelow) break;
  }
  return Math.round(performance.now() - t0);
}

/** "load 5.03 7.62 5.74 on 2 cores": the figures of a shared machine need this beside them. */
export function machineLoad(): string {
  const [a = 0, b = 0, c = 0] = loadavg();
  let cores = 0;
  try {
    cores = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('processor')).length;
  } catch {
    cores = 0;
  }
  return `load average ${a.toFixed(2)} ${b.toFixed(2)} ${c.toFixed(2)} on ${cores} cores`;
}
