// The embedded DNS's socket, in a worker thread of its own (dns.ts starts it): it answers swarm
// names from the client table the main thread sends on every change, and forwards anything else to
// the host's resolvers, which it asks the main thread for (again after UPSTREAM_TTL_MS).
import { createSocket, type RemoteInfo } from 'node:dgram';
import { parentPort, workerData } from 'node:worker_threads';
import dnsPacket from 'dns-packet';
import type { NetworkView } from '../agent/session.js';
import {
  answerQuery,
  errorAnswer,
  type FromDnsWorker,
  NXDOMAIN,
  type Packet,
  SERVFAIL,
  type ToDnsWorker,
} from './dns.js';

const FORWARD_TIMEOUT_MS = 2000;
const UPSTREAM_TTL_MS = 5000;

const port = parentPort;
if (!port) throw new Error('dns-worker.ts runs as a worker thread');
const { address, port: udpPort } = workerData as { address: string; port: number };
const send = (m: FromDnsWorker) => port.postMessage(m);

let clients: Record<string, NetworkView[]> = {};
let upstream: { servers: string[]; at: number } | undefined;
const upstreamWaiters: ((servers: string[]) => void)[] = [];

port.on('message', (m: ToDnsWorker) => {
  if (m.type === 'clients') clients = m.clients;
  else {
    upstream = { servers: m.servers, at: performance.now() };
    for (const w of upstreamWaiters.splice(0)) w(m.servers);
  }
});

function servers(): Promise<string[]> {
  if (upstream && performance.now() - upstream.at < UPSTREAM_TTL_MS) return Promise.resolve(upstream.servers);
  return new Promise((resolve) => {
    if (upstreamWaiters.length === 0) send({ type: 'upstream?' });
    upstreamWaiters.push(resolve);
  });
}

const socket = createSocket({ type: 'udp4', reuseAddr: true });
socket.on('message', (msg, rinfo) => void onMessage(msg, rinfo));
socket.on('error', (e) =>
  send({ type: 'log', level: 'warn', msg: 'embedded DNS socket error', err: String(e) }),
);
socket.once('error', (e) => send({ type: 'failed', message: e.message }));
socket.bind(udpPort, address, () => send({ type: 'listening' }));

async function onMessage(msg: Buffer, rinfo: RemoteInfo): Promise<void> {
  let query: Packet;
  try {
    query = dnsPacket.decode(msg);
  } catch {
    return; // not DNS: dropped, as a resolver does
  }
  const views = clients[rinfo.address];
  const local = views && answerQuery(query, views);
  const reply = local ?? (await forward(msg, query).catch(() => errorAnswer(query, SERVFAIL)));
  socket.send(reply, rinfo.port, rinfo.address);
}

/** Asks the host's resolvers in turn; NXDOMAIN when there is none. */
async function forward(msg: Buffer, query: Packet): Promise<Buffer> {
  const list = await servers();
  if (list.length === 0) return errorAnswer(query, NXDOMAIN);
  let lastError: unknown;
  for (const server of list) {
    try {
      return await udpExchange(server, msg);
    } catch (e) {
      lastError = e;
    }
  }
  throw lastError;
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
