// Logs across nodes over gRPC (proto/logbroker.proto): the manager's broker hands subscriptions to
// the node that runs the tasks and turns the lines it publishes back into one stream; the node side
// answers each subscription from its own containers; managers read that stream with SubscribeLogs.
// Authorization by certificate, as everywhere.
import { once } from 'node:events';
import type { Client, ClientReadableStream, ServerWritableStream, ServiceError } from '@grpc/grpc-js';
import { Metadata } from '@grpc/grpc-js';
import type { ServiceDefinition } from '@grpc/proto-loader';
import { z } from 'zod';
import { internal, invalidArgument, SwarmError } from '../api/errors.js';
import type { LogEntry, LogOptions } from '../executor/types.js';
import { createLogger } from '../lib/log.js';
import { authorizePeer } from './auth.js';
import { openClient, unaryCall } from './client.js';
import { fromServiceError, toServiceError } from './errors.js';
import { loadServiceDefinition, methodOf } from './proto.js';
import { type RpcService, unaryHandler } from './server.js';
import { managerChannel, type NodeTLSIdentity } from './tls.js';

const log = createLogger({ component: 'logbroker' });

/** LogBroker: nodes listen and publish. Logs: managers read (SubscribeLogs). */
type LogService = 'LogBroker' | 'Logs';
const definitions = new Map<LogService, ServiceDefinition>();
function definitionOf(service: LogService): ServiceDefinition {
  let definition = definitions.get(service);
  if (!definition) {
    definition = loadServiceDefinition('logbroker.proto', `swarmkit.v1.${service}`);
    definitions.set(service, definition);
  }
  return definition;
}

/** A non-follow subscription ends with a warning if its node sends nothing for this long. */
const QUIET_TIMEOUT_MS = 5000;
/** Lines per SubscribeLogs message: 128 of Docker's 16 KiB lines stay well under gRPC's 4 MiB. */
const LINES_PER_MESSAGE = 128;

export interface TaskLogLine {
  taskId: string;
  entry: LogEntry;
}

/** A line on the wire (proto LogLine). */
const wireLine = z.object({
  taskId: z.string().min(1).max(64),
  stream: z.enum(['stdout', 'stderr']),
  timeNs: z.string().regex(/^\d{1,20}$/),
  line: z.instanceof(Buffer),
});

function toWireLine(l: TaskLogLine): z.input<typeof wireLine> {
  return {
    taskId: l.taskId,
    stream: l.entry.stream,
    timeNs: l.entry.timeNs.toString(),
    line: Buffer.from(l.entry.line),
  };
}

function fromWireLine(l: z.output<typeof wireLine>): TaskLogLine {
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
}

/** LogOptions on the wire (LogSubscriptionOptions): tail -1 = all, since 0 = from the start. */
const wireOptions = z.object({
  follow: z.boolean(),
  tail: z.coerce.number().int(),
  since: z.number().nonnegative(),
  stdout: z.boolean(),
  stderr: z.boolean(),
});

function toWireOptions(opts: LogOptions): z.input<typeof wireOptions> {
  return {
    follow: !!opts.follow,
    tail: opts.tail ?? -1,
    since: opts.since ?? 0,
    stdout: opts.stdout ?? true,
    stderr: opts.stderr ?? true,
  };
}

function fromWireOptions(w: z.output<typeof wireOptions>): LogOptions {
  return {
    follow: w.follow,
    ...(w.tail >= 0 ? { tail: w.tail } : {}),
    ...(w.since > 0 ? { since: w.since } : {}),
    stdout: w.stdout,
    stderr: w.stderr,
  };
}

const subscribeLogsRequest = z.object({
  nodeId: z.string().min(1).max(64),
  taskIds: z.array(z.string().min(1).max(64)).min(1).max(10_000),
  options: wireOptions.refine((o) => o.stdout || o.stderr, 'you must choose at least one stream'),
});

const subscribeLogsMessage = z.object({ lines: z.array(wireLine) });

