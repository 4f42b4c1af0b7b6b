// The agent's session with a remote dispatcher: the DispatcherSession contract over gRPC with mutual
// TLS (the node's certificate is its identity). Same contract as the in-process session of a
// manager's own agent; a broken stream makes the next heartbeat fail, and the agent registers again.
import type { Client, ClientReadableStream, ServiceError } from '@grpc/grpc-js';
import { Metadata } from '@grpc/grpc-js';
import { z } from 'zod';
import type {
  DispatcherSession,
  Heartbeat,
  NetworkViews,
  NodePayloads,
  NodeReport,
  SessionInfo,
  TaskStatusUpdate,
} from '../agent/session.js';
import { SwarmError } from '../api/errors.js';
import { type NodeDescription, type Task, TaskSchema } from '../api/types.js';
import { stripNulls } from '../api/validate.js';
import { parseNodeCertificate } from '../ca/certificates.js';
import { CERTIFICATES_EXPIRED_MESSAGE, certificateExpired } from '../ca/renewal.js';
import { createLogger } from '../lib/log.js';
import { type AssignmentsChange, applyAssignments, type ReceivedSet } from './assignments.js';
import { openClient, unaryCall } from './client.js';
import { dispatcherServiceDefinition, MANAGERS_TRAILER } from './dispatcher-service.js';
import { fromServiceError } from './errors.js';
import { methodOf } from './proto.js';
import { managerChannel, type NodeTLSIdentity } from './tls.js';

const log = createLogger({ component: 'session' });

/** Each heartbeat has this long to answer (SwarmKit's agent: 5 s). */
const HEARTBEAT_TIMEOUT_MS = 5000;
const REGISTER_TIMEOUT_MS = 5000;

const managerList = z
  .array(z.string().regex(/^[0-9.]+:\d{1,5}$/))
  .max(64)
  .default([]);
const sessionMessage = z.object({
  sessionId: z.string().min(1),
  heartbeatPeriodMs: z.coerce.number().positive(),
  managers: managerList,
});
const heartbeatResponse = z.object({
  periodMs: z.coerce.number().positive(),
  managers: managerList,
  role: z.enum(['manager', 'worker', '']).default(''),
  rootCa: z
    .string()
    .max(64 * 1024)
    .default(''),
  issuerPublicKey: z.string().max(4096).default(''),
});
const networksMessage = z.object({ peers: z.instanceof(Buffer) });
const payloadsMessage = z.object({ payloads: z.instanceof(Buffer) });

const payloadSchema = z.object({
  name: z.string().max(64),
  data: z.string().max(2 * 1024 * 1024),
  templating: z.string().optional(),
});
const nodePayloadsSchema = z.object({
  secrets: z.record(z.string(), payloadSchema),
  configs: z.record(z.string(), payloadSchema),
});

