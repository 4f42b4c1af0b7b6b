// The one helper to run external programs (ip, nft, runc, conmon, tar …): no shell, captured output,
// a typed error naming the command and its stderr.
import { spawn } from 'node:child_process';
import { SwarmError } from '../api/errors.js';

export interface ExecOptions {
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
  /** Exit codes that count as success (default [0]). */
  okCodes?: number[];
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
    child.on('error', (e) => reject(new SwarmError('INTERNAL', `${cmd}: ${e.message}`, { cause: e })));
    child.on('close', (code, signal) => {
      const result: ExecResult = {
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      };
      if ((opts.okCodes ?? [0]).includes(result.code)) resolve(result);
      else reject(new ExecError(`${cmd} ${args.join(' ')}`.slice(0, 200), result));
    });
    child.stdin.end(opts.input);
  });
}
