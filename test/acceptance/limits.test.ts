// Acceptance: the Engine API's limits against a real swarmd. An oversized body, a huge header, a
// long URL, a slowloris client, a stalled body and too many open streams are each refused with a
// 4xx (Docker's `{"message"}` where a response can be written) or a closed connection, while
// `/_ping` keeps answering within 100 ms throughout.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  HEADERS_TIMEOUT_MS,
  MAX_HEADER_BYTES,
  MAX_STREAMS_PER_CLIENT,
  MAX_URL_BYTES,
} from '../../src/engineapi/server.js';
import { type SwarmdProcess, startSwarmd } from '../helpers/swarmd.js';

let swarmd: SwarmdProcess;
let pinging = true;
let pinger: Promise<void> | undefined;
const pingTimes: number[] = [];

/** Sends `raw` bytes on a fresh connection (then, if given, `drip` one byte a second); resolves with all that came back once the server closes. */
function rawExchange(
  raw: string,
  opts: { drip?: boolean; timeoutMs: number },
): Promise<{ text: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const sock = connect(swarmd.socket);
    let text = '';
    let dripTimer: NodeJS.Timeout | undefined;
    const deadline = setTimeout(() => {
      sock.destroy();
      clearInterval(dripTimer);
      reject(new Error(`connection still open after ${opts.timeoutMs} ms; got: ${text.slice(0, 200)}`));
    }, opts.timeoutMs);
    sock.on('data', (b: Buffer) => (text += b.toString('latin1')));
    sock.on('error', () => {
      // a reset is a closed connection too
    });
    sock.on('close', () => {
      clearTimeout(deadline);
      clearInterval(dripTimer);
      resolve({ text, ms: Date.now() - started });
    });
    sock.write(raw);
    if (opts.drip) {
      dripTimer = setInterval(() => {
        if (sock.writable) sock.write('X-Drip: 1\r\n');
      }, 1000);
    }
  });
}

function statusOf(text: string): number {
  const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
  return m ? Number(m[1]) : 0;
}

function messageOf(text: string): string {
  const body = text.slice(text.indexOf('\r\n\r\n') + 4);
  return (JSON.parse(body) as { message: string }).message;
}

function ping(): Promise<number> {
  const started = performance.now();
  return swarmd.api('GET', '/_ping').then((r) => {
    assert.equal(r.status, 200);
    return performance.now() - started;
  });
}

