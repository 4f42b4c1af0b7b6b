// End to end on a real swarmd: published ports. A 3-replica web service published in ingress mode
// answers from every replica on loopback and on the node's other addresses; after scaling to one,
// only that one answers; a start-first rolling update loses no request; host mode publishes on the
// node; removing the service closes the port again. Everything through swarmctl and curl.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type E2E, type Probe, sleep, startClientLoop, startE2E, WEB_COMMAND, waitFor } from './harness.js';

let e: E2E;

before(async () => {
  e = await startE2E();
  const init = await e.swarmctl(['swarm', 'init', '--advertise-addr', '127.0.0.1']);
  assert.equal(init.code, 0, init.stderr);
  const load = await e.swarmctl(['image', 'load', '-i', e.archive]);
  assert.equal(load.code, 0, load.stderr);
});

after(async () => {
  await e?.destroy();
});

/** The hostnames (container ID prefixes) that answer `n` requests to host:port, in order. */
async function answers(host: string, port: number, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await e.curl(host, port);
    assert.equal(r.code, 0, `request ${i} to ${host}:${port} failed: curl exit ${r.code} ${r.stderr}`);
    const m = /^hello from (\S+)$/.exec(r.stdout.trim());
    assert.ok(m, `unexpected answer from ${host}:${port}: ${JSON.stringify(r.stdout)}`);
    out.push(m[1] ?? '');
  }
  return out;
}

/** Hostnames of the running containers of a service (a container's hostname is its ID's first 12). */
async function runningHostnames(service: string): Promise<string[]> {
  const tasks = await e.tasks(service);
  return tasks
    .filter((t) => t.DesiredState === 'running' && t.Status.State === 'running')
    .map((t) => (t.Status.ContainerStatus?.ContainerID ?? '').slice(0, 12))
    .sort();
}

