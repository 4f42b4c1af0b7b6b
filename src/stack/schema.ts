// The Compose file model (version 3.x and the version-less Compose specification, as far as
// `docker stack deploy` reads it) as zod schemas. Parsing also normalises each value to one form
// (short port/volume/secret syntax to long, lists to maps, durations to nanoseconds, sizes to bytes),
// so the rest of the stack code sees a single shape. Every message says what was expected and what
// was found; unknown keys list the allowed ones.
import { z } from 'zod';
import { shellSplit } from '../cli/serviceopts.js';
import { parseGoDuration, parseNanoCpus, ramInBytes } from '../cli/units.js';

// ---------------------------------------------------------------------------------------------
// Combinators: zod transforms that report problems as custom issues with readable messages
// ---------------------------------------------------------------------------------------------

/** A problem with a value; `path` is relative to the value being parsed. */
class Invalid extends Error {
  constructor(
    message: string,
    readonly path: (string | number)[] = [],
  ) {
    super(message);
  }
}

const INVALID = Symbol('invalid');

/** How a value reads in a message: `"two"`, `12`, `a list`, `a mapping`, `an empty value`. */
export function describe(v: unknown): string {
  if (v === null || v === undefined) return 'an empty value';
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return String(v);
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function valueAt(root: unknown, path: (string | number)[]): unknown {
  let v = root;
  for (const p of path) v = isMapping(v) || Array.isArray(v) ? (v as Record<string, unknown>)[p] : undefined;
  return v;
}

function messageOf(issue: z.ZodIssue, root: unknown): string {
  if (issue.code === z.ZodIssueCode.invalid_type) {
    return `must be ${issue.expected}, got ${describe(valueAt(root, issue.path))}`;
  }
  return issue.message;
}

/** A value parsed by a function that throws Invalid; other issues may be added through `ctx`. */
function value<T>(parse: (v: unknown, ctx: z.RefinementCtx) => T) {
  return z.unknown().transform((v, ctx): T => {
    try {
      return parse(v, ctx);
    } catch (e) {
      if (!(e instanceof Invalid)) throw e;
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: e.message, path: e.path });
      return z.NEVER;
    }
  });
}

/** Parses `v` with `schema` from inside another parser, passing its issues up under `path`. */
function sub<S extends z.ZodTypeAny>(
  schema: S,
  v: unknown,
  ctx: z.RefinementCtx,
  path: (string | number)[] = [],
): z.output<S> | typeof INVALID {
  const r = schema.safeParse(v);
  if (r.success) return r.data;
  for (const issue of r.error.issues) {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      message: messageOf(issue, v),
      path: [...path, ...issue.path],
    });
  }
  return INVALID;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j] ?? 0;
      row[j] = Math.min(cur + 1, (row[j - 1] ?? 0) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length] ?? 0;
}

/**
 * "unknown key (did you mean "replicas"?); allowed here: a, b, c", or, for a key that belongs one
 * level down (`moved`), where it goes.
 */
export function unknownKeyMessage(
  key: string,
  allowed: readonly string[],
  moved: Record<string, string> = {},
): string {
  const parent = moved[key];
  if (parent !== undefined) return `unknown key here: it belongs under "${parent}" (${parent}.${key})`;
  const close = allowed
    .map((a) => ({ a, d: editDistance(key.toLowerCase(), a) }))
    .filter(({ d }) => d <= Math.max(1, Math.floor(key.length / 3)))
    .sort((x, y) => x.d - y.d)[0];
  const hint = close ? ` (did you mean "${close.a}"?)` : '';
  return `unknown key${hint}; allowed here: ${[...allowed].sort().join(', ')}`;
}

interface MappingOptions {
  /** `x-…` keys are extension fields: allowed and dropped. */
  extensions?: boolean;
  /** An empty value (`deploy:` with nothing after it) reads as an empty mapping. */
  nullAsEmpty?: boolean;
  /** Keys that belong in a child mapping (`reservations` → `resources`): named in the error. */
  moved?: Record<string, string>;
}

/** A mapping with known keys: unknown keys and missing required keys are reported at their key. */
function mapping<S extends z.ZodRawShape>(shape: S, opts: MappingOptions = {}) {
  const inner = z.object(shape);
  const allowed = Object.keys(shape);
  const required = allowed.filter((k) => !(shape[k] as z.ZodTypeAny).isOptional());
  return value((raw, ctx): z.output<typeof inner> => {
    const v = raw === null && opts.nullAsEmpty ? {} : raw;
    if (!isMapping(v)) throw new Invalid(`must be a mapping, got ${describe(v)}`);
    let bad = false;
    const known: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (Object.hasOwn(shape, k)) known[k] = x;
      else if (!(opts.extensions && k.startsWith('x-'))) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: [k],
          message: unknownKeyMessage(k, allowed, opts.moved),
        });
        bad = true;
      }
    }
    const missing = required.filter((k) => !Object.hasOwn(known, k));
    for (const k of missing) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [k], message: 'is required' });
    if (missing.length > 0) {
      sub(inner.partial(), known, ctx); // the present keys' problems too, without repeating the missing ones
      return z.NEVER;
    }
    const r = sub(inner, known, ctx);
    return r === INVALID || bad ? z.NEVER : r;
  });
}

