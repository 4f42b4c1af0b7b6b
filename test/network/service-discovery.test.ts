// Service discovery, the pure parts: which names the embedded DNS answers for a task (its networks
// only; VIP or task addresses; tasks.NAME; aliases; task names) and the per-task nft table (DNS
// redirect and VIP balancing), checked by nft itself without applying it; and the DNS worker's
// socket on loopback.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { test } from 'node:test';
import dnsPacket from 'dns-packet';
import type { NetworkView } from '../../src/agent/session.js';
import { answerQuery, EmbeddedDns, resolveName } from '../../src/network/dns.js';
import { renderTaskServiceRules, vipsOf } from '../../src/network/service-rules.js';

const skynet: NetworkView = {
  peers: [],
  services: [
    {
      id: 's1',
      name: 'api',
      aliases: ['backend'],
      vip: '10.0.1.2',
      tasks: [
        { name: 'api.1.t1', ip: '10.0.1.3' },
        { name: 'api.2.t2', ip: '10.0.1.4' },
      ],
    },
    { id: 's2', name: 'db', aliases: [], tasks: [{ name: 'db.1.t3', ip: '10.0.1.5' }] },
  ],
};
const other: NetworkView = {
  peers: [],
  services: [{ id: 's3', name: 'secret', aliases: [], vip: '10.0.2.2', tasks: [] }],
};

test('names: service → VIP, dnsrr service → tasks, tasks.NAME and aliases, task names, other networks unseen', () => {
  assert.deepEqual(resolveName('api', [skynet]), ['10.0.1.2']);
  assert.deepEqual(resolveName('API.', [skynet]), ['10.0.1.2']);
  assert.deepEqual(resolveName('backend', [skynet]), ['10.0.1.2']);
  assert.deepEqual(resolveName('tasks.api', [skynet]), ['10.0.1.3', '10.0.1.4']);
  assert.deepEqual(resolveName('tasks.backend', [skynet]), ['10.0.1.3', '10.0.1.4']);
  assert.deepEqual(resolveName('db', [skynet]), ['10.0.1.5'], 'no VIP: the tasks');
  assert.deepEqual(resolveName('api.2.t2', [skynet]), ['10.0.1.4']);
  assert.equal(resolveName('secret', [skynet]), undefined);
  assert.deepEqual(resolveName('secret', [skynet, other]), ['10.0.2.2']);
  assert.equal(resolveName('example.com', [skynet]), undefined);
});

test('answers: A records with the addresses; AAAA of a known name is empty; unknown names are forwarded', () => {
  const ask = (name: string, type: 'A' | 'AAAA') =>
    dnsPacket.decode(dnsPacket.encode({ type: 'query', id: 7, questions: [{ type, name }] }));
  const a = dnsPacket.decode(answerQuery(ask('tasks.api', 'A'), [skynet]) as Buffer);
  assert.equal(a.id, 7);
  assert.deepEqual(
    a.answers?.map((x) => (x as { data: string }).data),
    ['10.0.1.3', '10.0.1.4'],
  );
  const aaaa = dnsPacket.decode(answerQuery(ask('api', 'AAAA'), [skynet]) as Buffer);
  assert.deepEqual(aaaa.answers, []);
  assert.equal(answerQuery(ask('example.com', 'A'), [skynet]), undefined);
});

test('per-task rules: DNS redirect, one balancing chain per VIP with tasks; nft accepts the script', () => {
  const script = renderTaskServiceRules({
    dnsAddr: '172.31.0.1',
    taskAddr: '172.31.0.5',
    vips: vipsOf([skynet, other]),
  });
  assert.match(script, /ip daddr 127\.0\.0\.11 udp dport 53 dnat to 172\.31\.0\.1:53/);
  assert.match(script, /ip daddr 10\.0\.1\.2 jump vip_0/);
  assert.match(script, /dnat to numgen inc mod 2 map \{ 0 : 10\.0\.1\.3, 1 : 10\.0\.1\.4 \}/);
  assert.doesNotMatch(script, /10\.0\.2\.2/, 'a VIP without running tasks is left alone');
  // `nft -c` checks without applying; the first two lines need the table to exist, so check the body.
  const body = script.split('\n').slice(2).join('\n');
  const r = spawnSync('nft', ['-c', '-f', '-'], { input: body });
  assert.equal(r.status, 0, r.stderr.toString());
});

test('the embedded DNS worker answers its clients from the table it is sent, and forwards the rest (here: no resolver, NXDOMAIN)', async () => {
  const port = 20000 + Math.floor(Math.random() * 20000);
  let asked = 0;
  const dns = new EmbeddedDns({
    address: '127.0.0.1',
    port,
    upstream: async () => {
      asked++;
      return [];
    },
  });
  await dns.start();
  const ask = async (from: string, name: string) => {
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, from, r));
    try {
      return await new Promise<ReturnType<typeof dnsPacket.decode>>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no answer')), 2000);
        s.on('message', (m) => {
          clearTimeout(t);
          resolve(dnsPacket.decode(m));
        });
        s.send(
          dnsPacket.encode({ type: 'query', id: 7, questions: [{ type: 'A', name }] }),
          port,
          '127.0.0.1',
        );
      });
    } finally {
      s.close();
    }
  };
  try {
    dns.setClients({ '127.0.0.1': [skynet] });
    const known = await ask('127.0.0.1', 'api');
    assert.deepEqual(
      known.answers?.map((a) => (a as { data: string }).data),
      ['10.0.1.2'],
    );
    // A source the table does not list sees no swarm name: forwarded, and no resolver is known.
    const stranger = await ask('127.0.0.2', 'api');
    assert.equal((stranger.flags ?? 0) & 0xf, 3, 'NXDOMAIN');
    assert.equal(asked, 1);
    dns.setClients({});
    assert.equal(((await ask('127.0.0.1', 'api')).flags ?? 0) & 0xf, 3, 'a client taken out is a stranger');
  } finally {
    dns.close();
  }
});
