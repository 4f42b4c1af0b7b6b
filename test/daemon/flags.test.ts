// swarmd's command line: Docker's flag names and defaults, clear errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { apiListen, DEFAULT_FLAGS, parseFlags } from '../../src/daemon/flags.js';

test('--exec-root is optional (swarmd derives <state-dir>/exec) and takes both spellings', () => {
  const d = parseFlags(['--state-dir', '/srv/s']);
  assert.ok(d !== 'help');
  assert.equal(d.execRoot, undefined);
  assert.equal(d.stateDir, '/srv/s');
  for (const argv of [['--exec-root', '/run/x'], ['--exec-root=/run/x']]) {
    const f = parseFlags(argv);
    assert.ok(f !== 'help');
    assert.equal(f.execRoot, '/run/x');
  }
  assert.equal(DEFAULT_FLAGS.execRoot, undefined);
});

test('a flag without its value, or an unknown flag, is refused with a clear message', () => {
  assert.throws(() => parseFlags(['--exec-root']), /flag needs an argument: --exec-root/);
  assert.throws(() => parseFlags(['--exec-rot', '/x']), /unknown flag: --exec-rot/);
  assert.equal(parseFlags(['--help']), 'help');
});

test('cgroup pre-flight: v1 controllers or v2 pass; a table without them names the fix', async () => {
  const { cgroupProblem } = await import('../../src/daemon/cgroups.js');
  const v1 = [
    '30 25 0:26 / /sys/fs/cgroup rw,nosuid - tmpfs tmpfs rw',
    '31 30 0:27 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory',
    '32 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct',
  ].join('\n');
  const v2 = '30 25 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw';
  const hidden = '22 1 0:20 / /sys rw,nosuid - sysfs sysfs rw';
  assert.equal(cgroupProblem(v1), undefined);
  assert.equal(cgroupProblem(v2), undefined);
  assert.match(cgroupProblem(hidden) ?? '', /no usable cgroup mount .*nsenter --net/);
});

test("--docker-socket is off by default; alone it is Docker's path; =PATH puts it there; =false turns it off", () => {
  const socketOf = (argv: string[]) => {
    const f = parseFlags(argv);
    assert.ok(f !== 'help');
    return f.dockerSocket;
  };
  assert.equal(DEFAULT_FLAGS.dockerSocket, undefined);
  assert.equal(socketOf([]), undefined);
  assert.equal(socketOf(['--docker-socket']), '/var/run/docker.sock');
  assert.equal(socketOf(['--docker-socket=true']), '/var/run/docker.sock');
  assert.equal(socketOf(['--docker-socket=/run/tools/docker.sock']), '/run/tools/docker.sock');
  assert.equal(socketOf(['--docker-socket=false']), undefined);
  assert.throws(
    () => parseFlags(['--docker-socket=docker.sock']),
    /invalid --docker-socket "docker.sock": give an absolute path/,
  );
});

test('--cleanup takes --force; --force alone, or --cleanup with --init or --join-addr, is refused', () => {
  const f = parseFlags(['--cleanup', '--force', '--state-dir', '/srv/n']);
  assert.ok(f !== 'help');
  assert.equal(f.cleanup, true);
  assert.equal(f.force, true);
  assert.throws(() => parseFlags(['--force']), /--force goes with --cleanup/);
  assert.throws(
    () => parseFlags(['--cleanup', '--init']),
    /--cleanup removes a node: it cannot be used with --init or --join-addr/,
  );
});

test('apiListen: a unix path, TCP with TLS (verifying clients with --tlsverify), plain TCP only with --tls=false', () => {
  const plan = (argv: string[]) => {
    const f = parseFlags(argv);
    assert.ok(f !== 'help');
    return apiListen(f);
  };
  assert.deepEqual(plan(['-H', 'unix:///run/s.sock']), { kind: 'unix', path: '/run/s.sock' });
  assert.deepEqual(plan(['-H', 'tcp://0.0.0.0:2376', '--tlsverify']), {
    kind: 'tls',
    address: 'tcp://0.0.0.0:2376',
    verifyClients: true,
  });
  assert.deepEqual(plan(['--host', 'tcp://0.0.0.0:2376', '--tls']), {
    kind: 'tls',
    address: 'tcp://0.0.0.0:2376',
    verifyClients: false,
  });
  assert.deepEqual(plan(['-H', 'tcp://127.0.0.1:2375', '--tls=false']), {
    kind: 'plain-tcp',
    address: 'tcp://127.0.0.1:2375',
  });
  assert.throws(
    () => parseFlags(['-H', 'tcp://127.0.0.1:2375']),
    /refusing to serve the Engine API on tcp:\/\/127\.0\.0\.1:2375 without TLS/,
  );
  const d = parseFlags([]);
  assert.ok(d !== 'help');
  assert.equal(d.group, 'docker');
  assert.match(d.tlsCaCert, /\/\.docker\/ca\.pem$/);
});
