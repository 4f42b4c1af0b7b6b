// The executor's pure decisions: OCI config from a spec, health transitions, k8s-file parsing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  type BundleInput,
  buildOciSpec,
  capabilities,
  DEFAULT_CAPS,
  mergeEnv,
  normalizeSignal,
  parseProcLimits,
  processArgs,
  resolveUser,
} from '../../src/executor/runc/bundle.js';
import { applyProbe, healthSettings, initialHealth } from '../../src/executor/runc/health.js';
import { parseK8sFile, selectEntries } from '../../src/executor/runc/logs.js';

const base: BundleInput = {
  spec: { Image: 'bb', Args: ['sleep', '1'] },
  image: {},
  hostname: 'abc',
  rootfs: 'rootfs',
  cgroupsPath: '/skt/skt-x',
  etcFiles: { hosts: '/b/hosts', hostname: '/b/hostname', resolvConf: '/b/resolv.conf' },
  mountSources: [],
  daemonRlimits: { RLIMIT_NOFILE: 20000 },
  passwd: 'root:x:0:0::/root:/bin/sh\nweb:x:33:33::/:/bin/sh\n',
  group: 'root:x:0:\nweb:x:33:\nadm:x:4:web\n',
};

test('Command replaces the entrypoint and drops the image Cmd; Args replace only the Cmd', () => {
  const image = { Entrypoint: ['/ep'], Cmd: ['default'] };
  assert.deepEqual(processArgs({ Image: 'x' }, image), ['/ep', 'default']);
  assert.deepEqual(processArgs({ Image: 'x', Args: ['a'] }, image), ['/ep', 'a']);
  assert.deepEqual(processArgs({ Image: 'x', Command: ['/bin/x'] }, image), ['/bin/x']);
  assert.deepEqual(processArgs({ Image: 'x', Command: ['/bin/x'], Args: ['y'] }, image), ['/bin/x', 'y']);
  assert.throws(() => processArgs({ Image: 'x' }, {}), /no command specified/);
});

test('env: spec overrides image by key, PATH and HOSTNAME are set, a bare KEY unsets', () => {
  const env = mergeEnv(['A=1', 'B=2', 'PATH=/img'], ['B=3', 'A'], 'h1');
  assert.deepEqual(env.sort(), ['B=3', 'HOSTNAME=h1', 'PATH=/img'].sort());
});

test('users resolve by name or number against the rootfs passwd and group files', () => {
  assert.deepEqual(resolveUser(undefined, base.passwd, base.group), { uid: 0, gid: 0, additionalGids: [] });
  assert.deepEqual(resolveUser('web', base.passwd, base.group), { uid: 33, gid: 33, additionalGids: [4] });
  assert.deepEqual(resolveUser('1234:5', base.passwd, base.group), { uid: 1234, gid: 5, additionalGids: [] });
  assert.deepEqual(resolveUser('web:adm', base.passwd, base.group).gid, 4);
  assert.throws(() => resolveUser('nobody', base.passwd, base.group), /unable to find user nobody/);
});

test("capabilities start from Docker's 14 defaults; add and drop (with ALL) adjust them", () => {
  assert.equal(capabilities().length, 14);
  assert.ok(capabilities(['NET_ADMIN']).includes('CAP_NET_ADMIN'));
  assert.ok(!capabilities([], ['chown']).includes('CAP_CHOWN'));
  assert.deepEqual(capabilities(['NET_ADMIN'], ['ALL']), []);
  assert.ok(capabilities(['ALL']).length > DEFAULT_CAPS.length);
  assert.throws(() => capabilities(['BOGUS']), /unknown capability/);
});

test("rlimits never exceed the daemon's own hard limit (no CAP_SYS_RESOURCE here)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 2_000_000 }),
      fc.integer({ min: 1, max: 2_000_000 }),
      (soft, hard) => {
        const spec = buildOciSpec({
          ...base,
          spec: { ...base.spec, Ulimits: [{ Name: 'nofile', Soft: soft, Hard: hard }] },
        });
        const nofile = spec.process.rlimits.find((r) => r.type === 'RLIMIT_NOFILE');
        assert.ok(nofile && nofile.hard <= 20000 && nofile.soft <= nofile.hard);
      },
    ),
  );
  assert.deepEqual(
    parseProcLimits('Max open files            20000                20000                files     \n'),
    {
      RLIMIT_NOFILE: 20000,
    },
  );
});

