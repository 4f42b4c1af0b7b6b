// The Engine API's unix socket: a stale socket file is replaced, a live one (another daemon, e.g.
// dockerd on /var/run/docker.sock) is never taken over, and closing removes the socket swarmd made.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { EngineServer } from '../../src/engineapi/server.js';
import { apiCall } from '../helpers/swarmd.js';

const dir = mkdtempSync(join(tmpdir(), 'skt-sock-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const engine = () =>
  new EngineServer({
    serverName: 'test',
    routes: [{ method: 'GET', path: '/_ping', handler: (ctx) => void ctx.res.end('OK') }],
  });

test('a live socket is refused and keeps answering; a stale one is replaced; close removes ours', async () => {
  const path = join(dir, 'docker.sock');
  const other = createServer((c) => c.end());
  await new Promise<void>((r) => other.listen(path, () => r()));
  try {
    await assert.rejects(
      engine().listen(path),
      /another daemon is listening on .*docker\.sock \(is dockerd running\?\)/,
    );
    assert.ok(existsSync(path), "the other daemon's socket was removed");
  } finally {
    await new Promise<void>((r) => other.close(() => r()));
  }
  writeFileSync(path, ''); // a leftover file nobody listens on
  const ours = engine();
  await ours.listen(path);
  assert.equal((await apiCall(path, 'GET', '/_ping')).body, 'OK');
  await ours.close();
  assert.equal(existsSync(path), false);
});
