// A node's certificate renewal: at a random point between 50% and 80% of its lifetime (src/ca/renewal.ts
// decides when), a new key and certificate from the CA over mutual TLS, written to disk, then swapped
// into the live TLS identity; running tasks and open sessions are untouched.
import { parseNodeCertificate } from '../ca/certificates.js';
import { renewalRandom, renewalTime } from '../ca/renewal.js';
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
  now?: () => number;
}

export function startCertRenewal(o: CertRenewalOptions): { stop(): void } {
  const now = o.now ?? Date.now;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const schedule = (ms: number) => {
    if (!stopped) timer = setTimeout(() => void tick(), Math.max(0, Math.min(ms, MAX_TIMER_MS)));
  };
  const tick = async () => {
    const info = parseNodeCertificate(o.identity.material.certPem);
    const due = renewalTime(info, renewalRandom(info.fingerprint)).getTime();
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
      log.info('node certificate renewed', { notAfter: renewed.info.notAfter.toISOString() });
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
  };
}
