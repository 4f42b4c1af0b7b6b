// The one way to build an etcd3 client: mTLS, no hidden retries or circuit breakers, short reconnect
// backoff. etcd3's defaults turn a 1.5 s election into a 6 s outage (per-host breakers) and retry
// CAS txns that may have committed (research/etcd.md, pitfalls 1-2); the store decides retries itself.
import { noop } from 'cockatiel';
import { Etcd3 } from 'etcd3';

export interface EtcdClientOptions {
  /** Client URLs, e.g. `https://localhost:23791`. Use the DNS name `localhost`, not 127.0.0.1 (DEP0123). */
  endpoints: string[];
  caPem: string;
  certPem: string;
  keyPem: string;
  /** Deadline of each unary call (streams have none). Default 5 s. The store gives its calls 1.5 s. */
  callTimeoutMs?: number;
}

export function createEtcdClient(opts: EtcdClientOptions): Etcd3 {
  const callTimeoutMs = opts.callTimeoutMs ?? 5000;
  return new Etcd3({
    hosts: opts.endpoints,
    credentials: {
      rootCertificate: Buffer.from(opts.caPem),
      certChain: Buffer.from(opts.certPem),
      privateKey: Buffer.from(opts.keyPem),
    },
    faultHandling: { host: () => noop, global: noop },
    grpcOptions: {
      'grpc.initial_reconnect_backoff_ms': 50,
      'grpc.max_reconnect_backoff_ms': 1000,
      // Loopback to our own member: keepalive pings only detect a hung member. A short ping timeout
      // dropped the connection on a loaded 2-core machine (every 10 s) and broke the watches.
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 20_000,
    },
    dialTimeout: 3000,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + callTimeoutMs }),
  });
}

/** The client URL of a member listening on loopback port `port` (same as EtcdMember.clientURL). */
export function loopbackClientURL(port: number): string {
  return `https://localhost:${port}`;
}
