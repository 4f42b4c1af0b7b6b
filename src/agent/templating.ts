// Docker's `golang` template driver for config and secret payloads (SwarmKit template.PayloadContext):
// the subset of Go's text/template that payload templates use, rendered per task on the agent. Pure: the
// caller gathers the task's environment and the payloads of the secrets and configs it references.
import { SwarmError } from '../api/errors.js';

export interface TemplateContext {
  service: { id: string; name: string; labels: Record<string, string> };
  node: { id: string; hostname: string; os: string; architecture: string };
  /** Slot 0 (a global service's task) shows the node ID as `.Task.Slot`, as SwarmKit does. */
  task: { id: string; name: string; slot: number };
  /** The container's ContainerSpec.Env as on the wire ("KEY=VALUE"); `env` reads the first match. */
  env: readonly string[];
  /** Payloads of the secrets / configs the task references, by file target (SecretReference.File.Name). */
  secrets: Record<string, string>;
  configs: Record<string, string>;
}

export interface RenderedPayload {
  data: string;
  /** The template read a secret: SwarmKit then handles a config like a secret (kept off disk). */
  sensitive: boolean;
}

/** A parse or execution error; the message says what is wrong and on which line. */
export class TemplateError extends SwarmError {
  constructor(
    readonly line: number,
    problem: string,
  ) {
    super('INVALID_ARGUMENT', `template: line ${line}: ${problem}`);
    this.name = 'TemplateError';
  }
}

// ---- Values: what Go's text/template sees. Structs have fixed fields, in Go's declaration order. ----

class Struct {
  constructor(
    /** How error messages name it. */
    readonly label: string,
    readonly fields: Record<string, Value>,
  ) {}
}
type Value = string | number | boolean | Struct | ReadonlyMap<string, string>;

function contextValue(ctx: TemplateContext): Struct {
  const { service: s, node: n, task: t } = ctx;
  return new Struct('the template data', {
    Service: new Struct('.Service', { ID: s.id, Name: s.name, Labels: new Map(Object.entries(s.labels)) }),
    Node: new Struct('.Node', {
      ID: n.id,
      Hostname: n.hostname,
      Platform: new Struct('.Node.Platform', { Architecture: n.architecture, OS: n.os }),
    }),
    // A string in SwarmKit's Context, so `{{if .Task.Slot}}` is true and `eq .Task.Slot "1"` works.
    Task: new Struct('.Task', { ID: t.id, Name: t.name, Slot: t.slot !== 0 ? String(t.slot) : n.id }),
  });
}

/** fmt's %v. */
function goPrint(v: Value): string {
  if (v instanceof Struct) return `{${Object.values(v.fields).map(goPrint).join(' ')}}`;
  if (v instanceof Map) {
    const keys = [...v.keys()].sort();
    return `map[${keys.map((k) => `${k}:${v.get(k)}`).join(' ')}]`;
  }
  return String(v);
}

function goType(v: Value): string {
  if (v instanceof Struct) return 'struct';
  if (v instanceof Map) return 'map[string]string';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float64';
  return typeof v === 'string' ? 'string' : 'bool';
}

/** Go's truth: false, 0, "" and an empty map are false. */
function truthy(v: Value): boolean {
  if (v instanceof Map) return v.size > 0;
  return v instanceof Struct || (v !== '' && v !== 0 && v !== false);
}

// ---- Lexer: text, and the tokens inside {{ }}. Comments and trim markers are resolved here. ----

type TokenKind = 'text' | 'open' | 'close' | 'punct' | 'string' | 'number' | 'field' | 'ident';
interface Token {
  kind: TokenKind;
  value: string;
  line: number;
}

const SPACE = /[ \t\r\n]/;
// Sticky (/y) patterns, matched at the lexer's position. An action's tokens: the closing delimiter
// (` -}}` trims), spaces, punctuation, a quoted string, or a word (field chain, identifier, number).
const ACTION_TOKEN =
  /(?<close>[ \t\r\n]+-\}\}|\}\})|[ \t\r\n]+|(?<punct>[|()])|(?<quoted>"(?:[^"\\\n]|\\.)*"|`[^`]*`)|(?<word>[-+]?[\w.$]+)/y;
const CLOSE_AFTER_COMMENT = /(?:[ \t\r\n]-)?\}\}/y;
const SPACES = /[ \t\r\n]*/y;
const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\' };

