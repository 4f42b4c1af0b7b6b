// Swarm's PKI: the self-signed root CA, node certificates (identity in the subject) and the CSRs nodes send.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  X509Certificate as NodeX509Certificate,
  randomBytes,
  webcrypto,
} from 'node:crypto';
import { invalidArgument, SwarmError } from '../api/errors.js';
import { isId } from '../api/ids.js';
import type { TLSInfo } from '../api/types.js';
import { decodeCertificateBundle, decodePemBlocks, encodePem } from './pem.js';
import { x509 } from './x509.js';

/** CN of the root CA, and the DNS name every manager certificate carries so it can serve the CA (SwarmKit's CARole). */
export const ROOT_CA_CN = 'swarm-ca';
/** SwarmKit's RootCAExpiration: 630720000 s, i.e. 20 × 365 days. */
export const ROOT_CA_VALIDITY_MS = 630_720_000_000;
/** Default node certificate lifetime: 2160 h (90 days), Docker's `--cert-expiry` default. */
export const DEFAULT_NODE_CERT_VALIDITY_MS = 2160 * 3600_000;
/** Shortest node certificate lifetime the CA accepts. */
export const MIN_NODE_CERT_VALIDITY_MS = 3600_000;
/** Certificates start an hour in the past so small clock skew between nodes does not reject them. */
const BACKDATE_MS = 3600_000;

export type NodeRole = 'manager' | 'worker';

/** The OU each role gets; authorization of peers reads it back. */
export const ROLE_OU: Readonly<Record<NodeRole, string>> = {
  manager: 'swarm-manager',
  worker: 'swarm-worker',
};

/** Who a certificate says its holder is. */
export interface NodeIdentity {
  nodeId: string;
  role: NodeRole;
  clusterId: string;
}

export interface NodeCertificateInfo extends NodeIdentity {
  notBefore: Date;
  notAfter: Date;
  /** Lowercase hex, as the certificate carries it. */
  serialNumber: string;
  /** SHA-256 of the DER, lowercase hex. */
  fingerprint: string;
}

/** The root CA as the cluster object holds it. `keyPem` is PKCS#8. */
export interface RootCA {
  certPem: string;
  keyPem: string;
}

/**
 * Who signs node certificates: the root itself, or during a root rotation the new root's key with
 * `chainPem` (the new root cross-signed by the old one) sent after each leaf, so that nodes which
 * still trust only the old root accept certificates from the new key.
 */
export interface SigningCA extends RootCA {
  chainPem?: string;
}

export interface IssueOptions {
  /** Lifetime measured from `now` (the certificate itself starts an hour earlier). */
  validityMs?: number;
  now?: Date;
}

const keyAlgorithm = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const signingAlgorithm = { name: 'ECDSA', hash: 'SHA-256' } as const;

async function generateKeyPair(): Promise<webcrypto.CryptoKeyPair> {
  return webcrypto.subtle.generateKey(keyAlgorithm, true, ['sign', 'verify']);
}

async function exportPrivateKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  return encodePem('PRIVATE KEY', new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', key)));
}

/** A positive 128-bit serial whose top byte is non-zero, so its DER length never varies. */
function newSerialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x3f) | 0x40;
  return bytes.toString('hex');
}

/** Creates a new self-signed root CA: ECDSA P-256, CN swarm-ca, valid 20 years. */
export async function createRootCA(options: { now?: Date } = {}): Promise<RootCA> {
  const now = options.now ?? new Date();
  const keys = await generateKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: newSerialNumber(),
    name: [{ CN: [ROOT_CA_CN] }],
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + ROOT_CA_VALIDITY_MS),
    keys,
    signingAlgorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return {
    certPem: encodePem('CERTIFICATE', new Uint8Array(cert.rawData)),
    keyPem: await exportPrivateKeyPem(keys.privateKey),
  };
}

