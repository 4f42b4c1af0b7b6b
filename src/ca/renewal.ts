// When a node renews its certificate: at a random point between 50% and 80% of its lifetime, as SwarmKit's
// calculateRandomExpiry does, so a cluster's nodes do not all ask the CA at once. Pure: clock and randomness injected.
import type { NodeCertificateInfo } from './certificates.js';

export const RENEWAL_WINDOW = { from: 0.5, to: 0.8 } as const;

export type CertificateValidity = Pick<NodeCertificateInfo, 'notBefore' | 'notAfter'>;

/** The renewal moment for `random` in [0, 1): 0 gives 50% of the lifetime, values near 1 give 80%. */
export function renewalTime(validity: CertificateValidity, random: number): Date {
  const clamped = Math.min(Math.max(random, 0), 1);
  const start = validity.notBefore.getTime();
  const lifetime = validity.notAfter.getTime() - start;
  const fraction = RENEWAL_WINDOW.from + (RENEWAL_WINDOW.to - RENEWAL_WINDOW.from) * clamped;
  return new Date(start + Math.floor(lifetime * fraction));
}

/**
 * A number in [0, 1) fixed for one certificate, taken from its fingerprint: repeated checks of the same
 * certificate agree, while different nodes' certificates spread over the window.
 */
export function renewalRandom(fingerprint: string): number {
  const head = Number.parseInt(fingerprint.slice(0, 12), 16);
  return Number.isFinite(head) ? head / 2 ** 48 : 0;
}

/** True once `now` has reached the certificate's renewal moment (and stays true after expiry). */
export function renewalDue(
  cert: CertificateValidity & Pick<NodeCertificateInfo, 'fingerprint'>,
  now: Date,
  random: number = renewalRandom(cert.fingerprint),
): boolean {
  return now.getTime() >= renewalTime(cert, random).getTime();
}

/** An expired certificate cannot be renewed: the node must leave and join again. */
export function certificateExpired(cert: CertificateValidity, now: Date): boolean {
  return now.getTime() > cert.notAfter.getTime();
}

/** Docker's wording for a node whose certificate expired (moby daemon/cluster/errors.go). */
export const CERTIFICATES_EXPIRED_MESSAGE =
  'Swarm certificates have expired. To replace them, leave the swarm and join again.';

/** What the cluster wants a node to trust and who signs now (base64 SPKI), from the heartbeat. */
export interface DesiredTrust {
  rootCA: string;
  issuerPublicKey: string;
}

/**
 * A node's step in a root rotation: take the root in force once its certificate chains to it
 * ('trust-root'), or renew now because another key signs certificates ('renew'), or nothing.
 * `issuerPublicKey` is the node's certificate issuer's, `chainsTo` checks its certificate against a root.
 */
export function rotationStep(
  current: { rootCertPem: string; issuerPublicKey: string },
  desired: DesiredTrust | undefined,
  chainsTo: (rootCertPem: string) => boolean,
): 'trust-root' | 'renew' | 'none' {
  if (!desired) return 'none';
  if (desired.rootCA !== current.rootCertPem && chainsTo(desired.rootCA)) return 'trust-root';
  if (desired.issuerPublicKey !== current.issuerPublicKey) return 'renew';
  return 'none';
}