function unquote(quoted: string, line: number): string {
  return quoted.slice(1, -1).replace(/\\(u[0-9a-fA-F]{4}|.)/g, (_, e: string) => {
    if (e.length === 5) return String.fromCharCode(Number.parseInt(e.slice(1), 16));
    const ch = Object.hasOwn(ESCAPES, e) ? ESCAPES[e] : undefined;
    if (ch === undefined) throw new TemplateError(line, `unknown escape sequence \\${e} in string`);
    return ch;
  });
}

function classify(word: string, line: number): TokenKind {
  if (/^(\.[A-Za-z_]\w*)+$|^\.$/.test(word)) return 'field';
  if (/^[A-Za-z_]\w*$/.test(word)) return 'ident';
  if (/^[-+]?\d+(\.\d+)?$/.test(word)) return 'number';
  if (word.startsWith('$')) throw new TemplateError(line, `variables (${word}) are not supported`);
  throw new TemplateError(line, `bad syntax "${word}"`);
}

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  const moveTo = (j: number) => {
    for (; i < j; i++) if (src[i] === '\n') line++;
  };
  const matchAt = (re: RegExp) => {
    re.lastIndex = i;
    return re.exec(src);
  };
  const push = (kind: TokenKind, value: string) => tokens.push({ kind, value, line });
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    // `{{- ` trims the whitespace before the action; the space after "-" is required, as in Go.
    const trimBefore = open !== -1 && src[open + 2] === '-' && SPACE.test(src[open + 3] ?? '');
    const text = src.slice(i, open === -1 ? src.length : open);
    const kept = trimBefore ? text.replace(/[ \t\r\n]+$/, '') : text;
    if (kept !== '') push('text', kept);
    if (open === -1) break;
    moveTo(open);
    const start = line;
    moveTo(open + (trimBefore ? 4 : 2));
    let trimAfter = false;
    if (src.startsWith('/*', i)) {
      const end = src.indexOf('*/', i);
      if (end === -1) throw new TemplateError(start, 'unclosed comment');
      moveTo(end + 2);
      const close = matchAt(CLOSE_AFTER_COMMENT)?.[0];
      if (close === undefined) throw new TemplateError(line, 'comment ends before closing delimiter');
      trimAfter = close.length === 4;
      moveTo(i + close.length);
    } else {
      push('open', '{{');
      for (;;) {
        const m = matchAt(ACTION_TOKEN);
        if (!m) {
          const c = src[i];
          if (c === undefined) throw new TemplateError(start, 'unclosed action: "{{" has no matching "}}"');
          const quote = c === '"' || c === '`';
          throw new TemplateError(line, quote ? 'unterminated quoted string' : `unexpected "${c}" in action`);
        }
        const { close, punct, quoted, word } = m.groups ?? {};
        if (punct) push('punct', punct);
        else if (quoted) push('string', quoted[0] === '"' ? unquote(quoted, line) : quoted.slice(1, -1));
        else if (word) push(classify(word, line), word);
        moveTo(i + m[0].length);
        if (close) {
          trimAfter = close.length > 2;
          break;
        }
      }
      push('close', '}}');
    }
    if (trimAfter) moveTo(i + (matchAt(SPACES)?.[0] ?? '').length);
  }
  return tokens;
}

// ---- Parser: recursive descent over the tokens into a tree of text, actions and ifs. ----

type Operand =
  | { kind: 'literal'; value: Value }
  | { kind: 'field'; path: string[] }
  | { kind: 'fn'; name: string }
  | { kind: 'pipe'; pipe: Pipeline };
/** A function and its arguments, or a single value; a piped value becomes the last argument. */
interface Command {
  head: Operand;
  args: Operand[];
  line: number;
}
type Pipeline = [Command, ...Command[]];
type TemplateNode =
  | { kind: 'text'; text: string }
  | { kind: 'action'; pipe: Pipeline }
  | { kind: 'if'; cond: Pipeline; whenTrue: TemplateNode[]; whenFalse: TemplateNode[] };

/** Go template features left out, named so that the error says so rather than "not defined". */
const NOT_SUPPORTED = new Set([
  ...'range with define template block break continue'.split(' '),
  ...'len lt le gt ge print println slice call html js urlquery'.split(' '),
]);

