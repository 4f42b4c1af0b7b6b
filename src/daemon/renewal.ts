// A node's certificate renewal: at a random point between 50% and 80% of its lifetime (src/ca/renewal.ts
// decides when), or at once when a root rotation has another key sign certificates, a new key and
// certificate from the CA over mutual TLS, written to disk, then swapped into the live TLS identity;
// running tasks and open sessions are untouched. A root put in force that the certificate chains to
// replaces the trusted root the same way.
import { nodeTLSInfo, parseNodeCertificate, verifyNodeCertificateSignature } from '../ca/certificates.js';
import { type DesiredTrust, renewalRandom, renewalTime, rotationStep } from '../ca/renewal.js';
import { writeNodeCertificates } from '../ca/store.js';
import { createLogger } from '../lib/log.js';
import { renewNodeCertificate } from '../rpc/ca-client.js';
import type { NodeTLSIdentity } from '../rpc/tls.js';

const log = createLogger({ component: 'renewal' });

const RETRY_MS = 5000;
/** setTimeout's limit; a longer wait is taken in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface CertRenewalOptions {
  stateDir: string;
  identity: NodeTLSIdentity;
  /** The manager to ask ("ip:port"). */
  manager: () => string | undefined;
  /** What the cluster wants trusted now (from the latest heartbeat), if known. */
  desired?: () => DesiredTrust | undefined;
  /** Called after the certificate or the trusted root changed (the managers should hear of it). */
  onChanged?: () => void;
  now?: () => number;
}

export interface CertRenewal {
  stop(): void;
  /** Looks again now (the desired trust changed). */
  kick(): void;
}

function chainsTo(certPem: string, rootCertPem: string): boolean {
  try {
    verifyNodeCertificateSignature(certPem, rootCertPem);
    return true;
  } catch {
    return false;
  }
}

export function startCertRenewal(o: CertRenewalOptions): CertRenewal {
  const now = o.now ?? Date.now;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let busy = false;
  let pending = false;
  const schedule = (ms: number) => {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(() => void run(), Math.max(0, Math.min(ms, MAX_TIMER_MS)));
  };
  // One look at a time: a kick during a renewal looks again once it is done.
  const run = async () => {
    if (busy) {
      pending = true;
      return;
    }
    busy = true;
    try {
      await tick();
    } finally {
      busy = false;
      if (pending) {
        pending = false;
        schedule(0);
      }
    }
  };
  const tick = async () => {
    const material = o.identity.material;
    const step = rotationStep(
      { rootCertPem: material.rootCertPem, issuerPublicKey: nodeTLSInfo(material).CertIssuerPublicKey },
      o.desired?.(),
      (root) => chainsTo(material.certPem, root),
    );
    if (step === 'trust-root') {
      const next = { ...material, rootCertPem: o.desired?.()?.rootCA ?? material.rootCertPem };
      try {
        await writeNodeCertificates(o.stateDir, next);
        o.identity.update(next);
        log.info('trusting the rotated root CA');
        o.onChanged?.();
      } catch (e) {
        log.warn('rotated root CA not stored; retrying', { err: e });
        return schedule(RETRY_MS);
      }
      return schedule(0);
    }
    const info = parseNodeCertificate(material.certPem);
    const due = step === 'renew' ? now() : renewalTime(info, renewalRandom(info.fingerprint)).getTime();
    if (now() < due) return schedule(due - now());
    const manager = o.manager();
    if (!manager) return schedule(RETRY_MS);
    try {
      const renewed = await renewNodeCertificate(manager, o.identity);
      if (stopped) return;
      const material = {
        rootCertPem: o.identity.material.rootCertPem,
        certPem: renewed.certPem,
        keyPem: renewed.keyPem,
      };
      await writeNodeCertificates(o.stateDir, material);
      o.identity.update(material);
      log.info('node certificate renewed', {
        notAfter: renewed.info.notAfter.toISOString(),
        rotation: step === 'renew',
      });
      o.onChanged?.();
      schedule(0);
    } catch (e) {
      log.warn('certificate renewal failed; retrying', { err: e });
      schedule(RETRY_MS);
    }
  };
  schedule(0);
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
    kick() {
      if (!stopped) schedule(0);
    },
  };
}