/** A mapping from names to `item`s; `null` reads as empty. `nameRule` checks each name. */
function dict<S extends z.ZodTypeAny>(item: S, nameRule?: { pattern: RegExp; message: string }) {
  return value((raw, ctx): Record<string, z.output<S>> => {
    const v = raw ?? {};
    if (!isMapping(v)) throw new Invalid(`must be a mapping, got ${describe(v)}`);
    const out: Record<string, z.output<S>> = {};
    let bad = false;
    for (const [k, x] of Object.entries(v)) {
      if (nameRule && !nameRule.pattern.test(k)) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: [k], message: nameRule.message });
        bad = true;
        continue;
      }
      const r = sub(item, x, ctx, [k]);
      if (r === INVALID) bad = true;
      else out[k] = r;
    }
    return bad ? z.NEVER : out;
  });
}

/** A list of `item`s; each item's problems are reported at its index. */
function list<S extends z.ZodTypeAny>(item: S) {
  return value((v, ctx): z.output<S>[] => {
    if (!Array.isArray(v)) throw new Invalid(`must be a list, got ${describe(v)}`);
    let bad = false;
    const out = v.map((x, i) => {
      const r = sub(item, x, ctx, [i]);
      if (r === INVALID) bad = true;
      return r;
    });
    return bad ? z.NEVER : (out as z.output<S>[]);
  });
}

// ---------------------------------------------------------------------------------------------
// Scalars
// ---------------------------------------------------------------------------------------------

const str = () =>
  value((v): string => {
    if (typeof v !== 'string') throw new Invalid(`must be a string, got ${describe(v)}`);
    return v;
  });

/** A string where YAML may have read a number (`user: 1000`, `uid: 0`). */
const text = () =>
  value((v): string => {
    if (typeof v === 'string') return v;
    if (typeof v === 'number') return String(v);
    throw new Invalid(`must be a string, got ${describe(v)}`);
  });

/** A number; a numeric string is accepted, as values often come from `${VARIABLES}`. */
function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/.test(v)) return Number(v);
  throw new Invalid(`must be a number, got ${describe(v)}`);
}

const int = (min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER) =>
  value((v): number => {
    const n = toNumber(v);
    if (!Number.isInteger(n)) throw new Invalid(`must be a whole number, got ${describe(v)}`);
    if (n < min || n > max) throw new Invalid(`must be between ${min} and ${max}, got ${n}`);
    return n;
  });
const uint = () => int(0);
const port = () => int(0, 65535);

const ratio = () =>
  value((v): number => {
    const n = toNumber(v);
    if (n < 0 || n > 1) throw new Invalid(`must be between 0 and 1, got ${n}`);
    return n;
  });

/** YAML and Docker's interpolation booleans: true/false, yes/no, on/off, y/n. */
const bool = () =>
  value((v): boolean => {
    if (typeof v === 'boolean') return v;
    if (typeof v === 'string') {
      const s = v.toLowerCase();
      if (['y', 'yes', 'true', 'on'].includes(s)) return true;
      if (['n', 'no', 'false', 'off'].includes(s)) return false;
    }
    throw new Invalid(`must be true or false, got ${describe(v)}`);
  });

/** A Go duration ("10s", "1m30s") → nanoseconds. A bare number would be nanoseconds in Docker: refused. */
const duration = () =>
  value((v): number => {
    if (v === 0 || v === '0') return 0;
    if (typeof v === 'number') {
      throw new Invalid(`must be a duration with a unit, such as "${v}s" or "1m30s", got ${v}`);
    }
    if (typeof v !== 'string')
      throw new Invalid(`must be a duration such as "10s" or "1m30s", got ${describe(v)}`);
    let ns: number;
    try {
      ns = parseGoDuration(v.trim());
    } catch {
      throw new Invalid(`must be a duration such as "10s" or "1m30s", got ${describe(v)}`);
    }
    if (ns < 0) throw new Invalid(`must not be negative, got ${describe(v)}`);
    return ns;
  });

/** A size: bytes, or a string with a binary unit ("50M", "1.5g") → bytes, as Docker's RAMInBytes. */
const bytes = () =>
  value((v): number => {
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
    if (typeof v === 'string') {
      try {
        return ramInBytes(v.trim());
      } catch {
        // fall through to the message below
      }
    }
    throw new Invalid(`must be a size such as "512M", "1G" or a number of bytes, got ${describe(v)}`);
  });

/** CPUs as a decimal ("0.5" or 0.5) → NanoCPUs. */
const cpus = () =>
  value((v): number => {
    if (typeof v !== 'string' && typeof v !== 'number') {
      throw new Invalid(`must be a number of CPUs such as "0.5", got ${describe(v)}`);
    }
    let n: number;
    try {
      n = parseNanoCpus(String(v).trim());
    } catch {
      throw new Invalid(`must be a number of CPUs such as "0.5", got ${describe(v)}`);
    }
    if (n < 0) throw new Invalid(`must not be negative, got ${describe(v)}`);
    return n;
  });

