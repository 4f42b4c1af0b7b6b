// The dispatcher over gRPC with real mutual TLS: a worker's RemoteSession registers as the node its
// certificate names, gets its task set COMPLETE then incrementally, reports status; another node's
// certificate cannot use that session; a certificate of another cluster is refused; an expired one opens no session.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { z } from 'zod';
import { SwarmError } from '../../src/api/errors.js';
import { newId } from '../../src/api/ids.js';
import type { Task } from '../../src/api/types.js';
import { createNodeCredentials, createRootCA, type IssueOptions } from '../../src/ca/certificates.js';
import { CERTIFICATES_EXPIRED_MESSAGE } from '../../src/ca/renewal.js';
import {
  applyAssignments,
  diffAssignments,
  type ReceivedSet,
  type SentSet,
} from '../../src/rpc/assignments.js';
import { openClient, unaryCall } from '../../src/rpc/client.js';
import { RemoteSession } from '../../src/rpc/dispatcher-client.js';
import { dispatcherService, dispatcherServiceDefinition } from '../../src/rpc/dispatcher-service.js';
import { methodOf } from '../../src/rpc/proto.js';
import { type RunningRpcServer, startRpcServer } from '../../src/rpc/server.js';
import { managerChannel, NodeTLSIdentity, serverCredentials } from '../../src/rpc/tls.js';
import { description, FAKE_MANAGERS, FakeBackend } from './fake-dispatcher.js';

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

const backend = new FakeBackend(() => [task('t1', 1)]);
let server: RunningRpcServer;
let address: string;
let worker: NodeTLSIdentity;
let other: NodeTLSIdentity;
let foreign: NodeTLSIdentity;
let expired: NodeTLSIdentity;
const HOUR = 3600_000;

before(async () => {
  const root = await createRootCA();
  const identity = async (
    nodeId: string,
    role: 'manager' | 'worker',
    cluster = clusterId,
    options: IssueOptions = {},
  ) =>
    new NodeTLSIdentity({
      rootCertPem: root.certPem,
      ...(await createNodeCredentials(root, { nodeId, role, clusterId: cluster }, options)),
    });
  const manager = await identity(managerId, 'manager');
  worker = await identity(workerId, 'worker');
  other = await identity(otherId, 'worker');
  foreign = await identity(newId(), 'worker', newId());
  // Issued three hours ago for the shortest lifetime: it ran out two hours ago.
  expired = await identity(newId(), 'worker', clusterId, {
    validityMs: HOUR,
    now: new Date(Date.now() - 3 * HOUR),
  });
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

test('a remote session registers as its certificate, receives its tasks incrementally, reports status and learns the managers', async () => {
  const told: string[][] = [];
  const session = new RemoteSession({
    managers: () => [address],
    identity: worker,
    advertiseAddr: '10.0.0.9',
    onManagers: (m) => told.push(m),
  });
  try {
    const info = await session.register('ignored-node-id', description);
    assert.equal(info.heartbeatPeriodMs, 5000);
    assert.deepEqual(told, [FAKE_MANAGERS], 'the managers arrive with the session');
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
    assert.deepEqual(await session.heartbeat(info.sessionId), { periodMs: 5000, managers: FAKE_MANAGERS });
    assert.equal(told.length, 2, 'and with every heartbeat');
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

test('an expired certificate opens no session: the manager sees no identity, the worker is told to rejoin', async () => {
  const before = backend.registered.length;
  // At the edge: TLS does not verify an expired certificate, so the manager sees a caller without one.
  const raw = openClient(address, managerChannel(expired));
  try {
    await assert.rejects(
      unaryCall(
        raw,
        methodOf(dispatcherServiceDefinition(), 'Heartbeat'),
        { sessionId: `s-${workerId}` },
        z.object({}),
      ),
      (e: unknown) =>
        e instanceof SwarmError &&
        e.code === 'UNAUTHENTICATED' &&
        e.message === 'no client certificates in request',
    );
  } finally {
    raw.close();
  }
  // The worker's session names the cause in Docker's words.
  const session = new RemoteSession({ managers: () => [address], identity: expired });
  try {
    await assert.rejects(
      session.register('', description),
      (e: unknown) =>
        e instanceof SwarmError && e.code === 'UNAUTHENTICATED' && e.message === CERTIFICATES_EXPIRED_MESSAGE,
    );
  } finally {
    session.close();
  }
  assert.equal(backend.registered.length, before, 'the dispatcher never saw a registration');
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
