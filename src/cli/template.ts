// A subset of Go's text/template, enough for the docker CLI's --format flag: field chains
// (`.Spec.Name`), `.`, pipelines (`.Name | upper`), the CLI's functions (json, upper, lower,
// title, join, split, truncate, pad, println), string/number literals, `{{if}}…{{else}}…{{end}}`,
// `{{range}}…{{end}}` and `{{-`/`-}}` trimming. Values print as Go's fmt %v would print the JSON
// the daemon sent (maps as `map[k:v]`, lists as `[a b]`, a missing key as `<no value>`).

type Pipeline = Command[];
type Operand =
  | { kind: 'field'; path: string[] }
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number }
  | { kind: 'ident'; name: string };
type Command = Operand[];

type TemplateNode =
  | { kind: 'text'; text: string }
  | { kind: 'action'; pipe: Pipeline }
  | { kind: 'if'; pipe: Pipeline; whenTrue: TemplateNode[]; whenFalse: TemplateNode[] }
  | { kind: 'range'; pipe: Pipeline; body: TemplateNode[]; else: TemplateNode[] };

export class TemplateError extends Error {}

const MISSING = Symbol('no value');

/**
 * A Go map field that is nil, for objects whose JSON `null` Docker's CLI decodes into a typed map:
 * it prints as `map[]` but marshals (`{{json}}`) as `null`.
 */
export const NIL_MAP: Readonly<Record<string, never>> = Object.freeze({});
/** The same for an `omitempty` map field: `{{json}}` leaves it out. */
export const OMITTED_NIL_MAP: Readonly<Record<string, never>> = Object.freeze({});

function marshalled(_key: string, v: unknown): unknown {
  if (v === NIL_MAP) return null;
  return v === OMITTED_NIL_MAP ? undefined : v;
}

function tokenizeAction(src: string): string[] {
  const tokens: string[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] ?? '';
    if (/\s/.test(c)) {
      i++;
    } else if (c === '"' || c === '`') {
      let j = i + 1;
      while (j < src.length && src[j] !== c) j += src[j] === '\\' && c === '"' ? 2 : 1;
      tokens.push(src.slice(i, j + 1));
      i = j + 1;
    } else if (c === '|') {
      tokens.push('|');
      i++;
    } else {
      let j = i;
      while (j < src.length && !/[\s|]/.test(src[j] ?? '')) j++;
      tokens.push(src.slice(i, j));
      i = j;
    }
  }
  return tokens;
}

function parsePipeline(src: string): Pipeline {
  const pipe: Pipeline = [];
  let cmd: Command = [];
  for (const tok of tokenizeAction(src)) {
    if (tok === '|') {
      if (cmd.length === 0) throw new TemplateError(`missing command in pipeline: ${src}`);
      pipe.push(cmd);
      cmd = [];
      continue;
    }
    if (tok.startsWith('"')) cmd.push({ kind: 'string', value: JSON.parse(tok) as string });
    else if (tok.startsWith('`')) cmd.push({ kind: 'string', value: tok.slice(1, -1) });
    else if (tok === '.') cmd.push({ kind: 'field', path: [] });
    else if (tok.startsWith('.')) cmd.push({ kind: 'field', path: tok.slice(1).split('.') });
    else if (/^-?\d+(\.\d+)?$/.test(tok)) cmd.push({ kind: 'number', value: Number(tok) });
    else if (/^[A-Za-z_]\w*$/.test(tok)) cmd.push({ kind: 'ident', name: tok });
    else throw new TemplateError(`unexpected "${tok}" in operand`);
  }
  if (cmd.length === 0) throw new TemplateError(`missing value for command: ${src}`);
  pipe.push(cmd);
  return pipe;
}

/** Parses a template string into a tree. */
export function parseTemplate(src: string): TemplateNode[] {
  // Split into text and actions, applying trim markers.
  const parts: Array<{ text: string } | { action: string }> = [];
  let i = 0;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    if (open === -1) {
      parts.push({ text: src.slice(i) });
      break;
    }
    const close = src.indexOf('}}', open + 2);
    if (close === -1) throw new TemplateError('unclosed action');
    let text = src.slice(i, open);
    let inner = src.slice(open + 2, close);
    if (inner.startsWith('- ')) {
      text = text.trimEnd();
      inner = inner.slice(1);
    }
    let trimAfter = false;
    if (inner.endsWith(' -')) {
      inner = inner.slice(0, -1);
      trimAfter = true;
    }
    parts.push({ text }, { action: inner.trim() });
    i = close + 2;
    if (trimAfter) while (i < src.length && /\s/.test(src[i] ?? '')) i++;
  }

  let pos = 0;
  const parseList = (stopAt: string[]): { nodes: TemplateNode[]; stop: string | undefined } => {
    const nodes: TemplateNode[] = [];
    while (pos < parts.length) {
      const part = parts[pos++];
      if (!part) break;
      if ('text' in part) {
        if (part.text !== '') nodes.push({ kind: 'text', text: part.text });
        continue;
      }
      const a = part.action;
      const word = a.split(/\s+/)[0] ?? '';
      if (stopAt.includes(word)) return { nodes, stop: word };
      if (word === 'if' || word === 'range') {
        const pipe = parsePipeline(a.slice(word.length));
        const body = parseList(['else', 'end']);
        let elseNodes: TemplateNode[] = [];
        if (body.stop === 'else') elseNodes = parseList(['end']).nodes;
        else if (body.stop !== 'end') throw new TemplateError(`unexpected EOF in ${word}`);
        nodes.push(
          word === 'if'
            ? { kind: 'if', pipe, whenTrue: body.nodes, whenFalse: elseNodes }
            : { kind: 'range', pipe, body: body.nodes, else: elseNodes },
        );
        continue;
      }
      if (word === 'end' || word === 'else') throw new TemplateError(`unexpected {{${word}}}`);
      if (a.startsWith('/*')) continue;
      nodes.push({ kind: 'action', pipe: parsePipeline(a) });
    }
    return { nodes, stop: undefined };
  };
  return parseList([]).nodes;
}

