// An event stream to a client that stops reading is cut once MAX_STREAM_BACKLOG bytes wait for it,
// rather than swarmd buffering events for it without bound; a reading client keeps its stream. A
// HEAD of the stream is answered and done, so the connection serves the next request.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type EngineEvent, EventLog, eventRoutes } from '../../src/engineapi/events.js';
import { MAX_STREAM_BACKLOG } from '../../src/engineapi/router.js';
import { EngineServer } from '../../src/engineapi/server.js';

let dir: string;
let server: EngineServer;
const log = new EventLog();

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'skt-backlog-'));
  server = new EngineServer({ routes: eventRoutes(log), serverName: 'test' });
  await server.listen(join(dir, 'api.sock'));
});

after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A ~1 KiB event. */
function bigEvent(i: number): EngineEvent {
  return {
    Type: 'service',
    Action: 'update',
    Actor: { ID: `svc${i}`, Attributes: { name: 'x'.repeat(1000) } },
    scope: 'swarm',
    time: 1,
    timeNano: 1_000_000_000n,
  };
}

function openStream(): Promise<{ sock: Socket; received: () => number; closed: Promise<void> }> {
  return new Promise((resolve) => {
    const sock = connect(join(dir, 'api.sock'));
    let bytes = 0;
    const closed = new Promise<void>((r) => sock.on('close', () => r()));
    sock.on('error', () => undefined);
    sock.on('data', (b: Buffer) => {
      bytes += b.length;
    });
    sock.write('GET /v1.47/events HTTP/1.1\r\nHost: x\r\n\r\n');
    sock.once('data', () => resolve({ sock, received: () => bytes, closed }));
  });
}

test('a follower that stops reading is cut off after the backlog limit; one that reads is not', {
  timeout: 30_000,
}, async () => {
  const idle = await openStream();
  const reading = await openStream();
  idle.sock.pause();
  // Three times the limit in events, published in turns so that the reading client keeps up.
  const total = Math.ceil((3 * MAX_STREAM_BACKLOG) / 1024);
  for (let i = 0; i < total; i++) {
    log.publish(bigEvent(i));
    if (i % 100 === 0) await new Promise((r) => setTimeout(r, 5));
  }
  idle.sock.resume();
  await idle.closed;
  assert.ok(idle.received() < 2 * MAX_STREAM_BACKLOG, `the idle client got ${idle.received()} bytes`);
  assert.ok(
    reading.received() > 3 * MAX_STREAM_BACKLOG,
    `the reading client got ${reading.received()} bytes`,
  );
  assert.equal(reading.sock.destroyed, false);
  reading.sock.destroy();
  await reading.closed;
});

test('HEAD /events is answered and ends, so the next request on the keep-alive connection is answered (found by the fuzzer)', {
  timeout: 10_000,
}, async () => {
  const sock = connect(join(dir, 'api.sock'));
  let text = '';
  sock.on('data', (b: Buffer) => {
    text += b.toString();
  });
  sock.write(
    'HEAD /v1.47/events HTTP/1.1\r\nHost: x\r\n\r\nGET /v1.47/events?since=0&until=1 HTTP/1.1\r\nHost: x\r\n\r\n',
  );
  for (let i = 0; i < 100 && (text.match(/HTTP\/1\.1 200/g) ?? []).length < 2; i++)
    await new Promise((r) => setTimeout(r, 20));
  sock.destroy();
  assert.equal((text.match(/HTTP\/1\.1 200/g) ?? []).length, 2, text);
});
