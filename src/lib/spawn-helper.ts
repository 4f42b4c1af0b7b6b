// The spawn helper process: runs the commands swarmd sends it (newline-delimited JSON on stdin) and
// answers each with its exit code and output (one JSON line on stdout). Forking from this small
// process instead of swarmd keeps swarmd's event loop free: Node's spawn blocks its caller until
// the child has exec'd, which under load was half of swarmd's main-thread time (ARCHITECTURE.md).
// Started by exec.ts; never used on its own.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

interface Request {
  id: number;
  cmd: string;
  args: string[];
  cwd?: string;
  env?: Record<string, string>;
  /** base64 */
  input?: string;
  timeoutMs?: number;
}

function answer(msg: object): void {
  process.stdout.write(`${JSON.stringify(msg)}\n`);
}

function runOne(r: Request): void {
  let child: ReturnType<typeof spawn>;
  try {
    child = spawn(r.cmd, r.args, {
      ...(r.env ? { env: r.env } : {}),
      ...(r.cwd ? { cwd: r.cwd } : {}),
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(r.timeoutMs ? { timeout: r.timeoutMs } : {}),
    });
  } catch (e) {
    answer({ id: r.id, error: e instanceof Error ? e.message : String(e) });
    return;
  }
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let failed: string | undefined;
  child.stdout?.on('data', (b: Buffer) => out.push(b));
  child.stderr?.on('data', (b: Buffer) => err.push(b));
  child.on('error', (e) => {
    failed = e.message;
  });
  child.stdin?.on('error', () => undefined); // a child that exits without reading its input
  child.on('close', (code, signal) => {
    if (failed !== undefined && code === null) {
      answer({ id: r.id, error: failed });
      return;
    }
    answer({
      id: r.id,
      code: code ?? (signal ? 128 : 1),
      stdout: Buffer.concat(out).toString('base64'),
      stderr: Buffer.concat(err).toString('base64'),
    });
  });
  child.stdin?.end(r.input === undefined ? undefined : Buffer.from(r.input, 'base64'));
}

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === '') return;
  try {
    runOne(JSON.parse(line) as Request);
  } catch (e) {
    process.stderr.write(`spawn helper: bad request: ${e instanceof Error ? e.message : String(e)}\n`);
  }
});
// swarmd gone: nothing more will come. A Ctrl-C meant for swarmd's process group is swarmd's to
// handle: it may still need commands run while it shuts down.
process.stdin.on('end', () => process.exit(0));
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => undefined);
