// The embedded DNS of swarm tasks (Docker's 127.0.0.11): names on the overlay networks a task shares
// with others. `resolveName` decides (pure): a service name or alias gives its VIP (vip mode) or its
// running tasks' addresses (dnsrr), `tasks.NAME` the running tasks' addresses, a task name
// (`svc.slot.id`) its address; names of networks the task is not on are not seen. Anything else is
// forwarded to the host's resolvers. `EmbeddedDns` is the UDP shell: one socket per node on the
// gateway bridge address, which each task's 127.0.0.11:53 is DNATed to (rules.ts); the client is
// known by its source address.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import dnsPacket from 'dns-packet';
import type { NetworkView } from '../agent/session.js';
import { createLogger } from '../lib/log.js';

const log = createLogger({ component: 'dns' });

/** Docker's TTL for service records. */
export const RECORD_TTL = 600;
const FORWARD_TIMEOUT_MS = 2000;

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

type Packet = ReturnType<typeof dnsPacket.decode>;
const NXDOMAIN = 3;
const SERVFAIL = 2;

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

function errorAnswer(query: Packet, rcode: number): Buffer {
  return dnsPacket.encode({
    type: 'response',
    id: query.id,
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | rcode,
    questions: query.questions ?? [],
  });
}

export interface EmbeddedDnsOptions {
  /** The node's gateway bridge address the tasks' 127.0.0.11 is DNATed to. */
  address: string;
  port?: number;
  /** The networks a client (by its gateway address) is on; undefined for an unknown client. */
  viewsOf: (clientIp: string) => NetworkView[] | undefined;
  /** Where other names go (the host's resolvers). */
  upstream: () => Promise<string[]>;
}

export class EmbeddedDns {
  private socket: Socket | undefined;

  constructor(private readonly o: EmbeddedDnsOptions) {}

  async start(): Promise<void> {
    const socket = createSocket({ type: 'udp4', reuseAddr: true });
    socket.on('message', (msg, rinfo) => void this.onMessage(msg, rinfo));
    socket.on('error', (e) => log.warn('embedded DNS socket error', { err: e }));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(this.o.port ?? 53, this.o.address, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    this.socket = socket;
    log.info('embedded DNS listening', { addr: this.o.address, port: this.o.port ?? 53 });
  }

  close(): void {
    this.socket?.close();
    this.socket = undefined;
  }

  private async onMessage(msg: Buffer, rinfo: RemoteInfo): Promise<void> {
    let query: Packet;
    try {
      query = dnsPacket.decode(msg);
    } catch {
      return; // not DNS: dropped, as a resolver does
    }
    const views = this.o.viewsOf(rinfo.address);
    const local = views && answerQuery(query, views);
    const reply = local ?? (await this.forward(msg).catch(() => errorAnswer(query, SERVFAIL)));
    this.socket?.send(reply, rinfo.port, rinfo.address);
  }

  /** Asks the host's resolvers in turn; NXDOMAIN when there is none. */
  private async forward(msg: Buffer): Promise<Buffer> {
    const servers = await this.o.upstream();
    if (servers.length === 0) return errorAnswer(dnsPacket.decode(msg), NXDOMAIN);
    let lastError: unknown;
    for (const server of servers) {
      try {
        return await udpExchange(server, msg);
      } catch (e) {
        lastError = e;
      }
    }
    throw lastError;
  }
}

function udpExchange(server: string, msg: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      reject(new Error(`no answer from ${server}`));
    }, FORWARD_TIMEOUT_MS);
    s.on('message', (reply) => {
      clearTimeout(timer);
      s.close();
      resolve(reply);
    });
    s.on('error', (e) => {
      clearTimeout(timer);
      s.close();
      reject(e);
    });
    s.send(msg, 53, server);
  });
}
