// The embedded DNS of swarm tasks (Docker's 127.0.0.11): names on the overlay networks a task shares
// with others. `resolveName` decides (pure): a service name or alias gives its VIP (vip mode) or its
// running tasks' addresses (dnsrr), `tasks.NAME` the running tasks' addresses, a task name
// (`svc.slot.id`) its address; names of networks the task is not on are not seen. Anything else is
// forwarded to the host's resolvers. `EmbeddedDns` is the shell: one UDP socket per node on the
// gateway bridge address, which each task's 127.0.0.11:53 is DNATed to (service-rules.ts); the
// client is known by its source address. The socket lives in a worker thread (dns-worker.ts) with
// the table of clients and their networks, so an answer never waits for swarmd's main event loop.
import { Worker } from 'node:worker_threads';
import dnsPacket from 'dns-packet';
import type { NetworkView } from '../agent/session.js';
import { createLogger } from '../lib/log.js';

const log = createLogger({ component: 'dns' });

/** Docker's TTL for service records. */
export const RECORD_TTL = 600;

/** A name's addresses on the given networks, or undefined when none of them knows it. */
export function resolveName(name: string, views: readonly NetworkView[]): string[] | undefined {
  const q = name.toLowerCase().replace(/\.$/, '');
  const tasksOf = q.startsWith('tasks.') ? q.slice('tasks.'.length) : undefined;
  const out: string[] = [];
  let known = false;
  for (const view of views)
    for (const s of view.services) {
      const names = [s.name, ...s.aliases].map((n) => n.toLowerCase());
      if (tasksOf !== undefined && names.includes(tasksOf)) {
        known = true;
        out.push(...s.tasks.map((t) => t.ip));
      } else if (names.includes(q)) {
        known = true;
        if (s.vip) out.push(s.vip);
        else out.push(...s.tasks.map((t) => t.ip));
      } else
        for (const t of s.tasks)
          if (t.name.toLowerCase() === q) {
            known = true;
            out.push(t.ip);
          }
    }
  return known ? [...new Set(out)] : undefined;
}

export type Packet = ReturnType<typeof dnsPacket.decode>;
export const NXDOMAIN = 3;
export const SERVFAIL = 2;

/** The answer to a query for swarm names, or undefined to forward it. Pure. */
export function answerQuery(query: Packet, views: readonly NetworkView[]): Buffer | undefined {
  const question = query.questions?.[0];
  if (!question) return undefined;
  const ips = resolveName(question.name, views);
  if (!ips) return undefined;
  const answers =
    question.type === 'A'
      ? ips.map((data) => ({
          type: 'A' as const,
          name: question.name,
          ttl: RECORD_TTL,
          class: 'IN' as const,
          data,
        }))
      : []; // AAAA and others of a known name: no data, NOERROR (busybox asks A then AAAA)
  return dnsPacket.encode({
    type: 'response',
    id: query.id,
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | dnsPacket.AUTHORITATIVE_ANSWER,
    questions: [question],
    answers,
  });
}

export function errorAnswer(query: Packet, rcode: number): Buffer {
  return dnsPacket.encode({
    type: 'response',
    id: query.id,
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | rcode,
    questions: query.questions ?? [],
  });
}

/** Messages from swarmd's main thread to the DNS worker. */
export type ToDnsWorker =
  | { type: 'clients'; clients: Record<string, NetworkView[]> }
  | { type: 'upstream'; servers: string[] };

/** Messages from the DNS worker: bound (or not), or asking for the host's resolvers. */
export type FromDnsWorker =
  | { type: 'listening' }
  | { type: 'failed'; message: string }
  | { type: 'upstream?' }
  | { type: 'log'; level: 'warn'; msg: string; err: string };

export interface EmbeddedDnsOptions {
  /** The node's gateway bridge address the tasks' 127.0.0.11 is DNATed to. */
  address: string;
  port?: number;
  /** Where other names go (the host's resolvers); asked again every few seconds. */
  upstream: () => Promise<string[]>;
}

export class EmbeddedDns {
  private worker: Worker | undefined;

  constructor(private readonly o: EmbeddedDnsOptions) {}

  async start(): Promise<void> {
    const port = this.o.port ?? 53;
    const worker = new Worker(new URL('./dns-worker.js', import.meta.url), {
      workerData: { address: this.o.address, port },
    });
    worker.on('message', (m: FromDnsWorker) => {
      if (m.type === 'upstream?')
        void this.o
          .upstream()
          .catch(() => [])
          .then((servers) => worker.postMessage({ type: 'upstream', servers } satisfies ToDnsWorker));
      else if (m.type === 'log') log.warn(m.msg, { err: m.err });
    });
    try {
      await new Promise<void>((resolve, reject) => {
        worker.on('message', (m: FromDnsWorker) => {
          if (m.type === 'listening') resolve();
          if (m.type === 'failed')
            reject(new Error(`embedded DNS on ${this.o.address}:${port}: ${m.message}`));
        });
        worker.once('error', reject);
        worker.once('exit', (code) => reject(new Error(`embedded DNS worker exited (${code})`)));
      });
    } catch (e) {
      await worker.terminate();
      throw e;
    }
    worker.on('error', (e) => log.warn('embedded DNS worker failed', { err: e }));
    this.worker = worker;
    log.info('embedded DNS listening', { addr: this.o.address, port });
  }

  /** Every client (by its gateway address) and the networks it is on; replaces the table. */
  setClients(clients: Record<string, NetworkView[]>): void {
    this.worker?.postMessage({ type: 'clients', clients } satisfies ToDnsWorker);
  }

  close(): void {
    void this.worker?.terminate();
    this.worker = undefined;
  }
}
