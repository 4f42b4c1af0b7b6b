// Specification of the on-disk certificates: atomic writes, 0600 keys, and reads that name the bad file.
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readdir, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { SwarmError } from '../../src/api/errors.js';
import { newId } from '../../src/api/ids.js';
import { createNodeCredentials, createRootCA, type RootCA } from '../../src/ca/certificates.js';
import {
  certificatePaths,
  readNodeCertificates,
  readRootCACertificate,
  removeNodeCertificates,
  writeNodeCertificates,
  writeRootCACertificate,
} from '../../src/ca/store.js';

let base: string;
let root: RootCA;
let node: { certPem: string; keyPem: string };
let other: { certPem: string; keyPem: string };
const nodeId = newId();
const clusterId = newId();

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'skt-ca-store-'));
  root = await createRootCA();
  node = await createNodeCredentials(root, { nodeId, role: 'manager', clusterId });
  other = await createNodeCredentials(await createRootCA(), { nodeId: newId(), role: 'worker', clusterId });
});
after(async () => {
  await rm(base, { recursive: true, force: true });
});

async function freshStateDir(): Promise<string> {
  const dir = join(base, newId());
  await writeNodeCertificates(dir, { rootCertPem: root.certPem, ...node });
  return dir;
}

function failsWith(code: SwarmError['code'], file: string, detail?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof SwarmError, String(err));
    assert.equal(err.code, code);
    assert.ok(err.message.includes(file), `"${err.message}" names ${file}`);
    if (detail) assert.match(err.message, detail);
    return true;
  };
}

test('certificates written are read back with the identity they carry', async () => {
  const dir = await freshStateDir();
  const read = await readNodeCertificates(dir);
  assert.equal(read.rootCertPem, root.certPem);
  assert.equal(read.certPem, node.certPem);
  assert.equal(read.keyPem, node.keyPem);
  assert.equal(read.info.nodeId, nodeId);
  assert.equal(read.info.role, 'manager');
  assert.equal(read.info.clusterId, clusterId);
  assert.deepEqual((await readdir(certificatePaths(dir).dir)).sort(), [
    'swarm-node.crt',
    'swarm-node.key',
    'swarm-root-ca.crt',
  ]);
});

test('the key file is 0600 and the directory 0700, even when rewriting a looser file', async () => {
  const dir = await freshStateDir();
  const paths = certificatePaths(dir);
  assert.equal((await stat(paths.nodeKey)).mode & 0o777, 0o600);
  assert.equal((await stat(paths.nodeCert)).mode & 0o777, 0o644);
  assert.equal((await stat(paths.dir)).mode & 0o777, 0o700);
  await chmod(paths.nodeKey, 0o666);
  await writeNodeCertificates(dir, { rootCertPem: root.certPem, ...node });
  assert.equal((await stat(paths.nodeKey)).mode & 0o777, 0o600);
});

test('a missing file is NOT_FOUND naming the file', async () => {
  const dir = await freshStateDir();
  const paths = certificatePaths(dir);
  await unlink(paths.nodeKey);
  await assert.rejects(readNodeCertificates(dir), failsWith('NOT_FOUND', paths.nodeKey));
  await assert.rejects(
    readRootCACertificate(join(base, 'nowhere')),
    failsWith('NOT_FOUND', 'swarm-root-ca.crt'),
  );
});

test('a corrupt file is reported with its name', async () => {
  const dir = await freshStateDir();
  const paths = certificatePaths(dir);
  await writeFile(paths.nodeCert, node.certPem.slice(0, 200));
  await assert.rejects(readNodeCertificates(dir), failsWith('FAILED_PRECONDITION', paths.nodeCert));
  await writeFile(paths.nodeCert, node.certPem);
  await writeFile(paths.nodeKey, 'garbage');
  await assert.rejects(readNodeCertificates(dir), failsWith('FAILED_PRECONDITION', paths.nodeKey));
  await writeFile(paths.rootCert, node.certPem);
  await assert.rejects(
    readNodeCertificates(dir),
    failsWith('FAILED_PRECONDITION', paths.rootCert, /not a root CA/),
  );
});

test('a node certificate from another CA, or a key that is not its own, is refused', async () => {
  const dir = await freshStateDir();
  const paths = certificatePaths(dir);
  await writeFile(paths.nodeCert, other.certPem);
  await assert.rejects(
    readNodeCertificates(dir),
    failsWith('FAILED_PRECONDITION', paths.nodeCert, /root CA/),
  );
  await writeFile(paths.nodeCert, node.certPem);
  await writeFile(paths.nodeKey, other.keyPem);
  await assert.rejects(
    readNodeCertificates(dir),
    failsWith('FAILED_PRECONDITION', paths.nodeKey, /does not match/),
  );
  await assert.rejects(
    writeNodeCertificates(dir, { rootCertPem: root.certPem, certPem: node.certPem, keyPem: other.keyPem }),
    (err: unknown) => err instanceof SwarmError && err.code === 'INVALID_ARGUMENT',
  );
});

test('a joiner can store the root alone, and leaving removes everything', async () => {
  const dir = join(base, newId());
  await writeRootCACertificate(dir, root.certPem);
  assert.equal(await readRootCACertificate(dir), root.certPem);
  await assert.rejects(
    writeRootCACertificate(dir, node.certPem),
    (err: unknown) => err instanceof SwarmError,
  );
  await removeNodeCertificates(dir);
  await assert.rejects(readRootCACertificate(dir), failsWith('NOT_FOUND', 'swarm-root-ca.crt'));
});