describe('Engine API limits on a real swarmd', { timeout: 120_000 }, () => {
  before(async () => {
    swarmd = await startSwarmd({ prefix: 'skt-acc-' });
    const init = await swarmd.api('POST', '/v1.47/swarm/init', {
      ListenAddr: `127.0.0.1:${swarmd.listenPort}`,
    });
    assert.equal(init.status, 200, init.body);
    pinger = (async () => {
      while (pinging) {
        pingTimes.push(await ping());
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
  });

  after(async () => {
    pinging = false;
    await pinger?.catch(() => undefined);
    await swarmd?.destroy();
  });

  test('a JSON body over 1 MiB is 413 with a message, declared or chunked, and nothing is created', async () => {
    const big = { Name: 'big', Labels: { x: 'a'.repeat(2 * 1024 * 1024) } };
    const declared = await swarmd.api('POST', '/v1.47/services/create', big);
    assert.equal(declared.status, 413);
    assert.match(declared.json<{ message: string }>().message, /request body is too large/);
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        {
          socketPath: swarmd.socket,
          method: 'POST',
          path: '/v1.47/networks/create',
          headers: { 'Content-Type': 'application/json' },
        },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      // No Content-Length: the limit is met while reading.
      for (let i = 0; i < 40; i++) req.write('x'.repeat(64 * 1024));
      req.end();
    });
    assert.equal(chunked.status, 413);
    assert.match(chunked.body, /"message":"request body is too large/);
    const services = await swarmd.api('GET', '/v1.47/services');
    assert.deepEqual(services.json(), []);
  });

  test('a config of 800 KiB (over 1 MiB once base64 in JSON) fits its route’s body limit', async () => {
    const data = Buffer.alloc(800 * 1024, 7).toString('base64');
    const r = await swarmd.api('POST', '/v1.47/configs/create', { Name: 'big-config', Data: data });
    assert.equal(r.status, 201, r.body);
    const id = r.json<{ ID: string }>().ID;
    assert.equal((await swarmd.api('DELETE', `/v1.47/configs/${id}`)).status, 204);
  });

  test('a header over the limit is 431 with a message and the connection closes', async () => {
    const r = await rawExchange(
      `GET /_ping HTTP/1.1\r\nHost: x\r\nX-Huge: ${'h'.repeat(MAX_HEADER_BYTES + 1024)}\r\n\r\n`,
      { timeoutMs: 5_000 },
    );
    assert.equal(statusOf(r.text), 431);
    assert.match(messageOf(r.text), /request header is too large/);
  });

  test('a URL over the limit is 414 with a message', async () => {
    const r = await swarmd.api('GET', `/v1.47/services?filters=${'a'.repeat(MAX_URL_BYTES + 10)}`);
    assert.equal(r.status, 414);
    assert.match(r.json<{ message: string }>().message, /request URI is too long/);
  });

  test('garbage instead of HTTP is 400 with a message', async () => {
    const r = await rawExchange('HELLO THERE\r\n\r\n', { timeoutMs: 5_000 });
    assert.equal(statusOf(r.text), 400);
    assert.match(messageOf(r.text), /malformed HTTP request/);
  });

  test('a chunked body that breaks off mid-request closes that connection and nothing else', async () => {
    const r = await rawExchange(
      'POST /v1.47/services/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"Nam\r\nZZZ\r\n',
      { timeoutMs: 5_000 },
    );
    // Either Docker's 400 for the body, or the connection closed without a second, garbled answer.
    assert.ok(r.text === '' || statusOf(r.text) === 400, r.text);
    assert.equal((r.text.match(/HTTP\/1\.1/g) ?? []).length <= 1, true, r.text);
    assert.deepEqual((await swarmd.api('GET', '/v1.47/services')).json(), []);
  });

  test('slowloris clients (headers dripped, a body stalled) are cut off with 408 within the timeout', async () => {
    const dripping = Array.from({ length: 50 }, () =>
      rawExchange('GET /v1.47/services HTTP/1.1\r\nHost: x\r\n', {
        drip: true,
        timeoutMs: HEADERS_TIMEOUT_MS + 5_000,
      }),
    );
    const stalled = rawExchange(
      'POST /v1.47/services/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"Name":',
      { timeoutMs: HEADERS_TIMEOUT_MS + 5_000 },
    );
    for (const r of await Promise.all(dripping)) {
      assert.ok(r.text === '' || statusOf(r.text) === 408, r.text.slice(0, 200));
      assert.ok(r.ms < HEADERS_TIMEOUT_MS + 2_000, `closed after ${r.ms} ms`);
    }
    const s = await stalled;
    assert.equal(statusOf(s.text), 408, s.text);
    assert.match(messageOf(s.text), /timed out reading the request body/);
  });

  test(`a client holds at most ${MAX_STREAMS_PER_CLIENT} open event/log streams; one more is 429, and a closed one frees its place`, async () => {
    const open: { destroy(): void }[] = [];
    try {
      for (let i = 0; i < MAX_STREAMS_PER_CLIENT; i++) {
        await new Promise<void>((resolve, reject) => {
          const req = request({ socketPath: swarmd.socket, path: '/v1.47/events' }, (res) => {
            assert.equal(res.statusCode, 200);
            open.push(req);
            resolve();
          });
          req.on('error', (e) => (open.includes(req) ? undefined : reject(e)));
          req.end();
        });
      }
      const refused = await swarmd.api('GET', '/v1.47/events');
      assert.equal(refused.status, 429);
      assert.match(refused.json<{ message: string }>().message, /too many open log and event streams/);
    } finally {
      for (const r of open) r.destroy();
    }
    // The server sees the closes shortly after.
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 50));
      status = await new Promise<number>((resolve) => {
        const req = request({ socketPath: swarmd.socket, path: '/v1.47/events?since=0&until=1' }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', () => resolve(0));
        req.end();
      });
    }
    assert.equal(status, 200);
  });

  test('throughout, /_ping answered within 100 ms', () => {
    assert.ok(pingTimes.length > 20, `only ${pingTimes.length} pings`);
    const worst = Math.max(...pingTimes);
    assert.ok(worst < 100, `slowest /_ping took ${worst.toFixed(1)} ms`);
  });
});
