// The dispatcher over gRPC (proto/dispatcher.proto), server side: authentication by certificate,
// validation of what arrives, incremental assignment messages. What a session means is the backend's
// (src/manager/dispatcher): this file is only the remote transport of the agent's session contract.
import { Metadata, type ServerWritableStream } from '@grpc/grpc-js';
import type { ServiceDefinition } from '@grpc/proto-loader';
import { z } from 'zod';
import type {
  Heartbeat,
  NetworkViews,
  NodePayloads,
  NodeReport,
  SessionInfo,
  TaskStatusUpdate,
} from '../agent/session.js';
import { SwarmError } from '../api/errors.js';
import {
  describeZodError,
  type NodeDescription,
  NodeDescriptionSchema,
  type Task,
  TaskStatusSchema,
  TLSInfoSchema,
} from '../api/types.js';
import { stripNulls } from '../api/validate.js';
import { createLogger } from '../lib/log.js';
import { diffAssignments, type SentSet } from './assignments.js';
import { authorizePeer } from './auth.js';
import { toServiceError } from './errors.js';
import { loadServiceDefinition } from './proto.js';
import { type RpcService, unaryHandler } from './server.js';

const log = createLogger({ component: 'rpc-dispatcher' });

export const DISPATCHER_SERVICE = 'swarmkit.v1.Dispatcher';

let definition: ServiceDefinition | undefined;

/** The dispatcher service definition, loaded once. */
export function dispatcherServiceDefinition(): ServiceDefinition {
  definition ??= loadServiceDefinition('dispatcher.proto', DISPATCHER_SERVICE);
  return definition;
}

/** What the leader's dispatcher offers remote sessions (src/manager/dispatcher/dispatcher.ts). */
export interface DispatcherBackend {
  register(nodeId: string, description: NodeDescription, opts: { addr?: string }): Promise<SessionInfo>;
  heartbeat(sessionId: string, report?: NodeReport): Promise<Heartbeat>;
  watchAssignments(sessionId: string, onTasks: (tasks: Task[]) => void): () => void;
  updateTaskStatus(sessionId: string, updates: TaskStatusUpdate[]): Promise<void>;
  watchNetworks?(sessionId: string, onPeers: (peers: NetworkViews) => void): () => void;
  watchPayloads?(sessionId: string, onPayloads: (payloads: NodePayloads) => void): () => void;
  /** The node a live session belongs to. */
  sessionNode(sessionId: string): string | undefined;
  /** The agent's end of the session stream went away. */
  disconnected(sessionId: string): void;
  /** Calls `onEnd` when the session is replaced or the dispatcher stops; returns an unsubscribe. */
  onSessionEnd(sessionId: string, onEnd: () => void): () => void;
}

export interface DispatcherServiceOptions {
  /** The leader's dispatcher, or undefined when this manager does not lead. */
  backend: () => DispatcherBackend | undefined;
  clusterId: () => string;
  /** The managers' remote API addresses, the leader's first: told to an agent that came to a follower. */
  managers?: () => string[];
}

/** Trailer of a follower's refusal: where the managers are ("ip:port,ip:port", the leader's first). */
export const MANAGERS_TRAILER = 'swarm-managers';

const NOT_LEADER = 'dispatcher is stopped: this manager is not the leader';
const MAX_JSON_BYTES = 1024 * 1024;
const json = z
  .instanceof(Buffer)
  .refine((b) => b.length > 0 && b.length <= MAX_JSON_BYTES, 'JSON payload must be 1 byte to 1 MiB');

const sessionRequest = z.object({ description: json, addr: z.string().max(255) });
const sessionIdRequest = z.object({ sessionId: z.string().min(1).max(64) });
const heartbeatRequest = sessionIdRequest.extend({
  report: z
    .instanceof(Buffer)
    .refine((b) => b.length <= 64 * 1024, 'report must be at most 64 KiB')
    .default(Buffer.alloc(0)),
});
const NodeReportSchema = z.object({ tlsInfo: TLSInfoSchema.optional() });
const statusRequest = z.object({
  sessionId: z.string().min(1).max(64),
  updates: z.array(z.object({ taskId: z.string().min(1).max(64), status: json })).max(10_000),
});

function parseJSON<T>(buf: Buffer, schema: z.ZodType<T, z.ZodTypeDef, unknown>, what: string): T {
  let value: unknown;
  try {
    value = JSON.parse(buf.toString('utf8'));
  } catch {
    throw new SwarmError('INVALID_ARGUMENT', `invalid ${what}: not JSON`);
  }
  const parsed = schema.safeParse(stripNulls(value));
  if (!parsed.success)
    throw new SwarmError('INVALID_ARGUMENT', `invalid ${what}: ${describeZodError(parsed.error)}`);
  return parsed.data;
}

/** The IP a call comes from ("ipv4:10.0.0.2:51234" → "10.0.0.2"). */
export function peerIP(peer: string): string {
  const s = peer.replace(/^ipv[46]:/, '');
  const m = /^\[?([^\]]+?)\]?:\d+$/.exec(s);
  return m?.[1] ?? s;
}