/** A node's first step: a fresh P-256 key and a CSR for it. The CA ignores whatever subject the CSR asks for. */
export async function createNodeKeyAndCSR(): Promise<{ keyPem: string; csrPem: string }> {
  const keys = await generateKeyPair();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ keys, signingAlgorithm });
  return {
    keyPem: await exportPrivateKeyPem(keys.privateKey),
    csrPem: encodePem('CERTIFICATE REQUEST', new Uint8Array(csr.rawData)),
  };
}

function checkIdentity(identity: NodeIdentity): void {
  if (!isId(identity.nodeId)) throw invalidArgument(`invalid node ID "${identity.nodeId}"`);
  if (!isId(identity.clusterId)) throw invalidArgument(`invalid cluster ID "${identity.clusterId}"`);
  if (!(identity.role in ROLE_OU)) throw invalidArgument(`invalid node role "${String(identity.role)}"`);
}

function checkValidity(validityMs: number): void {
  if (!Number.isFinite(validityMs) || validityMs < MIN_NODE_CERT_VALIDITY_MS) {
    throw invalidArgument('minimum certificate expiry time is: 1h0m0s');
  }
}

function isP256(key: x509.PublicKey): boolean {
  const algorithm: { name?: string; namedCurve?: string } = key.algorithm;
  return algorithm.name === 'ECDSA' && algorithm.namedCurve === 'P-256';
}

async function issue(
  rootCA: SigningCA,
  publicKey: x509.PublicKey,
  identity: NodeIdentity,
  options: IssueOptions,
): Promise<string> {
  checkIdentity(identity);
  const validityMs = options.validityMs ?? DEFAULT_NODE_CERT_VALIDITY_MS;
  checkValidity(validityMs);
  if (!isP256(publicKey)) throw invalidArgument('node keys must be ECDSA P-256');
  const now = options.now ?? new Date();
  const rootCert = new x509.X509Certificate(firstCertificateDer(rootCA.certPem));
  const signingKey = await importSigningKey(rootCA.keyPem);
  const ou = ROLE_OU[identity.role];
  // SwarmKit's SAN list: the role (so peers can dial "swarm-manager"), the node ID, and swarm-ca on managers.
  const dnsNames = identity.role === 'manager' ? [ou, identity.nodeId, ROOT_CA_CN] : [ou, identity.nodeId];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: newSerialNumber(),
    subject: [{ O: [identity.clusterId] }, { OU: [ou] }, { CN: [identity.nodeId] }],
    issuer: rootCert.subjectName,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + validityMs),
    publicKey,
    signingKey,
    signingAlgorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([
        x509.ExtendedKeyUsage.serverAuth,
        x509.ExtendedKeyUsage.clientAuth,
      ]),
      new x509.SubjectAlternativeNameExtension(dnsNames.map((value) => ({ type: 'dns', value }))),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(rootCert.publicKey),
    ],
  });
  return encodePem('CERTIFICATE', new Uint8Array(cert.rawData)) + (rootCA.chainPem ?? '');
}

function firstCertificateDer(pem: string): Buffer {
  const [der] = decodeCertificateBundle(pem);
  if (der === undefined) throw invalidArgument('no PEM certificate found');
  return der;
}

async function importSigningKey(keyPem: string): Promise<webcrypto.CryptoKey> {
  const pkcs8 = createPrivateKey(keyPem).export({ type: 'pkcs8', format: 'der' });
  return webcrypto.subtle.importKey('pkcs8', pkcs8, keyAlgorithm, false, ['sign']);
}

/** Issues a certificate for a public key (SPKI PEM) the CA already trusts, e.g. the CA's own node on `swarm init`. */
export async function issueNodeCertificate(
  rootCA: RootCA,
  request: NodeIdentity & { publicKeyPem: string },
  options: IssueOptions = {},
): Promise<string> {
  let spki: Buffer;
  try {
    spki = createPublicKey(request.publicKeyPem).export({ type: 'spki', format: 'der' });
  } catch (err) {
    throw new SwarmError('INVALID_ARGUMENT', 'invalid public key', { cause: err });
  }
  return issue(rootCA, new x509.PublicKey(spki), request, options);
}

/**
 * Signs a node's CSR. The subject and SANs come from `identity` — decided by the CA — never from the CSR,
 * which only proves possession of the key.
 */
