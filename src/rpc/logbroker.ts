// Logs across nodes over gRPC (proto/logbroker.proto): the manager's broker hands subscriptions to
// the node that runs the tasks and turns the lines it publishes back into one stream; the node side
// answers each subscription from its own containers. Authorization by certificate, as everywhere.
import type { Client, ClientReadableStream, ServerWritableStream, ServiceError } from '@grpc/grpc-js';
import { Metadata } from '@grpc/grpc-js';
import type { ServiceDefinition } from '@grpc/proto-loader';
import { z } from 'zod';
import { SwarmError } from '../api/errors.js';
import type { LogEntry, LogOptions } from '../executor/types.js';
import { createLogger } from '../lib/log.js';
import { authorizePeer } from './auth.js';
import { openClient, unaryCall } from './client.js';
import { toServiceError } from './errors.js';
import { loadServiceDefinition, methodOf } from './proto.js';
import { type RpcService, unaryHandler } from './server.js';
import { managerChannel, type NodeTLSIdentity } from './tls.js';

const log = createLogger({ component: 'logbroker' });

let definition: ServiceDefinition | undefined;
export function logBrokerDefinition(): ServiceDefinition {
  definition ??= loadServiceDefinition('logbroker.proto', 'swarmkit.v1.LogBroker');
  return definition;
}

/** A non-follow subscription ends with a warning if its node sends nothing for this long. */
const QUIET_TIMEOUT_MS = 5000;

export interface TaskLogLine {
  taskId: string;
  entry: LogEntry;
}

interface Subscription {
  nodeId: string;
  push(lines: TaskLogLine[], close: boolean): void;
}

/** Docker's warning for logs a node could not give (moby daemon/cluster/services.go). */
export function incompleteLogs(nodeId: string): string {
  return `warning: incomplete log stream. some logs could not be retrieved for the following reasons: node ${nodeId} is not available`;
}

/** The manager side: which nodes listen, and the subscriptions in flight. */
export class LogBroker {
  private readonly listeners = new Map<string, (m: object) => void>();
  private readonly subs = new Map<string, Subscription>();
  private next = 0;

  /**
   * The lines of `taskIds` on `nodeId`; throws UNAVAILABLE with Docker's warning when the node does
   * not listen, or (not following) stays silent too long.
   */
  async *logs(nodeId: string, taskIds: string[], opts: LogOptions): AsyncGenerator<TaskLogLine> {
    const listener = this.listeners.get(nodeId);
    if (!listener) throw new SwarmError('UNAVAILABLE', incompleteLogs(nodeId));
    const id = `${Date.now().toString(36)}-${this.next++}`;
    const queue: TaskLogLine[] = [];
    let closed = false;
    let wake: (() => void) | undefined;
    this.subs.set(id, {
      nodeId,
      push: (lines, close) => {
        queue.push(...lines);
        closed ||= close;
        wake?.();
      },
    });
    const onAbort = () => {
      closed = true;
      wake?.();
    };
    opts.signal?.addEventListener('abort', onAbort);
    try {
      listener({
        id,
        taskIds,
        follow: !!opts.follow,
        tail: String(opts.tail ?? -1),
        since: opts.since ?? 0,
        stdout: opts.stdout ?? true,
        stderr: opts.stderr ?? true,
      });
      for (;;) {
        while (queue.length > 0) yield queue.shift() as TaskLogLine;
        if (closed) return;
        const got = await new Promise<boolean>((resolve) => {
          const timer = opts.follow ? undefined : setTimeout(() => resolve(false), QUIET_TIMEOUT_MS);
          wake = () => {
            clearTimeout(timer);
            resolve(true);
          };
        });
        wake = undefined;
        if (!got && queue.length === 0) throw new SwarmError('UNAVAILABLE', incompleteLogs(nodeId));
      }
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
      this.subs.delete(id);
    }
  }