function parse(tokens: Token[]): TemplateNode[] {
  let pos = 0;
  const peek = (): Token | undefined => tokens[pos];
  const lastLine = () => tokens[tokens.length - 1]?.line ?? 1;
  const describe = (t: Token | undefined) => (t ? `"${t.value}"` : 'end of template');
  const is = (t: Token | undefined, kind: TokenKind, value: string) => t?.kind === kind && t.value === value;
  const expect = (kind: TokenKind, value: string): void => {
    const t = tokens[pos++];
    if (!is(t, kind, value))
      throw new TemplateError(t?.line ?? lastLine(), `unexpected ${describe(t)}, expected "${value}"`);
  };
  const isKeyword = (t: Token | undefined, word: string) => is(t, 'ident', word);

  /** Nodes up to an {{else}} or {{end}} (left unconsumed, returned as `stop`) or the end of input. */
  const list = (): { nodes: TemplateNode[]; stop: Token | undefined } => {
    const nodes: TemplateNode[] = [];
    for (let t = tokens[pos++]; t; t = tokens[pos++]) {
      if (t.kind === 'text') {
        nodes.push({ kind: 'text', text: t.value });
        continue;
      }
      const word = peek();
      if (isKeyword(word, 'else') || isKeyword(word, 'end')) return { nodes, stop: word };
      if (isKeyword(word, 'if')) {
        pos++;
        nodes.push(ifNode(t.line));
        continue;
      }
      nodes.push({ kind: 'action', pipe: pipeline() });
      expect('close', '}}');
    }
    return { nodes, stop: undefined };
  };

  // After `{{if` (or `{{else if`, which shares the outer {{end}}).
  const ifNode = (line: number): TemplateNode => {
    const cond = pipeline();
    expect('close', '}}');
    const then = list();
    if (!then.stop) throw new TemplateError(line, '{{if}} has no matching {{end}}');
    pos++;
    if (then.stop.value === 'end') {
      expect('close', '}}');
      return { kind: 'if', cond, whenTrue: then.nodes, whenFalse: [] };
    }
    if (isKeyword(peek(), 'if')) {
      pos++;
      return { kind: 'if', cond, whenTrue: then.nodes, whenFalse: [ifNode(line)] };
    }
    expect('close', '}}');
    const otherwise = list();
    if (otherwise.stop?.value === 'else')
      throw new TemplateError(otherwise.stop.line, 'second {{else}} in {{if}}');
    if (!otherwise.stop) throw new TemplateError(line, '{{if}} has no matching {{end}}');
    pos++;
    expect('close', '}}');
    return { kind: 'if', cond, whenTrue: then.nodes, whenFalse: otherwise.nodes };
  };

  const pipeline = (): Pipeline => {
    const commands: Pipeline = [command()];
    while (is(peek(), 'punct', '|')) {
      pos++;
      commands.push(command());
    }
    return commands;
  };

  const command = (): Command => {
    const line = peek()?.line ?? lastLine();
    const operands: Operand[] = [];
    // A command ends at "}}", "|" or ")".
    for (let t = peek(); t && t.kind !== 'close' && !(t.kind === 'punct' && t.value !== '('); t = peek()) {
      operands.push(operand());
    }
    const [head, ...args] = operands;
    if (!head) throw new TemplateError(line, `missing value for command before ${describe(peek())}`);
    if (head.kind !== 'fn' && args.length > 0) throw new TemplateError(line, nonFunction(head));
    return { head, args, line };
  };

  const operand = (): Operand => {
    const t = tokens[pos++];
    if (!t) throw new TemplateError(lastLine(), 'unexpected end of template');
    switch (t.kind) {
      case 'string':
        return { kind: 'literal', value: t.value };
      case 'number':
        return { kind: 'literal', value: Number(t.value) };
      case 'field': // `.` alone is the whole data
        return { kind: 'field', path: t.value === '.' ? [] : t.value.slice(1).split('.') };
      case 'punct': {
        // Only "(" reaches here: a command stops at "|" and ")".
        const pipe = pipeline();
        expect('punct', ')');
        return { kind: 'pipe', pipe };
      }
      case 'ident':
        if (t.value === 'true' || t.value === 'false') return { kind: 'literal', value: t.value === 'true' };
        if (FUNCTIONS.has(t.value)) return { kind: 'fn', name: t.value };
        if (NOT_SUPPORTED.has(t.value))
          throw new TemplateError(t.line, `"${t.value}" is not supported (only a subset of Go templates is)`);
        throw new TemplateError(t.line, `function "${t.value}" not defined`);
      default:
        throw new TemplateError(t.line, `unexpected ${describe(t)} in command`);
    }
  };

  const top = list();
  if (top.stop) throw new TemplateError(top.stop.line, `unexpected {{${top.stop.value}}}`);
  return top.nodes;
}

