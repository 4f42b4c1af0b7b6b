// A node's view of its overlays (pure): for each network its tasks use, the other nodes' task
// addresses with those nodes' underlay addresses, and the services on it (VIP, aliases, running
// tasks' names and addresses); finished or unplaced tasks are neither peers nor records.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NetworkAttachment, Service, Task } from '../../src/api/types.js';
import { networkViewsFor } from '../../src/manager/dispatcher/networkviews.js';
import { node, service, task } from './fixtures.js';

const api: Service = {
  ...service('api', {
    Name: 'api',
    TaskTemplate: {
      ContainerSpec: { Image: 'busybox' },
      Networks: [{ Target: 'skynet', Aliases: ['backend'] }],
    },
  }),
  Endpoint: { VirtualIPs: [{ NetworkID: 'skynet', Addr: '10.0.1.2/24' }] },
};
const on = (
  id: string,
  nodeId: string,
  addrs: Record<string, string>,
  state: Task['Status']['State'] = 'running',
) => ({
  ...task(id, api, { node: nodeId, state }),
  // Only the fields the views read: the network's ID and the task's addresses.
  NetworksAttachments: Object.entries(addrs).map(([net, addr]) => ({
    Network: { ID: net },
    Addresses: [addr],
  })) as unknown as NetworkAttachment[],
});

test('network views: remote peers with their node address, services with VIP, aliases and running tasks', () => {
  const nodes = new Map(
    [node('n1'), node('n2'), node('n3')].map((n, i) => [
      n.ID,
      { ...n, Status: { ...n.Status, Addr: `192.168.0.${i + 1}` } },
    ]),
  );
  const tasks = [
    on('a', 'n1', { skynet: '10.0.1.3/24' }),
    on('b', 'n2', { skynet: '10.0.1.4/24', other: '10.0.2.3/24' }),
    on('c', 'n3', { skynet: '10.0.1.5/24' }, 'starting'),
    on('d', 'n3', { skynet: '10.0.1.6/24' }, 'failed'),
    on('e', 'n2', { other: '10.0.2.4/24' }),
  ];
  const services = new Map([[api.ID, api]]);
  const views = networkViewsFor('n1', tasks, nodes, services);
  assert.deepEqual(Object.keys(views), ['skynet']);
  assert.deepEqual(views.skynet?.peers, [
    { ip: '10.0.1.4', nodeAddr: '192.168.0.2' },
    { ip: '10.0.1.5', nodeAddr: '192.168.0.3' },
  ]);
  assert.deepEqual(views.skynet?.services, [
    {
      id: 'api',
      name: 'api',
      aliases: ['backend'],
      vip: '10.0.1.2',
      tasks: [
        { name: 'api.1.a', ip: '10.0.1.3' },
        { name: 'api.1.b', ip: '10.0.1.4' },
      ],
    },
  ]);
  assert.deepEqual(Object.keys(networkViewsFor('n2', tasks, nodes, services)).sort(), ['other', 'skynet']);
  assert.deepEqual(networkViewsFor('n4', tasks, nodes, services), {});
});

test('network views: a task told to stop leaves the records at once but keeps its peer entry until it ends', () => {
  const nodes = new Map(
    [node('n1'), node('n2')].map((n, i) => [
      n.ID,
      { ...n, Status: { ...n.Status, Addr: `192.168.0.${i + 1}` } },
    ]),
  );
  const stopping = { ...on('s', 'n2', { skynet: '10.0.1.7/24' }), DesiredState: 'shutdown' as const };
  const removed = { ...on('r', 'n2', { skynet: '10.0.1.8/24' }), DesiredState: 'remove' as const };
  const tasks = [on('a', 'n1', { skynet: '10.0.1.3/24' }), stopping, removed];
  const views = networkViewsFor('n1', tasks, nodes, new Map([[api.ID, api]]));
  // Its container still holds the address (replies of connections already open still flow).
  assert.deepEqual(
    views.skynet?.peers.map((p) => p.ip),
    ['10.0.1.7', '10.0.1.8'],
  );
  // No new connection, name lookup or mesh request is sent to it.
  assert.deepEqual(
    views.skynet?.services[0]?.tasks.map((t) => t.ip),
    ['10.0.1.3'],
  );
});
