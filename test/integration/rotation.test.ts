// Root CA rotation in a cluster in a box (3 managers, 2 workers, one more host kept out), through the
// real docker CLI: `swarm ca --rotate` follows every node to a new root with no task restarted, the
// join tokens change with the root (the old one no longer joins, the new one does), and a root the
// operator gives (--ca-cert/--ca-key) is rotated to the same way; the CA key never reaches disk in clear.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createRootCA, verifyNodeCertificateSignature } from '../../src/ca/certificates.js';
import { type ApiNode, type ApiTask, docker } from '../helpers/cli.js';
import { type Cluster, type ClusterHost, loadBusybox, startCluster, until } from '../helpers/cluster.js';

const pem = (text: string) => new X509Certificate(text).raw.toString('base64');

describe('root CA rotation', { timeout: 300_000 }, () => {
  let cluster: Cluster;
  let hosts: ClusterHost[];
  let m1: ClusterHost;
  let spare: ClusterHost;
  let before0: Map<string, string>;

  const nodes = async () => (await m1.api('GET', '/nodes')).json<ApiNode[]>();
  const tasks = async () =>
    (await m1.api('GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: ['web'] }))}`))
      .json<ApiTask[]>()
      .filter((t) => t.DesiredState === 'running');
  const taskStates = async () =>
    new Map(
      (await tasks()).map((t) => [t.ID, `${t.Status.State} ${t.Status.ContainerStatus?.ContainerID ?? ''}`]),
    );

  /** Every host's files and every node's TLSInfo are on `root`, and each certificate chains to it. */
  const allOn = async (root: string) => {
    for (const h of hosts) {
      const certs = join(h.stateDir, 'certificates');
      assert.equal(pem(readFileSync(join(certs, 'swarm-root-ca.crt'), 'utf8')), pem(root), h.name);
      verifyNodeCertificateSignature(readFileSync(join(certs, 'swarm-node.crt'), 'utf8'), root);
    }
    for (const n of await nodes()) assert.equal(pem(n.Description?.TLSInfo?.TrustRoot ?? ''), pem(root));
  };

  before(async () => {
    cluster = await startCluster({ workers: 5, join: false });
    [m1] = cluster.hosts as [ClusterHost];
    const [, a, b, w1, w2, extra] = cluster.hosts as ClusterHost[];
    spare = extra as ClusterHost;
    for (const h of [a, b]) await cluster.join(h as ClusterHost, { role: 'manager' });
    for (const h of [w1, w2]) await cluster.join(h as ClusterHost);
    hosts = [m1, a, b, w1, w2] as ClusterHost[];
    await loadBusybox(hosts);
    const r = await docker(m1, [
      'service',
      'create',
      '-d',
      '--name',
      'web',
      '--mode',
      'global',
      'busybox',
      'sleep',
      '3600',
    ]);
    assert.equal(r.code, 0, r.stderr);
    before0 = await until('a running task on each of the 5 nodes', async () => {
      const t = await tasks();
      return t.length === 5 && t.every((x) => x.Status.State === 'running') ? taskStates() : undefined;
    });
  });
  after(async () => {
    await cluster?.destroy();
  });

  it('swarm ca --rotate moves every node to a new root, restarts no task, and changes the join tokens', async () => {
    const oldRoot = (await docker(m1, ['swarm', 'ca'])).stdout;
    const oldToken = (await docker(m1, ['swarm', 'join-token', '-q', 'worker'])).stdout.trim();
    await allOn(oldRoot);
    const r = await docker(m1, ['swarm', 'ca', '--rotate'], 120_000);
    assert.equal(r.code, 0, r.stderr);
    // The CLI follows the rotation to the end, then prints the new root.
    const newRoot = r.stdout.slice(r.stdout.indexOf('-----BEGIN CERTIFICATE-----'));
    assert.notEqual(pem(newRoot), pem(oldRoot));
    assert.equal(pem((await docker(m1, ['swarm', 'ca'])).stdout), pem(newRoot));
    await allOn(newRoot);
    const swarm = (await m1.api('GET', '/swarm')).json<{ RootRotationInProgress: boolean }>();
    assert.equal(swarm.RootRotationInProgress, false);
    assert.deepEqual(await taskStates(), before0, 'no task restarted or replaced');
    // The tokens digest the root: the old one is refused, the new one joins.
    const newToken = (await docker(m1, ['swarm', 'join-token', '-q', 'worker'])).stdout.trim();
    assert.notEqual(newToken, oldToken);
    const refused = await docker(spare, ['swarm', 'join', '--token', oldToken, `${m1.ip}:2377`]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /remote CA does not match fingerprint/);
    const joined = await docker(spare, ['swarm', 'join', '--token', newToken, `${m1.ip}:2377`]);
    assert.equal(joined.stdout, 'This node joined a swarm as a worker.\n', joined.stderr);
    hosts.push(spare);
    await loadBusybox([spare]);
    await until('the new node ready', async () =>
      (await nodes()).filter((n) => n.Status.State === 'ready').length === 6 ? true : undefined,
    );
  });

  it('a root the operator gives is rotated to the same way; its key is never stored in clear', async () => {
    const given = await createRootCA();
    const dir = mkdtempSync(join(tmpdir(), 'swarm-ca-'));
    try {
      writeFileSync(join(dir, 'ca.crt'), given.certPem);
      writeFileSync(join(dir, 'ca.key'), given.keyPem, { mode: 0o600 });
      const r = await docker(
        m1,
        ['swarm', 'ca', '--rotate', '--ca-cert', join(dir, 'ca.crt'), '--ca-key', join(dir, 'ca.key')],
        120_000,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(pem(r.stdout.slice(r.stdout.indexOf('-----BEGIN'))), pem(given.certPem));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await allOn(given.certPem);
    // The spec keeps the certificate but never the key.
    const spec = (await m1.api('GET', '/swarm')).json<{ Spec: { CAConfig: Record<string, unknown> } }>().Spec;
    assert.equal(spec.CAConfig.SigningCAKey, undefined);
    const keyBody = given.keyPem.split('\n')[1] ?? '';
    for (const h of hosts.slice(0, 3)) {
      const files = readdirSync(join(h.stateDir, 'etcd', 'data'), { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => join(e.parentPath, e.name));
      for (const f of files) assert.ok(!readFileSync(f).includes(keyBody), `${f} holds the CA key in clear`);
    }
    // The node that joined last runs its global task too (its image came after it joined).
    await until('6 running', async () =>
      (await tasks()).filter((t) => t.Status.State === 'running').length === 6 ? true : undefined,
    );
  });

  it('a half-given CA is refused with a clear error and changes nothing', async () => {
    const before1 = (await docker(m1, ['swarm', 'ca'])).stdout;
    const dir = mkdtempSync(join(tmpdir(), 'swarm-ca-'));
    try {
      writeFileSync(join(dir, 'ca.crt'), (await createRootCA()).certPem);
      const r = await docker(m1, ['swarm', 'ca', '--rotate', '--ca-cert', join(dir, 'ca.crt')]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /--ca-key/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const r2 = await docker(m1, [
      'swarm',
      'update',
      '--external-ca',
      'protocol=cfssl,url=https://ca.example',
    ]);
    assert.notEqual(r2.code, 0);
    assert.match(r2.stderr, /external CAs are not supported/);
    assert.equal((await docker(m1, ['swarm', 'ca'])).stdout, before1);
  });
});
