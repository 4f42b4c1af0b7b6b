// Restart safety, tested honestly: a child process plays swarmd, starts 10 containers and is killed
// with SIGKILL; 3 containers exit while it is down; a new runtime adopts the rest and cleans leftovers.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ContainerRuntime } from '../../src/executor/runc/runtime.js';
import { census, type Harness, makeHarness, scrub, until } from './fixtures.js';

interface Started {
  id: string;
  runcId: string;
  name: string;
}

/** Runs adopt-child with the same loader as this file (tsx for .ts, plain node for compiled .js). */
function runChild(h: Harness): Promise<{ pid: number; started: Started[] }> {
  const self = fileURLToPath(import.meta.url);
  const child = join(self, '..', `adopt-child${self.endsWith('.ts') ? '.ts' : '.js'}`);
  const loaderArgs: string[] = [];
  for (let i = 0; i < process.execArgv.length; i++) {
    const a = process.execArgv[i] ?? '';
    if ((a === '--require' || a === '--import' || a === '--loader') && process.execArgv[i + 1]) {
      loaderArgs.push(a, process.execArgv[i + 1] ?? '');
      i++;
    } else if (/^--(require|import|loader)=/.test(a)) loaderArgs.push(a);
  }
  const p = spawn(process.execPath, [...loaderArgs, child, h.stateDir, h.prefix, h.layer], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`child timed out: ${err}`)), 60_000);
    p.stderr.on('data', (b: Buffer) => {
      err += b.toString();
    });
    p.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolve({ pid: p.pid ?? 0, started: JSON.parse(out.trim()) });
      }
    });
    p.on('exit', (code) => {
      clearTimeout(timer);
      if (!out.includes('\n')) reject(new Error(`child exited ${code}: ${err}`));
    });
  });
}

let h: Harness | undefined;
let adopted: ContainerRuntime | undefined;
after(async () => {
  if (!h) return;
  adopted?.close();
  h.runtime.close();
  scrub(h);
});

test('after swarmd is killed with SIGKILL, a new runtime adopts running containers, records real exit codes of those that exited meanwhile, and removes leftovers', async () => {
  h = await makeHarness();
  h.runtime.close(); // the harness's own runtime plays no part: the child is "swarmd"
  const { pid, started } = await runChild(h);
  assert.equal(started.length, 10);
  process.kill(pid, 'SIGKILL');
  await until(() => !existsSync(`/proc/${pid}`), 5000, 'the child to die');

  // While "swarmd" is down: 3 containers exit (with codes of their own), and leftovers appear.
  const root = join(h.stateDir, 'exec', 'runc');
  for (const c of started.slice(0, 3))
    execFileSync('runc', ['--root', root, 'exec', c.runcId, 'touch', '/tmp/go']);
  await until(
    () => readdirSync(join(h?.stateDir ?? '', 'exec', 'exits')).length === 3,
    10_000,
    'three exit files',
  );
  // A create that never finished: a bundle with its rootfs mounted, and a record-less disk dir.
  const strayBundle = join(h.stateDir, 'exec', 'bundles', 'f'.repeat(64));
  mkdirSync(join(strayBundle, 'rootfs'), { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', join(strayBundle, 'rootfs')]);
  mkdirSync(join(h.stateDir, 'containers', 'e'.repeat(64), 'upper'), { recursive: true });
  const strayCgroup = `${h.prefix}stray`;
  for (const ctrl of ['pids', 'memory'])
    mkdirSync(join('/sys/fs/cgroup', ctrl, 'skt', strayCgroup), { recursive: true });

  const rt = new ContainerRuntime({ stateDir: h.stateDir, images: h.images, namePrefix: h.prefix });
  adopted = rt;
  const report = await rt.adopt();

  assert.deepEqual(
    report.running.sort(),
    started
      .slice(3)
      .map((c) => c.id)
      .sort(),
  );
  assert.deepEqual(
    report.exited.sort((a, b) => a.exitCode - b.exitCode),
    started.slice(0, 3).map((c, i) => ({ id: c.id, exitCode: 11 + i })),
  );
  assert.deepEqual(report.lost, []);
  for (const [i, c] of started.entries()) {
    const st = rt.get(c.name).State;
    if (i < 3) assert.deepEqual([st.Status, st.ExitCode], ['exited', 11 + i]);
    else assert.equal(st.Status, 'running');
  }
  assert.ok(report.removedLeftovers.includes(`bundle ${'f'.repeat(64)}`));
  assert.ok(report.removedLeftovers.includes(`bundle ${'e'.repeat(64)}`));
  assert.ok(!existsSync(strayBundle) && !existsSync(join(h.stateDir, 'containers', 'e'.repeat(64))));
  assert.ok(report.removedLeftovers.includes(`cgroup ${strayCgroup}`));
  assert.equal(existsSync(strayBundle), false);
  assert.deepEqual(readdirSync(join(h.stateDir, 'exec', 'exits')), []);

  // The adopted runtime observes exits again, and the adopted containers stop and go cleanly.
  const victim = started[3] as Started;
  await rt.kill(victim.id, 'KILL');
  const rec = await rt.waitExit(victim.id);
  assert.equal(rec.State.ExitCode, 137);
  for (const c of rt.list()) await rt.remove(c.Id, { force: true });
  await until(
    () => census(h ?? { dir: '', prefix: '', stateDir: '' }).conmons.length === 0,
    5000,
    'conmons to exit',
  );
  assert.deepEqual(census(h), { mounts: [], cgroups: [], conmons: [], bundles: [] });
});
