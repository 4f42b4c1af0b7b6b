// `swarmd --docker-socket=PATH` (issue 16): the Engine API also on a Docker-style socket, so a task
// that bind-mounts it as /var/run/docker.sock drives the swarm, as the seeds' visualizer and
// Portainer do. Here the task runs the docker CLI (the static 28.x binary, bind-mounted) and lists
// the swarm's services through the mounted socket. The socket goes away with swarmd.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CLIS, type E2E, startE2E, waitFor } from './harness.js';

let e: E2E;
let socket: string;

before(async () => {
  e = await startE2E({ extraArgs: (dir) => [`--docker-socket=${join(dir, 'docker.sock')}`] });
  socket = join(e.dir, 'docker.sock');
  const ok = (r: { code: number; stderr: string }) => assert.equal(r.code, 0, r.stderr);
  ok(await e.swarmctl(['swarm', 'init', '--advertise-addr', '127.0.0.1']));
  ok(await e.swarmctl(['image', 'load', '-i', e.archive]));
});
after(async () => {
  await e?.destroy();
});

test("a task with the socket mounted lists the swarm's services with the docker CLI", async () => {
  assert.ok(existsSync(socket), `no socket at ${socket}`);
  const cli = CLIS.find((c) => c.name === '28.x')?.bin ?? '/usr/local/bin/docker';
  const ok = (r: { code: number; stderr: string }) => assert.equal(r.code, 0, r.stderr);
  ok(await e.swarmctl(['service', 'create', '-d', '--name', 'web', 'busybox', 'sleep', '3600']));
  ok(
    await e.swarmctl([
      'service',
      'create',
      '-d',
      '--name',
      'viz',
      '--mount',
      `type=bind,source=${socket},target=/var/run/docker.sock`,
      '--mount',
      `type=bind,source=${cli},target=/usr/local/bin/docker,readonly`,
      '--env',
      'HOME=/tmp',
      'busybox',
      'sh',
      '-c',
      'while true; do /usr/local/bin/docker service ls --format "seen {{.Name}}"; sleep 1; done',
    ]),
  );
  const logs = await waitFor(
    'viz to list both services',
    async () => {
      const r = await e.swarmctl(['service', 'logs', '--raw', 'viz']);
      return /seen viz/.test(r.stdout) && /seen web/.test(r.stdout) ? r.stdout : undefined;
    },
    30_000,
    500,
  );
  assert.match(logs, /seen web/);
});

test('the socket goes away with swarmd', async () => {
  // Out of the swarm first: its tasks go with it (a stopped swarmd could not remove them after).
  const left = await e.swarmctl(['swarm', 'leave', '--force']);
  assert.equal(left.code, 0, left.stderr);
  await e.swarmd.stop();
  assert.equal(existsSync(socket), false);
});