function oneOf<const T extends string>(choices: readonly T[], opts: { caseInsensitive?: boolean } = {}) {
  return value((v): T => {
    const s = typeof v === 'string' && opts.caseInsensitive ? v.toLowerCase() : v;
    const found = choices.find((c) => c === s);
    if (found === undefined) {
      const names = choices.map((c) => `"${c}"`);
      throw new Invalid(`must be one of ${names.join(', ')}, got ${describe(v)}`);
    }
    return found;
  });
}

/** File mode: a number (YAML reads `0440` as octal, as Go does) or an octal string ("0440"). */
const fileMode = () =>
  value((v): number => {
    const n = typeof v === 'string' && /^0?[0-7]{1,4}$/.test(v) ? Number.parseInt(v, 8) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 0o7777) {
      throw new Invalid(`must be an octal file mode such as 0440, got ${describe(v)}`);
    }
    return n;
  });

// ---------------------------------------------------------------------------------------------
// Compose's polymorphic fields
// ---------------------------------------------------------------------------------------------

function scalarText(v: unknown, path: (string | number)[]): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new Invalid(`must be a string, got ${describe(v)}`, path);
}

/** A list of strings (numbers are written as strings). */
const stringList = () =>
  value((v): string[] => {
    if (!Array.isArray(v)) throw new Invalid(`must be a list of strings, got ${describe(v)}`);
    return v.map((x, i) => scalarText(x, [i]));
  });

/** A string or a list of strings → list. */
const stringOrList = () =>
  value((v): string[] => {
    if (typeof v === 'string') return [v];
    if (!Array.isArray(v)) throw new Invalid(`must be a string or a list of strings, got ${describe(v)}`);
    return v.map((x, i) => scalarText(x, [i]));
  });

/** command/entrypoint: a list, or a string split as a shell would (quotes respected). */
const shellCommand = () =>
  value((v): string[] => {
    if (Array.isArray(v)) return v.map((x, i) => scalarText(x, [i]));
    if (typeof v !== 'string') throw new Invalid(`must be a string or a list of strings, got ${describe(v)}`);
    try {
      return shellSplit(v);
    } catch (e) {
      throw new Invalid(`cannot be split into words: ${(e as Error).message}`);
    }
  });

/**
 * `KEY: value` mapping or `KEY=value` list → map. With `allowNull`, a bare `KEY` (or `KEY:` with no
 * value) is kept as null, meaning "take it from the environment" (environment); otherwise it is "".
 */
function listOrDict<const N extends boolean>(allowNull: N) {
  type V = N extends true ? string | null : string;
  return value((v): Record<string, V> => {
    const out: Record<string, V> = {};
    const empty = (allowNull ? null : '') as V;
    if (Array.isArray(v)) {
      v.forEach((item, i) => {
        const s = scalarText(item, [i]);
        const eq = s.indexOf('=');
        if (eq === -1) out[s] = empty;
        else out[s.slice(0, eq)] = s.slice(eq + 1) as V;
      });
      return out;
    }
    if (!isMapping(v)) throw new Invalid(`must be a mapping or a list of "KEY=value", got ${describe(v)}`);
    for (const [k, x] of Object.entries(v)) out[k] = x === null ? empty : (scalarText(x, [k]) as V);
    return out;
  });
}

/** Driver options and log options: a mapping of scalars → strings. */
const options = () =>
  value((v): Record<string, string> => {
    if (!isMapping(v)) throw new Invalid(`must be a mapping, got ${describe(v)}`);
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, x === null ? '' : scalarText(x, [k])]));
  });

/** extra_hosts: `host:ip` (or `host=ip`) entries, or a host → ip mapping → `host:ip` entries. */
const extraHosts = () =>
  value((v): string[] => {
    if (isMapping(v)) {
      return Object.entries(v)
        .map(([host, ip]) => `${host}:${scalarText(ip, [host])}`)
        .sort();
    }
    if (!Array.isArray(v)) throw new Invalid(`must be a list of "host:ip" or a mapping, got ${describe(v)}`);
    return v.map((x, i) => {
      const s = scalarText(x, [i]);
      const m = /^([^:=]+)[:=](.+)$/.exec(s);
      if (!m) throw new Invalid(`must be "host:ip", got ${describe(s)}`, [i]);
      return `${m[1]}:${m[2]}`;
    });
  });

// ---------------------------------------------------------------------------------------------
// Service: ports, volumes, file references, networks, dependencies
// ---------------------------------------------------------------------------------------------

export type PortProtocol = 'tcp' | 'udp' | 'sctp';
export type PublishMode = 'ingress' | 'host';

/** One published port in long form; short syntax is expanded to these (one per port of a range). */
export interface ServicePort {
  target: number;
  published?: number;
  protocol?: PortProtocol;
  mode?: PublishMode;
  /** A host IP from `"127.0.0.1:8080:80"` or `host_ip`: swarm cannot honour it (a warning is given). */
  host_ip?: string;
}

