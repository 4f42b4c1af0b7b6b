// The dispatcher over gRPC with real mutual TLS: a worker's RemoteSession registers as the node its
// certificate names, gets its task set COMPLETE then incrementally, reports status; another node's
// certificate cannot use that session; a certificate of another cluster is refused.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import type { SessionInfo, TaskStatusUpdate } from '../../src/agent/session.js';
import { SwarmError } from '../../src/api/errors.js';
import { newId } from '../../src/api/ids.js';
import type { NodeDescription, Task } from '../../src/api/types.js';
import { createNodeCredentials, createRootCA } from '../../src/ca/certificates.js';
import {
  applyAssignments,
  diffAssignments,
  type ReceivedSet,
  type SentSet,
} from '../../src/rpc/assignments.js';
import { RemoteSession } from '../../src/rpc/dispatcher-client.js';
import { type DispatcherBackend, dispatcherService } from '../../src/rpc/dispatcher-service.js';
import { type RunningRpcServer, startRpcServer } from '../../src/rpc/server.js';
import { NodeTLSIdentity, serverCredentials } from '../../src/rpc/tls.js';

const clusterId = newId();
const managerId = newId();
const workerId = newId();
const otherId = newId();

function task(id: string, version: number, node = workerId): Task {
  return {
    ID: id,
    Version: { Index: version },
    CreatedAt: '2026-01-01T00:00:00Z',
    UpdatedAt: '2026-01-01T00:00:00Z',
    Spec: { ContainerSpec: { Image: 'busybox' } },
    ServiceID: 'svc',
    Slot: 1,
    NodeID: node,
    Status: { Timestamp: '2026-01-01T00:00:00Z', State: 'assigned', Message: '' },
    DesiredState: 'running',
  };
}

const description: NodeDescription = {
  Hostname: 'w1',
  Platform: { Architecture: 'x86_64', OS: 'linux' },
  Resources: { NanoCPUs: 2e9, MemoryBytes: 1e9 },
  Engine: { EngineVersion: 'test' },
};

/** A backend that records what arrives and lets the test push task sets. */
class FakeBackend implements DispatcherBackend {
  registered: { nodeId: string; addr?: string }[] = [];
  statuses: TaskStatusUpdate[] = [];
  push: ((tasks: Task[]) => void) | undefined;
  sessions = new Map<string, string>();
  disconnects: string[] = [];
  async register(nodeId: string, _d: NodeDescription, opts: { addr?: string }): Promise<SessionInfo> {
    this.registered.push({ nodeId, addr: opts.addr });
    const id = `s-${nodeId}`;
    this.sessions.set(id, nodeId);
    return { sessionId: id, heartbeatPeriodMs: 5000 };
  }
  async heartbeat() {
    return { periodMs: 5000 };
  }
  watchAssignments(_s: string, onTasks: (tasks: Task[]) => void) {
    this.push = onTasks;
    onTasks([task('t1', 1)]);
    return () => {
      this.push = undefined;
    };
  }
  async updateTaskStatus(_s: string, updates: TaskStatusUpdate[]) {
    this.statuses.push(...updates);
  }
  sessionNode(id: string) {
    return this.sessions.get(id);
  }
  disconnected(id: string) {
    this.disconnects.push(id);
  }
  onSessionEnd() {
    return () => undefined;
  }
}

const backend = new FakeBackend();
let server: RunningRpcServer;
let address: string;
let worker: NodeTLSIdentity;
let other: NodeTLSIdentity;
let foreign: NodeTLSIdentity;

before(async () => {
  const root = await createRootCA();
  const identity = async (nodeId: string, role: 'manager' | 'worker', cluster = clusterId) =>
    new NodeTLSIdentity({
      rootCertPem: root.certPem,
      ...(await createNodeCredentials(root, { nodeId, role, clusterId: cluster })),
    });
  const manager = await identity(managerId, 'manager');
  worker = await identity(workerId, 'worker');
  other = await identity(otherId, 'worker');
  foreign = await identity(newId(), 'worker', newId());
  server = await startRpcServer('127.0.0.1:0', serverCredentials(manager), [
    dispatcherService({ backend: () => backend, clusterId: () => clusterId }),
  ]);
  address = `127.0.0.1:${server.port}`;
});