const NOT_YET = Symbol('not yet');
const nextTurn = () => new Promise<typeof NOT_YET>((resolve) => setImmediate(resolve, NOT_YET));

/**
 * What `source` has ready at once, in groups of at most `max`: a burst travels as one message and a
 * lone line is not held back waiting for company.
 */
async function* batches<T>(source: AsyncIterator<T>, max: number): AsyncGenerator<T[]> {
  let batch: T[] = [];
  let next = source.next();
  for (;;) {
    const got = batch.length === 0 ? await next : await Promise.race([next, nextTurn()]);
    if (got === NOT_YET) {
      yield batch;
      batch = [];
      continue;
    }
    if (got.done) break;
    batch.push(got.value);
    if (batch.length >= max) {
      yield batch;
      batch = [];
    }
    // Asked only now, so no request is left without a handler while the consumer works.
    next = source.next();
  }
  if (batch.length > 0) yield batch;
}

interface Subscription {
  nodeId: string;
  push(lines: TaskLogLine[], close: boolean): void;
}

/** Docker's warning for logs a node could not give (moby daemon/cluster/services.go). */
export function incompleteLogs(nodeId: string): string {
  return `warning: incomplete log stream. some logs could not be retrieved for the following reasons: node ${nodeId} is not available`;
}

/** A node's own task logs, as its runtime gives them (undefined: no such container here). */
export type LocalLogs = (taskId: string, opts: LogOptions) => AsyncIterable<LogEntry> | undefined;

/** The manager side: which nodes listen, and the subscriptions in flight. */
export class LogBroker {
  private readonly listeners = new Map<string, (m: object) => void>();
  private readonly subs = new Map<string, Subscription>();
  private next = 0;

  private local: { nodeId: string; logsOf: LocalLogs } | undefined;

  /** This manager's own node: its tasks' lines are read in-process (it does not listen over gRPC). */
  serveLocal(nodeId: string, logsOf: LocalLogs): void {
    this.local = { nodeId, logsOf };
  }

  /**
   * The lines of `taskIds` on `nodeId`; throws UNAVAILABLE with Docker's warning when the node does
   * not listen, or (not following) stays silent too long.
   */
  async *logs(nodeId: string, taskIds: string[], opts: LogOptions): AsyncGenerator<TaskLogLine> {
    if (this.local?.nodeId === nodeId) {
      for (const taskId of taskIds)
        for await (const entry of this.local.logsOf(taskId, opts) ?? []) yield { taskId, entry };
      return;
    }
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
      listener({ id, taskIds, options: toWireOptions(opts) });
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
    const publish = z.object({
      subscriptionId: z.string().min(1).max(64),
      lines: z.array(wireLine).max(10_000),
      close: z.boolean(),
    });
    return {
      definition: definitionOf('LogBroker'),
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
          sub.push(req.lines.map(fromWireLine), req.close);
          return {};
        }),
      },
    };
  }

  /** The manager-only gRPC service: a client, or a manager that does not lead, reads task logs here. */
  logsService(clusterId: () => string): RpcService {
    return {
      definition: definitionOf('Logs'),
      implementation: {
        SubscribeLogs: (call: ServerWritableStream<object, object>) => {
          void this.serveLogs(call, clusterId());
        },
      },
    };
  }

  /** One SubscribeLogs call: its lines in batches, then OK, or the failure (e.g. Docker's warning) as its status. */
  private async serveLogs(call: ServerWritableStream<object, object>, clusterId: string): Promise<void> {
    const stop = new AbortController();
    call.on('cancelled', () => stop.abort());
    try {
      authorizePeer(call, { roles: ['manager'], clusterId });
      const req = subscribeLogsRequest.safeParse(call.request);
      if (!req.success)
        throw invalidArgument(`invalid request: ${req.error.issues[0]?.message ?? 'malformed'}`);
      const opts = { ...fromWireOptions(req.data.options), signal: stop.signal };
      for await (const batch of batches(
        this.logs(req.data.nodeId, req.data.taskIds, opts),
        LINES_PER_MESSAGE,
      )) {
        if (!call.write({ lines: batch.map(toWireLine) })) await once(call, 'drain', { signal: stop.signal });
      }
      call.end();
    } catch (err) {
      // grpc-js sends a server stream's final status from an 'error' event carrying code and details.
      if (!call.cancelled) call.emit('error', toServiceError(err));
    } finally {
      stop.abort();
    }
  }
}

