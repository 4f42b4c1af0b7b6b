// A private "host" network namespace for a benchmark, so that bridges, veths and NAT rules made by
// NodeNetwork never touch the machine's own interfaces.
import { randomBytes } from 'node:crypto';
import { run } from '../../src/lib/exec.js';
import type { Cleanup } from './cleanup.js';

/** Creates `skt-bench-<what>-<rand>` with lo up; deleting it is registered with `cleanup`. */
export async function benchNetns(cleanup: Cleanup, what: string): Promise<string> {
  const name = `skt-bench-${what}-${randomBytes(3).toString('hex')}`;
  await run('ip', ['netns', 'add', name]);
  cleanup.defer(`netns ${name}`, () => run('ip', ['netns', 'del', name], { okCodes: [0, 1, 255] }));
  await run('ip', ['-n', name, 'link', 'set', 'dev', 'lo', 'up']);
  return name;
}