function portRange(s: string, what: string, spec: string): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  const lo = Number(m?.[1]);
  const hi = m?.[2] === undefined ? lo : Number(m[2]);
  if (!m || lo > 65535 || hi > 65535 || hi < lo) {
    throw new Invalid(`invalid ${what} ${JSON.stringify(s)} in port ${JSON.stringify(spec)}`);
  }
  return [lo, hi];
}

/** `"80"`, `"8080:80"`, `"8080:80/udp"`, `"127.0.0.1:8080:80"`, ranges `"8000-8001:80-81"` (docker's nat rules). */
export function parseShortPort(spec: string): ServicePort[] {
  const slash = spec.lastIndexOf('/');
  const proto = (slash === -1 ? 'tcp' : spec.slice(slash + 1)).toLowerCase();
  if (proto !== 'tcp' && proto !== 'udp' && proto !== 'sctp') {
    throw new Invalid(
      `invalid protocol ${JSON.stringify(proto)} in port ${JSON.stringify(spec)}: use tcp, udp or sctp`,
    );
  }
  const body = slash === -1 ? spec : spec.slice(0, slash);
  const lastColon = body.lastIndexOf(':');
  const container = body.slice(lastColon + 1);
  const front = lastColon === -1 ? undefined : body.slice(0, lastColon);
  let hostIp: string | undefined;
  let host = front;
  if (front !== undefined) {
    const c = front.lastIndexOf(':');
    if (c !== -1) {
      hostIp = front.slice(0, c).replace(/^\[(.*)\]$/, '$1');
      host = front.slice(c + 1);
    }
  }
  const [t0, t1] = portRange(container, 'container port', spec);
  const published = host === undefined || host === '' ? undefined : portRange(host, 'published port', spec);
  if (published && published[1] - published[0] !== t1 - t0 && t0 !== t1) {
    throw new Invalid(
      `the published and container port ranges of ${JSON.stringify(spec)} differ in size; give ranges of the same size`,
    );
  }
  const ports: ServicePort[] = [];
  const base = {
    protocol: proto as PortProtocol,
    mode: 'ingress' as const,
    ...(hostIp ? { host_ip: hostIp } : {}),
  };
  if (published && t0 === t1) {
    // One container port with a range of published ports: one entry per published port, as docker does.
    for (let p = published[0]; p <= published[1]; p++) ports.push({ target: t0, published: p, ...base });
  } else {
    for (let i = 0; i <= t1 - t0; i++) {
      ports.push({ target: t0 + i, ...(published ? { published: published[0] + i } : {}), ...base });
    }
  }
  return ports;
}

const longPort = mapping({
  target: port(),
  published: port().optional(),
  protocol: oneOf(['tcp', 'udp', 'sctp'], { caseInsensitive: true }).optional(),
  mode: oneOf(['ingress', 'host']).optional(),
  host_ip: str().optional(),
});

/** Hint for `- data: /path`: YAML reads "key: value" with a space as a one-entry mapping. */
function spaceAfterColonHint(v: unknown, allowed: readonly string[]): string | undefined {
  if (!isMapping(v)) return undefined;
  const entries = Object.entries(v);
  const [k, x] = entries[0] ?? [];
  if (entries.length !== 1 || k === undefined || allowed.includes(k) || typeof x !== 'string')
    return undefined;
  return (
    `"${k}: ${x}" has a space after the colon, so YAML read it as a mapping; ` +
    `write "${k}:${x}" (or the long form with ${allowed.join(', ')})`
  );
}

const ports = () =>
  value((v, ctx): ServicePort[] => {
    if (!Array.isArray(v)) throw new Invalid(`must be a list, got ${describe(v)}`);
    const out: ServicePort[] = [];
    let bad = false;
    v.forEach((item, i) => {
      if (typeof item === 'number' || typeof item === 'string') {
        try {
          out.push(...parseShortPort(String(item)));
        } catch (e) {
          if (!(e instanceof Invalid)) throw e;
          ctx.addIssue({ code: z.ZodIssueCode.custom, message: e.message, path: [i] });
          bad = true;
        }
        return;
      }
      const hint = spaceAfterColonHint(item, ['target', 'published', 'protocol', 'mode']);
      if (hint) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: hint, path: [i] });
        bad = true;
        return;
      }
      const r = sub(longPort, item, ctx, [i]);
      if (r === INVALID) bad = true;
      else out.push(r);
    });
    return bad ? z.NEVER : out;
  });

export type VolumeType = 'volume' | 'bind' | 'tmpfs' | 'npipe';
const PROPAGATIONS = ['rprivate', 'private', 'rshared', 'shared', 'rslave', 'slave'] as const;

/** One mount of a service in long form; the short syntax is parsed into this. */
export interface ServiceVolume {
  type: VolumeType;
  source?: string;
  target: string;
  read_only?: boolean;
  consistency?: string;
  bind?: { propagation?: (typeof PROPAGATIONS)[number] };
  volume?: { nocopy?: boolean };
  tmpfs?: { size?: number };
}

