// `docker exec -it` and `docker attach` on swarm task containers, through the real docker CLIs (20.10
// and 28.x) against a real swarmd, the CLI on a pseudo-terminal of its own as at a person's terminal
// (test/helpers/pty.ts): an interactive shell that sees a terminal of the client's size and follows
// its resizes, a client that dies leaving nothing behind, and attach following a task's output.
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { PtySession } from '../helpers/pty.js';
import { CLIS, type DockerCli, type E2E, sleep, startE2E, waitFor } from './harness.js';

let e: E2E;
let env: NodeJS.ProcessEnv;

const SHELL_COMMAND = ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 1; done'];
/** A line every 200 ms; SIGINT ends it with 5 (what `docker attach`'s signal proxy sends). */
const TICKER_COMMAND = [
  'sh',
  '-c',
  'i=0; trap "exit 5" INT; trap "exit 0" TERM; while :; do echo tick $i; i=$((i+1)); sleep 0.2; done',
];

before(async () => {
  e = await startE2E();
  env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: e.dir,
    DOCKER_CONFIG: e.dir,
    DOCKER_HOST: `unix://${e.swarmd.socket}`,
    DOCKER_CLI_HINTS: 'false',
  };
  const cli = CLIS[0];
  for (const args of [
    ['swarm', 'init', '--advertise-addr', '127.0.0.1'],
    ['load', '-i', e.archive],
    [
      'service',
      'create',
      '--detach',
      '--name',
      'shell',
      '--stop-grace-period',
      '1s',
      'busybox',
      ...SHELL_COMMAND,
    ],
    [
      'service',
      'create',
      '--detach',
      '--name',
      'ticker',
      '--restart-delay',
      '100ms',
      '--stop-grace-period',
      '1s',
      'busybox',
      ...TICKER_COMMAND,
    ],
  ]) {
    const r = await e.docker(cli, args);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
  }
});

after(async () => {
  await e?.destroy();
});

/** The container of the service's running task (another than `not`, when given). */
function taskContainer(service: string, not?: string): Promise<string> {
  return waitFor(`a running ${service} task`, async () => {
    const t = (await e.tasks(service)).find(
      (x) =>
        x.DesiredState === 'running' &&
        x.Status.State === 'running' &&
        x.Status.ContainerStatus?.ContainerID !== undefined &&
        x.Status.ContainerStatus.ContainerID !== not,
    );
    return t?.Status.ContainerStatus?.ContainerID;
  });
}

async function containerPs(cli: DockerCli, cid: string): Promise<string> {
  const r = await e.docker(cli, ['exec', cid, 'ps', '-o', 'pid,args']);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

/** Host processes running an exec in container `cid` (runc exec, and script around it). */
function execProcessesOn(cid: string): string[] {
  const out: string[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmd.includes('exec --process') && cmd.includes(cid)) out.push(`${p}: ${cmd}`);
    } catch {
      // gone
    }
  }
  return out;
}

const ticks = (text: string) => [...text.matchAll(/tick (\d+)/g)].map((m) => Number(m[1]));

for (const cli of CLIS) {
  describe(`docker ${cli.name} on a terminal`, () => {
    test('docker exec -it runs an interactive shell on a terminal of the client’s size that follows its resizes', async () => {
      const cid = await taskContainer('shell');
      const s = new PtySession(`stty rows 30 cols 100; exec ${cli.bin} exec -it ${cid} sh`, env);
      try {
        await s.expect(/\/ # /);
        s.type('echo $((6*7))\r');
        await s.expect(/\r\n42\r\n/);
        s.type('echo TTY:$(tty); test -t 0 && echo STDIN-IS-A-TTY-$((1+1))\r');
        await s.expect(/TTY:\/dev\/pts\/\d+\r\n/);
        await s.expect(/STDIN-IS-A-TTY-2/);
        s.type('echo SIZE:$(stty size)\r');
        await s.expect(/SIZE:30 100\r\n/);
        // The window grows: the CLI hears SIGWINCH and calls POST /exec/{id}/resize.
        execFileSync('stty', ['-F', s.command().terminal, 'rows', '40', 'cols', '120']);
        await waitFor(
          'the shell to see the new size',
          async () => {
            s.type('echo SIZE2:$(stty size)\r');
            await sleep(300);
            return /SIZE2:40 120\r\n/.test(s.output) ? true : undefined;
          },
          10_000,
          0,
        );
        s.type('exit 7\r');
        assert.equal(await s.exited, 7, s.output);
        // The container's terminal echoes what is typed, once: nothing else echoes it.
        assert.equal(s.output.split('echo $((6*7))').length, 2, s.output);
      } finally {
        await s.close();
      }
      assert.doesNotMatch(await containerPs(cli, cid), /^\s*\d+\s+sh\s*$/m, 'the shell is gone');
    });

    test('a docker exec -it client that dies leaves nothing running, even a job that ignores SIGHUP', async () => {
      const cid = await taskContainer('shell');
      const s = new PtySession(`exec ${cli.bin} exec -it ${cid} sh`, env);
      try {
        await s.expect(/\/ # /);
        s.type(`trap '' HUP; sleep 4321\r`);
        await waitFor('the sleep to run', async () =>
          (await containerPs(cli, cid)).includes('sleep 4321') ? true : undefined,
        );
        assert.notDeepEqual(execProcessesOn(cid), [], 'runc exec runs for the session');
        process.kill(s.command().pid, 'SIGKILL');
        await waitFor(
          'the session to end',
          async () => (!(await containerPs(cli, cid)).includes('sleep 4321') ? true : undefined),
          10_000,
        );
        await waitFor(
          'runc exec to end',
          async () => (execProcessesOn(cid).length === 0 ? true : undefined),
          5_000,
        );
      } finally {
        await s.close();
      }
    });

    test('docker attach follows a task’s output live; ^C reaches the task through the signal proxy and the attach ends with its exit code', async () => {
      const cid = await taskContainer('ticker');
      await waitFor('a few ticks', async () =>
        ticks((await e.docker(cli, ['logs', cid])).stdout).length >= 3 ? true : undefined,
      );
      const before = ticks((await e.docker(cli, ['logs', cid])).stdout).at(-1) ?? -1;
      const child: ChildProcess = spawn(cli.bin, ['attach', cid], { env, stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
      child.stderr?.on('data', (b: Buffer) => (err += b.toString()));
      const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
      child.stdin?.end();
      try {
        await waitFor('three lines through attach', async () => (ticks(out).length >= 3 ? true : undefined));
        const got = ticks(out);
        assert.ok(
          (got[0] ?? -1) > before,
          `attach shows new lines (${got}), not the ${before + 1} logged before`,
        );
        assert.deepEqual(
          got,
          got.map((_, i) => (got[0] ?? 0) + i),
          'every line, in order',
        );
        child.kill('SIGINT');
        assert.equal(await exited, 5, `stdout ${out}\nstderr ${err}`);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      const code = await e.docker(cli, ['inspect', '--format', '{{.State.ExitCode}}', cid]);
      assert.equal(code.stdout.trim(), '5', 'the task’s container ended as the signal made it');
    });
  });
}