/** A server stream on `c`; the caller listens for its data, error and end. */
function openStream(c: Client, service: LogService, name: string, request: object) {
  const method = methodOf(definitionOf(service), name);
  return c.makeServerStreamRequest(
    method.path,
    method.requestSerialize,
    method.responseDeserialize,
    request,
    new Metadata(),
    {},
  );
}

function isServiceError(err: unknown): err is ServiceError {
  return err instanceof Error && 'code' in err && typeof err.code === 'number';
}

/** What a client reads: the lines of `taskIds` on `nodeId`, with a container's log options. */
export interface LogsRequest extends Omit<LogOptions, 'until' | 'signal'> {
  nodeId: string;
  taskIds: string[];
}

/**
 * Task logs read through the manager at `address` (manager certificates only). Failures are
 * SwarmErrors: UNAVAILABLE with Docker's warning when the node is down or silent. Breaking out of
 * the loop cancels the call.
 */
export async function* subscribeLogs(
  address: string,
  identity: NodeTLSIdentity,
  req: LogsRequest,
): AsyncGenerator<TaskLogLine> {
  const client = openClient(address, managerChannel(identity));
  const stream = openStream(client, 'Logs', 'SubscribeLogs', {
    nodeId: req.nodeId,
    taskIds: req.taskIds,
    options: toWireOptions(req),
  });
  try {
    for await (const m of stream) {
      const parsed = subscribeLogsMessage.safeParse(m);
      if (!parsed.success) throw internal('malformed response from SubscribeLogs');
      yield* parsed.data.lines.map(fromWireLine);
    }
  } catch (err) {
    throw isServiceError(err) ? fromServiceError(err) : err;
  } finally {
    stream.cancel();
    client.close();
  }
}

const subscription = z.object({
  id: z.string().min(1),
  taskIds: z.array(z.string()),
  options: wireOptions,
});

/**
 * The node side: listens to the manager's subscriptions and answers each from `logsOf` (this node's
 * containers). Reconnects a second after the stream breaks, until stopped.
 */
export function listenForLogSubscriptions(o: {
  manager: () => string | undefined;
  identity: NodeTLSIdentity;
  logsOf: LocalLogs;
}): { stop(): void } {
  let stopped = false;
  let client: Client | undefined;
  let stream: ClientReadableStream<object> | undefined;
  let timer: NodeJS.Timeout | undefined;
  const answer = async (c: Client, s: z.output<typeof subscription>) => {
    const publish = (lines: object[], close: boolean) =>
      unaryCall(
        c,
        methodOf(definitionOf('LogBroker'), 'PublishLogs'),
        { subscriptionId: s.id, lines, close },
        z.object({}).passthrough(),
      );
    const opts = fromWireOptions(s.options);
    try {
      await Promise.all(
        s.taskIds.map(async (taskId) => {
          let batch: object[] = [];
          let flushAt = Date.now() + 50;
          for await (const e of o.logsOf(taskId, opts) ?? []) {
            batch.push(toWireLine({ taskId, entry: e }));
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
    const s = openStream(c, 'LogBroker', 'ListenSubscriptions', {});
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
    connectedTo = address;
  };
  let connectedTo: string | undefined;
  // The broker is the leader's: when the node's manager changes (failover), listen there instead.
  const follow = setInterval(() => {
    if (stream && o.manager() !== connectedTo) stream.cancel();
  }, 1000);
  connect();
  return {
    stop() {
      stopped = true;
      clearInterval(follow);
      clearTimeout(timer);
      const s = stream;
      stream = undefined;
      s?.cancel();
      client?.close();
    },
  };
}