/** `"name:/path:ro"`, `"/host:/path"`, `"./rel:/path"`, `"/path"` (anonymous volume), as docker's ParseVolume. */
export function parseShortVolume(spec: string): ServiceVolume {
  if (spec === '') throw new Invalid('invalid empty volume spec');
  const fields: string[] = [];
  // `C:\…` starts with a Windows drive, whose colon is not a separator.
  const drive = /^[a-zA-Z]:[\\/]/.test(spec) ? spec.slice(0, 2) : '';
  let buf = drive;
  for (const ch of spec.slice(drive.length)) {
    if (ch === ':') {
      if (buf === '')
        throw new Invalid(`invalid volume ${JSON.stringify(spec)}: empty section between colons`);
      fields.push(buf);
      buf = '';
    } else buf += ch;
  }
  if (buf === '') throw new Invalid(`invalid volume ${JSON.stringify(spec)}: empty section between colons`);
  fields.push(buf);
  if (fields.length > 3) throw new Invalid(`invalid volume ${JSON.stringify(spec)}: too many colons`);
  const [first = '', second, mode] = fields;
  const volume: ServiceVolume =
    second === undefined
      ? { type: 'volume', target: first }
      : { type: 'volume', source: first, target: second };
  for (const option of mode?.split(',') ?? []) {
    if (option === 'ro') volume.read_only = true;
    else if (option === 'rw') volume.read_only = false;
    else if (option === 'nocopy') volume.volume = { nocopy: true };
    else if ((PROPAGATIONS as readonly string[]).includes(option)) {
      volume.bind = { propagation: option as (typeof PROPAGATIONS)[number] };
    } else if (option !== 'z' && option !== 'Z' && option !== 'cached' && option !== 'delegated') {
      throw new Invalid(
        `unknown option ${JSON.stringify(option)} in volume ${JSON.stringify(spec)}; allowed: ro, rw, nocopy, ${PROPAGATIONS.join(', ')}`,
      );
    }
  }
  const source = volume.source;
  if (
    source !== undefined &&
    (/^[./~]/.test(source) || /^[a-zA-Z]:[\\/]/.test(source) || source.startsWith('\\\\'))
  ) {
    volume.type = 'bind';
  }
  return volume;
}

const longVolume = mapping({
  type: oneOf(['volume', 'bind', 'tmpfs', 'npipe']),
  source: str().optional(),
  target: str(),
  read_only: bool().optional(),
  consistency: str().optional(),
  bind: mapping({ propagation: oneOf(PROPAGATIONS).optional() }).optional(),
  volume: mapping({ nocopy: bool().optional() }).optional(),
  tmpfs: mapping({ size: bytes().optional() }).optional(),
});

const volumes = () =>
  value((v, ctx): ServiceVolume[] => {
    if (!Array.isArray(v)) throw new Invalid(`must be a list, got ${describe(v)}`);
    const out: ServiceVolume[] = [];
    let bad = false;
    v.forEach((item, i) => {
      const fail = (message: string) => {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message, path: [i] });
        bad = true;
      };
      if (typeof item === 'string') {
        try {
          out.push(parseShortVolume(item));
        } catch (e) {
          if (!(e instanceof Invalid)) throw e;
          fail(e.message);
        }
        return;
      }
      const hint = spaceAfterColonHint(item, ['type', 'source', 'target']);
      if (hint) {
        fail(hint);
        return;
      }
      const r = sub(longVolume, item, ctx, [i]);
      if (r === INVALID) bad = true;
      else out.push(r);
    });
    return bad ? z.NEVER : out;
  });

/** A service's reference to a secret or config; the target, uid, gid and mode defaults are Docker's. */
export interface FileReference {
  source: string;
  target?: string;
  uid?: string;
  gid?: string;
  mode?: number;
}

const longFileReference = mapping({
  source: str(),
  target: str().optional(),
  uid: text().optional(),
  gid: text().optional(),
  mode: fileMode().optional(),
});

const fileReferences = () =>
  value((v, ctx): FileReference[] => {
    if (!Array.isArray(v)) throw new Invalid(`must be a list, got ${describe(v)}`);
    let bad = false;
    const out = v.map((item, i) => {
      if (typeof item === 'string') return { source: item };
      const r = sub(longFileReference, item, ctx, [i]);
      if (r === INVALID) bad = true;
      return r;
    });
    return bad ? z.NEVER : (out as FileReference[]);
  });

const serviceNetwork = mapping(
  {
    aliases: stringList().optional(),
    driver_opts: options().optional(),
    ipv4_address: str().optional(),
    ipv6_address: str().optional(),
  },
  { nullAsEmpty: false },
);
export type ServiceNetwork = z.output<typeof serviceNetwork>;

