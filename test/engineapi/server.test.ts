import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { noLeader, notFound } from '../../src/api/errors.js';
import { sendJSON } from '../../src/engineapi/router.js';
import { compareVersions, EngineServer, splitVersion } from '../../src/engineapi/server.js';

const dir = mkdtempSync(join(tmpdir(), 'skt-api-'));
const sock = join(dir, 'api.sock');
const server = new EngineServer({
  serverName: 'swarmd-test',
  routes: [
    {
      method: 'GET',
      path: '/things/:id',
      handler: ({ res, params }) => sendJSON(res, 200, { id: params.id }),
    },
    {
      method: 'GET',
      path: '/images/:name*/json',
      handler: ({ res, params }) => sendJSON(res, 200, { name: params.name }),
    },
    {
      method: 'GET',
      path: '/missing',
      handler: () => {
        throw notFound('thing x not found');
      },
    },
    {
      method: 'POST',
      path: '/services/create',
      handler: () => {
        throw noLeader();
      },
    },
    {
      method: 'POST',
      path: '/echo',
      handler: async ({ res, json }) => sendJSON(res, 200, await json()),
      maxBody: 1024,
    },
  ],
});

function call(
  method: string,
  path: string,
  body?: string | Buffer,
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath: sock, method, path, headers: body ? { 'Content-Type': 'application/json' } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString(),
            headers: res.headers,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

before(() => server.listen(sock));
after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

test('versioned and unversioned paths reach the same route', async () => {
  for (const p of ['/things/a', '/v1.41/things/a', '/v1.24/things/a', '/v1.47/things/a']) {
    const r = await call('GET', p);
    assert.equal(r.status, 200, p);
    assert.deepEqual(JSON.parse(r.body), { id: 'a' });
    assert.equal(r.headers['api-version'], '1.47');
  }
});

test('API versions outside 1.24..1.47 are refused with Docker wording', async () => {
  const hi = await call('GET', '/v1.99/things/a');
  assert.equal(hi.status, 400);
  assert.match(
    JSON.parse(hi.body).message,
    /client version 1.99 is too new. Maximum supported API version is 1.47/,
  );
  const lo = await call('GET', '/v1.12/things/a');
  assert.equal(lo.status, 400);
  assert.match(JSON.parse(lo.body).message, /too old/);
  assert.equal(compareVersions('1.9', '1.10'), -1);
  assert.equal(splitVersion('/v1.41/x').path, '/x');
});

test('image names with slashes are captured by a rest parameter', async () => {
  const r = await call('GET', '/images/localhost:5000/busybox:1/json');
  assert.deepEqual(JSON.parse(r.body), { name: 'localhost:5000/busybox:1' });
});

test('errors become {"message"} with their status; unknown paths are 404', async () => {
  const r = await call('GET', '/missing');
  assert.equal(r.status, 404);
  assert.deepEqual(JSON.parse(r.body), { message: 'thing x not found' });
  assert.equal((await call('GET', '/nope')).status, 404);
  const malformed = await call('GET', '/things/%ZZ');
  assert.equal(malformed.status, 400);
  assert.match(JSON.parse(malformed.body).message, /malformed URL path segment/);
});

test("a write without a quorum is Docker's 500 with its no-leader text", async () => {
  const r = await call('POST', '/v1.41/services/create', '{}');
  assert.equal(r.status, 500);
  assert.deepEqual(JSON.parse(r.body), {
    message:
      "rpc error: code = Unknown desc = The swarm does not have a leader. It's possible that too few managers are online. Make sure more than half of the managers are online.",
  });
});

test('bad JSON and oversized bodies get a 4xx naming the problem', async () => {
  const bad = await call('POST', '/echo', '{"a":');
  assert.equal(bad.status, 400);
  assert.match(JSON.parse(bad.body).message, /invalid JSON/);
  const big = await call('POST', '/echo', Buffer.alloc(4096, 0x20));
  assert.equal(big.status, 413);
  assert.match(JSON.parse(big.body).message, /too large/);
});
