// Variable interpolation in compose values (`$VAR`, `${VAR:-default}`, `${VAR:?message}`, `$$`), as
// the docker CLI does before validating a file, plus nested defaults and `:+` as Compose v2 allows.
// Pure: the environment is a parameter.
import { ComposeError, type ComposeIssue, issueAt, type KeyPath, type Locations } from './errors.js';

export type Environment = Record<string, string | undefined>;

class TemplateError extends Error {}

const NAME = /^[_a-zA-Z][_a-zA-Z0-9]*/;

function lookup(env: Environment, name: string): string | undefined {
  return Object.hasOwn(env, name) ? env[name] : undefined;
}

/** Index of the `}` closing a `${` whose body starts at `from`, or -1. */
function closingBrace(s: string, from: number): number {
  let depth = 1;
  for (let k = from; k < s.length; k++) {
    if (s[k] === '$' && s[k + 1] === '{') {
      depth++;
      k++;
    } else if (s[k] === '}' && --depth === 0) return k;
  }
  return -1;
}

/**
 * Substitutes the variables of one string. `unset` is told about each variable used without a
 * value or a default (it becomes empty, as in Docker). Throws TemplateError on bad syntax or an
 * unset required variable.
 */
function substitute(template: string, env: Environment, unset: (name: string) => void): string {
  let out = '';
  let i = 0;
  while (i < template.length) {
    const c = template[i];
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    const next = template[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
    } else if (next === '{') {
      const end = closingBrace(template, i + 2);
      if (end === -1) throw new TemplateError(`invalid interpolation format: ${JSON.stringify(template)}`);
      out += expandBraced(template.slice(i + 2, end), template, env, unset);
      i = end + 1;
    } else {
      const name = NAME.exec(template.slice(i + 1))?.[0];
      if (!name) throw new TemplateError(`invalid interpolation format: ${JSON.stringify(template)}`);
      const value = lookup(env, name);
      if (value === undefined) unset(name);
      out += value ?? '';
      i += 1 + name.length;
    }
  }
  return out;
}

function expandBraced(
  body: string,
  template: string,
  env: Environment,
  unset: (name: string) => void,
): string {
  const name = NAME.exec(body)?.[0];
  if (!name) throw new TemplateError(`invalid interpolation format: ${JSON.stringify(template)}`);
  const op = /^(:?[-?+])?/.exec(body.slice(name.length))?.[0] ?? '';
  const arg = body.slice(name.length + op.length);
  if (op === '' && arg !== '')
    throw new TemplateError(`invalid interpolation format: ${JSON.stringify(template)}`);
  const value = lookup(env, name);
  const isSet = value !== undefined;
  const nonEmpty = isSet && value !== '';
  switch (op) {
    case '':
      if (!isSet) unset(name);
      return value ?? '';
    case ':-':
      return nonEmpty ? value : substitute(arg, env, unset);
    case '-':
      return isSet ? value : substitute(arg, env, unset);
    case ':+':
      return nonEmpty ? substitute(arg, env, unset) : '';
    case '+':
      return isSet ? substitute(arg, env, unset) : '';
    default: {
      // `:?` needs a non-empty value, `?` only a set one.
      if (op === ':?' ? nonEmpty : isSet) return value ?? '';
      const why = arg === '' ? '' : `: ${arg}`;
      throw new TemplateError(`required variable ${name} is missing a value${why}`);
    }
  }
}

export interface Interpolated {
  value: unknown;
  warnings: string[];
}

/**
 * Interpolates every string value (not keys) of a parsed file. All problems are reported together,
 * each at its key's line.
 */
export function interpolateValues(
  value: unknown,
  env: Environment,
  file: string,
  locations: Locations,
): Interpolated {
  const issues: ComposeIssue[] = [];
  const warned = new Set<string>();
  const warnings: string[] = [];
  const walk = (v: unknown, path: KeyPath): unknown => {
    if (typeof v === 'string') {
      if (!v.includes('$')) return v;
      try {
        return substitute(v, env, (name) => {
          if (warned.has(name)) return;
          warned.add(name);
          const at = issueAt(locations, file, path, '');
          const where = 'line' in at ? `${at.file}:${at.line}` : at.file;
          warnings.push(
            `The "${name}" variable is not set. Defaulting to a blank string. (${where}: ${at.key})`,
          );
        });
      } catch (e) {
        if (!(e instanceof TemplateError)) throw e;
        const hint = e.message.startsWith('invalid') ? '. You may need to escape any $ with another $.' : '';
        issues.push(issueAt(locations, file, path, e.message + hint));
        return v;
      }
    }
    if (Array.isArray(v)) return v.map((x, i) => walk(x, [...path, i]));
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, [...path, k])]));
    }
    return v;
  };
  const out = walk(value, []);
  if (issues.length > 0) throw new ComposeError(issues);
  return { value: out, warnings };
}
