// The two environment file formats a stack meets: `.env` (variables for interpolation, read by the
// caller and merged with the process environment) and a service's `env_file` (container variables,
// in the docker CLI's `--env-file` format). Pure: text in, variables out.
import { ComposeError } from './errors.js';

const DOTENV_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

const DOUBLE_QUOTE_ESCAPES: Record<string, string> = {
  n: '\n',
  r: '\r',
  t: '\t',
  '\\': '\\',
  '"': '"',
  $: '$',
};

/**
 * Parses a `.env` file as Compose does: `KEY=value` lines, `#` comments, an optional `export `,
 * `'single'` (literal) and `"double"` (with \n \t \\ \" escapes, may span lines) quoted values, and
 * ` # comments` after unquoted values. Variables in values are not expanded. `file` names the file
 * in errors (`.env:3: …`).
 */
export function parseDotEnv(text: string, file = '.env'): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const fail = (message: string): never => {
      throw new ComposeError([{ file, line: lineNo, key: '', message }]);
    };
    const line = (lines[i] ?? '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const body = line.startsWith('export ') ? line.slice('export '.length).trimStart() : line;
    const eq = body.indexOf('=');
    if (eq === -1) fail(`"${body}" has no "=": write ${body}= for an empty value`);
    const key = body.slice(0, eq).trim();
    if (!DOTENV_NAME.test(key)) fail(`invalid variable name ${JSON.stringify(key)}`);
    let rest = body.slice(eq + 1).trimStart();
    const quote = rest[0];
    if (quote === "'" || quote === '"') {
      // A quoted value may continue on the following lines until its closing quote.
      let value = '';
      let k = 1;
      for (;;) {
        if (k >= rest.length) {
          if (i + 1 >= lines.length) fail(`value of ${key} has no closing ${quote}`);
          rest += `\n${lines[++i] ?? ''}`;
          continue;
        }
        const ch = rest[k] ?? '';
        if (ch === quote) break;
        if (quote === '"' && ch === '\\' && k + 1 < rest.length) {
          const esc = rest[k + 1] ?? '';
          value += DOUBLE_QUOTE_ESCAPES[esc] ?? `\\${esc}`;
          k += 2;
          continue;
        }
        value += ch;
        k++;
      }
      const after = rest.slice(k + 1).trim();
      if (after !== '' && !after.startsWith('#')) fail(`unexpected text after the quoted value of ${key}`);
      out[key] = value;
    } else {
      out[key] = rest.replace(/\s+#.*$/, '').trim();
    }
  }
  return out;
}

/**
 * Parses an `env_file` as the docker CLI does (opts.ParseEnvFile): `KEY=value` taken literally (no
 * quotes, no trimming of the value), `#` comment lines, and a bare `KEY` taking its value from
 * `env` (dropped when unset there). Returns `KEY=value` entries in file order.
 */
export function parseEnvFile(
  text: string,
  file: string,
  env: Record<string, string | undefined>,
): { key: string; value: string }[] {
  const out: { key: string; value: string }[] = [];
  text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .forEach((raw, i) => {
      const line = raw.trimStart();
      if (line === '' || line.startsWith('#')) return;
      const eq = line.indexOf('=');
      const key = eq === -1 ? line.trimEnd() : line.slice(0, eq);
      if (key === '') {
        throw new ComposeError([
          { file, line: i + 1, key: '', message: `no variable name on line '${line}'` },
        ]);
      }
      if (/\s/.test(key)) {
        throw new ComposeError([
          { file, line: i + 1, key: '', message: `variable '${key}' contains whitespaces` },
        ]);
      }
      if (eq !== -1) out.push({ key, value: line.slice(eq + 1) });
      else if (Object.hasOwn(env, key) && env[key] !== undefined) out.push({ key, value: env[key] ?? '' });
    });
  return out;
}
