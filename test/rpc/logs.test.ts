// Reading task logs through a manager (SubscribeLogs) with real mutual TLS: a manager's certificate
// gets the lines a worker publishes; a worker's certificate, or one of another cluster, is refused;
// a node that does not listen ends the stream with Docker's "incomplete log stream" warning.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SwarmError } from '../../src/api/errors.js';
import { newId } from '../../src/api/ids.js';
import { createNodeCredentials, createRootCA } from '../../src/ca/certificates.js';
import type { LogEntry, LogOptions } from '../../src/executor/types.js';
import {
  incompleteLogs,
  LogBroker,
  type LogsRequest,
  listenForLogSubscriptions,
  subscribeLogs,
} from '../../src/rpc/logbroker.js';
import { type RunningRpcServer, startRpcServer } from '../../src/rpc/server.js';
import { NodeTLSIdentity, serverCredentials } from '../../src/rpc/tls.js';

const clusterId = newId();
const workerId = newId();

function entry(line: string, i: number): LogEntry {
  const timeNs = 1_767_225_600_000_000_000n + BigInt(i) * 1_000_000n;
  return { stream: 'stdout', timeNs, time: new Date(Number(timeNs / 1_000_000n)).toISOString(), line };
}

/** The worker's containers: what each of its tasks wrote. */
const written: Record<string, LogEntry[]> = {
  t1: [entry('one\n', 1), entry('two\n', 2), entry('three\n', 3)],
  t2: [entry('alpha\n', 1), entry('beta\n', 2)],
};
const asked: { taskId: string; opts: LogOptions }[] = [];

async function* fakeLogsOf(taskId: string, opts: LogOptions): AsyncGenerator<LogEntry> {
  asked.push({ taskId, opts });
  yield* written[taskId] ?? [];
}

let server: RunningRpcServer;
let address: string;
let listener: { stop(): void };
let manager: NodeTLSIdentity;
let worker: NodeTLSIdentity;
let foreign: NodeTLSIdentity;

before(async () => {
  const root = await createRootCA();
  const identity = async (nodeId: string, role: 'manager' | 'worker', cluster = clusterId) =>
    new NodeTLSIdentity({
      rootCertPem: root.certPem,
      ...(await createNodeCredentials(root, { nodeId, role, clusterId: cluster })),
    });
  manager = await identity(newId(), 'manager');
  worker = await identity(workerId, 'worker');
  foreign = await identity(newId(), 'manager', newId());
  const broker = new LogBroker();
  server = await startRpcServer('127.0.0.1:0', serverCredentials(manager), [
    broker.service(() => clusterId),
    broker.logsService(() => clusterId),
  ]);
  address = `127.0.0.1:${server.port}`;
  listener = listenForLogSubscriptions({ manager: () => address, identity: worker, logsOf: fakeLogsOf });
});

after(async () => {
  listener?.stop();
  await server?.stop(100);
});

async function read(identity: NodeTLSIdentity, req: LogsRequest): Promise<string[]> {
  const lines: string[] = [];
  for await (const l of subscribeLogs(address, identity, req)) lines.push(`${l.taskId} ${l.entry.line}`);
  return lines;
}

/** The lines once the worker's listener has reached the broker (it connects in the background). */
async function readOnceListening(identity: NodeTLSIdentity, req: LogsRequest): Promise<string[]> {
  const end = Date.now() + 5000;
  for (;;) {
    try {
      return await read(identity, req);
    } catch (e) {
      if (!(e instanceof SwarmError && e.code === 'UNAVAILABLE') || Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

function failsWith(code: SwarmError['code'], message: string) {
  return (e: unknown) => e instanceof SwarmError && e.code === code && e.message === message;
}

test("a manager's certificate reads the lines a worker's tasks wrote, in order per task", async () => {
  const lines = await readOnceListening(manager, { nodeId: workerId, taskIds: ['t1', 't2'], tail: 10 });
  assert.deepEqual(
    lines.filter((l) => l.startsWith('t1 ')),
    ['t1 one\n', 't1 two\n', 't1 three\n'],
  );
  assert.deepEqual(
    lines.filter((l) => l.startsWith('t2 ')),
    ['t2 alpha\n', 't2 beta\n'],
  );
  assert.equal(lines.length, 5);
  assert.deepEqual(asked.at(-1)?.opts, { follow: false, tail: 10, stdout: true, stderr: true });
});

test("a worker's certificate calling the manager-only SubscribeLogs is denied", async () => {
  await assert.rejects(
    read(worker, { nodeId: workerId, taskIds: ['t1'] }),
    failsWith('PERMISSION_DENIED', 'Permission denied: unauthorized peer role: worker'),
  );
});

test('a manager certificate of another cluster is denied', async () => {
  await assert.rejects(
    read(foreign, { nodeId: workerId, taskIds: ['t1'] }),
    failsWith('PERMISSION_DENIED', 'Permission denied: remote certificate not part of organization'),
  );
});

test("logs of a node that does not listen end in Docker's incomplete log stream warning", async () => {
  const absent = newId();
  await assert.rejects(
    read(manager, { nodeId: absent, taskIds: ['t9'] }),
    failsWith('UNAVAILABLE', incompleteLogs(absent)),
  );
});

test('a request for neither stdout nor stderr is refused as an invalid argument', async () => {
  await assert.rejects(
    read(manager, { nodeId: workerId, taskIds: ['t1'], stdout: false, stderr: false }),
    failsWith('INVALID_ARGUMENT', 'invalid request: you must choose at least one stream'),
  );
});