/** `networks: [a, b]` or `networks: {a: {aliases: [...]}, b: null}` → map (null: no options). */
const serviceNetworks = () =>
  value((v, ctx): Record<string, ServiceNetwork | null> => {
    if (Array.isArray(v)) {
      return Object.fromEntries(v.map((x, i) => [scalarText(x, [i]), null]));
    }
    if (!isMapping(v)) throw new Invalid(`must be a list of network names or a mapping, got ${describe(v)}`);
    const out: Record<string, ServiceNetwork | null> = {};
    let bad = false;
    for (const [k, x] of Object.entries(v)) {
      if (x === null) {
        out[k] = null;
        continue;
      }
      const r = sub(serviceNetwork, x, ctx, [k]);
      if (r === INVALID) bad = true;
      else out[k] = r;
    }
    return bad ? z.NEVER : out;
  });

export const DEPENDENCY_CONDITIONS = [
  'service_started',
  'service_healthy',
  'service_completed_successfully',
] as const;
export type DependencyCondition = (typeof DEPENDENCY_CONDITIONS)[number];

const dependency = mapping({ condition: oneOf(DEPENDENCY_CONDITIONS).optional() }, { nullAsEmpty: true });

/** `depends_on: [db]` or `depends_on: {db: {condition: service_healthy}}` → name → condition. */
const dependsOn = () =>
  value((v, ctx): Record<string, { condition: DependencyCondition }> => {
    if (Array.isArray(v)) {
      return Object.fromEntries(
        v.map((x, i) => [scalarText(x, [i]), { condition: 'service_started' as const }]),
      );
    }
    if (!isMapping(v)) throw new Invalid(`must be a list of service names or a mapping, got ${describe(v)}`);
    const out: Record<string, { condition: DependencyCondition }> = {};
    let bad = false;
    for (const [k, x] of Object.entries(v)) {
      const r = sub(dependency, x, ctx, [k]);
      if (r === INVALID) bad = true;
      else out[k] = { condition: r.condition ?? 'service_started' };
    }
    return bad ? z.NEVER : out;
  });

/** healthcheck.test: a string runs in a shell (CMD-SHELL); a list must say how to run it. */
const healthTest = () =>
  value((v): string[] => {
    if (typeof v === 'string') return ['CMD-SHELL', v];
    if (!Array.isArray(v)) throw new Invalid(`must be a string or a list, got ${describe(v)}`);
    const test = v.map((x, i) => scalarText(x, [i]));
    if (test.length === 0) return test;
    if (!['NONE', 'CMD', 'CMD-SHELL'].includes(test[0] ?? '')) {
      throw new Invalid(
        `a list must start with "CMD" (run the command), "CMD-SHELL" (run it in a shell) or "NONE", got ${describe(test[0])}; for example ["CMD", ${test.map((t) => JSON.stringify(t)).join(', ')}]`,
      );
    }
    return test;
  });

const ulimit = value((v, ctx): { soft: number; hard: number } => {
  if (!isMapping(v)) {
    const n = sub(int(), v, ctx);
    return n === INVALID ? z.NEVER : { soft: n, hard: n };
  }
  const r = sub(mapping({ soft: int(), hard: int() }), v, ctx);
  return r === INVALID ? z.NEVER : r;
});

/** The container-style `restart:` (ignored by Docker, except as the fallback restart policy). */
const restartPolicy = () =>
  value((v): string => {
    if (typeof v !== 'string' || !/^(no|always|unless-stopped|on-failure(:\d+)?)$/.test(v)) {
      throw new Invalid(
        `must be "no", "always", "on-failure", "on-failure:N" or "unless-stopped", got ${describe(v)}; deploy.restart_policy is the stack way`,
      );
    }
    return v;
  });

const updateConfig = mapping({
  parallelism: uint().optional(),
  delay: duration().optional(),
  failure_action: oneOf(['pause', 'continue', 'rollback']).optional(),
  monitor: duration().optional(),
  max_failure_ratio: ratio().optional(),
  order: oneOf(['start-first', 'stop-first']).optional(),
});
export type ComposeUpdateConfig = z.output<typeof updateConfig>;

const deploy = mapping(
  {
    mode: oneOf(['replicated', 'global', 'replicated-job', 'global-job']).optional(),
    replicas: uint().optional(),
    labels: listOrDict(false).optional(),
    update_config: updateConfig.optional(),
    rollback_config: updateConfig.optional(),
    resources: mapping(
      {
        limits: mapping(
          { cpus: cpus().optional(), memory: bytes().optional(), pids: uint().optional() },
          { nullAsEmpty: true },
        ).optional(),
        reservations: mapping(
          {
            cpus: cpus().optional(),
            memory: bytes().optional(),
            generic_resources: list(
              mapping({ discrete_resource_spec: mapping({ kind: str(), value: int() }).optional() }),
            ).optional(),
          },
          { nullAsEmpty: true },
        ).optional(),
        memory_swap: int().optional(),
        memory_swappiness: int().optional(),
      },
      { nullAsEmpty: true },
    ).optional(),
    restart_policy: mapping(
      {
        condition: oneOf(['none', 'on-failure', 'any']).optional(),
        delay: duration().optional(),
        max_attempts: uint().optional(),
        window: duration().optional(),
      },
      { nullAsEmpty: true },
    ).optional(),
    placement: mapping(
      {
        constraints: stringList().optional(),
        preferences: list(mapping({ spread: str() })).optional(),
        max_replicas_per_node: uint().optional(),
      },
      { nullAsEmpty: true },
    ).optional(),
    endpoint_mode: oneOf(['vip', 'dnsrr'], { caseInsensitive: true }).optional(),
  },
  {
    nullAsEmpty: true,
    moved: {
      limits: 'resources',
      reservations: 'resources',
      constraints: 'placement',
      preferences: 'placement',
      max_replicas_per_node: 'placement',
      condition: 'restart_policy',
      max_attempts: 'restart_policy',
      parallelism: 'update_config',
    },
  },
);
export type ComposeDeploy = z.output<typeof deploy>;

