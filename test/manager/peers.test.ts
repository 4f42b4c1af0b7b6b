// A node's overlay peers (pure): for each network its tasks use, the other nodes' task addresses with
// those nodes' underlay addresses; finished or unplaced tasks are not peers, nor networks it does not use.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Task } from '../../src/api/types.js';
import { peersFor } from '../../src/manager/dispatcher/peers.js';
import { node, service, task } from './fixtures.js';

const svc = service('api');
const on = (
  id: string,
  nodeId: string,
  addrs: Record<string, string>,
  state: Task['Status']['State'] = 'running',
) => ({
  ...task(id, svc, { node: nodeId, state }),
  NetworksAttachments: Object.entries(addrs).map(([net, addr]) => ({
    Network: { ID: net },
    Addresses: [addr],
  })),
});

test('peers: remote tasks on the networks the node uses, with their node address', () => {
  const nodes = new Map(
    [node('n1'), node('n2'), node('n3')].map((n, i) => [
      n.ID,
      { ...n, Status: { ...n.Status, Addr: `192.168.0.${i + 1}` } },
    ]),
  );
  const tasks = [
    on('a', 'n1', { skynet: '10.0.1.3/24' }),
    on('b', 'n2', { skynet: '10.0.1.4/24', other: '10.0.2.3/24' }),
    on('c', 'n3', { skynet: '10.0.1.5/24' }),
    on('d', 'n3', { skynet: '10.0.1.6/24' }, 'failed'),
    on('e', 'n2', { other: '10.0.2.4/24' }),
  ];
  assert.deepEqual(peersFor('n1', tasks, nodes), {
    skynet: [
      { ip: '10.0.1.4', nodeAddr: '192.168.0.2' },
      { ip: '10.0.1.5', nodeAddr: '192.168.0.3' },
    ],
  });
  assert.deepEqual(Object.keys(peersFor('n2', tasks, nodes)).sort(), ['other', 'skynet']);
  assert.deepEqual(peersFor('n2', tasks, nodes).other, []);
  assert.deepEqual(peersFor('n4', tasks, nodes), {});
});
