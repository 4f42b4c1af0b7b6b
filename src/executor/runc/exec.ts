// Exec sessions in running containers, around `runc exec`: the exec's OCI process (the container's
// own, with the exec's argv, user, dir, environment and terminal), the command line (under a
// pseudo-terminal when the exec asked for a Tty), the exec'd process's pid, its terminal's size, and
// the hang-up of a session whose client went away. The runtime (runtime.ts) owns the exec instances.
//
// How a Tty works. `runc exec -t` not detached receives the container's pty master over its own
// console socket (Node cannot receive a file descriptor) and copies between it and its stdio, but
// only when its stdio is a terminal. So util-linux `script` gives runc one: a host pty whose master
// `script` copies to and from our pipes. That outer pty is made raw first (`stty raw -echo`), so
// bytes pass through it untouched and the container's pty does the echo, line editing and signals,
// exactly as with Docker. The container process has its pty as controlling terminal (job control,
// ^C); `tty` inside shows /dev/pts/N of the container. Resizing the outer pty signals runc
// (SIGWINCH to its foreground group), which copies the size onto the container's pty.
import { readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { run } from '../../lib/exec.js';
import { createLogger } from '../../lib/log.js';
import { cgroupHierarchies, readPid } from './host.js';

/** A terminal size as Docker's API gives it: [height, width] (rows, columns). */
export type ConsoleSize = readonly [height: number, width: number];

const SCRIPT = '/usr/bin/script';
const POLL_MS = 10;
const log = createLogger({ component: 'executor/runc/exec' });

/** What an exec takes from its container's config.json: the process, kept whole. */
export const containerProcessSchema = z.object({
  process: z.object({ env: z.array(z.string()) }).passthrough(),
});
export type ContainerProcess = z.infer<typeof containerProcessSchema>['process'];

export interface ExecProcessInput {
  args: readonly string[];
  env: readonly string[];
  cwd?: string;
  user?: { uid: number; gid: number; additionalGids: number[] };
  tty: boolean;
  size?: ConsoleSize;
}

/**
 * The OCI process `runc exec --process` runs: the container's (capabilities, rlimits, …) with the
 * exec's argv, user, dir and terminal, and its environment as Docker builds it (TERM=xterm for a
 * terminal, then the container's, then the exec's, a later value replacing an earlier one). A
 * terminal gets its size here, before the process starts: runc has no flag for it.
 */
export function execProcess(base: ContainerProcess, x: ExecProcessInput): Record<string, unknown> {
  const env = new Map<string, string>();
  for (const e of [...(x.tty ? ['TERM=xterm'] : []), ...base.env, ...x.env]) {
    const eq = e.indexOf('=');
    env.set(eq < 0 ? e : e.slice(0, eq), e);
  }
  const u = x.user;
  return {
    ...base,
    terminal: x.tty,
    args: [...x.args],
    env: [...env.values()],
    ...(x.cwd ? { cwd: x.cwd } : {}),
    ...(u
      ? {
          user: {
            uid: u.uid,
            gid: u.gid,
            ...(u.additionalGids.length ? { additionalGids: u.additionalGids } : {}),
          },
        }
      : {}),
    ...(x.tty && x.size ? { consoleSize: { height: x.size[0], width: x.size[1] } } : {}),
  };
}

/** POSIX shell words: each in single quotes, a quote inside written as '\''. */
export function shellQuote(words: readonly string[]): string {
  return words.map((w) => `'${w.replaceAll("'", "'\\''")}'`).join(' ');
}

/**
 * The argv that runs `runcArgv` (a `runc exec -t …` command line) on a fresh raw pseudo-terminal,
 * sized at once when the size is known. `script` exits with runc's code (-e), says nothing (-q),
 * keeps no typescript (/dev/null) and never echoes on the outer pty (-E never).
 */
export function ttyExecArgv(runcArgv: readonly string[], size?: ConsoleSize): string[] {
  const stty = size ? `stty raw -echo rows ${size[0]} cols ${size[1]}` : 'stty raw -echo';
  return [SCRIPT, '-q', '-e', '-E', 'never', '-c', `${stty} && exec ${shellQuote(runcArgv)}`, '/dev/null'];
}

/** `script` runs its -c command with $SHELL: always sh, whatever swarmd's environment says. */
export function ttyExecEnv(path: string | undefined): NodeJS.ProcessEnv {
  return { PATH: path ?? '/usr/sbin:/usr/bin:/sbin:/bin', SHELL: '/bin/sh' };
}

/** Docker's terminal sizes: whole numbers a winsize holds (0–65535). */
export function validConsoleSize(size: ConsoleSize): boolean {
  return size.every((n) => Number.isInteger(n) && n >= 0 && n <= 0xffff);
}

/** The session id (field 6) of a /proc/<pid>/stat text, or undefined. */
export function sessionOf(stat: string): number | undefined {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const sid = Number(fields[3]);
  return Number.isInteger(sid) && sid > 0 ? sid : undefined;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Polls `probe` until it yields a value, `ended` settles or `timeoutMs` passes (then undefined).
 * A session's pid file and pty appear within milliseconds of its start; nothing to watch for that.
 */
async function pollUntil<T>(
  probe: () => Promise<T | undefined>,
  ended: Promise<unknown>,
  timeoutMs: number,
): Promise<T | undefined> {
  let over = false;
  void ended.then(() => {
    over = true;
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined || over || Date.now() > deadline) return v;
    await sleep(POLL_MS);
  }
}

/** The exec'd process's pid, once runc has written it to its --pid-file (undefined if it never does). */
export function execPid(pidFile: string, ended: Promise<unknown>): Promise<number | undefined> {
  return pollUntil(async () => (await readPid(pidFile)) || undefined, ended, 30_000);
}

/**
 * The outer pty of a Tty session: fd 0 of `script`'s child (sh, then runc), once `script` has made
 * it the pty's slave.
 */
export function sessionTerminal(scriptPid: number, ended: Promise<unknown>): Promise<string | undefined> {
  return pollUntil(
    async () => {
      const children = await readFile(`/proc/${scriptPid}/task/${scriptPid}/children`, 'utf8').catch(
        () => '',
      );
      const child = children.trim().split(' ')[0];
      if (!child) return undefined;
      const fd0 = await readlink(`/proc/${child}/fd/0`).catch(() => '');
      return fd0.startsWith('/dev/pts/') ? fd0 : undefined;
    },
    ended,
    10_000,
  );
}

/** Sets a terminal's size; the kernel sends SIGWINCH to its foreground process group. */
export async function setTerminalSize(terminal: string, size: ConsoleSize): Promise<void> {
  await run('stty', ['-F', terminal, 'rows', String(size[0]), 'cols', String(size[1])]);
}

/** The pids in a container's cgroup (the first hierarchy that lists any). */
async function containerPids(cgroupParent: string, runcId: string): Promise<number[]> {
  for (const h of await cgroupHierarchies()) {
    const text = await readFile(join(h, cgroupParent, runcId, 'cgroup.procs'), 'utf8').catch(() => '');
    const pids = text.split('\n').filter(Boolean).map(Number);
    if (pids.length > 0) return pids;
  }
  return [];
}

/**
 * Signals the container's processes in the session `sid`: an exec'd process (runc makes it a session
 * leader) and everything it started that did not leave its session. Returns how many were signalled.
 */
export async function signalSession(
  container: { cgroupParent: string; runcId: string },
  sid: number,
  signal: NodeJS.Signals,
): Promise<number> {
  let n = 0;
  for (const pid of await containerPids(container.cgroupParent, container.runcId)) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    if (sessionOf(stat) !== sid) continue;
    try {
      process.kill(pid, signal);
      n++;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') log.warn('signal failed', { pid, signal, err });
    }
  }
  return n;
}
