// The spawn helper process: runs the commands swarmd sends it (newline-delimited JSON on stdin) and
// answers each with its exit code and output (one JSON line on stdout). Forking from this small
// process instead of swarmd keeps swarmd's event loop free: Node's spawn blocks its caller until
// the child has exec'd, which under load was half of swarmd's main-thread time (ARCHITECTURE.md).
// Started by exec.ts; never used on its own.
import { createInterface } from 'node:readline';
import { runHere } from './exec.js';

interface Request {
  id: number;
  cmd: string;
  args: string[];
  cwd?: string;
  env?: Record<string, string>;
  /** base64 */
  input?: string;
  timeoutMs?: number;
  syncPipe?: boolean;
}

function answer(msg: object): void {
  process.stdout.write(`${JSON.stringify(msg)}\n`);
}

function runOne(r: Request): void {
  runHere(r.cmd, r.args, {
    ...(r.env ? { env: r.env } : {}),
    ...(r.cwd ? { cwd: r.cwd } : {}),
    ...(r.input !== undefined ? { input: Buffer.from(r.input, 'base64') } : {}),
    ...(r.timeoutMs ? { timeoutMs: r.timeoutMs } : {}),
    ...(r.syncPipe ? { syncPipe: true } : {}),
  }).then(
    (res) => answer({ id: r.id, ...res }),
    (e: unknown) => answer({ id: r.id, error: e instanceof Error ? e.message : String(e) }),
  );
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
