// swarmctl's command-line grammar: a tree of commands, each with typed flags, parsed the way the
// docker CLI (cobra + pflag) does: `--flag value`, `--flag=value`, `-f value`, `-fvalue`, grouped
// short booleans (`-dq`), repeatable list flags, `--` ends flags, and commands that stop flag
// parsing at their first positional argument (`service create IMAGE COMMAND ARGS…`).
// Values are checked while parsing so that a bad value is a usage error (exit 125) with pflag's
// wording, before any request is sent.

import { parseGoDuration } from './units.js';

export type FlagKind = 'bool' | 'string' | 'int' | 'uint' | 'float' | 'duration' | 'list';

export interface FlagSpec {
  name: string;
  short?: string;
  kind: FlagKind;
  /** Word shown after the flag in help (pflag's type name: "list", "port", "mount"…). */
  typeName?: string;
  description: string;
  /** Default shown in help as `(default …)`. */
  defaultText?: string;
  /** Extra validation of each value; throw an Error whose message pflag would show. */
  validate?: (value: string) => void;
  hidden?: boolean;
}

export interface ArgRule {
  min?: number;
  max?: number;
}

export interface CommandSpec {
  name: string;
  aliases?: string[];
  /** Text after the command path in the usage line, e.g. "[OPTIONS] SERVICE [SERVICE...]". */
  usage: string;
  description: string;
  flags?: FlagSpec[];
  args?: ArgRule;
  /** Stop parsing flags at the first positional argument (pflag SetInterspersed(false)). */
  stopAtFirstArg?: boolean;
  subcommands?: CommandSpec[];
  run?: (inv: Invocation) => Promise<number>;
}

/** A usage error: printed with a `See '… --help'.` hint; `exitCode` 125 for flag errors. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly commandPath: string,
    readonly usageText?: string,
  ) {
    super(message);
  }
}

/** Parsed flag values; every value was validated during parsing, so getters only convert. */
export class ParsedFlags {
  constructor(
    private readonly specs: Map<string, FlagSpec>,
    private readonly values: Map<string, string[]>,
  ) {}

  changed(name: string): boolean {
    return this.values.has(name);
  }

  private last(name: string): string | undefined {
    if (!this.specs.has(name)) throw new Error(`flag --${name} is not defined for this command`);
    const v = this.values.get(name);
    return v?.[v.length - 1];
  }

  bool(name: string): boolean {
    return this.last(name) === 'true';
  }

  string(name: string, fallback = ''): string {
    return this.last(name) ?? fallback;
  }

  optionalString(name: string): string | undefined {
    return this.last(name);
  }

  number(name: string): number | undefined {
    const v = this.last(name);
    return v === undefined ? undefined : Number(v);
  }

  /** Duration flag in nanoseconds. */
  duration(name: string): number | undefined {
    const v = this.last(name);
    return v === undefined ? undefined : parseGoDuration(v);
  }

  list(name: string): string[] {
    this.last(name);
    return [...(this.values.get(name) ?? [])];
  }
}

export interface Invocation {
  /** Command names from the root, e.g. ["service", "create"]. */
  path: string[];
  command: CommandSpec;
  flags: ParsedFlags;
  args: string[];
}

export interface ParseResult {
  kind: 'run' | 'help';
  invocation: Invocation;
}

const BOOL_VALUES = new Map([
  ['1', 'true'],
  ['t', 'true'],
  ['T', 'true'],
  ['true', 'true'],
  ['TRUE', 'true'],
  ['True', 'true'],
  ['0', 'false'],
  ['f', 'false'],
  ['F', 'false'],
  ['false', 'false'],
  ['FALSE', 'false'],
  ['False', 'false'],
]);

function flagLabel(spec: FlagSpec): string {
  return spec.short ? `-${spec.short}, --${spec.name}` : `--${spec.name}`;
}