function nonFunction(op: Operand): string {
  const shown =
    op.kind === 'field' ? `.${op.path.join('.')}` : op.kind === 'literal' ? JSON.stringify(op.value) : '(…)';
  return `can't give argument to non-function ${shown}`;
}

// ---- Evaluation. ----

/** One rendering: the data and whether a secret has been read. */
interface Run {
  readonly ctx: TemplateContext;
  readonly root: Struct;
  sensitive: boolean;
}

/** Thrown by a function; the caller adds the line and the function's name, as Go's "error calling X". */
class CallError extends Error {}

function str(v: Value | undefined): string {
  if (typeof v !== 'string')
    throw new CallError(`expected a string, got ${v === undefined ? 'nothing' : goType(v)}`);
  return v;
}

function comparable(a: Value, b: Value): boolean {
  if (typeof a === 'object' || typeof b === 'object') throw new CallError(`non-comparable type ${goType(a)}`);
  if (goType(a) !== goType(b))
    throw new CallError(`incompatible types for comparison: ${goType(a)}, ${goType(b)}`);
  return a === b;
}

/** fmt.Sprintf for the verbs templates use: %s %v %d %q %%; Go's %!verb(...) markers for mistakes. */
function sprintf(format: string, args: Value[]): string {
  let n = 0;
  const out = format.replace(/%[^a-zA-Z%]*[a-zA-Z%]?/g, (spec) => {
    if (spec === '%%') return '%';
    if (!['%s', '%v', '%d', '%q'].includes(spec)) throw new CallError(`printf verb ${spec} is not supported`);
    const a = args[n++];
    if (a === undefined) return `%!${spec[1]}(MISSING)`;
    const wrongType =
      spec === '%d' ? typeof a !== 'number' : spec !== '%v' && typeof a !== 'string' && typeof a !== 'object';
    if (wrongType) return `%!${spec[1]}(${goType(a)}=${goPrint(a)})`;
    return spec === '%q' ? JSON.stringify(goPrint(a)) : goPrint(a);
  });
  const extra = args.slice(n).map((a) => `${goType(a)}=${goPrint(a)}`);
  return extra.length > 0 ? `${out}%!(EXTRA ${extra.join(', ')})` : out;
}

interface TemplateFunction {
  arity: [min: number, max: number];
  call: (args: Value[], run: Run) => Value;
}

const FUNCTIONS = new Map<string, TemplateFunction>([
  ['env', { arity: [1, 1], call: ([name], run) => envValue(run.ctx.env, str(name)) }],
  ['secret', { arity: [1, 1], call: ([target], run) => dependency(run, 'secret', str(target)) }],
  ['config', { arity: [1, 1], call: ([target], run) => dependency(run, 'config', str(target)) }],
  ['index', { arity: [2, 2], call: ([m, key]) => indexMap(m, str(key)) }],
  // SwarmKit's own helper: `join SEP A B...`.
  ['join', { arity: [1, Infinity], call: ([sep, ...parts]) => parts.map(str).join(str(sep)) }],
  ['printf', { arity: [1, Infinity], call: ([format, ...rest]) => sprintf(str(format), rest) }],
  ['eq', { arity: [2, Infinity], call: ([a, ...bs]) => bs.some((b) => comparable(a!, b)) }],
  ['ne', { arity: [2, 2], call: ([a, b]) => !comparable(a!, b!) }],
  ['not', { arity: [1, 1], call: ([v]) => !truthy(v!) }],
  ['and', { arity: [1, Infinity], call: (args) => args.find((v) => !truthy(v)) ?? args[args.length - 1]! }],
  ['or', { arity: [1, Infinity], call: (args) => args.find(truthy) ?? args[args.length - 1]! }],
]);

