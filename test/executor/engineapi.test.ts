// The container routes driven by the real docker CLI (28.x) over a unix socket: ps, inspect, logs,
// exec (hijacked, with and without stdin), kill, stop, rm, and Docker's error wording.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { containerRoutes, humanDuration, rfc3339Nano } from '../../src/engineapi/containers.js';
import type { EngineServer } from '../../src/engineapi/server.js';
import { RuncExecutor } from '../../src/executor/runc/executor.js';
import type { ExecutorTask } from '../../src/executor/types.js';
import { run } from '../../src/lib/exec.js';
import { startTestEngine } from '../helpers/engine.js';
import { destroyHarness, type Harness, makeHarness } from './fixtures.js';

describe('container routes with the docker CLI', () => {
  let h: Harness;
  let server: EngineServer;
  let sock: string;
  const docker = async (args: string[], input?: string) =>
    run('/usr/local/bin/docker', args, {
      env: { ...process.env, DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: join(h.dir, 'docker-config') },
      okCodes: Array.from({ length: 256 }, (_, i) => i),
      timeoutMs: 20_000,
      ...(input !== undefined ? { input } : {}),
    });

  before(async () => {
    h = await makeHarness();
    sock = join(h.dir, 'd.sock');
    server = await startTestEngine(sock, h.stateDir, containerRoutes(h.runtime));
  });
  after(async () => {
    if (!h) return;
    await server?.close();
    await destroyHarness(h);
  });

  test('a task container shows in docker ps with its swarm name and labels, and inspect has Docker fields', async () => {
    const task: ExecutorTask = {
      ID: 'task0000000000000000000001',
      ServiceID: 'svc00000000000000000000001',
      ServiceName: 'web',
      Slot: 1,
      NodeID: 'node0000000000000000000001',
      Spec: { ContainerSpec: { Image: 'bb', Args: ['sh', '-c', 'echo hello; echo oops >&2; sleep 1000'] } },
    };
    const ctl = new RuncExecutor(h.runtime).controller(task);
    await ctl.prepare();
    await ctl.start();
    const ps = await docker(['ps', '--format', '{{.Names}}|{{.Status}}|{{.Image}}']);
    assert.equal(ps.code, 0, ps.stderr);
    assert.match(
      ps.stdout,
      /^web\.1\.task0000000000000000000001\|Up (Less than a second|\d+ seconds?)\|bb\n$/,
    );
    const byLabel = await docker([
      'ps',
      '-q',
      '--no-trunc',
      '--filter',
      'label=com.docker.swarm.service.name=web',
    ]);
    assert.equal(byLabel.stdout.trim(), (await ctl.status())?.ContainerID);
    const none = await docker(['ps', '-q', '--filter', 'label=com.docker.swarm.service.name=other']);
    assert.equal(none.stdout, '');
    const insp = await docker([
      'inspect',
      '--format',
      '{{.Name}} {{.State.Status}} {{.State.Running}} {{index .Config.Labels "com.docker.swarm.task.id"}}',
      'web.1.task0000000000000000000001',
    ]);
    assert.equal(
      insp.stdout.trim(),
      '/web.1.task0000000000000000000001 running true task0000000000000000000001',
    );
    const logs = await docker(['logs', 'web.1.task0000000000000000000001']);
    assert.equal(logs.stdout, 'hello\n');
    assert.equal(logs.stderr, 'oops\n');
    const ts = await docker(['logs', '--timestamps', '--tail', '1', 'web.1.task0000000000000000000001']);
    assert.match(ts.stdout + ts.stderr, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z (hello|oops)\n$/);
  });

  test('docker exec passes output and exit codes through, with and without stdin', async () => {
    const name = 'web.1.task0000000000000000000001';
    const r = await docker(['exec', name, 'sh', '-c', 'echo out; echo err >&2; exit 5']);
    assert.deepEqual([r.code, r.stdout, r.stderr], [5, 'out\n', 'err\n']);
    const withStdin = await docker(['exec', '-i', name, 'sh', '-c', 'tr a-z A-Z'], 'piped in\n');
    assert.deepEqual([withStdin.code, withStdin.stdout], [0, 'PIPED IN\n']);
    const missing = await docker(['exec', name, '/no/such/binary']);
    assert.notEqual(missing.code, 0);
  });

  test('kill, stop and rm work by name and id prefix, with Docker wording for unknown and running containers', async () => {
    const name = 'web.1.task0000000000000000000001';
    const busy = await docker(['rm', name]);
    assert.notEqual(busy.code, 0);
    assert.match(
      busy.stderr,
      /You cannot remove a running container [0-9a-f]{64}\. Stop the container before attempting removal or force remove/,
    );
    const id = h.runtime.get(name).Id;
    const stop = await docker(['stop', '-t', '1', id.slice(0, 10)]);
    assert.equal(stop.code, 0, stop.stderr);
    const ps = await docker(['ps', '-a', '--format', '{{.Status}}']);
    assert.match(ps.stdout, /^Exited \(137\) (Less than a second|\d+ seconds?) ago\n$/);
    const rm = await docker(['rm', name]);
    assert.equal(rm.code, 0, rm.stderr);
    const gone = await docker(['inspect', name]);
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /No such (container|object): web\.1\.task0000000000000000000001/);
    const c = await h.runtime.run({ name: 'killme', spec: { Image: 'bb', Args: ['sleep', '1000'] } });
    const kill = await docker(['kill', '--signal', 'TERM', 'killme']);
    assert.equal(kill.code, 0, kill.stderr);
    assert.equal(h.runtime.get(c.Id).State.Status, 'running'); // PID 1 without a TERM handler ignores it
    await docker(['kill', 'killme']);
    assert.equal((await h.runtime.waitExit(c.Id)).State.ExitCode, 137);
    const rmNo = await docker(['rm', 'nosuch']);
    assert.match(rmNo.stderr, /No such container: nosuch/);
    await docker(['rm', 'killme']);
  });

  test('durations and timestamps read as Docker prints them', () => {
    assert.equal(humanDuration(500), 'Less than a second');
    assert.equal(humanDuration(1000), '1 second');
    assert.equal(humanDuration(59_000), '59 seconds');
    assert.equal(humanDuration(61_000), 'About a minute');
    assert.equal(humanDuration(45 * 60_000), '45 minutes');
    assert.equal(humanDuration(3_600_000), 'About an hour');
    assert.equal(humanDuration(5 * 3_600_000), '5 hours');
    assert.equal(humanDuration(3 * 86_400_000), '3 days');
    assert.equal(rfc3339Nano(1795423487722705700n), '2026-11-23T08:44:47.7227057Z');
    assert.equal(rfc3339Nano(1795423487000000000n), '2026-11-23T08:44:47Z');
  });
});
