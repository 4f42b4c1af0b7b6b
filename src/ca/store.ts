// The node's certificates on disk: <stateDir>/certificates/{swarm-root-ca.crt, swarm-node.crt, swarm-node.key}.
// Writes are atomic (temp file, fsync, rename, fsync of the directory); reads validate and name the bad file.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SwarmError } from '../api/errors.js';
import { readSecretFile, secretAtRest } from '../lib/keyring.js';
import {
  keyMatchesCertificate,
  type NodeCertificateInfo,
  parseRootCABundle,
  verifyNodeCertificateSignature,
} from './certificates.js';

export interface CertificatePaths {
  dir: string;
  rootCert: string;
  nodeCert: string;
  nodeKey: string;
  /** Managers only: the cluster's data key, which seals store values such as the root CA key. */
  dataKey: string;
}

export interface NodeCertificateFiles {
  rootCertPem: string;
  certPem: string;
  keyPem: string;
}

const CERT_MODE = 0o644;
const KEY_MODE = 0o600;
const DIR_MODE = 0o700;

export function certificatePaths(stateDir: string): CertificatePaths {
  const dir = join(stateDir, 'certificates');
  return {
    dir,
    rootCert: join(dir, 'swarm-root-ca.crt'),
    nodeCert: join(dir, 'swarm-node.crt'),
    nodeKey: join(dir, 'swarm-node.key'),
    dataKey: join(dir, 'swarm-data.key'),
  };
}

/** Writes a manager's copy of the cluster's data key (0600, in the 0700 certificates dir). */
export async function writeDataKey(stateDir: string, key: Buffer): Promise<void> {
  const p = certificatePaths(stateDir);
  await mkdir(p.dir, { recursive: true, mode: DIR_MODE });
  await writeFileAtomic(p.dataKey, secretAtRest(`${key.toString('base64')}\n`), KEY_MODE);
}

/** This manager's data key, or undefined if it has none (a manager of an older swarm). */
export async function readDataKey(stateDir: string): Promise<Buffer | undefined> {
  const path = certificatePaths(stateDir).dataKey;
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  return Buffer.from((await readSecretFile(path)).trim(), 'base64');
}

/** Replaces `path` with `data` so a reader sees the old or the new content, never a torn file. */
export async function writeFileAtomic(path: string, data: string, mode: number): Promise<void> {
  const tmp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  const file = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    await file.chmod(mode); // the umask may have narrowed or the caller's intent may be narrower
    await file.writeFile(data);
    await file.sync();
  } catch (err) {
    await file.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await file.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  const dir = await open(join(path, '..'), constants.O_RDONLY);
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** Writes the root CA bundle alone: what a joiner keeps once the CA digest matched its token. */
export async function writeRootCACertificate(stateDir: string, rootCertPem: string): Promise<void> {
  const paths = certificatePaths(stateDir);
  parseRootCABundle(rootCertPem);
  await mkdir(paths.dir, { recursive: true, mode: DIR_MODE });
  await writeFileAtomic(paths.rootCert, rootCertPem, CERT_MODE);
}

/**
 * Writes root, key and certificate. The key goes first: a crash between the two leaves a mismatched pair,
 * which `readNodeCertificates` reports instead of using.
 */
export async function writeNodeCertificates(stateDir: string, files: NodeCertificateFiles): Promise<void> {
  const paths = certificatePaths(stateDir);
  if (!keyMatchesCertificate(files.certPem, files.keyPem)) {
    throw new SwarmError('INVALID_ARGUMENT', 'node key does not match node certificate');
  }
  await mkdir(paths.dir, { recursive: true, mode: DIR_MODE });
  await writeFileAtomic(paths.rootCert, files.rootCertPem, CERT_MODE);
  await writeFileAtomic(paths.nodeKey, secretAtRest(files.keyPem), KEY_MODE);
  await writeFileAtomic(paths.nodeCert, files.certPem, CERT_MODE);
}

async function readNamed(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if (err instanceof Error && 'code' in err && err.code === 'ENOENT') {
      throw new SwarmError('NOT_FOUND', `missing certificate file ${path}`, { cause: err });
    }
    throw new SwarmError('INTERNAL', `cannot read certificate file ${path}`, { cause: err });
  }
}

function corrupt(path: string, what: string, cause?: unknown): SwarmError {
  return new SwarmError('FAILED_PRECONDITION', `corrupt certificate file ${path}: ${what}`, { cause });
}

/** Reads the root CA bundle alone. */
export async function readRootCACertificate(stateDir: string): Promise<string> {
  const path = certificatePaths(stateDir).rootCert;
  const pem = await readNamed(path);
  try {
    parseRootCABundle(pem);
  } catch (err) {
    throw corrupt(path, 'not a root CA certificate', err);
  }
  return pem;
}

/**
 * Reads and checks all three files: the root is a CA, the node certificate was signed by it and carries a
 * swarm identity, and the key is the certificate's. Expiry is not checked here: the caller decides what an
 * expired certificate means (Docker: leave and join again).
 */
export async function readNodeCertificates(
  stateDir: string,
): Promise<NodeCertificateFiles & { info: NodeCertificateInfo }> {
  const paths = certificatePaths(stateDir);
  const rootCertPem = await readRootCACertificate(stateDir);
  const certPem = await readNamed(paths.nodeCert);
  await readNamed(paths.nodeKey); // names a missing file
  const keyPem = await readSecretFile(paths.nodeKey);
  let info: NodeCertificateInfo;
  try {
    info = verifyNodeCertificateSignature(certPem, rootCertPem);
  } catch (err) {
    throw corrupt(paths.nodeCert, err instanceof Error ? err.message : String(err), err);
  }
  let matches: boolean;
  try {
    matches = keyMatchesCertificate(certPem, keyPem);
  } catch (err) {
    throw corrupt(paths.nodeKey, 'not a private key', err);
  }
  if (!matches) throw corrupt(paths.nodeKey, 'key does not match swarm-node.crt');
  return { rootCertPem, certPem, keyPem, info };
}

/** Removes the certificates directory (on `swarm leave`). */
export async function removeNodeCertificates(stateDir: string): Promise<void> {
  await rm(certificatePaths(stateDir).dir, { recursive: true, force: true });
}