const healthcheck = mapping({
  test: healthTest().optional(),
  interval: duration().optional(),
  timeout: duration().optional(),
  retries: uint().optional(),
  start_period: duration().optional(),
  start_interval: duration().optional(),
  disable: bool().optional(),
});

/**
 * Service keys docker stack deploy accepts and ignores ("Ignoring unsupported options: …"), plus
 * two it accepts and ignores without saying so (tmpfs, credential_spec: Windows only). `restart` is
 * on Docker's list but still used when deploy.restart_policy is absent, so it stays in the model.
 */
export const UNSUPPORTED_SERVICE_KEYS = [
  'build',
  'cgroupns_mode',
  'cgroup_parent',
  'credential_spec',
  'devices',
  'domainname',
  'external_links',
  'ipc',
  'links',
  'mac_address',
  'network_mode',
  'pid',
  'privileged',
  'restart',
  'security_opt',
  'shm_size',
  'tmpfs',
  'userns_mode',
] as const;

/** Docker's deprecated service keys, with its message ("Ignoring deprecated options: …"). */
export const DEPRECATED_SERVICE_KEYS: Record<string, string> = {
  container_name: 'Setting the container name is not supported.',
  expose:
    "Exposing ports is unnecessary - services on the same network can access each other's containers on any port.",
};

/** Docker's forbidden service keys, with its advice: a file using them is refused. */
export const FORBIDDEN_SERVICE_KEYS: Record<string, string> = {
  extends: 'Support for `extends` is not implemented yet.',
  volume_driver:
    'Instead of setting the volume driver on the service, define a volume using the top-level `volumes` option and specify the driver there.',
  volumes_from:
    'To share a volume between services, define it using the top-level `volumes` option and reference it from each service that shares it using the service-level `volumes` option.',
  cpu_quota: 'Set resource limits using deploy.resources',
  cpu_shares: 'Set resource limits using deploy.resources',
  cpuset: 'Set resource limits using deploy.resources',
  mem_limit: 'Set resource limits using deploy.resources',
  memswap_limit: 'Set resource limits using deploy.resources',
};

const service = mapping(
  {
    image: str().optional(),
    command: shellCommand().optional(),
    entrypoint: shellCommand().optional(),
    environment: listOrDict(true).optional(),
    env_file: stringOrList().optional(),
    ports: ports().optional(),
    networks: serviceNetworks().optional(),
    volumes: volumes().optional(),
    secrets: fileReferences().optional(),
    configs: fileReferences().optional(),
    deploy: deploy.optional(),
    healthcheck: healthcheck.optional(),
    hostname: str().optional(),
    user: text().optional(),
    working_dir: str().optional(),
    stop_grace_period: duration().optional(),
    stop_signal: str().optional(),
    labels: listOrDict(false).optional(),
    logging: mapping({ driver: str().optional(), options: options().optional() }).optional(),
    extra_hosts: extraHosts().optional(),
    dns: stringOrList().optional(),
    dns_search: stringOrList().optional(),
    tty: bool().optional(),
    stdin_open: bool().optional(),
    read_only: bool().optional(),
    init: bool().optional(),
    cap_add: stringList().optional(),
    cap_drop: stringList().optional(),
    sysctls: listOrDict(false).optional(),
    ulimits: dict(ulimit, {
      pattern: /^[a-z]+$/,
      message: 'must be a lowercase limit name such as nofile',
    }).optional(),
    depends_on: dependsOn().optional(),
    isolation: str().optional(),
    oom_score_adj: int(-1000, 1000).optional(),
    restart: restartPolicy().optional(),
  },
  {
    extensions: true,
    moved: {
      replicas: 'deploy',
      mode: 'deploy',
      placement: 'deploy',
      resources: 'deploy',
      restart_policy: 'deploy',
      update_config: 'deploy',
      rollback_config: 'deploy',
      endpoint_mode: 'deploy',
    },
  },
);
export type ComposeService = z.output<typeof service>;

/** `external: true` or (deprecated) `external: {name: x}`. */
const external = () =>
  value((v, ctx): { external: boolean; name?: string } => {
    if (!isMapping(v)) {
      const b = sub(bool(), v, ctx);
      return b === INVALID ? z.NEVER : { external: b };
    }
    const r = sub(mapping({ name: str().optional() }), v, ctx);
    return r === INVALID ? z.NEVER : { external: true, ...r };
  });

