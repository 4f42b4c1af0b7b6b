// Go-compatible unit parsing and formatting used by the docker CLI: time.ParseDuration,
// time.Duration.String, go-units HumanDuration / HumanSizeWithPrecision / RAMInBytes, and the
// CLI's NanoCPUs decimal. Pure functions; error messages match Go's wording because the docker
// CLI shows them verbatim in flag errors.

const NS_PER_UNIT: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** time.ParseDuration: "1m30s", "1.5s", "300ms", "0" → nanoseconds. Throws with Go's message. */
export function parseGoDuration(input: string): number {
  const bad = () => new Error(`time: invalid duration "${input}"`);
  let s = input;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw bad();
  let total = 0;
  while (s !== '') {
    const num = /^([0-9]*)(\.[0-9]*)?/.exec(s);
    if (!num || (num[1] === '' && (num[2] === undefined || num[2] === '.'))) throw bad();
    s = s.slice(num[0].length);
    const unit = /^[^0-9.]*/.exec(s)?.[0] ?? '';
    if (unit === '') throw new Error(`time: missing unit in duration "${input}"`);
    const mult = NS_PER_UNIT[unit];
    if (mult === undefined) throw new Error(`time: unknown unit "${unit}" in duration "${input}"`);
    s = s.slice(unit.length);
    total += Number(`${num[1] || '0'}${num[2] ?? ''}`) * mult;
  }
  return sign * Math.round(total);
}

function trimFraction(value: number, digits: number): string {
  return value.toFixed(digits).replace(/\.?0+$/, '');
}

/** time.Duration.String: 5e9 → "5s", 90e9 → "1m30s", 7776000e9 → "2160h0m0s", 0 → "0s". */
export function formatGoDuration(ns: number): string {
  if (ns === 0) return '0s';
  const neg = ns < 0 ? '-' : '';
  const u = Math.abs(ns);
  if (u < 1e3) return `${neg}${u}ns`;
  if (u < 1e6) return `${neg}${trimFraction(u / 1e3, 3)}µs`;
  if (u < 1e9) return `${neg}${trimFraction(u / 1e6, 6)}ms`;
  const hours = Math.floor(u / 3600e9);
  const minutes = Math.floor((u % 3600e9) / 60e9);
  const seconds = trimFraction((u % 60e9) / 1e9, 9);
  if (hours > 0) return `${neg}${hours}h${minutes}m${seconds}s`;
  if (minutes > 0) return `${neg}${minutes}m${seconds}s`;
  return `${neg}${seconds}s`;
}

/** go-units HumanDuration: "Less than a second", "1 second", "About a minute", "3 hours"… */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / 60000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.trunc(ms / 3600000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(ms / 3600000 / 24 / 365)} years`;
}

/** Go's %.<p>g: shortest of fixed/exponent notation with p significant digits, zeros trimmed. */
export function formatGoG(value: number, precision: number): string {
  if (value === 0) return '0';
  const exp = Math.floor(Math.log10(Math.abs(Number(value.toPrecision(precision)))));
  if (exp < -4 || exp >= precision) {
    const [mant = '', e = '0'] = value.toExponential(precision - 1).split('e');
    const m = mant.includes('.') ? mant.replace(/\.?0+$/, '') : mant;
    const en = Number(e);
    return `${m}e${en < 0 ? '-' : '+'}${String(Math.abs(en)).padStart(2, '0')}`;
  }
  const fixed = value.toFixed(Math.max(0, precision - 1 - exp));
  return fixed.includes('.') ? fixed.replace(/\.?0+$/, '') : fixed;
}

const DECIMAL_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
const BINARY_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

function scaled(size: number, base: number, units: string[], precision: number): string {
  let i = 0;
  let s = size;
  while (s >= base && i < units.length - 1) {
    s /= base;
    i++;
  }
  return `${formatGoG(s, precision)}${units[i]}`;
}

/** go-units HumanSizeWithPrecision (decimal: "2.05MB"); docker images uses precision 3. */
export function humanSize(bytes: number, precision = 4): string {
  return scaled(bytes, 1000, DECIMAL_UNITS, precision);
}

/** go-units BytesSize (binary: "23.54GiB"), used by `docker info` Total Memory. */
export function bytesSize(bytes: number): string {
  return scaled(bytes, 1024, BINARY_UNITS, 4);
}

/** go-units RAMInBytes: "64M", "1g", "512m", "1.5GiB" → bytes (binary multiples). */
export function ramInBytes(input: string): number {
  const m = /^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(input);
  if (!m) throw new Error(`invalid size: '${input}'`);
  const exp = m[2] ? 'kmgtp'.indexOf(m[2].toLowerCase()) + 1 : 0;
  return Math.trunc(Number(m[1]) * 1024 ** exp);
}

/** The CLI's NanoCPUs flag: "0.5" → 500000000. */
export function parseNanoCpus(input: string): number {
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(input)) {
    throw new Error(`failed to parse ${input} as a rational number`);
  }
  const nano = Number(input) * 1e9;
  if (Math.abs(nano - Math.round(nano)) > 1e-6) throw new Error('value is too precise');
  return Math.round(nano);
}

/** Inverse of parseNanoCpus for display ("1.5"). */
export function formatNanoCpus(nano: number): string {
  return trimFraction(nano / 1e9, 9);
}

/**
 * An RFC 3339 UTC time as Go's time.String() prints it ("2026-12-07 10:28:58.24 +0000 UTC":
 * fraction without trailing zeros); anything else is returned as it is.
 */
export function goTimeString(rfc3339: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$/.exec(rfc3339);
  if (!m) return rfc3339;
  const frac = (m[3] ?? '').replace(/0+$/, '');
  return `${m[1]} ${m[2]}${frac ? `.${frac}` : ''} +0000 UTC`;
}