/** Checks one value the way pflag's typed Set does; returns the value to store. */
function checkValue(spec: FlagSpec, raw: string): string {
  const fail = (why: string) => new Error(`invalid argument "${raw}" for "${flagLabel(spec)}" flag: ${why}`);
  let value = raw;
  switch (spec.kind) {
    case 'bool': {
      const b = BOOL_VALUES.get(raw);
      if (b === undefined) throw fail(`strconv.ParseBool: parsing "${raw}": invalid syntax`);
      value = b;
      break;
    }
    case 'uint':
      if (!/^\d+$/.test(raw)) throw fail(`strconv.ParseUint: parsing "${raw}": invalid syntax`);
      break;
    case 'int':
      if (!/^[+-]?\d+$/.test(raw)) throw fail(`strconv.ParseInt: parsing "${raw}": invalid syntax`);
      break;
    case 'float':
      if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(raw))
        throw fail(`strconv.ParseFloat: parsing "${raw}": invalid syntax`);
      break;
    case 'duration':
      try {
        parseGoDuration(raw);
      } catch (e) {
        throw fail((e as Error).message);
      }
      break;
    default:
      break;
  }
  if (spec.validate) {
    try {
      spec.validate(raw);
    } catch (e) {
      throw fail((e as Error).message);
    }
  }
  return value;
}

export const HELP_FLAG: FlagSpec = { name: 'help', kind: 'bool', description: 'Print usage', hidden: true };

/**
 * Parses argv against a command tree. `globalFlags` are accepted before the first command name
 * (like `docker -H unix:///x service ls`).
 */
export function parseCommandLine(
  root: CommandSpec,
  argv: string[],
): { result: ParseResult; globals: ParsedFlags } {
  let command = root;
  const path: string[] = [];
  let i = 0;
  const globalSpecs = new Map<string, FlagSpec>();
  for (const f of [...(root.flags ?? []), HELP_FLAG]) globalSpecs.set(f.name, f);
  const globalValues = new Map<string, string[]>();

  // Walk down the tree: flags before a subcommand name belong to the root only.
  while (i < argv.length) {
    const arg = argv[i] ?? '';
    if (arg.startsWith('-') && arg !== '-' && command === root) {
      i = consumeFlag(argv, i, globalSpecs, globalValues, root.name);
      continue;
    }
    const sub = command.subcommands?.find((c) => c.name === arg || c.aliases?.includes(arg));
    if (!sub) break;
    command = sub;
    path.push(sub.name);
    i++;
  }
  const globals = new ParsedFlags(globalSpecs, globalValues);
  const pathText = [root.name, ...path].join(' ');

  if (globals.changed('help') && command === root) {
    return { result: { kind: 'help', invocation: { path, command, flags: globals, args: [] } }, globals };
  }

  if (!command.run) {
    const next = argv[i];
    if (next === undefined || next === '--help' || next === '-h') {
      return { result: { kind: 'help', invocation: { path, command, flags: globals, args: [] } }, globals };
    }
    if (command === root) {
      throw new UsageError(`${root.name}: '${next}' is not a ${root.name} command.`, 1, pathText);
    }
    throw new UsageError(`${pathText}: '${next}' is not a ${pathText} command.`, 1, pathText);
  }

  const specs = new Map<string, FlagSpec>();
  for (const f of [...(command.flags ?? []), HELP_FLAG]) specs.set(f.name, f);
  const values = new Map<string, string[]>();
  const args: string[] = [];
  let flagsDone = false;
  while (i < argv.length) {
    const arg = argv[i] ?? '';
    if (flagsDone || !arg.startsWith('-') || arg === '-') {
      args.push(arg);
      i++;
      if (command.stopAtFirstArg) flagsDone = true;
      continue;
    }
    if (arg === '--') {
      flagsDone = true;
      i++;
      continue;
    }
    i = consumeFlag(argv, i, specs, values, pathText);
  }
  const flags = new ParsedFlags(specs, values);
  const invocation: Invocation = { path, command, flags, args };
  if (flags.changed('help')) return { result: { kind: 'help', invocation }, globals };
  checkArgCount(command, pathText, args.length);
  return { result: { kind: 'run', invocation }, globals };
}

