// swarmctl and join tokens that expire (ours, beyond Docker): `--token-ttl` on swarm init and update,
// the extra line of `swarm join-token`, and the TTL in `info`.
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import { prettyInfo } from '../../src/cli/pretty.js';
import { type FakeEngine, runSwarmctl, startFakeEngine } from './fakeengine.js';
import { nodeSelf, swarm } from './fixtures.js';

const DAY_NS = 24 * 3600e9;
const ISSUED = '2030-01-01T00:00:00.000Z';
const WORKER_TOKEN = swarm.JoinTokens.Worker;
let engine: FakeEngine;
let cluster: Record<string, unknown>;

before(async () => {
  engine = await startFakeEngine((req) => {
    if (req.path === '/swarm') return { status: 200, body: cluster };
    if (req.path === '/swarm/update' || req.path === '/swarm/init')
      return { status: 200, body: req.path === '/swarm/init' ? nodeSelf.ID : undefined };
    if (req.path === '/info')
      return {
        status: 200,
        body: { Swarm: { NodeID: nodeSelf.ID, LocalNodeState: 'active', ControlAvailable: true } },
      };
    if (req.path === `/nodes/${nodeSelf.ID}`) return { status: 200, body: nodeSelf };
    return undefined;
  });
});
after(async () => {
  await engine.close();
});
beforeEach(() => {
  cluster = { ...swarm, JoinTokenTTL: DAY_NS, JoinTokensIssuedAt: { Worker: ISSUED, Manager: ISSUED } };
  engine.requests.length = 0;
});

const at = (iso: string) => () => Date.parse(iso);
const dockerText = `To add a worker to this swarm, run the following command:\n\n    swarmctl swarm join --token ${WORKER_TOKEN} 127.0.0.1:2377\n\n`;

test("join-token says when the token expires, after Docker's text", async () => {
  const r = await runSwarmctl(['--socket', engine.socketPath, 'swarm', 'join-token', 'worker'], {
    now: at('2030-01-01T01:00:00Z'),
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${dockerText}This token expires at 2030-01-02T00:00:00Z (in 23 hours).\n\n`);
});

test('an expired token is shown with how to rotate it; -q prints only the token', async () => {
  const r = await runSwarmctl(['--socket', engine.socketPath, 'swarm', 'join-token', 'worker'], {
    now: at('2030-01-03T00:00:00Z'),
  });
  assert.equal(
    r.stdout,
    `${dockerText}This token expired at 2030-01-02T00:00:00Z. Rotate it with "swarmctl swarm join-token --rotate worker".\n\n`,
  );
  const q = await runSwarmctl(['--socket', engine.socketPath, 'swarm', 'join-token', '-q', 'worker'], {
    now: at('2030-01-03T00:00:00Z'),
  });
  assert.equal(q.stdout, `${WORKER_TOKEN}\n`);
});

test("without a TTL, or for a token from before TTLs, join-token prints Docker's text alone", async () => {
  cluster = { ...swarm };
  const r = await runSwarmctl(['--socket', engine.socketPath, 'swarm', 'join-token', 'worker']);
  assert.equal(r.stdout, dockerText);
  cluster = { ...swarm, JoinTokenTTL: DAY_NS, JoinTokensIssuedAt: { Manager: ISSUED } };
  const old = await runSwarmctl(['--socket', engine.socketPath, 'swarm', 'join-token', 'worker']);
  assert.equal(old.stdout, dockerText);
});

test('swarm update --token-ttl sends joinTokenTTL in ns with the spec unchanged; without it, none', async () => {
  const r = await runSwarmctl(['--socket', engine.socketPath, 'swarm', 'update', '--token-ttl', '24h']);
  assert.equal(r.code, 0, r.stderr);
  const write = engine.requests.find((q) => q.path === '/swarm/update');
  assert.equal(write?.query.get('joinTokenTTL'), String(DAY_NS));
  assert.deepEqual(JSON.parse(write?.body ?? '{}'), swarm.Spec);
  engine.requests.length = 0;
  await runSwarmctl(['--socket', engine.socketPath, 'swarm', 'update', '--cert-expiry', '48h']);
  assert.equal(engine.requests.find((q) => q.path === '/swarm/update')?.query.has('joinTokenTTL'), false);
  engine.requests.length = 0;
  await runSwarmctl(['--socket', engine.socketPath, 'swarm', 'update', '--token-ttl', '0']);
  assert.equal(engine.requests.find((q) => q.path === '/swarm/update')?.query.get('joinTokenTTL'), '0');
});

test('swarm init --token-ttl sends JoinTokenTTL in the init body', async () => {
  const r = await runSwarmctl(['--socket', engine.socketPath, 'swarm', 'init', '--token-ttl', '1h30m'], {
    now: at('2030-01-01T00:00:00Z'),
  });
  assert.equal(r.code, 0, r.stderr);
  const init = engine.requests.find((q) => q.path === '/swarm/init');
  assert.equal(JSON.parse(init?.body ?? '{}').JoinTokenTTL, 5400e9);
  assert.match(r.stdout, /This token expires at 2030-01-02T00:00:00Z \(in 24 hours\)\./);
});

test('info shows the join token TTL only when one is set', () => {
  const info = (c: Record<string, unknown>) =>
    prettyInfo({ Swarm: { LocalNodeState: 'active', ControlAvailable: true, Cluster: c } }, 'default');
  assert.match(info({ ...swarm, JoinTokenTTL: DAY_NS }), /\n {2}Join Token TTL: 24h0m0s\n/);
  assert.doesNotMatch(info({ ...swarm }), /Join Token TTL/);
});