  /** The gRPC service: nodes listen and publish. */
  service(clusterId: () => string): RpcService {
    const roles = ['worker', 'manager'] as const;
    const line = z.object({
      taskId: z.string().min(1).max(64),
      stream: z.enum(['stdout', 'stderr']),
      timeNs: z.string().regex(/^\d{1,20}$/),
      line: z.instanceof(Buffer),
    });
    const publish = z.object({
      subscriptionId: z.string().min(1).max(64),
      lines: z.array(line).max(10_000),
      close: z.boolean(),
    });
    return {
      definition: logBrokerDefinition(),
      implementation: {
        ListenSubscriptions: (call: ServerWritableStream<object, object>) => {
          try {
            const peer = authorizePeer(call, { roles, clusterId: clusterId() });
            const write = (m: object) => call.write(m);
            this.listeners.set(peer.nodeId, write);
            call.on('cancelled', () => {
              if (this.listeners.get(peer.nodeId) === write) this.listeners.delete(peer.nodeId);
              for (const s of this.subs.values()) if (s.nodeId === peer.nodeId) s.push([], true);
            });
          } catch (err) {
            call.emit('error', toServiceError(err));
          }
        },
        PublishLogs: unaryHandler(publish, async (req, call) => {
          const peer = authorizePeer(call, { roles, clusterId: clusterId() });
          const sub = this.subs.get(req.subscriptionId);
          if (!sub || sub.nodeId !== peer.nodeId) throw new SwarmError('NOT_FOUND', 'subscription not found');
          sub.push(
            req.lines.map((l) => {
              const timeNs = BigInt(l.timeNs);
              return {
                taskId: l.taskId,
                entry: {
                  stream: l.stream,
                  timeNs,
                  time: new Date(Number(timeNs / 1_000_000n)).toISOString(),
                  line: l.line.toString('utf8'),
                },
              };
            }),
            req.close,
          );
          return {};
        }),
      },
    };
  }
}

const subscription = z.object({
  id: z.string().min(1),
  taskIds: z.array(z.string()),
  follow: z.boolean(),
  tail: z.coerce.number(),
  since: z.number(),
  stdout: z.boolean(),
  stderr: z.boolean(),
});

/**
 * The node side: listens to the manager's subscriptions and answers each from `logsOf` (this node's
 * containers). Reconnects a second after the stream breaks, until stopped.
 */
export function listenForLogSubscriptions(o: {
  manager: () => string | undefined;
  identity: NodeTLSIdentity;
  logsOf: (taskId: string, opts: LogOptions) => AsyncIterable<LogEntry> | undefined;
}): { stop(): void } {
  let stopped = false;
  let client: Client | undefined;
  let stream: ClientReadableStream<object> | undefined;
  let timer: NodeJS.Timeout | undefined;
  const answer = async (c: Client, s: z.output<typeof subscription>) => {
    const publish = (lines: object[], close: boolean) =>
      unaryCall(
        c,
        methodOf(logBrokerDefinition(), 'PublishLogs'),
        { subscriptionId: s.id, lines, close },
        z.object({}).passthrough(),
      );
    const opts: LogOptions = {
      follow: s.follow,
      ...(s.tail >= 0 ? { tail: s.tail } : {}),
      ...(s.since > 0 ? { since: s.since } : {}),
      stdout: s.stdout,
      stderr: s.stderr,
    };
    try {
      await Promise.all(
        s.taskIds.map(async (taskId) => {
          let batch: object[] = [];
          let flushAt = Date.now() + 50;
          for await (const e of o.logsOf(taskId, opts) ?? []) {
            batch.push({ taskId, stream: e.stream, timeNs: e.timeNs.toString(), line: Buffer.from(e.line) });
            if (batch.length >= 500 || Date.now() >= flushAt) {
              await publish(batch, false);
              batch = [];
              flushAt = Date.now() + 50;
            }
          }
          if (batch.length > 0) await publish(batch, false);
        }),
      );
      await publish([], true);
    } catch (e) {
      log.debug('log subscription ended', { subscription: s.id, err: e });
    }
  };
  const connect = () => {
    if (stopped) return;
    const address = o.manager();
    if (!address) {
      timer = setTimeout(connect, 1000);
      return;
    }
    const c = openClient(address, managerChannel(o.identity));
    client = c;
    const method = methodOf(logBrokerDefinition(), 'ListenSubscriptions');
    const s = c.makeServerStreamRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      {},
      new Metadata(),
      {},
    ) as ClientReadableStream<object>;
    stream = s;
    s.on('data', (m: object) => {
      const parsed = subscription.safeParse(m);
      if (parsed.success) void answer(c, parsed.data);
    });
    const again = () => {
      if (stream !== s) return;
      stream = undefined;
      c.close();
      timer = setTimeout(connect, 1000);
    };
    s.on('error', (_e: ServiceError) => again());
    s.on('end', again);
  };
  connect();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      const s = stream;
      stream = undefined;
      s?.cancel();
      client?.close();
    },
  };
}