/** A JSON message body checked against `schema`; undefined when malformed. */
function parseBody<T>(buf: Buffer, schema: z.ZodType<T, z.ZodTypeDef, unknown>): T | undefined {
  try {
    const r = schema.safeParse(JSON.parse(buf.toString('utf8')));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

/** A Payloads message body, checked; undefined when malformed. */
export const parseNodePayloads = (buf: Buffer): NodePayloads | undefined =>
  parseBody(buf, nodePayloadsSchema);

const ipv4 = z.string().ip({ version: 'v4' });
const networkViewsSchema = z.record(
  z.string().max(64),
  z.object({
    peers: z.array(z.object({ ip: ipv4, nodeAddr: z.string().max(64) })).max(65_536),
    services: z
      .array(
        z.object({
          id: z.string().max(64),
          name: z.string().max(255),
          aliases: z.array(z.string().max(255)).max(64),
          vip: ipv4.optional(),
          tasks: z.array(z.object({ name: z.string().max(512), ip: ipv4 })).max(65_536),
          ports: z
            .array(
              z.object({
                protocol: z.enum(['tcp', 'udp', 'sctp']),
                publishedPort: z.number().int().min(1).max(65535),
                targetPort: z.number().int().min(1).max(65535),
                keepSource: z.boolean().optional(),
              }),
            )
            .max(1024)
            .optional(),
        }),
      )
      .max(65_536),
    vni: z.number().int().min(1).max(16_777_215).optional(),
    gateway: ipv4.optional(),
    mtu: z.number().int().min(576).max(8950).optional(),
    self: z
      .string()
      .regex(/^[0-9.]+\/\d{1,2}$/)
      .optional(),
  }),
);

/** A Networks message body, checked; undefined when malformed. */
export const parseNetworkViews = (buf: Buffer): NetworkViews | undefined =>
  parseBody(buf, networkViewsSchema);

const assignmentsMessage = z.object({
  type: z.enum(['COMPLETE', 'INCREMENTAL']),
  appliesTo: z.coerce.number(),
  resultsIn: z.coerce.number(),
  update: z.array(z.instanceof(Buffer)),
  remove: z.array(z.string()),
});

export interface RemoteSessionOptions {
  /** Managers to try, "ip:port", in order. */
  managers: () => string[];
  identity: NodeTLSIdentity;
  /** This node's advertise address ("ip"), sent with the registration. */
  advertiseAddr?: string;
  /** Told the managers' addresses whenever a manager sends them (to remember for failover). */
  onManagers?: (managers: string[]) => void;
  /** Told the role the cluster wants for this node, with every heartbeat. */
  onRole?: (role: 'manager' | 'worker') => void;
}

export class RemoteSession implements DispatcherSession {
  private client: Client | undefined;
  private address: string | undefined;
  private sessionStream: ClientReadableStream<object> | undefined;
  private sessionId: string | undefined;
  /** Set when a stream of the current session broke: the next heartbeat fails so the agent re-registers. */
  private broken: SwarmError | undefined;
  private next = 0;

  constructor(private readonly opts: RemoteSessionOptions) {}

  /** The manager this session talks to now. */
  get manager(): string | undefined {
    return this.address;
  }

  private dial(): Client {
    const managers = this.opts.managers();
    if (managers.length === 0) throw new SwarmError('UNAVAILABLE', 'no manager address known');
    const address = managers[this.next++ % managers.length] as string;
    this.close();
    this.address = address;
    this.client = openClient(address, {
      ...managerChannel(this.opts.identity),
      options: {
        ...managerChannel(this.opts.identity).options,
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1000,
        'grpc.keepalive_time_ms': 10_000,
        'grpc.keepalive_timeout_ms': 5000,
      },
    });
    return this.client;
  }

  private current(): Client {
    if (!this.client) throw new SwarmError('UNAVAILABLE', 'session invalid: not connected');
    return this.client;
  }

  register(_nodeId: string, description: NodeDescription): Promise<SessionInfo> {
    // The node ID is the certificate's; the argument is the contract's and is not sent.
    const client = this.dial();
    this.broken = undefined;
    const method = methodOf(dispatcherServiceDefinition(), 'Session');
    const stream = client.makeServerStreamRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      { description: Buffer.from(JSON.stringify(description)), addr: this.opts.advertiseAddr ?? '' },
      new Metadata(),
      {},
    ) as ClientReadableStream<object>;
    this.sessionStream = stream;
    return new Promise<SessionInfo>((resolve, reject) => {
      let settled = false;
      /** The session exists: a stream that ends after this ends the session. */
      let opened = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        stream.cancel();
        reject(
          new SwarmError(
            'UNAVAILABLE',
            `no answer from manager ${this.address} within ${REGISTER_TIMEOUT_MS} ms`,
          ),
        );
      }, REGISTER_TIMEOUT_MS);
      stream.on('data', (m: object) => {
        const parsed = sessionMessage.safeParse(m);
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (!parsed.success) {
          reject(new SwarmError('INTERNAL', 'malformed session message from the manager'));
          return;
        }
        this.sessionId = parsed.data.sessionId;
        opened = true;
        if (parsed.data.managers.length > 0) this.opts.onManagers?.(parsed.data.managers);
        resolve({
          sessionId: parsed.data.sessionId,
          heartbeatPeriodMs: parsed.data.heartbeatPeriodMs,
          managers: parsed.data.managers,
        });
      });
      stream.on('error', (err: ServiceError) => {
        // A follower refuses with the managers' addresses, the leader's first: go there next.
        const told = String(err.metadata?.get(MANAGERS_TRAILER)[0] ?? '')
          .split(',')
          .filter((a) => /^[0-9.]+:\d{1,5}$/.test(a));
        if (told.length > 0) {
          this.opts.onManagers?.(told);
          this.next = 0;
        }
        const e = this.explainRefusal(fromServiceError(err));
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          reject(e);
        } else if (this.sessionStream === stream && opened) {
          this.broken = e;
        }
      });
      stream.on('end', () => {
        if (this.sessionStream === stream && opened) {
          this.broken ??= new SwarmError('UNAVAILABLE', 'session ended by the manager');
        }
      });
    });
  }

  /**
   * TLS does not verify an expired certificate, so the manager answers as to a caller without one
   * ("no client certificates in request"); with the local certificate expired, say so in Docker's words.
   */
  private explainRefusal(e: SwarmError): SwarmError {
    if (e.code !== 'UNAUTHENTICATED') return e;
    const local = parseNodeCertificate(this.opts.identity.material.certPem);
    if (!certificateExpired(local, new Date())) return e;
    return new SwarmError('UNAUTHENTICATED', CERTIFICATES_EXPIRED_MESSAGE, { cause: e });
  }

  async heartbeat(sessionId: string, report?: NodeReport): Promise<Heartbeat> {
    if (this.broken) throw this.broken;
    const r = await unaryCall(
      this.current(),
      methodOf(dispatcherServiceDefinition(), 'Heartbeat'),
      { sessionId, report: report ? Buffer.from(JSON.stringify(report)) : Buffer.alloc(0) },
      heartbeatResponse,
      { timeoutMs: HEARTBEAT_TIMEOUT_MS },
    );
    if (r.managers.length > 0) this.opts.onManagers?.(r.managers);
    if (r.role) this.opts.onRole?.(r.role);
    return {
      periodMs: r.periodMs,
      managers: r.managers,
      ...(r.role ? { role: r.role } : {}),
      ...(r.rootCa && r.issuerPublicKey
        ? { trust: { rootCA: r.rootCa, issuerPublicKey: r.issuerPublicKey } }
        : {}),
    };
  }

  watchAssignments(sessionId: string, onTasks: (tasks: Task[]) => void): () => void {
    const stream = this.openStream('Assignments', sessionId);
    let held: ReceivedSet | undefined;
    let stopped = false;
    stream.on('data', (m: object) => {
      const parsed = assignmentsMessage.safeParse(m);
      if (!parsed.success) {
        this.broken = new SwarmError('INTERNAL', 'malformed assignments message from the manager');
        stream.cancel();
        return;
      }
      let change: AssignmentsChange;
      try {
        change = { ...parsed.data, update: parsed.data.update.map(parseTask) };
      } catch (e) {
        log.warn('assignment rejected', { err: e });
        this.broken = e as SwarmError;
        stream.cancel();
        return;
      }
      const next = applyAssignments(held, change);
      if (next === 'gap') {
        this.broken = new SwarmError('UNAVAILABLE', 'assignments out of sequence');
        stream.cancel();
        return;
      }
      held = next;
      onTasks([...next.tasks.values()]);
    });
    stream.on('error', (err: ServiceError) => {
      if (!stopped && this.sessionId === sessionId) this.broken = fromServiceError(err);
    });
    stream.on('end', () => {
      if (!stopped && this.sessionId === sessionId) {
        this.broken ??= new SwarmError('UNAVAILABLE', 'assignments stream ended');
      }
    });
    return () => {
      stopped = true;
      stream.cancel();
    };
  }

  /** A server stream of the session on the current manager. */
  private openStream(
    name: 'Assignments' | 'Networks' | 'Payloads',
    sessionId: string,
  ): ClientReadableStream<object> {
    const method = methodOf(dispatcherServiceDefinition(), name);
    return this.current().makeServerStreamRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      { sessionId },
      new Metadata(),
      {},
    ) as ClientReadableStream<object>;
  }

  watchNetworks(sessionId: string, onPeers: (peers: NetworkViews) => void): () => void {
    const stream = this.openStream('Networks', sessionId);
    stream.on('data', (m: object) => {
      const parsed = networksMessage.safeParse(m);
      const peers = parsed.success ? parseNetworkViews(parsed.data.peers) : undefined;
      if (peers) onPeers(peers);
      else log.warn('malformed network peers from the manager; ignored');
    });
    // The assignments stream decides whether the session broke; this one only stops with it.
    stream.on('error', () => undefined);
    return () => stream.cancel();
  }

  watchPayloads(sessionId: string, onPayloads: (payloads: NodePayloads) => void): () => void {
    const stream = this.openStream('Payloads', sessionId);
    stream.on('data', (m: object) => {
      const parsed = payloadsMessage.safeParse(m);
      const payloads = parsed.success ? parseNodePayloads(parsed.data.payloads) : undefined;
      if (payloads) onPayloads(payloads);
      else log.warn('malformed secrets/configs from the manager; ignored');
    });
    stream.on('error', () => undefined);
    return () => stream.cancel();
  }

  async updateTaskStatus(sessionId: string, updates: TaskStatusUpdate[]): Promise<void> {
    await unaryCall(
      this.current(),
      methodOf(dispatcherServiceDefinition(), 'UpdateTaskStatus'),
      {
        sessionId,
        updates: updates.map((u) => ({ taskId: u.taskId, status: Buffer.from(JSON.stringify(u.status)) })),
      },
      z.object({}).passthrough(),
    );
  }

  /** Ends the streams and the channel (agent stop, leave). */
  close(): void {
    const s = this.sessionStream;
    this.sessionStream = undefined;
    s?.cancel();
    this.client?.close();
    this.client = undefined;
  }
}

function parseTask(buf: Buffer): Task {
  let value: unknown;
  try {
    value = JSON.parse(buf.toString('utf8'));
  } catch {
    throw new SwarmError('INTERNAL', 'malformed task in assignments: not JSON');
  }
  const parsed = TaskSchema.safeParse(stripNulls(value));
  if (!parsed.success)
    throw new SwarmError('INTERNAL', `malformed task in assignments: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}
