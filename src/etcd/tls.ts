// TLS material for the etcd members: a manager-only etcd CA (never the swarm root CA: etcd's client
// port accepts ANY cert its trusted CA signed, so a worker's node cert must not be able to reach it),
// and per member a server, a peer and a client certificate. ECDSA P-256 throughout.
// @peculiar/x509 resolves its ASN.1 services through tsyringe, which needs the Reflect polyfill first.
import 'reflect-metadata';
import type { webcrypto } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { invalidArgument } from '../api/errors.js';
import { readSecretFile, writeSecretFile } from '../lib/keyring.js';

const crypto = globalThis.crypto;
x509.cryptoProvider.set(crypto);

const ecKeyAlgorithm = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const signingAlgorithm = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** The peer certificates' fixed CN; members pin it with `--peer-cert-allowed-cn`. */
export const PEER_CN = 'etcd-peer';

/** PEM-encoded certificate and PKCS#8 private key. */
export interface CertAndKey {
  certPem: string;
  keyPem: string;
}

export interface MemberCerts {
  server: CertAndKey;
  peer: CertAndKey;
  client: CertAndKey;
}

/** Paths of the PEM files a member and its local client use (all under `<stateDir>/etcd/tls/`). */
export interface MemberTLSPaths {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  peerCert: string;
  peerKey: string;
  clientCert: string;
  clientKey: string;
}

const YEAR_MS = 365 * 24 * 3600 * 1000;

function serialNumber(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f; // positive
  return Buffer.from(bytes).toString('hex');
}

async function exportKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = await crypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

async function importKeyPem(pem: string): Promise<webcrypto.CryptoKey> {
  const [der] = x509.PemConverter.decode(pem);
  if (!der) throw invalidArgument('etcd CA key: no PEM block');
  return crypto.subtle.importKey('pkcs8', der, ecKeyAlgorithm, true, ['sign']);
}

function generateKeyPair(): Promise<webcrypto.CryptoKeyPair> {
  return crypto.subtle.generateKey(ecKeyAlgorithm, true, ['sign', 'verify']);
}

/** A new self-signed etcd CA, valid 20 years (it is internal and rotates only with the cluster). */
export async function createEtcdCA(clusterName = 'swarm'): Promise<CertAndKey> {
  const keys = await generateKeyPair();
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: `CN=${clusterName} etcd CA`,
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + 20 * YEAR_MS),
    keys,
    signingAlgorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await exportKeyPem(keys.privateKey) };
}

interface LeafParams {
  cn: string;
  usages: x509.ExtendedKeyUsage[];
  sans: x509.JsonGeneralNames;
}

async function issueLeaf(ca: CertAndKey, p: LeafParams): Promise<CertAndKey> {
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKey = await importKeyPem(ca.keyPem);
  const keys = await generateKeyPair();
  const now = Date.now();
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(
      x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
      true,
    ),
    new x509.ExtendedKeyUsageExtension(p.usages, false),
    await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey),
  ];
  if (p.sans.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(p.sans, false));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: `CN=${p.cn}`,
    issuer: caCert.subject,
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + 10 * YEAR_MS),
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm,
    extensions,
  });
  return { certPem: cert.toString('pem'), keyPem: await exportKeyPem(keys.privateKey) };
}

function ipOrDns(host: string): x509.JsonGeneralName {
  const isIp = /^[0-9.]+$/.test(host) || host.includes(':');
  return { type: isIp ? 'ip' : 'dns', value: host };
}

/**
 * The three certificates of one member. The server cert carries clientAuth too: etcd's own JSON
 * gateway dials the member with it (without clientAuth only the gateway breaks, silently).
 */
export async function issueMemberCerts(
  ca: CertAndKey,
  member: { name: string; peerIP: string },
): Promise<MemberCerts> {
  const both = [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth];
  const server = await issueLeaf(ca, {
    cn: `etcd-server-${member.name}`,
    usages: both,
    sans: [
      { type: 'ip', value: '127.0.0.1' },
      { type: 'dns', value: 'localhost' },
    ],
  });
  // Go ignores the CN for host checks: the SAN must carry the peer IP.
  const peer = await issueLeaf(ca, { cn: PEER_CN, usages: both, sans: [ipOrDns(member.peerIP)] });
  const client = await issueLeaf(ca, {
    cn: `etcd-client-${member.name}`,
    usages: [x509.ExtendedKeyUsage.clientAuth],
    sans: [],
  });
  return { server, peer, client };
}

export function memberTLSPaths(tlsDir: string): MemberTLSPaths {
  return {
    caCert: join(tlsDir, 'ca.crt'),
    caKey: join(tlsDir, 'ca.key'),
    serverCert: join(tlsDir, 'server.crt'),
    serverKey: join(tlsDir, 'server.key'),
    peerCert: join(tlsDir, 'peer.crt'),
    peerKey: join(tlsDir, 'peer.key'),
    clientCert: join(tlsDir, 'client.crt'),
    clientKey: join(tlsDir, 'client.key'),
  };
}

async function writeCertFile(path: string, content: string): Promise<void> {
  await writeFile(path, content, { mode: 0o600 });
  await chmod(path, 0o600); // writeFile keeps the mode of an existing file
}

/** Writes the CA (cert and key: managers share it to issue certs for joining managers) and the member certs, 0600. */
export async function writeMemberTLS(
  tlsDir: string,
  ca: CertAndKey,
  certs: MemberCerts,
): Promise<MemberTLSPaths> {
  await mkdir(tlsDir, { recursive: true, mode: 0o700 });
  const p = memberTLSPaths(tlsDir);
  await writeCertFile(p.caCert, ca.certPem);
  await writeSecretFile(p.caKey, ca.keyPem);
  await writeCertFile(p.serverCert, certs.server.certPem);
  await writeSecretFile(p.serverKey, certs.server.keyPem);
  await writeCertFile(p.peerCert, certs.peer.certPem);
  await writeSecretFile(p.peerKey, certs.peer.keyPem);
  await writeCertFile(p.clientCert, certs.client.certPem);
  await writeSecretFile(p.clientKey, certs.client.keyPem);
  return p;
}

/** Reads the etcd CA written by `writeMemberTLS` (to issue certs for a joining manager). */
export async function loadEtcdCA(tlsDir: string): Promise<CertAndKey> {
  const p = memberTLSPaths(tlsDir);
  return { certPem: await readFile(p.caCert, 'utf8'), keyPem: await readSecretFile(p.caKey) };
}

/** Client credentials (for `createEtcdClient`) from a member's TLS dir. */
export async function loadClientCredentials(
  tlsDir: string,
): Promise<{ caPem: string; certPem: string; keyPem: string }> {
  const p = memberTLSPaths(tlsDir);
  return {
    caPem: await readFile(p.caCert, 'utf8'),
    certPem: await readFile(p.clientCert, 'utf8'),
    keyPem: await readSecretFile(p.clientKey),
  };
}