export async function signCSR(
  rootCA: SigningCA,
  csrPem: string,
  identity: NodeIdentity,
  options: IssueOptions = {},
): Promise<string> {
  const block = decodePemBlocks(csrPem).find((b) => b.label === 'CERTIFICATE REQUEST');
  if (block === undefined) throw invalidArgument('invalid CSR: no PEM certificate request found');
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(block.der);
  } catch (err) {
    throw new SwarmError('INVALID_ARGUMENT', 'invalid CSR: cannot be parsed', { cause: err });
  }
  // A mangled signature can make verify() throw rather than return false; both mean the same here.
  const verified = await csr.verify().catch(() => false);
  if (!verified) throw invalidArgument('invalid CSR: signature does not verify');
  return issue(rootCA, csr.publicKey, identity, options);
}

/** Generates a key and has the (local) root CA certify it: how the first manager gets its certificate. */
export async function createNodeCredentials(
  rootCA: SigningCA,
  identity: NodeIdentity,
  options: IssueOptions = {},
): Promise<{ certPem: string; keyPem: string }> {
  const { keyPem, csrPem } = await createNodeKeyAndCSR();
  return { certPem: await signCSR(rootCA, csrPem, identity, options), keyPem };
}

function singleField(name: x509.Name, field: string): string | undefined {
  const values = name.getField(field);
  return values.length === 1 ? values[0] : undefined;
}

function roleFromOU(ou: string | undefined): NodeRole | undefined {
  if (ou === ROLE_OU.manager) return 'manager';
  if (ou === ROLE_OU.worker) return 'worker';
  return undefined;
}

/**
 * Reads the identity out of a node certificate (PEM, or DER as a TLS peer presents it). Only parses: use
 * `verifyNodeCertificate` for a certificate that did not already pass a TLS handshake against the root.
 */
export function parseNodeCertificate(cert: string | Uint8Array): NodeCertificateInfo {
  const der = typeof cert === 'string' ? firstCertificateDer(cert) : Buffer.from(cert);
  let parsed: x509.X509Certificate;
  try {
    parsed = new x509.X509Certificate(der);
  } catch (err) {
    throw new SwarmError('INVALID_ARGUMENT', 'invalid node certificate: cannot be parsed', { cause: err });
  }
  const nodeId = singleField(parsed.subjectName, 'CN');
  const role = roleFromOU(singleField(parsed.subjectName, 'OU'));
  const clusterId = singleField(parsed.subjectName, 'O');
  if (nodeId === undefined || nodeId === '')
    throw invalidArgument('invalid node certificate: no node ID (CN)');
  if (role === undefined) throw invalidArgument('invalid node certificate: OU is not a swarm role');
  if (clusterId === undefined || clusterId === '') {
    throw invalidArgument('invalid node certificate: no cluster ID (O)');
  }
  return {
    nodeId,
    role,
    clusterId,
    notBefore: parsed.notBefore,
    notAfter: parsed.notAfter,
    serialNumber: parsed.serialNumber.toLowerCase(),
    fingerprint: createHash('sha256').update(der).digest('hex'),
  };
}

/** The root certificates of a bundle, each checked to be a self-signed CA. */
export function parseRootCABundle(pem: string): NodeX509Certificate[] {
  return decodeCertificateBundle(pem).map((der) => {
    let cert: NodeX509Certificate;
    try {
      cert = new NodeX509Certificate(der);
    } catch (err) {
      throw new SwarmError('INVALID_ARGUMENT', 'invalid root CA certificate: cannot be parsed', {
        cause: err,
      });
    }
    if (!cert.ca) throw invalidArgument('invalid root CA certificate: not a CA');
    if (!cert.checkIssued(cert) || !cert.verify(cert.publicKey)) {
      throw invalidArgument('invalid root CA certificate: not self-signed');
    }
    return cert;
  });
}

