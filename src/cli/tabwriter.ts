// Go text/tabwriter semantics as used by the docker CLI (minwidth 10, tabwidth 1, padding 3,
// padchar ' ', no flags): cells end at '\t'; the text after a line's last tab is not aligned;
// a column block is a run of consecutive lines that have a cell in that column. Widths count
// Unicode code points, like Go's utf8.RuneCount, so "…" is one column wide.

export interface TabwriterOptions {
  minWidth: number;
  padding: number;
}

export const DOCKER_TABWRITER: TabwriterOptions = { minWidth: 10, padding: 3 };

const width = (s: string): number => [...s].length;

/** Aligns tab-separated text exactly like Go's tabwriter followed by Flush. */
export function tabwrite(text: string, opts: TabwriterOptions = DOCKER_TABWRITER): string {
  const endsWithNewline = text.endsWith('\n');
  const rawLines = (endsWithNewline ? text.slice(0, -1) : text).split('\n');
  const lines = rawLines.map((l) => l.split('\t'));
  const out: string[] = new Array(lines.length).fill('');
  const widths: number[] = [];

  const writeLines = (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const cells = lines[i] ?? [];
      let s = '';
      cells.forEach((cell, j) => {
        s += cell;
        const w = widths[j];
        if (j < cells.length - 1 && w !== undefined) s += ' '.repeat(Math.max(0, w - width(cell)));
      });
      out[i] = s;
    }
  };

  const format = (line0: number, line1: number) => {
    const column = widths.length;
    let start = line0;
    for (let i = line0; i < line1; i++) {
      if (column >= (lines[i]?.length ?? 0) - 1) continue;
      writeLines(start, i);
      let w = opts.minWidth;
      let j = i;
      for (; j < line1; j++) {
        const cells = lines[j] ?? [];
        if (column >= cells.length - 1) break;
        w = Math.max(w, width(cells[column] ?? '') + opts.padding);
      }
      widths.push(w);
      format(i, j);
      widths.pop();
      start = j;
      i = j - 1;
    }
    writeLines(start, line1);
  };

  format(0, lines.length);
  return out.join('\n') + (endsWithNewline ? '\n' : '');
}