/** SwarmKit's envGetter: the first "NAME=value" entry; "" when the variable is not set. */
function envValue(env: readonly string[], name: string): string {
  for (const entry of env) {
    const eq = entry.indexOf('=');
    if (eq !== -1 && entry.slice(0, eq) === name) return entry.slice(eq + 1);
  }
  return '';
}

/** Only secrets and configs the task itself references can be read, by their file target. */
function dependency(run: Run, kind: 'secret' | 'config', target: string): string {
  const payloads = kind === 'secret' ? run.ctx.secrets : run.ctx.configs;
  if (!Object.hasOwn(payloads, target)) throw new CallError(`${kind} target ${target} not found`);
  if (kind === 'secret') run.sensitive = true;
  return payloads[target]!;
}

/** `index` on a map[string]string gives "" for a missing key (the zero value), unlike a field lookup. */
function indexMap(m: Value | undefined, key: string): string {
  if (!(m instanceof Map))
    throw new CallError(`can't index item of type ${m === undefined ? 'none' : goType(m)}`);
  return m.get(key) ?? '';
}

/** A field chain from the root; SwarmKit sets missingkey=error, so a missing map key is an error too. */
function lookup(root: Struct, path: string[], line: number): Value {
  const chain = `.${path.join('.')}`;
  let cur: Value = root;
  for (const name of path) {
    if (cur instanceof Struct) {
      if (!Object.hasOwn(cur.fields, name)) {
        const known = `${cur.label} has fields ${Object.keys(cur.fields).join(', ')}`;
        throw new TemplateError(line, `can't evaluate field ${name} in ${chain}: ${known}`);
      }
      cur = cur.fields[name]!;
    } else if (cur instanceof Map) {
      const value: string | undefined = cur.get(name);
      if (value === undefined) throw new TemplateError(line, `map has no entry for key "${name}" (${chain})`);
      cur = value;
    } else {
      throw new TemplateError(line, `can't evaluate field ${name} in type ${goType(cur)} (${chain})`);
    }
  }
  return cur;
}

function evalOperand(op: Operand, line: number, run: Run): Value {
  switch (op.kind) {
    case 'literal':
      return op.value;
    case 'field':
      return lookup(run.root, op.path, line);
    case 'fn':
      return call(op.name, [], line, run);
    case 'pipe':
      return evalPipeline(op.pipe, run);
  }
}

function call(name: string, args: Value[], line: number, run: Run): Value {
  const fn = FUNCTIONS.get(name)!;
  const [min, max] = fn.arity;
  if (args.length < min || args.length > max) {
    const want = min === max ? `${min}` : max === Infinity ? `at least ${min}` : `${min} to ${max}`;
    throw new TemplateError(line, `wrong number of args for ${name}: want ${want} got ${args.length}`);
  }
  try {
    return fn.call(args, run);
  } catch (err) {
    if (err instanceof CallError) throw new TemplateError(line, `error calling ${name}: ${err.message}`);
    throw err;
  }
}

function evalCommand({ head, args, line }: Command, piped: Value[], run: Run): Value {
  if (head.kind === 'fn')
    return call(head.name, [...args.map((a) => evalOperand(a, line, run)), ...piped], line, run);
  if (piped.length > 0) throw new TemplateError(line, nonFunction(head));
  return evalOperand(head, line, run);
}

function evalPipeline([first, ...rest]: Pipeline, run: Run): Value {
  let value = evalCommand(first, [], run);
  for (const cmd of rest) value = evalCommand(cmd, [value], run);
  return value;
}

function render(nodes: TemplateNode[], run: Run): string {
  let out = '';
  for (const node of nodes) {
    if (node.kind === 'text') out += node.text;
    else if (node.kind === 'action') out += goPrint(evalPipeline(node.pipe, run));
    else out += render(truthy(evalPipeline(node.cond, run)) ? node.whenTrue : node.whenFalse, run);
  }
  return out;
}

/** Renders a payload for one task; throws TemplateError on a parse or execution error. */
export function renderTemplate(source: string, ctx: TemplateContext): RenderedPayload {
  const nodes = parse(tokenize(source));
  const run: Run = { ctx, root: contextValue(ctx), sensitive: false };
  const data = render(nodes, run);
  return { data, sensitive: run.sensitive };
}