test('limits, namespaces, mounts and paths land in the OCI config as Docker sets them', () => {
  const oci = buildOciSpec({
    ...base,
    spec: {
      ...base.spec,
      ReadOnly: true,
      Sysctls: { 'net.core.somaxconn': '1024' },
      Mounts: [
        { Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1024, Mode: 0o700 } },
        { Type: 'bind', Source: '/host', Target: '/b', ReadOnly: true },
      ],
    },
    mountSources: ['', '/host'],
    resources: { Limits: { NanoCPUs: 1_500_000_000, MemoryBytes: 1 << 26, Pids: 10 } },
    netnsPath: '/run/netns/x',
  });
  assert.deepEqual(oci.linux.resources.cpu, { quota: 150000, period: 100000 });
  assert.deepEqual(oci.linux.resources.memory, { limit: 1 << 26, swap: 1 << 26 });
  assert.deepEqual(oci.linux.resources.pids, { limit: 10 });
  assert.equal(oci.root.readonly, true);
  assert.equal(oci.process.terminal, false);
  assert.deepEqual(oci.linux.namespaces.at(-1), { type: 'network', path: '/run/netns/x' });
  assert.deepEqual(oci.linux.sysctl, { 'net.core.somaxconn': '1024' });
  const dests = oci.mounts.map((m) => m.destination);
  for (const d of [
    '/proc',
    '/dev',
    '/dev/pts',
    '/dev/shm',
    '/dev/mqueue',
    '/sys',
    '/etc/hosts',
    '/etc/resolv.conf',
    '/t',
    '/b',
  ]) {
    assert.ok(dests.includes(d), d);
  }
  assert.deepEqual(oci.mounts.find((m) => m.destination === '/t')?.options, [
    'nosuid',
    'nodev',
    'noexec',
    'size=1024',
    'mode=700',
  ]);
  assert.deepEqual(oci.mounts.find((m) => m.destination === '/b')?.options, ['rbind', 'ro', 'rprivate']);
  assert.ok(oci.linux.maskedPaths.includes('/proc/kcore'));
  assert.ok(oci.linux.readonlyPaths.includes('/proc/sys'));
  assert.throws(() => buildOciSpec({ ...base, spec: { ...base.spec, Init: true } }), /tini/);
  const withInit = buildOciSpec({
    ...base,
    spec: { ...base.spec, Init: true },
    initPath: '/usr/bin/tini-static',
  });
  assert.deepEqual(withInit.process.args, ['/sbin/docker-init', '--', 'sleep', '1']);
});

test('signals are accepted by name, short name or number, and unknown ones are refused', () => {
  assert.equal(normalizeSignal('TERM'), 'SIGTERM');
  assert.equal(normalizeSignal('9'), 'SIGKILL');
  assert.equal(normalizeSignal('sigusr1'), 'SIGUSR1');
  assert.equal(normalizeSignal(undefined), 'SIGTERM');
  assert.throws(() => normalizeSignal('NOPE'), /Invalid signal: NOPE/);
});

test('health: starting until a success, failures in the start period do not count, retries make it unhealthy', () => {
  const s = healthSettings({ Test: ['CMD-SHELL', 'true'], Retries: 2 }, undefined);
  assert.ok(s);
  assert.deepEqual(s.command, ['/bin/sh', '-c', 'true']);
  assert.equal(s.intervalMs, 30_000);
  const fail = { Start: 'a', End: 'b', ExitCode: 1, Output: 'no' };
  const ok = { ...fail, ExitCode: 0 };
  let h = applyProbe(initialHealth(), fail, s, true);
  assert.deepEqual([h.Status, h.FailingStreak], ['starting', 0]);
  h = applyProbe(h, ok, s, true);
  assert.deepEqual([h.Status, h.FailingStreak], ['healthy', 0]);
  h = applyProbe(h, fail, s, true); // after the first success, the start period no longer shields
  assert.deepEqual([h.Status, h.FailingStreak], ['healthy', 1]);
  h = applyProbe(h, fail, s, false);
  assert.deepEqual([h.Status, h.FailingStreak], ['unhealthy', 2]);
  for (let i = 0; i < 10; i++) h = applyProbe(h, fail, s, false);
  assert.equal(h.Log.length, 5);
  assert.equal(healthSettings({ Test: ['NONE'] }, { Test: ['CMD', 'x'] }), undefined);
  assert.deepEqual(healthSettings({ Interval: 1e9 }, { Test: ['CMD', 'x'] })?.command, ['x']);
});

test('k8s-file: partial records join their line, streams and times filter, tail keeps the last N', () => {
  const text = [
    '2026-11-23T07:27:57.000000001+00:00 stdout P par',
    '2026-11-23T07:27:58.000000000+00:00 stderr F err',
    '2026-11-23T07:27:59.000000000+00:00 stdout F tial',
    'garbage',
    '2026-11-23T07:28:00.5+00:00 stdout F last',
  ].join('\n');
  const all = parseK8sFile(text);
  assert.deepEqual(
    all.map((e) => [e.stream, e.line]),
    [
      ['stderr', 'err\n'],
      ['stdout', 'partial\n'],
      ['stdout', 'last\n'],
    ],
  );
  assert.equal(all[1]?.time, '2026-11-23T07:27:57.000000001+00:00');
  const t = Date.parse('2026-11-23T07:27:58Z') / 1000;
  assert.deepEqual(
    selectEntries(all, { since: t }).map((e) => e.line),
    ['last\n'],
  );
  assert.deepEqual(
    selectEntries(all, { tail: 1, stderr: false }).map((e) => e.line),
    ['last\n'],
  );
  assert.deepEqual(selectEntries(all, { tail: 0 }), []);
});
