// Specification of the swarm PKI: the root CA, node certificates, and CSR signing where the CA decides the subject.
import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync, webcrypto, X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import { SwarmError } from '../../src/api/errors.js';
import { newId } from '../../src/api/ids.js';
import {
  createNodeCredentials,
  createNodeKeyAndCSR,
  createRootCA,
  issueNodeCertificate,
  type NodeIdentity,
  parseNodeCertificate,
  ROOT_CA_VALIDITY_MS,
  signCSR,
  verifyNodeCertificate,
} from '../../src/ca/certificates.js';
import { decodePemBlocks, encodePem } from '../../src/ca/pem.js';
import { x509 } from '../../src/ca/x509.js';

const now = new Date('2030-01-01T00:00:00Z');
const HOUR = 3600_000;

function identity(role: NodeIdentity['role'] = 'worker'): NodeIdentity {
  return { nodeId: newId(), role, clusterId: newId() };
}

function dnsNames(certPem: string): string[] {
  const cert = new x509.X509Certificate(certPem);
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  assert.ok(san, 'certificate has a SAN extension');
  return san.names.items.filter((n) => n.type === 'dns').map((n) => n.value);
}

function isSwarmError(code: SwarmError['code'], message?: string | RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof SwarmError, `expected a SwarmError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (typeof message === 'string') assert.equal(err.message, message);
    else if (message) assert.match(err.message, message);
    return true;
  };
}

test('the root CA is a self-signed ECDSA P-256 CA named swarm-ca, valid 20 years', async () => {
  const root = await createRootCA({ now });
  const cert = new x509.X509Certificate(root.certPem);
  assert.equal(cert.subject, 'CN=swarm-ca');
  assert.equal(cert.issuer, 'CN=swarm-ca');
  assert.equal(cert.notAfter.getTime(), now.getTime() + ROOT_CA_VALIDITY_MS);
  assert.ok(cert.notBefore.getTime() <= now.getTime());
  assert.equal(await cert.isSelfSigned(), true);
  const constraints = cert.getExtension(x509.BasicConstraintsExtension);
  assert.equal(constraints?.ca, true);
  assert.equal(constraints?.critical, true);
  const usage = cert.getExtension(x509.KeyUsagesExtension);
  assert.equal(usage?.usages, x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
  assert.equal(usage?.critical, true);
  const key = createPrivateKey(root.keyPem);
  assert.equal(key.asymmetricKeyType, 'ec');
  assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.ok(new X509Certificate(root.certPem).checkPrivateKey(key), 'key belongs to the certificate');
});

test('two root CAs never share a key or serial', async () => {
  const [a, b] = await Promise.all([createRootCA(), createRootCA()]);
  assert.notEqual(a.keyPem, b.keyPem);
  assert.notEqual(new X509Certificate(a.certPem).serialNumber, new X509Certificate(b.certPem).serialNumber);
});

test('a node certificate carries CN=node ID, OU=role, O=cluster ID, both EKUs, and reads back', async () => {
  const root = await createRootCA({ now });
  const who = identity('manager');
  const { certPem } = await createNodeCredentials(root, who, { now, validityMs: 90 * 24 * HOUR });
  const cert = new x509.X509Certificate(certPem);
  assert.equal(cert.subject, `O=${who.clusterId}, OU=swarm-manager, CN=${who.nodeId}`);
  assert.equal(cert.issuer, 'CN=swarm-ca');
  assert.equal(cert.notBefore.getTime(), now.getTime() - HOUR, 'backdated one hour');
  assert.equal(cert.notAfter.getTime(), now.getTime() + 90 * 24 * HOUR);
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
  assert.deepEqual(
    [...(eku?.usages ?? [])],
    [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
  );
  assert.equal(cert.getExtension(x509.BasicConstraintsExtension)?.ca, false);

  const info = parseNodeCertificate(certPem);
  assert.equal(info.nodeId, who.nodeId);
  assert.equal(info.role, 'manager');
  assert.equal(info.clusterId, who.clusterId);
  assert.deepEqual(info.notBefore, cert.notBefore);
  assert.deepEqual(info.notAfter, cert.notAfter);
  assert.match(info.fingerprint, /^[0-9a-f]{64}$/);
  const der = decodePemBlocks(certPem)[0]?.der;
  assert.ok(der);
  assert.deepEqual(parseNodeCertificate(der), info, 'DER (as a TLS peer presents it) parses the same');
});

test('SANs follow SwarmKit: role and node ID, plus swarm-ca on managers only', async () => {
  const root = await createRootCA();
  const manager = identity('manager');
  const worker = identity('worker');
  const m = await createNodeCredentials(root, manager);
  const w = await createNodeCredentials(root, worker);
  assert.deepEqual(dnsNames(m.certPem), ['swarm-manager', manager.nodeId, 'swarm-ca']);
  assert.deepEqual(dnsNames(w.certPem), ['swarm-worker', worker.nodeId]);
  assert.equal(parseNodeCertificate(w.certPem).role, 'worker');
});

test('the default node certificate lifetime is 90 days', async () => {
  const root = await createRootCA({ now });
  const { certPem } = await createNodeCredentials(root, identity(), { now });
  assert.equal(parseNodeCertificate(certPem).notAfter.getTime() - now.getTime(), 2160 * HOUR);
});

test('signing a CSR ignores the subject and SANs the CSR asks for', async () => {
  const root = await createRootCA();
  const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ]);
  const greedy = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${newId()}, OU=swarm-manager, O=${newId()}`,
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'evil.example' }])],
  });
  const who = identity('worker');
  const certPem = await signCSR(root, encodePem('CERTIFICATE REQUEST', new Uint8Array(greedy.rawData)), who);
  const info = parseNodeCertificate(certPem);
  assert.deepEqual({ nodeId: info.nodeId, role: info.role, clusterId: info.clusterId }, who);
  assert.deepEqual(dnsNames(certPem), ['swarm-worker', who.nodeId]);
  // The certificate certifies the CSR's key, nothing else.
  const spki = Buffer.from(await webcrypto.subtle.exportKey('spki', keys.publicKey));
  const certKey = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  assert.deepEqual(certKey, spki);
});