function consumeFlag(
  argv: string[],
  i: number,
  specs: Map<string, FlagSpec>,
  values: Map<string, string[]>,
  pathText: string,
): number {
  const arg = argv[i] ?? '';
  const store = (spec: FlagSpec, raw: string) => {
    let value: string;
    try {
      value = checkValue(spec, raw);
    } catch (e) {
      throw new UsageError((e as Error).message, 125, pathText);
    }
    const prev = values.get(spec.name) ?? [];
    values.set(spec.name, spec.kind === 'list' ? [...prev, value] : [value]);
  };
  if (arg.startsWith('--')) {
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const spec = specs.get(name);
    if (!spec) throw new UsageError(`unknown flag: --${name}`, 125, pathText);
    if (eq !== -1) {
      store(spec, arg.slice(eq + 1));
      return i + 1;
    }
    if (spec.kind === 'bool') {
      store(spec, 'true');
      return i + 1;
    }
    const next = argv[i + 1];
    if (next === undefined) throw new UsageError(`flag needs an argument: --${name}`, 125, pathText);
    store(spec, next);
    return i + 2;
  }
  // Short flags: "-d", "-dq", "-p8080:80", "-p 8080:80", "-e=A".
  let j = 1;
  while (j < arg.length) {
    const c = arg[j] ?? '';
    const spec =
      c === 'h' && ![...specs.values()].some((s) => s.short === 'h')
        ? HELP_FLAG
        : [...specs.values()].find((s) => s.short === c);
    if (!spec) throw new UsageError(`unknown shorthand flag: '${c}' in ${arg}`, 125, pathText);
    const rest = arg.slice(j + 1);
    if (spec.kind === 'bool') {
      if (rest.startsWith('=')) {
        store(spec, rest.slice(1));
        return i + 1;
      }
      store(spec, 'true');
      j++;
      continue;
    }
    if (rest !== '') {
      store(spec, rest.startsWith('=') ? rest.slice(1) : rest);
      return i + 1;
    }
    const next = argv[i + 1];
    if (next === undefined) {
      throw new UsageError(`flag needs an argument: '${c}' in -${c}`, 125, pathText);
    }
    store(spec, next);
    return i + 2;
  }
  return i + 1;
}

function plural(n: number): string {
  return n === 1 ? 'argument' : 'arguments';
}

function checkArgCount(command: CommandSpec, pathText: string, n: number): void {
  const rule = command.args ?? {};
  const { min, max } = rule;
  let message: string | undefined;
  if (max === 0 && n > 0) message = `"${pathText}" accepts no arguments.`;
  else if (min !== undefined && min === max && n !== min)
    message = `"${pathText}" requires exactly ${min} ${plural(min)}.`;
  else if (min !== undefined && n < min) message = `"${pathText}" requires at least ${min} ${plural(min)}.`;
  else if (max !== undefined && n > max) message = `"${pathText}" requires at most ${max} ${plural(max)}.`;
  if (message) {
    throw new UsageError(
      message,
      1,
      pathText,
      `Usage:  ${pathText} ${command.usage}\n\n${command.description}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Help text in the docker CLI's layout.

function wrapWords(text: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      out.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  out.push(line);
  return out;
}

function flagHelpLines(flags: FlagSpec[], columns: number): string[] {
  const visible = flags.filter((f) => !f.hidden).sort((a, b) => a.name.localeCompare(b.name));
  const left = visible.map((f) => {
    const type = f.kind === 'bool' ? '' : ` ${f.typeName ?? f.kind}`;
    return `${f.short ? `  -${f.short}, ` : '      '}--${f.name}${type}`;
  });
  const pad = Math.max(0, ...left.map((l) => l.length)) + 3;
  return visible.flatMap((f, k) => {
    const desc = f.defaultText === undefined ? f.description : `${f.description} (default ${f.defaultText})`;
    const lines = wrapWords(desc, Math.max(20, columns - pad));
    return lines.map((l, n) => (n === 0 ? (left[k] ?? '').padEnd(pad) : ' '.repeat(pad)) + l);
  });
}

/** The `--help` text of a command (leading blank line, like the docker CLI). */
export function helpText(root: CommandSpec, path: string[], command: CommandSpec, columns = 80): string {
  const pathText = [root.name, ...path].join(' ');
  const parts: string[] = [''];
  if (command.run) parts.push(`Usage:  ${pathText} ${command.usage}`, '', command.description);
  else parts.push(`Usage:  ${pathText} ${command.usage}`, '', command.description);
  if (command.aliases?.length)
    parts.push('', 'Aliases:', `  ${[command.name, ...command.aliases].join(', ')}`);
  const flags = command.flags ?? [];
  if (flags.some((f) => !f.hidden)) parts.push('', 'Options:', ...flagHelpLines(flags, columns));
  if (command.subcommands?.length) {
    const subs = [...command.subcommands].sort((a, b) => a.name.localeCompare(b.name));
    const w = Math.max(10, ...subs.map((s) => s.name.length + 2));
    parts.push('', 'Commands:', ...subs.map((s) => `  ${s.name.padEnd(w)}${s.description}`));
    parts.push('', `Run '${pathText} COMMAND --help' for more information on a command.`);
  }
  return `${parts.join('\n')}\n`;
}
