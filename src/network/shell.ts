// Thin shells over ip, bridge, nft and sysctl: every kernel change of this module goes through here, as
// one process per batch (`ip -batch -`, `bridge -batch -`, `nft -f -`), optionally inside a named netns.
import { ExecError, type ExecResult, run } from '../lib/exec.js';
import { netnsPath } from './names.js';

const TIMEOUT_MS = 15_000;

/** Runs a command; a failure whose stderr says the object is absent gives null instead of an error. */
async function runUnlessMissing(cmd: string, args: string[], missing: RegExp): Promise<ExecResult | null> {
  const r = await run(cmd, args, { okCodes: [0, 1, 2, 255], timeoutMs: TIMEOUT_MS });
  if (r.code === 0) return r;
  if (missing.test(r.stderr)) return null;
  throw new ExecError(`${cmd} ${args.join(' ')}`.slice(0, 200), r);
}

/**
 * A command inside a named netns: `nsenter --net` only joins the network namespace (`ip netns exec`
 * also unshares the mount namespace and remounts /sys, several times the cost, on every rule change
 * of every task); /proc/sys/net and nft follow the network namespace alone.
 */
function inNetns(netns: string | undefined, cmd: string, args: string[]): [string, string[]] {
  return netns === undefined ? [cmd, args] : ['nsenter', [`--net=${netnsPath(netns)}`, '--', cmd, ...args]];
}

/** Runs `ip` commands as one batch (stops at the first error, which is then thrown). */
export async function ipBatch(lines: readonly string[], netns?: string): Promise<void> {
  if (lines.length === 0) return;
  const nsArgs = netns === undefined ? [] : ['-n', netns];
  await run('ip', [...nsArgs, '-batch', '-'], { input: `${lines.join('\n')}\n`, timeoutMs: TIMEOUT_MS });
}

/**
 * Runs every line of an `ip` batch even when some fail (`-force`); failures whose message matches
 * `missing` (the object is already gone) are fine, any other is thrown.
 */
export async function ipBatchIgnoringMissing(
  lines: readonly string[],
  missing: RegExp,
  netns?: string,
): Promise<void> {
  if (lines.length === 0) return;
  const nsArgs = netns === undefined ? [] : ['-n', netns];
  const r = await run('ip', [...nsArgs, '-force', '-batch', '-'], {
    input: `${lines.join('\n')}\n`,
    okCodes: [0, 1],
    timeoutMs: TIMEOUT_MS,
  });
  const errors = r.stderr
    .split('\n')
    .filter((l) => l.trim() !== '' && !/^Command failed /.test(l) && !missing.test(l));
  if (errors.length > 0) throw new ExecError(`ip -force -batch: ${errors.join('; ')}`.slice(0, 200), r);
}

/** `ip -j …` parsed as JSON; returns null when the object does not exist. */
export async function ipJson(args: readonly string[], netns?: string): Promise<unknown> {
  const nsArgs = netns === undefined ? [] : ['-n', netns];
  const r = await runUnlessMissing('ip', [...nsArgs, '-j', ...args], /does not exist|Cannot find device/);
  if (r === null) return null;
  return r.stdout.trim() === '' ? [] : JSON.parse(r.stdout);
}

/** Runs `bridge` commands (FDB entries) as one batch (stops at the first error, which is then thrown). */
export async function bridgeBatch(lines: readonly string[], netns?: string): Promise<void> {
  if (lines.length === 0) return;
  const nsArgs = netns === undefined ? [] : ['-n', netns];
  await run('bridge', [...nsArgs, '-batch', '-'], { input: `${lines.join('\n')}\n`, timeoutMs: TIMEOUT_MS });
}

/** `bridge -j …` parsed as JSON; returns null when the device does not exist. */
export async function bridgeJson(args: readonly string[], netns?: string): Promise<unknown> {
  const nsArgs = netns === undefined ? [] : ['-n', netns];
  const r = await runUnlessMissing('bridge', [...nsArgs, '-j', ...args], /does not exist|Cannot find device/);
  if (r === null) return null;
  return r.stdout.trim() === '' ? [] : JSON.parse(r.stdout);
}

/** Applies an nft script as one transaction: either all of it takes effect or none. */
export async function nftApply(script: string, netns?: string): Promise<void> {
  const [cmd, args] = inNetns(netns, 'nft', ['-f', '-']);
  await run(cmd, args, { input: script, timeoutMs: TIMEOUT_MS });
}

export async function nftTableExists(family: string, table: string, netns?: string): Promise<boolean> {
  const [cmd, args] = inNetns(netns, 'nft', ['list', 'table', family, table]);
  const r = await run(cmd, args, { okCodes: [0, 1], timeoutMs: TIMEOUT_MS });
  return r.code === 0;
}

export async function nftDeleteTable(family: string, table: string, netns?: string): Promise<void> {
  if (await nftTableExists(family, table, netns)) await nftApply(`delete table ${family} ${table}\n`, netns);
}

export async function sysctlSet(values: Record<string, string>, netns?: string): Promise<void> {
  const pairs = Object.entries(values).map(([k, v]) => `${k}=${v}`);
  const [cmd, args] = inNetns(netns, 'sysctl', ['-q', '-w', ...pairs]);
  await run(cmd, args, { timeoutMs: TIMEOUT_MS });
}

export async function netnsAdd(name: string): Promise<void> {
  await run('ip', ['netns', 'add', name], { timeoutMs: TIMEOUT_MS });
}

/** Removes a named netns; one that is already gone is fine (deletion must be idempotent). */
export async function netnsDelete(name: string): Promise<void> {
  await runUnlessMissing('ip', ['netns', 'del', name], /No such file/);
}

/** Deletes a link; one that is already gone is fine. Deleting a veth end removes its peer too. */
export async function linkDelete(name: string, netns?: string): Promise<void> {
  const nsArgs = netns === undefined ? [] : ['-n', netns];
  await runUnlessMissing('ip', [...nsArgs, 'link', 'del', 'dev', name], /Cannot find device/);
}

export async function netnsList(): Promise<string[]> {
  const r = await run('ip', ['-j', 'netns', 'list'], { timeoutMs: TIMEOUT_MS });
  if (r.stdout.trim() === '') return [];
  const parsed: unknown = JSON.parse(r.stdout);
  if (!Array.isArray(parsed)) return [];
  return parsed.flatMap((e: unknown) =>
    typeof e === 'object' && e !== null && 'name' in e && typeof e.name === 'string' ? [e.name] : [],
  );
}