/** Go's json.Marshal escaping of <, > and & inside strings. */
export function goJson(value: unknown): string {
  return (JSON.stringify(value === MISSING ? null : value, marshalled) ?? 'null')
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026');
}

/** fmt's %v for JSON-shaped values. */
export function goPrint(v: unknown): string {
  if (v === MISSING) return '<no value>';
  if (v === null || v === undefined) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(goPrint).join(' ')}]`;
  if (typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    );
    return `map[${entries.map(([k, x]) => `${k}:${goPrint(x)}`).join(' ')}]`;
  }
  return String(v);
}

function truthy(v: unknown): boolean {
  if (v === MISSING || v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v as object).length > 0;
  return true;
}

function asString(v: unknown): string {
  return typeof v === 'string' ? v : goPrint(v);
}

const FUNCTIONS: Record<string, (...args: unknown[]) => unknown> = {
  json: (v) => goJson(v),
  upper: (v) => asString(v).toUpperCase(),
  lower: (v) => asString(v).toLowerCase(),
  title: (v) => asString(v).replace(/\b\w/g, (c) => c.toUpperCase()),
  join: (list, sep) => (Array.isArray(list) ? list.map(asString).join(asString(sep)) : asString(list)),
  split: (s, sep) => asString(s).split(asString(sep)),
  truncate: (s, n) => [...asString(s)].slice(0, Number(n)).join(''),
  pad: (s, l, r) => `${' '.repeat(Number(l))}${asString(s)}${' '.repeat(Number(r))}`,
  println: (...xs) => `${xs.map(goPrint).join(' ')}\n`,
  print: (...xs) => xs.map(goPrint).join(''),
  len: (v) => (Array.isArray(v) || typeof v === 'string' ? v.length : Object.keys(v ?? {}).length),
  index: (v, k) => {
    if (Array.isArray(v)) return v[Number(k)] ?? MISSING;
    if (v && typeof v === 'object') return (v as Record<string, unknown>)[asString(k)] ?? MISSING;
    return MISSING;
  },
};

function lookup(data: unknown, path: string[]): unknown {
  let cur = data;
  for (const key of path) {
    if (
      cur === MISSING ||
      cur === null ||
      cur === undefined ||
      typeof cur !== 'object' ||
      Array.isArray(cur)
    ) {
      if (cur === null || cur === undefined) return MISSING;
      throw new TemplateError(
        `can't evaluate field ${key} in type ${Array.isArray(cur) ? 'slice' : typeof cur}`,
      );
    }
    cur = key in (cur as object) ? (cur as Record<string, unknown>)[key] : MISSING;
  }
  return cur;
}

function evalOperand(op: Operand, dot: unknown): unknown {
  switch (op.kind) {
    case 'field':
      return lookup(dot, op.path);
    case 'string':
    case 'number':
      return op.value;
    case 'ident':
      if (op.name === 'true') return true;
      if (op.name === 'false') return false;
      if (op.name === 'nil') return null;
      return callFunction(op.name, []);
  }
}

function callFunction(name: string, args: unknown[]): unknown {
  const fn = FUNCTIONS[name];
  if (!fn) throw new TemplateError(`function "${name}" not defined`);
  return fn(...args);
}

function evalPipeline(pipe: Pipeline, dot: unknown): unknown {
  let value: unknown = MISSING;
  pipe.forEach((cmd, n) => {
    const [head, ...rest] = cmd;
    if (!head) return;
    const piped = n > 0 ? [value] : [];
    if (head.kind === 'ident' && !['true', 'false', 'nil'].includes(head.name)) {
      value = callFunction(head.name, [...rest.map((o) => evalOperand(o, dot)), ...piped]);
    } else {
      if (rest.length > 0 || piped.length > 0) throw new TemplateError(`can't give argument to non-function`);
      value = evalOperand(head, dot);
    }
  });
  return value;
}

function render(nodes: TemplateNode[], dot: unknown): string {
  let out = '';
  for (const node of nodes) {
    switch (node.kind) {
      case 'text':
        out += node.text;
        break;
      case 'action':
        out += goPrint(evalPipeline(node.pipe, dot));
        break;
      case 'if':
        out += render(truthy(evalPipeline(node.pipe, dot)) ? node.whenTrue : node.whenFalse, dot);
        break;
      case 'range': {
        const v = evalPipeline(node.pipe, dot);
        const items = Array.isArray(v)
          ? v
          : v && typeof v === 'object'
            ? Object.keys(v)
                .sort()
                .map((k) => (v as Record<string, unknown>)[k])
            : [];
        out +=
          items.length === 0 ? render(node.else, dot) : items.map((it) => render(node.body, it)).join('');
        break;
      }
    }
  }
  return out;
}

/** Renders a template against one value (e.g. one row of a table or one inspected object). */
export function executeTemplate(template: TemplateNode[], data: unknown): string {
  return render(template, data);
}

/** The docker CLI lets users type `\t` and `\n` literally in --format; they become real characters. */
export function unescapeFormat(format: string): string {
  return format.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
}

/** Field names used by a table template, in order: "table {{.ID}}\t{{.Name}}" → ["ID", "Name"]. */
export function templateFields(nodes: TemplateNode[]): string[][] {
  const out: string[][] = [];
  for (const n of nodes) {
    if (n.kind !== 'action') continue;
    for (const cmd of n.pipe) for (const op of cmd) if (op.kind === 'field') out.push(op.path);
  }
  return out;
}
