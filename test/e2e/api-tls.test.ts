// The Engine API on TCP (issue 18): only with TLS. With --tlsverify the real docker CLI works with a
// client certificate signed by the given CA (made here with openssl, as the README documents) and
// is refused without one; plain tcp:// without an explicit --tls=false refuses to start, naming the
// risk. And the files that hold the node's secrets have owner-only modes: the unix socket 0660,
// the state dir and etcd's data 0700, the node key 0600.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { certificatePaths } from '../../src/ca/store.js';
import { freePort, startSwarmd } from '../helpers/swarmd.js';
import { CLIS, waitFor } from './harness.js';

const root = new URL('../../../', import.meta.url).pathname;
const DOCKER = CLIS.find((c) => c.name === '28.x')?.bin ?? '/usr/local/bin/docker';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}
function runCmd(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}
async function ok(r: Promise<Run>): Promise<Run> {
  const x = await r;
  assert.equal(x.code, 0, x.stderr);
  return x;
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, with openssl. */
async function makeCertificates(dir: string): Promise<void> {
  const o = (args: string[]) => ok(runCmd('openssl', args));
  await o(
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=skt test CA'].concat([
      '-keyout',
      join(dir, 'ca-key.pem'),
      '-out',
      join(dir, 'ca.pem'),
    ]),
  );
  // A client certificate no CA of ours signed (self-signed).
  await o(
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=rogue'].concat([
      '-keyout',
      join(dir, 'rogue-key.pem'),
      '-out',
      join(dir, 'rogue.pem'),
    ]),
  );
  for (const [name, ext] of [
    ['server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n'],
    ['client', 'extendedKeyUsage=clientAuth\n'],
  ] as const) {
    writeFileSync(join(dir, `${name}.ext`), ext);
    await o(
      [
        'req',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-subj',
        `/CN=${name}`,
        '-keyout',
        join(dir, `${name}-key.pem`),
      ].concat(['-out', join(dir, `${name}.csr`)]),
    );
    await o(
      [
        'x509',
        '-req',
        '-in',
        join(dir, `${name}.csr`),
        '-CA',
        join(dir, 'ca.pem'),
        '-CAkey',
        join(dir, 'ca-key.pem'),
      ].concat([
        '-CAcreateserial',
        '-days',
        '1',
        '-extfile',
        join(dir, `${name}.ext`),
        '-out',
        join(dir, `${name}.pem`),
      ]),
    );
  }
}