/** Every certificate of a PEM bundle, parsed (the leaf first, then the chain it was sent with). */
function parseBundle(pem: string | Uint8Array): NodeX509Certificate[] {
  const ders = typeof pem === 'string' ? decodeCertificateBundle(pem) : [Buffer.from(pem)];
  return ders.map((der) => {
    try {
      return new NodeX509Certificate(der);
    } catch (err) {
      throw new SwarmError('INVALID_ARGUMENT', 'invalid certificate: cannot be parsed', { cause: err });
    }
  });
}

function signs(issuer: NodeX509Certificate, cert: NodeX509Certificate): boolean {
  return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
}

/**
 * The certificate that signed `leaf`: a root of the bundle, or an intermediate of `chain` (a CA) that
 * one of the roots signed, as during a root rotation. Undefined when none did.
 */
function issuerOf(
  leaf: NodeX509Certificate,
  chain: NodeX509Certificate[],
  roots: NodeX509Certificate[],
): NodeX509Certificate | undefined {
  const direct = roots.find((root) => signs(root, leaf));
  if (direct) return direct;
  return chain.find((ca) => ca.ca && signs(ca, leaf) && roots.some((root) => signs(root, ca)));
}

/** Checks that a node certificate (leaf, then any chain) leads to one of the roots and returns its identity. */
export function verifyNodeCertificateSignature(
  cert: string | Uint8Array,
  rootCertPem: string,
): NodeCertificateInfo {
  const info = parseNodeCertificate(cert);
  const [leaf, ...chain] = parseBundle(cert);
  if (!leaf || !issuerOf(leaf, chain, parseRootCABundle(rootCertPem))) {
    throw new SwarmError('UNAUTHENTICATED', 'node certificate is not signed by the swarm root CA');
  }
  return info;
}

/** The DER of a certificate's subject Name (walks the TBSCertificate's top-level fields). */
function subjectDer(certDer: Buffer): Buffer {
  // Minimal DER walk: Certificate ::= SEQ { tbs SEQ { [0] version?, serial, sigAlg, issuer, validity, subject, … } }
  const read = (buf: Buffer, off: number) => {
    const tag = buf[off] as number;
    let len = buf[off + 1] as number;
    let hdr = 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      len = 0;
      for (let i = 0; i < n; i++) len = (len << 8) | (buf[off + 2 + i] as number);
      hdr = 2 + n;
    }
    return { tag, start: off, contentStart: off + hdr, end: off + hdr + len };
  };
  const cert = read(certDer, 0);
  const tbs = read(certDer, cert.contentStart);
  let p = tbs.contentStart;
  const fields: { start: number; end: number; tag: number }[] = [];
  while (p < tbs.end) {
    const f = read(certDer, p);
    fields.push(f);
    p = f.end;
  }
  const hasVersion = fields[0]?.tag === 0xa0;
  const subject = fields[(hasVersion ? 1 : 0) + 4];
  if (!subject) return Buffer.alloc(0);
  return certDer.subarray(subject.start, subject.end);
}

function issuerInfo(issuer: NodeX509Certificate): Pick<TLSInfo, 'CertIssuerSubject' | 'CertIssuerPublicKey'> {
  return {
    CertIssuerSubject: subjectDer(issuer.raw).toString('base64'),
    CertIssuerPublicKey: issuer.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
  };
}

/** The cluster's TLSInfo for a root: the root is its own issuer. */
export function rootTLSInfo(rootCertPem: string): TLSInfo {
  const [root] = parseRootCABundle(rootCertPem);
  if (!root) throw invalidArgument('no PEM certificate found');
  return { TrustRoot: rootCertPem, ...issuerInfo(root) };
}

/** The base64 SPKI of a CA certificate: what a node's CertIssuerPublicKey shows once that CA signed it. */
export function publicKeyOf(caCertPem: string): string {
  const [cert] = parseBundle(caCertPem);
  if (!cert) throw invalidArgument('no PEM certificate found');
  return issuerInfo(cert).CertIssuerPublicKey;
}