test('a CSR whose signature does not verify is refused', async () => {
  const root = await createRootCA();
  const { csrPem } = await createNodeKeyAndCSR();
  const der = decodePemBlocks(csrPem)[0]?.der;
  assert.ok(der);
  const tampered = Buffer.from(der);
  // Flip a bit inside the public key: the request still parses but its signature no longer matches.
  const keyOffset = tampered.indexOf(Buffer.from([0x03, 0x42, 0x00, 0x04])) + 10;
  tampered[keyOffset] = (tampered[keyOffset] ?? 0) ^ 0x01;
  await assert.rejects(
    signCSR(root, encodePem('CERTIFICATE REQUEST', tampered), identity()),
    isSwarmError('INVALID_ARGUMENT', 'invalid CSR: signature does not verify'),
  );
  await assert.rejects(
    signCSR(root, 'not a csr', identity()),
    isSwarmError('INVALID_ARGUMENT', /^invalid CSR/),
  );
});

test('the CA refuses bad identities, lifetimes under an hour, and keys other than P-256', async () => {
  const root = await createRootCA();
  const { csrPem } = await createNodeKeyAndCSR();
  await assert.rejects(
    signCSR(root, csrPem, { ...identity(), nodeId: 'Not An ID' }),
    isSwarmError('INVALID_ARGUMENT', /invalid node ID/),
  );
  await assert.rejects(
    signCSR(root, csrPem, { ...identity(), clusterId: '' }),
    isSwarmError('INVALID_ARGUMENT', /invalid cluster ID/),
  );
  await assert.rejects(
    signCSR(root, csrPem, identity(), { validityMs: HOUR - 1 }),
    isSwarmError('INVALID_ARGUMENT', 'minimum certificate expiry time is: 1h0m0s'),
  );
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  await assert.rejects(
    issueNodeCertificate(root, {
      ...identity(),
      publicKeyPem: rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    }),
    isSwarmError('INVALID_ARGUMENT', 'node keys must be ECDSA P-256'),
  );
});

test('issueNodeCertificate certifies a given public key', async () => {
  const root = await createRootCA();
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const certPem = await issueNodeCertificate(root, {
    ...identity('manager'),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  });
  assert.ok(new X509Certificate(certPem).checkPrivateKey(privateKey));
});

test('verifyNodeCertificate accepts its own root and refuses another root, expiry and another cluster', async () => {
  const root = await createRootCA({ now });
  const other = await createRootCA({ now });
  const who = identity('worker');
  const { certPem } = await createNodeCredentials(root, who, { now, validityMs: 2 * HOUR });
  assert.equal(verifyNodeCertificate(certPem, root.certPem, { now }).nodeId, who.nodeId);
  assert.equal(verifyNodeCertificate(certPem, other.certPem + root.certPem, { now }).nodeId, who.nodeId);
  assert.throws(
    () => verifyNodeCertificate(certPem, other.certPem, { now }),
    isSwarmError('UNAUTHENTICATED', 'node certificate is not signed by the swarm root CA'),
  );
  assert.throws(
    () => verifyNodeCertificate(certPem, root.certPem, { now: new Date(now.getTime() + 3 * HOUR) }),
    isSwarmError('UNAUTHENTICATED', 'node certificate has expired'),
  );
  assert.throws(
    () => verifyNodeCertificate(certPem, root.certPem, { now, clusterId: newId() }),
    isSwarmError('UNAUTHENTICATED', 'node certificate belongs to another cluster'),
  );
});

test('a certificate without a swarm role in its OU is not a node certificate', async () => {
  const root = await createRootCA();
  assert.throws(
    () => parseNodeCertificate(root.certPem),
    isSwarmError('INVALID_ARGUMENT', /OU is not a swarm role|no node ID/),
  );
  assert.throws(() => parseNodeCertificate('garbage'), isSwarmError('INVALID_ARGUMENT'));
});
