// Exec with a terminal and attach, through the Engine API routes over a real runc runtime: terminal
// sizes before and after the start, Docker's resize errors, live resize and ^C in a shell, the
// hang-up of an abandoned session, and attach's live and replayed output.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { parseConsoleSize } from '../../src/engineapi/attach.js';
import { containerRoutes } from '../../src/engineapi/containers.js';
import { EngineServer } from '../../src/engineapi/server.js';
import { execProcess, sessionOf, shellQuote, ttyExecArgv } from '../../src/executor/runc/exec.js';
import { apiCall } from '../helpers/swarmd.js';
import { destroyHarness, type Harness, makeHarness } from './fixtures.js';

/** A hijacked stream as the docker CLI opens one: request with upgrade headers, then raw bytes. */
class Hijacked {
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  head = '';
  readonly ended: Promise<void>;

  constructor(readonly sock: Socket) {
    sock.on('data', (b: Buffer) => {
      this.buf = Buffer.concat([this.buf, b]);
      if (this.head === '') {
        const i = this.buf.indexOf('\r\n\r\n');
        if (i >= 0) {
          this.head = this.buf.subarray(0, i).toString('latin1');
          this.buf = this.buf.subarray(i + 4);
        }
      }
      this.wake();
    });
    this.ended = new Promise((resolve) => {
      sock.on('close', () => {
        resolve();
        this.wake();
      });
    });
  }