/** A node's TLSInfo from its own material: the root it trusts and who signed its certificate. */
export function nodeTLSInfo(material: { rootCertPem: string; certPem: string }): TLSInfo {
  const [leaf, ...chain] = parseBundle(material.certPem);
  const roots = parseRootCABundle(material.rootCertPem);
  const issuer = leaf ? issuerOf(leaf, chain, roots) : undefined;
  // A certificate no root signs (it should not happen) names the root, so a rotation still sees it stale.
  return {
    TrustRoot: material.rootCertPem,
    ...(issuer ? issuerInfo(issuer) : { CertIssuerSubject: '', CertIssuerPublicKey: '' }),
  };
}

/** The root cross-signed by the old one: the new root's subject and key, issued by the old root. */
export async function crossSignRoot(oldRoot: RootCA, newRootCertPem: string): Promise<string> {
  const oldCert = new x509.X509Certificate(firstCertificateDer(oldRoot.certPem));
  const newCert = new x509.X509Certificate(firstCertificateDer(newRootCertPem));
  const cross = await x509.X509CertificateGenerator.create({
    serialNumber: newSerialNumber(),
    subject: newCert.subjectName,
    issuer: oldCert.subjectName,
    notBefore: newCert.notBefore,
    notAfter: newCert.notAfter.getTime() < oldCert.notAfter.getTime() ? newCert.notAfter : oldCert.notAfter,
    publicKey: newCert.publicKey,
    signingKey: await importSigningKey(oldRoot.keyPem),
    signingAlgorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(newCert.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(oldCert.publicKey),
    ],
  });
  return encodePem('CERTIFICATE', new Uint8Array(cross.rawData));
}

/** SwarmKit's floor for a new root: it must stay valid at least this long. */
export const MIN_ROOT_CA_VALIDITY_MS = 365 * 24 * 3600_000;

/**
 * Checks a root CA an operator gives (`swarm ca --rotate --ca-cert --ca-key`): one self-signed CA
 * certificate, valid for a year at least, and an ECDSA P-256 key that is its own. Returns it canonical.
 */
export function checkGivenRootCA(certPem: string, keyPem: string, now = new Date()): RootCA {
  const roots = parseRootCABundle(certPem);
  const [root] = roots;
  if (!root || roots.length !== 1)
    throw invalidArgument('the CA certificate must be exactly one certificate');
  if (Date.parse(root.validTo) - now.getTime() < MIN_ROOT_CA_VALIDITY_MS)
    throw invalidArgument(
      'the CA certificate expires in less than a year: give one valid for a year at least',
    );
  if (Date.parse(root.validFrom) > now.getTime())
    throw invalidArgument('the CA certificate is not valid yet');
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new SwarmError('INVALID_ARGUMENT', 'invalid CA key: not a PEM private key', { cause: err });
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
    throw invalidArgument('the CA key must be an ECDSA P-256 key');
  if (!root.checkPrivateKey(key)) throw invalidArgument('the CA key does not match the CA certificate');
  return {
    certPem: encodePem('CERTIFICATE', root.raw),
    keyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/**
 * Checks that a node certificate was signed by one of the roots and is valid at `now` (and, if given,
 * belongs to `clusterId`), then returns its identity. Throws UNAUTHENTICATED otherwise.
 */
export function verifyNodeCertificate(
  cert: string | Uint8Array,
  rootCertPem: string,
  options: { now?: Date; clusterId?: string } = {},
): NodeCertificateInfo {
  const info = verifyNodeCertificateSignature(cert, rootCertPem);
  const now = options.now ?? new Date();
  if (now < info.notBefore) throw new SwarmError('UNAUTHENTICATED', 'node certificate is not valid yet');
  if (now > info.notAfter) throw new SwarmError('UNAUTHENTICATED', 'node certificate has expired');
  if (options.clusterId !== undefined && info.clusterId !== options.clusterId) {
    throw new SwarmError('UNAUTHENTICATED', 'node certificate belongs to another cluster');
  }
  return info;
}

/** True when the private key (PEM) is the one the certificate certifies. */
export function keyMatchesCertificate(certPem: string, keyPem: string): boolean {
  const cert = new NodeX509Certificate(firstCertificateDer(certPem));
  return cert.checkPrivateKey(createPrivateKey(keyPem));
}
