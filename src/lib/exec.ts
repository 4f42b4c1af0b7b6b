// The one helper to run external programs (ip, nft, runc, conmon, tar …): no shell, captured output,
// a typed error naming the command and its stderr. With useSpawnHelper(), commands are forked by a
// small helper process (spawn-helper.ts) instead of this one, so spawning never blocks our loop.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { SwarmError } from '../api/errors.js';

export interface ExecOptions {
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
  /** Exit codes that count as success (default [0]). */
  okCodes?: number[];
  /**
   * For a monitor that outlives the call (conmon): the child gets a pipe as fd 3 (its sync pipe)
   * and runs detached; the call answers with the first line written there (as stdout, code 0), or
   * code 1 and its stderr if it closes the pipe without one. The child is left running.
   */
  syncPipe?: boolean;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class ExecError extends SwarmError {
  constructor(
    readonly command: string,
    readonly result: ExecResult,
  ) {
    super(
      'INTERNAL',
      `${command}: exit status ${result.code}: ${result.stderr.trim() || result.stdout.trim()}`,
    );
  }
}

export function run(cmd: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const finish = (result: ExecResult): ExecResult => {
    if ((opts.okCodes ?? [0]).includes(result.code)) return result;
    throw new ExecError(`${cmd} ${args.join(' ')}`.slice(0, 200), result);
  };
  if (helper) return helper.run(cmd, args, opts).then(finish);
  return runHere(cmd, args, opts).then(finish);
}

/** Spawns from this process and collects the result (also what the spawn helper runs). */
export function runHere(cmd: string, args: string[], opts: ExecOptions): Promise<ExecResult> {
  if (opts.syncPipe) return launchWithSyncPipe(cmd, args, opts);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: opts.timeoutMs,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.stdin.on('error', () => undefined); // a child that exits without reading its input
    child.on('error', (e) => reject(new SwarmError('INTERNAL', `${cmd}: ${e.message}`, { cause: e })));
    child.on('close', (code, signal) => {
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    child.stdin.end(opts.input);
  });
}

function launchWithSyncPipe(cmd: string, args: string[], opts: ExecOptions): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const pipe = child.stdio[3];
    const stderr: Buffer[] = [];
    child.stdio[2]?.on('data', (b: Buffer) => stderr.push(b));
    let line = '';
    let done = false;
    const finish = (result: ExecResult | Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      // The pipe stays open as long as the child runs: never wait for its EOF.
      pipe?.destroy();
      child.stdio[2]?.destroy();
      child.unref();
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    const timer = setTimeout(
      () =>
        finish(new SwarmError('INTERNAL', `${cmd}: nothing on its sync pipe within ${opts.timeoutMs} ms`)),
      opts.timeoutMs ?? 15_000,
    );
    child.on('error', (e) => finish(new SwarmError('INTERNAL', `${cmd}: ${e.message}`, { cause: e })));
    pipe?.on('error', () => undefined);
    pipe?.on('data', (b: Buffer) => {
      line += b.toString('utf8');
      const nl = line.indexOf('\n');
      if (nl >= 0)
        finish({ code: 0, stdout: line.slice(0, nl), stderr: Buffer.concat(stderr).toString('utf8') });
    });
    pipe?.on('close', () =>
      finish({ code: line === '' ? 1 : 0, stdout: line, stderr: Buffer.concat(stderr).toString('utf8') }),
    );
  });
}

const Answer = z.union([
  z.object({ id: z.number(), code: z.number(), stdout: z.string(), stderr: z.string() }),
  z.object({ id: z.number(), error: z.string() }),
]);

/** One helper process and the requests it has not answered yet. */
class SpawnHelper {
  private child: ChildProcess | undefined;
  private nextId = 1;
  private readonly waiting = new Map<
    number,
    { cmd: string; resolve: (r: ExecResult) => void; reject: (e: Error) => void }
  >();

  run(cmd: string, args: string[], opts: ExecOptions): Promise<ExecResult> {
    const child = this.ensure();
    const id = this.nextId++;
    const input =
      opts.input === undefined ? undefined : Buffer.from(opts.input as string | Buffer).toString('base64');
    const request = {
      id,
      cmd,
      args,
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
      ...(opts.env ? { env: opts.env } : {}),
      ...(input !== undefined ? { input } : {}),
      ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
      ...(opts.syncPipe ? { syncPipe: true } : {}),
    };
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { cmd, resolve, reject });
      this.hold(true);
      child.stdin?.write(`${JSON.stringify(request)}\n`);
    });
  }

  /** The helper keeps this process alive only while it owes answers. */
  private hold(on: boolean): void {
    const c = this.child;
    const out = c?.stdout as (NodeJS.ReadableStream & { ref?: () => void; unref?: () => void }) | undefined;
    if (on) {
      c?.ref();
      out?.ref?.();
    } else {
      c?.unref();
      out?.unref?.();
    }
  }

  stop(): void {
    this.child?.stdin?.end();
    this.child = undefined;
  }

  private ensure(): ChildProcess {
    if (this.child) return this.child;
    const child = spawn(process.execPath, [new URL('./spawn-helper.js', import.meta.url).pathname], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    child.stdin?.on('error', () => undefined);
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      let raw: unknown;
      try {
        raw = JSON.parse(line);
      } catch {
        return;
      }
      const parsed = Answer.safeParse(raw);
      if (!parsed.success) return;
      const a = parsed.data;
      const w = this.waiting.get(a.id);
      if (!w) return;
      this.waiting.delete(a.id);
      if (this.waiting.size === 0) this.hold(false);
      if ('error' in a) w.reject(new SwarmError('INTERNAL', a.error));
      else
        w.resolve({
          code: a.code,
          stdout: a.stdout,
          stderr: a.stderr,
        });
    });
    child.on('exit', () => {
      // The helper died: what it had not answered fails; the next command starts a new helper.
      if (this.child === child) this.child = undefined;
      for (const [id, w] of this.waiting) {
        this.waiting.delete(id);
        w.reject(new SwarmError('INTERNAL', `${w.cmd}: the spawn helper exited`));
      }
    });
    this.child = child;
    this.hold(false);
    return child;
  }
}

let helper: SpawnHelper | undefined;

/** Routes run() through a helper process (swarmd does this at start); false goes back to spawning here. */
export function useSpawnHelper(on: boolean): void {
  if (on && !helper) helper = new SpawnHelper();
  if (!on && helper) {
    helper.stop();
    helper = undefined;
  }
}