  static open(socketPath: string, path: string, body: unknown): Promise<Hijacked> {
    const data = body === undefined ? '' : JSON.stringify(body);
    const sock = connect(socketPath);
    const h = new Hijacked(sock);
    sock.write(
      `POST ${path} HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(data)}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n${data}`,
    );
    return h.until(() => h.head !== '').then(() => h);
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** The stream's bytes after the response head. */
  get bytes(): Buffer {
    return this.buf;
  }

  get text(): string {
    return this.buf.toString('utf8');
  }

  async until(ok: () => boolean, timeoutMs = 15_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!ok()) {
      const left = end - Date.now();
      if (left <= 0 || this.sock.destroyed) {
        throw new Error(
          `condition not met; head ${JSON.stringify(this.head)}, stream ${JSON.stringify(this.text)}`,
        );
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}

/** Docker's multiplexed frames → [stream id, text][]. */
function frames(b: Buffer): [number, string][] {
  const out: [number, string][] = [];
  let at = 0;
  while (at + 8 <= b.length) {
    const size = b.readUInt32BE(at + 4);
    if (at + 8 + size > b.length) break;
    out.push([b[at] ?? 0, b.subarray(at + 8, at + 8 + size).toString('utf8')]);
    at += 8 + size;
  }
  return out;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function eventually(what: string, ok: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Host processes whose command line names `needle` (runc and script of an exec carry its ID). */
function hostProcessesNaming(needle: string): string[] {
  const out: string[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmd.includes(needle)) out.push(`${p}: ${cmd}`);
    } catch {
      // gone
    }
  }
  return out;
}

describe('exec sessions, pure parts', () => {
  test('shell quoting gives sh back every word exactly, whatever it holds', () => {
    const word = fc.string({ unit: 'binary' }).filter((w) => !w.includes('\0'));
    fc.assert(
      fc.property(fc.array(word, { minLength: 1, maxLength: 4 }), (words) => {
        const out = execFileSync('sh', ['-c', `printf '%s\\0' ${shellQuote(words)}`]).toString('utf8');
        assert.deepEqual(out.split('\0').slice(0, -1), words);
      }),
      { numRuns: 60 },
    );
  });

  test('a Tty exec runs runc under script on a raw pty, sized when the size is known', () => {
    const argv = ttyExecArgv(['/usr/sbin/runc', 'exec', "it's"], [24, 80]);
    assert.deepEqual(argv.slice(0, 6), ['/usr/bin/script', '-q', '-e', '-E', 'never', '-c']);
    assert.equal(argv[6], `stty raw -echo rows 24 cols 80 && exec '/usr/sbin/runc' 'exec' 'it'\\''s'`);
    assert.equal(argv[7], '/dev/null');
    assert.match(ttyExecArgv(['runc'])[6] ?? '', /^stty raw -echo && exec 'runc'$/);
  });

  test('an exec’s process is the container’s with the exec’s argv, user, dir, terminal and environment', () => {
    const base = {
      env: ['PATH=/bin', 'A=1'],
      cwd: '/',
      user: { uid: 0, gid: 0 },
      rlimits: [{ type: 'RLIMIT_NOFILE' }],
    };
    const tty = execProcess(base, {
      args: ['sh'],
      env: ['A=2', 'B=3'],
      cwd: '/tmp',
      user: { uid: 1000, gid: 1000, additionalGids: [2000] },
      tty: true,
      size: [30, 100],
    });
    assert.deepEqual(tty, {
      env: ['TERM=xterm', 'PATH=/bin', 'A=2', 'B=3'],
      cwd: '/tmp',
      user: { uid: 1000, gid: 1000, additionalGids: [2000] },
      rlimits: [{ type: 'RLIMIT_NOFILE' }],
      terminal: true,
      args: ['sh'],
      consoleSize: { height: 30, width: 100 },
    });
    const plain = execProcess(
      { ...base, env: ['TERM=dumb'] },
      { args: ['ls'], env: [], tty: false, size: [1, 1] },
    );
    assert.deepEqual(
      [plain.env, plain.terminal, plain.consoleSize, plain.cwd],
      [['TERM=dumb'], false, undefined, '/'],
    );
    assert.deepEqual(execProcess({ env: ['TERM=dumb'] }, { args: ['sh'], env: [], tty: true }).env, [
      'TERM=dumb',
    ]);
  });

  test('resize sizes read as Go’s Atoi reads them; a session id comes from /proc/<pid>/stat', () => {
    assert.deepEqual(parseConsoleSize(new URLSearchParams('h=%2B24&w=080')), [24, 80]);
    assert.throws(
      () => parseConsoleSize(new URLSearchParams('h=2.5&w=1')),
      /strconv.Atoi: parsing "2.5": invalid syntax/,
    );
    assert.throws(
      () => parseConsoleSize(new URLSearchParams('h=1&w=70000')),
      /invalid terminal size: w=70000/,
    );
    assert.equal(sessionOf('4242 (my prog) S 1 4242 4200 34816 4242 4194560'), 4200);
    assert.equal(sessionOf(''), undefined);
  });
});

describe('exec with a terminal, and attach, over the Engine API', () => {
  let h: Harness;
  let server: EngineServer;
  let sock: string;
  let shell: string;
  const api = (method: string, path: string, body?: unknown) => apiCall(sock, method, path, body);
  const createExec = async (config: Record<string, unknown>) => {
    const r = await api('POST', `/containers/${shell}/exec`, {
      AttachStdout: true,
      AttachStderr: true,
      ...config,
    });
    assert.equal(r.status, 201, r.body);
    return r.json<{ Id: string }>().Id;
  };
  const inspectExec = async (id: string) =>
    (await api('GET', `/exec/${id}/json`)).json<{
      Running: boolean;
      ExitCode: number | null;
      Pid: number;
      ProcessConfig: { tty: boolean };
    }>();
  const psArgs = async () => (await h.runtime.execSync(shell, ['ps', '-o', 'args'])).stdout;

  before(async () => {
    h = await makeHarness();
    sock = join(h.dir, 'd.sock');
    server = new EngineServer({ serverName: 'swarmd-test', routes: containerRoutes(h.runtime) });
    await server.listen(sock);
    const c = await h.runtime.run({
      name: 'shell',
      spec: { Image: 'bb', Args: ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 1; done'] },
    });
    shell = c.Id;
  });
  after(async () => {
    if (!h) return;
    await server?.close();
    await destroyHarness(h);
  });

  test('resize answers with Docker errors: unknown exec or container 404, a size that is not a number 400', async () => {
    const unknown = await api('POST', '/exec/nope/resize?h=10&w=10');
    assert.deepEqual([unknown.status, unknown.json()], [404, { message: 'No such exec instance: nope' }]);
    const id = await createExec({ Cmd: ['true'], Tty: true });
    const word = await api('POST', `/exec/${id}/resize?h=abc&w=1`);
    assert.deepEqual(
      [word.status, word.json()],
      [400, { message: 'strconv.Atoi: parsing "abc": invalid syntax' }],
    );
    const missing = await api('POST', `/exec/${id}/resize?w=1`);
    assert.deepEqual(
      [missing.status, missing.json()],
      [400, { message: 'strconv.Atoi: parsing "": invalid syntax' }],
    );
    const negative = await api('POST', `/exec/${id}/resize?h=-1&w=1`);
    assert.equal(negative.status, 400);
    const ok = await api('POST', `/exec/${id}/resize?h=10&w=10`);
    assert.deepEqual([ok.status, ok.body], [200, '']);
    const noContainer = await api('POST', '/containers/nope/resize?h=10&w=10');
    assert.deepEqual([noContainer.status, noContainer.json()], [404, { message: 'No such container: nope' }]);
    const container = await api('POST', `/containers/${shell}/resize?h=10&w=10`);
    assert.deepEqual([container.status, container.body], [200, '']);
  });

  test('a size given before the start is the terminal size from the first byte, on a pty of the container with TERM=xterm', async () => {
    const id = await createExec({
      Cmd: ['sh', '-c', 'stty size; tty; test -t 0 && echo stdin-is-a-tty; echo TERM=$TERM'],
      Tty: true,
    });
    assert.equal((await api('POST', `/exec/${id}/resize?h=33&w=77`)).status, 200);
    const start = await api('POST', `/exec/${id}/start`, { Detach: false, Tty: true });
    assert.equal(start.status, 200);
    assert.equal(start.headers['content-type'], 'application/vnd.docker.raw-stream');
    assert.match(start.body, /^33 77\r\n\/dev\/pts\/\d+\r\nstdin-is-a-tty\r\nTERM=xterm\r\n$/);
    const done = await inspectExec(id);
    assert.deepEqual([done.Running, done.ExitCode, done.ProcessConfig.tty], [false, 0, true]);
    const sized = await createExec({ Cmd: ['stty', 'size'], Tty: true, ConsoleSize: [12, 34] });
    assert.equal((await api('POST', `/exec/${sized}/start`, { Tty: true })).body, '12 34\r\n');
  });

  test('an exec without a Tty has pipes, frames its streams and ignores resizes', async () => {
    const id = await createExec({ Cmd: ['sh', '-c', 'test -t 0 || echo no-tty; echo oops >&2'] });
    assert.equal((await api('POST', `/exec/${id}/resize?h=20&w=20`)).status, 200);
    const start = await api('POST', `/exec/${id}/start`, {});
    assert.equal(start.headers['content-type'], 'application/vnd.docker.multiplexed-stream');
    const payload = Buffer.from(start.body, 'utf8'); // frame heads here are all below 0x80
    // Two pipes: their order between them is not kept, each stream's is.
    assert.deepEqual(
      frames(payload).sort(([a], [b]) => a - b),
      [
        [1, 'no-tty\n'],
        [2, 'oops\n'],
      ],
    );
    assert.equal((await inspectExec(id)).ProcessConfig.tty, false);
  });

  test('an interactive shell is resized live (SIGWINCH reaches it), ^C stops its foreground job, and its exit code is the exec’s', async () => {
    const id = await createExec({ Cmd: ['sh'], Tty: true, AttachStdin: true });
    const s = await Hijacked.open(sock, `/exec/${id}/start`, { Detach: false, Tty: true });
    assert.match(s.head, /^HTTP\/1.1 101 UPGRADED\r\n/);
    await s.until(() => s.text.includes('# '));
    await eventually('the exec’s pid', async () => (await inspectExec(id)).Pid > 0);
    // A child shell: an interactive ash keeps SIGWINCH for its line editor.
    s.sock.write(
      `sh -c 'trap "echo WINCH \\$(stty size)" WINCH; echo READY-$((1+1)); while :; do sleep 0.1; done'\n`,
    );
    await s.until(() => s.text.includes('READY-2'));
    assert.equal((await api('POST', `/exec/${id}/resize?h=40&w=120`)).status, 200);
    await s.until(() => s.text.includes('WINCH 40 120'));
    s.sock.write('\x03');
    await sleep(300);
    s.sock.write('echo back-$((40+2))\n');
    await s.until(() => s.text.includes('back-42'));
    s.sock.write('exit 3\n');
    await s.ended;
    assert.equal((await inspectExec(id)).ExitCode, 3);
    // The remote terminal echoes what is typed (once: the outer pty is raw).
    assert.equal(s.text.split('echo back-$((40+2))').length, 2, s.text);
  });

  test('a client that goes away leaves nothing running, not even what ignores SIGHUP', async () => {
    const id = await createExec({ Cmd: ['sh'], Tty: true, AttachStdin: true });
    const s = await Hijacked.open(sock, `/exec/${id}/start`, { Detach: false, Tty: true });
    await s.until(() => s.text.includes('# '));
    s.sock.write(`trap '' HUP; sleep 4321\n`);
    await eventually('the sleep to run', async () => (await psArgs()).includes('sleep 4321'));
    assert.notDeepEqual(hostProcessesNaming(id), [], 'runc and script of the exec run');
    s.sock.destroy();
    await eventually('the session to go', async () => !(await psArgs()).includes('sleep 4321'), 8_000);
    await eventually('runc and script to go', async () => hostProcessesNaming(id).length === 0, 5_000);
    assert.equal((await inspectExec(id)).Running, false);
  });

  test('attach streams the output from the moment of attach until the exit; logs=1 replays it', async () => {
    const c = await h.runtime.run({
      name: 'ticker',
      spec: {
        Image: 'bb',
        Args: ['sh', '-c', 'i=0; trap "exit 3" TERM; while :; do echo tick $i; i=$((i+1)); sleep 0.2; done'],
      },
    });
    const ticks = (text: string) => [...text.matchAll(/tick (\d+)/g)].map((m) => Number(m[1]));
    const logged = async () => {
      const out: string[] = [];
      for await (const e of h.runtime.logs(c.Id, {})) out.push(e.line);
      return ticks(out.join(''));
    };
    await eventually('three ticks', async () => (await logged()).length >= 3);
    const before = (await logged()).at(-1) ?? -1;
    const s = await Hijacked.open(sock, `/containers/${c.Id}/attach?stream=1&stdout=1&stderr=1`, undefined);
    assert.match(
      s.head,
      /^HTTP\/1.1 101 UPGRADED\r\nContent-Type: application\/vnd.docker.multiplexed-stream\r\n/,
    );
    s.sock.end(); // the CLI closes its side at once when it has no stdin to send
    await s.until(() => frames(s.bytes).length >= 3);
    const live = frames(s.bytes);
    assert.ok(
      live.every(([stream]) => stream === 1),
      'stdout frames',
    );
    const got = ticks(live.map(([, t]) => t).join(''));
    assert.ok((got[0] ?? -1) > before, `live lines (${got}) come after the ${before} logged before attach`);
    assert.deepEqual(
      got,
      got.map((_, i) => (got[0] ?? 0) + i),
      'consecutive',
    );
    await h.runtime.stop(c.Id, 5_000);
    await s.ended;
    assert.equal(h.runtime.get(c.Id).State.ExitCode, 3);
    const replay = await Hijacked.open(
      sock,
      `/containers/${c.Id}/attach?logs=1&stdout=1&stderr=1`,
      undefined,
    );
    await replay.ended;
    const all = ticks(
      frames(replay.bytes)
        .map(([, t]) => t)
        .join(''),
    );
    assert.deepEqual(all.slice(0, 3), [0, 1, 2]);
    assert.ok(all.length >= got.length + 3);
  });
});