describe('ingress-published port (routing mesh on the node)', () => {
  test('3 replicas: 30 requests to 127.0.0.1:8080 are answered, by all 3 replicas', async () => {
    const r = await e.swarmctl([
      'service',
      'create',
      '-d',
      '--name',
      'web',
      '--replicas',
      '3',
      '-p',
      '8080:80',
      '--stop-grace-period',
      '1s',
      'busybox',
      ...WEB_COMMAND,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const running = await waitFor('3 running tasks', async () => {
      const h = await runningHostnames('web');
      return h.length === 3 ? h : undefined;
    });
    // The first request may race the rules being applied for the last task to start.
    await waitFor('port 8080 to answer', async () =>
      (await e.curl('127.0.0.1', 8080)).code === 0 ? true : undefined,
    );
    const seen = await answers('127.0.0.1', 8080, 30);
    assert.deepEqual([...new Set(seen)].sort(), running);
  });

  test("the node's non-loopback addresses (gateway bridge) forward to every replica too", async () => {
    const addrs = await e.localAddresses();
    assert.ok(addrs.length > 0, 'the namespace has no non-loopback address');
    const running = await runningHostnames('web');
    for (const a of addrs) {
      const seen = await answers(a, 8080, 15);
      assert.deepEqual([...new Set(seen)].sort(), running, `answers on ${a}`);
    }
  });

  test('service scale web=1: every request goes to the one replica left', async () => {
    const r = await e.swarmctl(['service', 'scale', '-d', 'web=1']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'web scaled to 1');
    const left = await waitFor('one task left', async () => {
      const tasks = await e.tasks('web');
      const h = await runningHostnames('web');
      return tasks.length === 1 && h.length === 1 ? h : undefined;
    });
    const seen = await answers('127.0.0.1', 8080, 20);
    assert.deepEqual([...new Set(seen)], left);
  });

  test('a start-first rolling update refuses or fails no request, and then only new tasks answer', async () => {
    const before = await runningHostnames('web');
    const loop = startClientLoop(e.swarmd, '127.0.0.1', 8080, 20);
    let probes: Probe[] = [];
    let newHosts: string[] = [];
    try {
      await sleep(500);
      const r = await e.swarmctl([
        'service',
        'update',
        '-d',
        '--update-order',
        'start-first',
        '--update-parallelism',
        '1',
        '--stop-grace-period',
        '1s',
        '--env-add',
        'X=1',
        'web',
      ]);
      assert.equal(r.code, 0, r.stderr);
      newHosts = await waitFor(
        'the update to complete and the old container to go',
        async () => {
          const s = (await e.swarmd.api('GET', '/services/web')).json<{ UpdateStatus?: { State: string } }>();
          const tasks = await e.tasks('web');
          const live = tasks.filter((t) => t.Status.State === 'running');
          const hosts = await runningHostnames('web');
          return s.UpdateStatus?.State === 'completed' &&
            live.length === 1 &&
            live[0]?.Spec.ContainerSpec?.Env?.includes('X=1') &&
            !before.includes(hosts[0] ?? '')
            ? hosts
            : undefined;
        },
        30_000,
      );
      // Keep sending a little longer: the old task's rules must be gone for good.
      await sleep(1000);
    } finally {
      probes = await loop.stop();
    }
    const failed = probes.filter((p) => !p.ok);
    assert.ok(probes.length > 50, `only ${probes.length} requests were sent`);
    assert.deepEqual(failed, [], `${failed.length} of ${probes.length} requests failed`);
    // Both the old and the new replica answered during the update; the last second only the new one.
    const hosts = new Set(probes.map((p) => p.text.replace(/^hello from /, '')));
    assert.ok(hosts.has(before[0] ?? ''), 'the old replica never answered');
    assert.ok(hosts.has(newHosts[0] ?? ''), 'the new replica never answered');
    const seen = await answers('127.0.0.1', 8080, 10);
    assert.deepEqual([...new Set(seen)], newHosts);
  });

  test('service rm web: port 8080 refuses connections again', async () => {
    const r = await e.swarmctl(['service', 'rm', 'web']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'web\n');
    // curl exit 7 is "Failed to connect" (refused); a timeout (28) would mean packets are dropped.
    await waitFor(
      'port 8080 to refuse',
      async () => ((await e.curl('127.0.0.1', 8080)).code === 7 ? true : undefined),
      10_000,
    );
    const again = await e.curl('127.0.0.1', 8080);
    assert.equal(again.code, 7, `curl exit ${again.code}: ${again.stdout}`);
  });
});

describe('host-mode published port', () => {
  test('--publish mode=host,published=8081,target=80 answers on 8081 from the one replica', async () => {
    const r = await e.swarmctl([
      'service',
      'create',
      '-d',
      '--name',
      'hostweb',
      '--replicas',
      '1',
      '--publish',
      'mode=host,published=8081,target=80',
      '--stop-grace-period',
      '1s',
      'busybox',
      ...WEB_COMMAND,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const running = await waitFor('the task to run', async () => {
      const h = await runningHostnames('hostweb');
      return h.length === 1 ? h : undefined;
    });
    await waitFor('port 8081 to answer', async () =>
      (await e.curl('127.0.0.1', 8081)).code === 0 ? true : undefined,
    );
    const seen = await answers('127.0.0.1', 8081, 5);
    assert.deepEqual([...new Set(seen)], running);
  });

  test('service ps shows the host-published port of the task (*:8081->80/tcp)', async () => {
    const ps = await e.swarmctl(['service', 'ps', 'hostweb', '--format', '{{.Name}} {{.Ports}}']);
    assert.equal(ps.code, 0, ps.stderr);
    assert.equal(ps.stdout.trim(), 'hostweb.1 *:8081->80/tcp');
  });

  test('service rm hostweb: port 8081 refuses connections again', async () => {
    const rm = await e.swarmctl(['service', 'rm', 'hostweb']);
    assert.equal(rm.code, 0, rm.stderr);
    await waitFor(
      'port 8081 to refuse',
      async () => ((await e.curl('127.0.0.1', 8081)).code === 7 ? true : undefined),
      10_000,
    );
  });
});

describe('published port after scale-down (3 → 1 → 3 → 1, ten times)', () => {
  // httpd as PID 1 ignores SIGTERM: a removed task keeps running for its whole grace period, so the
  // checks after each scale to 1 happen while the removed tasks are still alive, stopping.
  const STUBBORN_WEB = [
    'sh',
    '-c',
    'mkdir -p /www && echo "hello from $(hostname)" > /www/index.html && exec httpd -f -p 80 -h /www',
  ];

  test('after each scale to 1 only the task left answers, while the others still stop; after each scale to 3 all three do', async () => {
    const r = await e.swarmctl([
      'service',
      'create',
      '-d',
      '--name',
      'flap',
      '--replicas',
      '3',
      '-p',
      '8082:80',
      '--stop-grace-period',
      '8s',
      'busybox',
      ...STUBBORN_WEB,
    ]);
    assert.equal(r.code, 0, r.stderr);
    for (let round = 1; round <= 10; round++) {
      const three = await waitFor(
        `round ${round}: 3 tasks serving`,
        async () => {
          const h = await runningHostnames('flap');
          return h.length === 3 ? h : undefined;
        },
        30_000,
      );
      // A new task's rules follow its start closely: all three answer within a few tries.
      await waitFor(
        `round ${round}: all 3 replicas to answer on 8082`,
        async () => {
          const seen = await answers('127.0.0.1', 8082, 9);
          return [...new Set(seen)].sort().join() === three.join() ? true : undefined;
        },
        10_000,
      );

      const down = await e.swarmctl(['service', 'scale', '-d', 'flap=1']);
      assert.equal(down.code, 0, down.stderr);
      const left = await waitFor(`round ${round}: one task meant to run`, async () => {
        const h = await runningHostnames('flap');
        return h.length === 1 ? h : undefined;
      });
      // The rules follow the scale within moments (a request sent at once may still be on its way
      // to a removed task); from then on none may reach one, and that must hold: no older state
      // comes back while the removed tasks stop.
      await waitFor(
        `round ${round}: only the task left to answer`,
        async () => ((await answers('127.0.0.1', 8082, 3)).every((h) => h === left[0]) ? true : undefined),
        5_000,
        20,
      );
      const seen = await answers('127.0.0.1', 8082, 20);
      assert.deepEqual(
        [...new Set(seen)],
        left,
        `round ${round}: answers after scale to 1: ${seen.join(' ')}`,
      );
      const stopping = (await e.tasks('flap')).filter(
        (t) => t.DesiredState !== 'running' && t.Status.State === 'running',
      );
      assert.ok(stopping.length >= 2, `round ${round}: the removed tasks stopped before the check`);

      if (round < 10) {
        const up = await e.swarmctl(['service', 'scale', '-d', 'flap=3']);
        assert.equal(up.code, 0, up.stderr);
      }
    }
    const rm = await e.swarmctl(['service', 'rm', 'flap']);
    assert.equal(rm.code, 0, rm.stderr);
  });
});