/**
 * Folds `external` into `{external: boolean, name?}`: `external.name` is the old spelling of
 * `name`, and conflicts with it as in Docker.
 */
function withExternal<T extends { external?: { external: boolean; name?: string }; name?: string }>(
  def: T,
  ctx: z.RefinementCtx,
  kind: string,
): Omit<T, 'external'> & { external: boolean } {
  const { external: ext, ...rest } = def;
  if (ext?.name !== undefined && def.name !== undefined) {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      path: ['external', 'name'],
      message: `${kind}.external.name and ${kind}.name conflict; only use ${kind}.name`,
    });
  }
  const name = def.name ?? ext?.name;
  return { ...rest, ...(name !== undefined ? { name } : {}), external: ext?.external ?? false };
}

const network = mapping(
  {
    name: str().optional(),
    driver: str().optional(),
    driver_opts: options().optional(),
    ipam: mapping({
      driver: str().optional(),
      config: list(
        mapping({
          subnet: str().optional(),
          ip_range: str().optional(),
          gateway: str().optional(),
          aux_addresses: options().optional(),
        }),
      ).optional(),
    }).optional(),
    external: external().optional(),
    internal: bool().optional(),
    attachable: bool().optional(),
    labels: listOrDict(false).optional(),
  },
  { extensions: true, nullAsEmpty: true },
).transform((def, ctx) => withExternal(def, ctx, 'network'));
export type ComposeNetwork = z.output<typeof network>;

const volume = mapping(
  {
    name: str().optional(),
    driver: str().optional(),
    driver_opts: options().optional(),
    external: external().optional(),
    labels: listOrDict(false).optional(),
  },
  { extensions: true, nullAsEmpty: true },
).transform((def, ctx) => {
  if (def.external?.external) {
    for (const key of ['driver', 'driver_opts', 'labels'] as const) {
      if (def[key] !== undefined) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: [key],
          message: `cannot be set on an external volume (conflicting parameters "external" and "${key}")`,
        });
      }
    }
  }
  return withExternal(def, ctx, 'volume');
});
export type ComposeVolume = z.output<typeof volume>;

/** A top-level secret or config: content from `file`, or an existing object (`external`). */
function fileObject(kind: 'secret' | 'config') {
  return mapping(
    {
      name: str().optional(),
      file: str().optional(),
      external: external().optional(),
      labels: listOrDict(false).optional(),
      template_driver: str().optional(),
    },
    { extensions: true, nullAsEmpty: true },
  ).transform((def, ctx) => {
    const out = withExternal(def, ctx, kind);
    if (!out.external && out.file === undefined) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: `needs "file" (the path of the ${kind}'s content) or "external: true" (a ${kind} created beforehand)`,
      });
    }
    if (out.external && out.file !== undefined) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['file'],
        message: `cannot be set on an external ${kind} (its content was given when it was created)`,
      });
    }
    return out;
  });
}
const secret = fileObject('secret');
const config = fileObject('config');
export type ComposeFileObject = z.output<typeof secret>;

const NAME_RULE = {
  pattern: /^[a-zA-Z0-9._-]+$/,
  message: 'names may only contain letters, digits, ".", "_" and "-"',
};

/** A definition's own keys: a scalar under one of these names is usually a mis-indented key. */
const DEFINITION_KEYS = ['name', 'file', 'external', 'labels', 'driver', 'driver_opts', 'template_driver'];

function definitions<S extends z.ZodTypeAny>(item: S, kind: string) {
  const entries = dict(item, NAME_RULE);
  return value((raw, ctx): Record<string, z.output<S>> => {
    if (isMapping(raw)) {
      const misplaced = Object.entries(raw).filter(
        ([k, x]) => DEFINITION_KEYS.includes(k) && x !== null && typeof x !== 'object',
      );
      for (const [k, x] of misplaced) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: [k],
          message: `must be a mapping, got ${describe(x)}: is "${k}:" meant to be indented under the ${kind} above it?`,
        });
      }
      if (misplaced.length > 0) {
        const rest = Object.fromEntries(
          Object.entries(raw).filter(([k]) => !misplaced.some(([m]) => m === k)),
        );
        sub(entries, rest, ctx);
        return z.NEVER;
      }
    }
    const r = sub(entries, raw, ctx);
    return r === INVALID ? z.NEVER : r;
  });
}

/** One compose file after parsing and normalisation. */
export const composeFileSchema = mapping(
  {
    version: text().optional(),
    name: str().optional(),
    services: dict(service, NAME_RULE).optional(),
    networks: definitions(network, 'network').optional(),
    volumes: definitions(volume, 'volume').optional(),
    secrets: definitions(secret, 'secret').optional(),
    configs: definitions(config, 'config').optional(),
  },
  { extensions: true },
);
export type ComposeFile = z.output<typeof composeFileSchema>;