export function dispatcherService(options: DispatcherServiceOptions): RpcService {
  const roles = ['worker', 'manager'] as const;
  const leader = (): DispatcherBackend => {
    const d = options.backend();
    if (!d) throw new SwarmError('UNAVAILABLE', NOT_LEADER);
    return d;
  };
  /** The backend, once the caller is known to own the session. */
  const own = (call: Parameters<typeof authorizePeer>[0], sessionId: string): DispatcherBackend => {
    const peer = authorizePeer(call, { roles, clusterId: options.clusterId() });
    const d = leader();
    if (d.sessionNode(sessionId) !== peer.nodeId) throw new SwarmError('UNAVAILABLE', 'session invalid');
    return d;
  };
  /** A stream's failure as its final status (the agent registers again on UNAVAILABLE). */
  const fail = (call: ServerWritableStream<object, object>, err: unknown) => {
    // grpc-js sends a server stream's final status from an 'error' event carrying code and details.
    call.emit('error', toServiceError(err));
  };
  /** A session opened on a follower: refused, with the way to the leader in the trailers. */
  const notLeader = (call: ServerWritableStream<object, object>, err: unknown) => {
    const metadata = new Metadata();
    metadata.set(MANAGERS_TRAILER, (options.managers?.() ?? []).join(','));
    call.emit('error', { ...toServiceError(err), metadata });
  };

  /**
   * A server stream of one session: `watch` starts it and returns its stop; it ends with the session
   * (replaced, or the dispatcher stopped) or when the agent cancels.
   */
  const sessionStream =
    (
      watch: (
        d: DispatcherBackend,
        sessionId: string,
        call: ServerWritableStream<object, object>,
      ) => () => void,
    ) =>
    (call: ServerWritableStream<object, object>) => {
      try {
        const req = sessionIdRequest.safeParse(call.request);
        if (!req.success) throw new SwarmError('INVALID_ARGUMENT', 'invalid request: session_id');
        const d = own(call, req.data.sessionId);
        const stop = watch(d, req.data.sessionId, call);
        const offEnd = d.onSessionEnd(req.data.sessionId, () => {
          stop();
          fail(call, new SwarmError('UNAVAILABLE', 'session invalid'));
        });
        call.on('cancelled', () => {
          stop();
          offEnd();
        });
      } catch (err) {
        fail(call, err);
      }
    };

  return {
    definition: dispatcherServiceDefinition(),
    implementation: {
      Session: (call: ServerWritableStream<object, object>) => {
        void (async () => {
          try {
            const peer = authorizePeer(call, { roles, clusterId: options.clusterId() });
            const req = sessionRequest.safeParse(call.request);
            if (!req.success)
              throw new SwarmError('INVALID_ARGUMENT', `invalid request: ${req.error.issues[0]?.message}`);
            const description = parseJSON(req.data.description, NodeDescriptionSchema, 'node description');
            const d = options.backend();
            if (!d) return notLeader(call, new SwarmError('UNAVAILABLE', NOT_LEADER));
            const info = await d.register(peer.nodeId, description, {
              addr: req.data.addr || peerIP(call.getPeer()),
            });
            let ended = false;
            const offEnd = d.onSessionEnd(info.sessionId, () => {
              ended = true;
              fail(call, new SwarmError('UNAVAILABLE', 'session invalid'));
            });
            call.on('cancelled', () => {
              offEnd();
              if (!ended) d.disconnected(info.sessionId);
            });
            call.write({
              sessionId: info.sessionId,
              heartbeatPeriodMs: String(info.heartbeatPeriodMs),
              managers: info.managers ?? [],
            });
            log.info('session opened', { node: peer.nodeId, session: info.sessionId });
          } catch (err) {
            fail(call, err);
          }
        })();
      },
      Heartbeat: unaryHandler(heartbeatRequest, async (req, call) => {
        const report =
          req.report.length > 0 ? parseJSON(req.report, NodeReportSchema, 'node report') : undefined;
        const r = await own(call, req.sessionId).heartbeat(req.sessionId, report);
        return {
          periodMs: String(r.periodMs),
          managers: r.managers ?? [],
          role: r.role ?? '',
          rootCa: r.trust?.rootCA ?? '',
          issuerPublicKey: r.trust?.issuerPublicKey ?? '',
        };
      }),
      Assignments: sessionStream((d, sessionId, call) => {
        let sent: SentSet | undefined;
        return d.watchAssignments(sessionId, (tasks) => {
          const next = diffAssignments(sent, tasks);
          if (!next) return;
          sent = next.sent;
          const m = next.message;
          call.write({
            type: m.type,
            appliesTo: String(m.appliesTo),
            resultsIn: String(m.resultsIn),
            update: m.update.map((t) => Buffer.from(JSON.stringify(t))),
            remove: m.remove,
          });
        });
      }),
      Networks: sessionStream(
        (d, sessionId, call) =>
          d.watchNetworks?.(sessionId, (peers) =>
            call.write({ peers: Buffer.from(JSON.stringify(peers)) }),
          ) ?? (() => undefined),
      ),
      Payloads: sessionStream(
        (d, sessionId, call) =>
          d.watchPayloads?.(sessionId, (payloads) =>
            call.write({ payloads: Buffer.from(JSON.stringify(payloads)) }),
          ) ?? (() => undefined),
      ),
      UpdateTaskStatus: unaryHandler(statusRequest, async (req, call) => {
        const d = own(call, req.sessionId);
        const updates = req.updates.map((u) => ({
          taskId: u.taskId,
          status: parseJSON(u.status, TaskStatusSchema, `status of task ${u.taskId}`),
        }));
        await d.updateTaskStatus(req.sessionId, updates);
        return {};
      }),
    },
  };
}