describe('the Engine API on TCP with --tlsverify', () => {
  const dir = mkdtempSync(join(tmpdir(), 'skt-tls-'));
  const netns = `skt-tls-${randomBytes(3).toString('hex')}`;
  let child: ChildProcess | undefined;
  let port = 0;
  const inNs = (cmd: string, args: string[], env?: NodeJS.ProcessEnv) =>
    runCmd('nsenter', [`--net=/run/netns/${netns}`, cmd, ...args], env);
  const docker = (args: string[]) =>
    inNs(DOCKER, ['-H', `tcp://127.0.0.1:${port}`, ...args], {
      ...process.env,
      HOME: dir,
      DOCKER_CONFIG: dir,
    });
  const tlsFlags = () => ['--tlsverify', '--tlscacert', join(dir, 'ca.pem')];

  before(async () => {
    await makeCertificates(dir);
    await ok(runCmd('ip', ['netns', 'add', netns]));
    await ok(runCmd('ip', ['-n', netns, 'link', 'set', 'lo', 'up']));
    port = await freePort();
    child = spawn(
      'nsenter',
      [
        `--net=/run/netns/${netns}`,
        process.execPath,
        join(root, 'bin/swarmd'),
        '--state-dir',
        join(dir, 'state'),
      ]
        .concat(['-H', `tcp://127.0.0.1:${port}`, '--tlsverify', '--tlscacert', join(dir, 'ca.pem')])
        .concat(['--tlscert', join(dir, 'server.pem'), '--tlskey', join(dir, 'server-key.pem')])
        .concat(['--listen-addr', '127.0.0.1:2377', '--hostname', 'tls-node']),
      { stdio: 'ignore' },
    );
    const client = ['--tlscert', join(dir, 'client.pem'), '--tlskey', join(dir, 'client-key.pem')];
    await waitFor('swarmd to answer over TLS', async () =>
      (await docker([...tlsFlags(), ...client, 'version'])).code === 0 ? true : undefined,
    );
    await ok(docker([...tlsFlags(), ...client, 'swarm', 'init', '--advertise-addr', '127.0.0.1']));
  });
  after(async () => {
    const client = ['--tlscert', join(dir, 'client.pem'), '--tlskey', join(dir, 'client-key.pem')];
    if (child && child.exitCode === null) {
      await docker([...tlsFlags(), ...client, 'swarm', 'leave', '--force']);
      child.kill('SIGTERM');
      await new Promise((r) => child?.once('exit', r));
    }
    await runCmd('ip', ['netns', 'del', netns]);
    rmSync(dir, { recursive: true, force: true });
  });

  test('docker --tlsverify with a client certificate signed by the CA lists the services', async () => {
    const client = ['--tlscert', join(dir, 'client.pem'), '--tlskey', join(dir, 'client-key.pem')];
    const r = await ok(docker([...tlsFlags(), ...client, 'service', 'ls', '--format', '{{.Name}}']));
    assert.equal(r.stdout, '');
  });

  test('without a client certificate, or over plain HTTP, the API refuses', async () => {
    const none = await docker([...tlsFlags(), 'service', 'ls']);
    assert.notEqual(none.code, 0, 'served a client without a certificate');
    const plain = await docker(['service', 'ls']);
    assert.notEqual(plain.code, 0, 'served plain HTTP');
    // A certificate the CA did not sign is refused too.
    const other = await docker([
      '--tlsverify',
      '--tlscacert',
      join(dir, 'ca.pem'),
      '--tlscert',
      join(dir, 'rogue.pem'),
      '--tlskey',
      join(dir, 'rogue-key.pem'),
      'service',
      'ls',
    ]);
    assert.notEqual(other.code, 0, 'served a certificate the CA did not sign');
  });

  test('the state dir and etcd data are 0700 and the node key 0600', () => {
    const mode = (p: string) => statSync(p).mode & 0o777;
    assert.equal(mode(join(dir, 'state')).toString(8), '700');
    assert.equal(mode(join(dir, 'state', 'etcd', 'data')).toString(8), '700');
    assert.equal(mode(certificatePaths(join(dir, 'state')).nodeKey).toString(8), '600');
  });
});

test('plain tcp:// without --tls=false refuses to start, naming the risk and the fix', async () => {
  const r = await runCmd(process.execPath, [join(root, 'bin/swarmd'), '-H', 'tcp://127.0.0.1:2375']);
  assert.equal(r.code, 125);
  assert.match(
    r.stderr,
    /^swarmd: refusing to serve the Engine API on tcp:\/\/127\.0\.0\.1:2375 without TLS: it gives root on this machine to anyone who can reach it\. Use --tlsverify --tlscacert CA --tlscert CERT --tlskey KEY, or --tls=false to accept the risk\n$/,
  );
});

test('the unix socket is 0660 from the moment it exists, owned by root and the docker group when there is one', async () => {
  const s = await startSwarmd({ prefix: 'skt-sockmode-' });
  try {
    const st = statSync(s.socket);
    assert.equal((st.mode & 0o777).toString(8), '660');
    assert.equal(st.uid, 0);
    const docker = (await runCmd('getent', ['group', 'docker'])).stdout.split(':')[2];
    assert.equal(st.gid, docker ? Number(docker) : 0);
  } finally {
    await s.destroy();
  }
});
