// run(): the same results whether commands are spawned here or by the spawn helper process.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { ExecError, run, useSpawnHelper } from '../../src/lib/exec.js';

for (const viaHelper of [false, true]) {
  describe(viaHelper ? 'run() through the spawn helper' : 'run() spawning directly', () => {
    useSpawnHelper(viaHelper);
    after(() => useSpawnHelper(false));

    it('passes input, cwd and env, and returns stdout, stderr and the exit code', async () => {
      useSpawnHelper(viaHelper);
      const dir = mkdtempSync('/tmp/skt-exec-');
      try {
        const r = await run('sh', ['-c', 'cat; pwd; echo "$X" >&2; exit 3'], {
          input: 'in\n',
          cwd: dir,
          env: { X: 'ex', PATH: '/usr/bin:/bin' },
          okCodes: [3],
        });
        assert.deepEqual(r, { code: 3, stdout: `in\n${dir}\n`, stderr: 'ex\n' });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('an exit code outside okCodes is an ExecError naming the command and its stderr', async () => {
      useSpawnHelper(viaHelper);
      await assert.rejects(run('sh', ['-c', 'echo nope >&2; exit 2']), (e: unknown) => {
        assert.ok(e instanceof ExecError);
        assert.match(e.message, /^sh -c .*: exit status 2: nope$/);
        return true;
      });
      await assert.rejects(run('/nonexistent/prog', []), /nonexistent/);
    });

    it('runs many commands at once and matches every answer to its command', async () => {
      useSpawnHelper(viaHelper);
      const outs = await Promise.all(
        Array.from({ length: 60 }, (_, i) => run('sh', ['-c', `echo ${i}`]).then((r) => r.stdout.trim())),
      );
      assert.deepEqual(
        outs,
        Array.from({ length: 60 }, (_, i) => String(i)),
      );
    });

    it('a timeout kills the command', async () => {
      useSpawnHelper(viaHelper);
      const t0 = Date.now();
      await assert.rejects(run('sleep', ['5'], { timeoutMs: 200 }));
      assert.ok(Date.now() - t0 < 3000);
    });
  });
}

describe('the spawn helper', () => {
  after(() => useSpawnHelper(false));
  it('is replaced when it dies: the next command still runs', async () => {
    useSpawnHelper(true);
    await run('true', []);
    const helpers = await run('pgrep', ['-P', String(process.pid), '-f', 'spawn-helper.js'], {
      okCodes: [0, 1],
    });
    const mine = helpers.stdout
      .split('\n')
      .map(Number)
      .filter((pid) => pid > 0 && pid !== process.pid);
    assert.ok(mine.length >= 1, 'a helper runs');
    for (const pid of mine) process.kill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await run('echo', ['again'])).stdout, 'again\n');
  });
});
