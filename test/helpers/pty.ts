// A command on a pseudo-terminal of its own, the way a person at a terminal runs it: util-linux
// `script` makes the pty, the test types into it through a pipe and reads what the terminal shows.
// Used to drive `docker exec -it`, which needs its stdin to be a terminal.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';

export class PtySession {
  readonly child: ChildProcess;
  /** The exit code `script` passes on from the command (-e), or 128 + signal. */
  readonly exited: Promise<number>;
  private text = '';
  private waiters: (() => void)[] = [];

  /** Runs `shellCommand` with sh on a fresh pty; `env` is the whole environment. */
  constructor(shellCommand: string, env: NodeJS.ProcessEnv) {
    this.child = spawn('script', ['-q', '-e', '-c', shellCommand, '/dev/null'], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...env, SHELL: '/bin/sh' },
    });
    const onData = (b: Buffer) => {
      this.text += b.toString('utf8');
      for (const w of this.waiters.splice(0)) w();
    };
    this.child.stdout?.on('data', onData);
    this.child.stderr?.on('data', onData);
    this.child.stdin?.on('error', () => undefined);
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        resolve(code ?? (signal ? 128 : 1));
        for (const w of this.waiters.splice(0)) w();
      });
    });
  }

  /** Everything the terminal showed so far. */
  get output(): string {
    return this.text;
  }

  type(keys: string): void {
    this.child.stdin?.write(keys);
  }

  /** Waits until the output matches `re` (the output so far is in the error when it never does). */
  async expect(re: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.text);
      if (m) return m;
      const left = end - Date.now();
      const exited = this.child.exitCode !== null || this.child.signalCode !== null;
      if (left <= 0 || exited) {
        throw new Error(
          `no ${re} in the terminal${exited ? ' (command exited)' : ''}:\n${JSON.stringify(this.text)}`,
        );
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** The command's process (script's child, which `exec`s it) and the pty it has as stdin. */
  command(): { pid: number; terminal: string } {
    const pid = this.child.pid ?? 0;
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    const child = Number(children.split(' ')[0]);
    return { pid: child, terminal: readlinkSync(`/proc/${child}/fd/0`) };
  }

  /** Ends the session if it still runs (SIGKILL to script: the command gets the pty's hang-up). */
  async close(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }
}
