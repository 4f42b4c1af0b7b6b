// Docker's anchor figures (research/anchors.md, measured on this machine) and how a benchmark prints
// its own figure beside one of them.
import { readFileSync } from 'node:fs';

// The repository's sibling `shared/` (as in a checkout beside it); compiled code runs from dist/bench/lib.
export const ANCHORS_FILE =
  process.env.SKT_ANCHORS ?? new URL('../../../../shared/research/anchors.md', import.meta.url).pathname;

/** Figures of the anchors table, by name: `| \`name\` | value | unit |`. Empty when the file is missing. */
export function parseAnchors(markdown: string): Map<string, { value: number; unit: string }> {
  const out = new Map<string, { value: number; unit: string }>();
  for (const line of markdown.split('\n')) {
    const m = /^\|\s*`([^`]+)`\s*\|\s*([0-9.]+)\s*\|\s*([^|]*)\|/.exec(line);
    if (m?.[1] && m[2]) out.set(m[1], { value: Number(m[2]), unit: (m[3] ?? '').trim() });
  }
  return out;
}

let cached: Map<string, { value: number; unit: string }> | undefined;

/** Docker's figure, or undefined (printed as "n/a") when the anchors file lacks it. */
export function anchor(name: string): number | undefined {
  if (!cached) {
    try {
      cached = parseAnchors(readFileSync(ANCHORS_FILE, 'utf8'));
    } catch {
      console.error(`(anchors file ${ANCHORS_FILE} not readable: Docker's figures shown as n/a)`);
      cached = new Map();
    }
  }
  return cached.get(name)?.value;
}

export const ms = (v: number): string => (v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`);
export const sec = (v: number): string => `${(v / 1000).toFixed(v < 1000 ? 2 : 1)} s`;
export const mib = (kib: number): string => `${(kib / 1024).toFixed(1)} MiB`;

/** One aligned line: label, our figure, and Docker's (with the anchor row it comes from). */
export function row(
  label: string,
  ours: string,
  docker?: { value: string; from: string; who?: string },
): void {
  const tail = docker
    ? `   ${(docker.who ?? 'Docker').padEnd(6)} ${docker.value.padStart(9)}  (${docker.from})`
    : '';
  console.log(`  ${label.padEnd(52)} ${ours.padStart(10)}${tail}`);
}

/** Docker's figure of anchor `name` formatted with `format`, for `row`. */
export function dockerMs(name: string): { value: string; from: string } {
  const v = anchor(name);
  return { value: v === undefined ? 'n/a' : ms(v), from: name };
}