after(async () => {
  await server?.stop(100);
});

const waitFor = async (cond: () => boolean) => {
  const end = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
};

test('a remote session registers as its certificate, receives its tasks incrementally and reports status', async () => {
  const session = new RemoteSession({
    managers: () => [address],
    identity: worker,
    advertiseAddr: '10.0.0.9',
  });
  try {
    const info = await session.register('ignored-node-id', description);
    assert.equal(info.heartbeatPeriodMs, 5000);
    assert.deepEqual(backend.registered.at(-1), { nodeId: workerId, addr: '10.0.0.9' });
    const sets: string[][] = [];
    const stop = session.watchAssignments(info.sessionId, (tasks) =>
      sets.push(tasks.map((t) => `${t.ID}@${t.Version.Index}`).sort()),
    );
    await waitFor(() => sets.length === 1);
    backend.push?.([task('t1', 2), task('t2', 1)]);
    await waitFor(() => sets.length === 2);
    backend.push?.([task('t2', 1)]);
    await waitFor(() => sets.length === 3);
    assert.deepEqual(sets, [['t1@1'], ['t1@2', 't2@1'], ['t2@1']]);
    await session.updateTaskStatus(info.sessionId, [
      { taskId: 't2', status: { Timestamp: '2026-01-01T00:00:01Z', State: 'running', Message: 'started' } },
    ]);
    assert.equal(backend.statuses.at(-1)?.status.State, 'running');
    assert.deepEqual(await session.heartbeat(info.sessionId), { periodMs: 5000 });
    stop();
  } finally {
    session.close();
  }
  await waitFor(() => backend.disconnects.includes(`s-${workerId}`));
});

test("another node's certificate cannot use a session; another cluster's is refused", async () => {
  const mine = new RemoteSession({ managers: () => [address], identity: worker });
  const theirs = new RemoteSession({ managers: () => [address], identity: other });
  const stranger = new RemoteSession({ managers: () => [address], identity: foreign });
  try {
    const info = await mine.register('', description);
    await theirs.register('', description);
    await assert.rejects(
      theirs.heartbeat(info.sessionId),
      (e: unknown) => e instanceof SwarmError && e.code === 'UNAVAILABLE' && e.message === 'session invalid',
    );
    await assert.rejects(
      stranger.register('', description),
      (e: unknown) =>
        e instanceof SwarmError &&
        e.code === 'PERMISSION_DENIED' &&
        /remote certificate not part of organization/.test(e.message),
    );
  } finally {
    mine.close();
    theirs.close();
    stranger.close();
  }
});

test('property: applying each diff reproduces every task set, in order', () => {
  const sets = fc.array(
    fc.uniqueArray(
      fc.record({ id: fc.constantFrom('a', 'b', 'c', 'd', 'e'), v: fc.integer({ min: 1, max: 3 }) }),
      {
        selector: (r) => r.id,
      },
    ),
    { minLength: 1, maxLength: 8 },
  );
  fc.assert(
    fc.property(sets, (seq) => {
      let sent: SentSet | undefined;
      let held: ReceivedSet | undefined;
      for (const s of seq) {
        const tasks = s.map((r) => task(r.id, r.v));
        const d = diffAssignments(sent, tasks);
        if (!d) continue;
        sent = d.sent;
        const next = applyAssignments(held, d.message);
        assert.notEqual(next, 'gap');
        held = next as ReceivedSet;
        assert.deepEqual(
          [...held.tasks.values()].map((t) => `${t.ID}@${t.Version.Index}`).sort(),
          tasks.map((t) => `${t.ID}@${t.Version.Index}`).sort(),
        );
      }
    }),
  );
  // A message that does not apply to the held set is a gap.
  const first = diffAssignments(undefined, [task('a', 1)]);
  const second = first && diffAssignments(first.sent, [task('a', 2)]);
  assert.equal(second && applyAssignments(undefined, second.message), 'gap');
});
