// The Networks stream's body as a remote node reads it: every field of a view comes through (a
// field the schema forgets would silently vanish: the mesh once lost its node address that way),
// and a malformed body is refused.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NetworkViews } from '../../src/agent/session.js';
import { parseNetworkViews } from '../../src/rpc/dispatcher-client.js';

test('a whole network view survives the trip; a malformed one is refused', () => {
  const views: NetworkViews = {
    ingressid: {
      peers: [{ ip: '10.0.0.3', nodeAddr: '192.168.0.2' }],
      services: [
        {
          id: 's1',
          name: 'web',
          aliases: ['www'],
          vip: '10.0.0.5',
          tasks: [{ name: 'web.1.t1', ip: '10.0.0.6' }],
          ports: [{ protocol: 'tcp', publishedPort: 8080, targetPort: 80 }],
        },
      ],
      vni: 4096,
      gateway: '10.0.0.1',
      mtu: 1400,
      self: '10.0.0.2/24',
    },
  };
  assert.deepEqual(parseNetworkViews(Buffer.from(JSON.stringify(views))), views);
  assert.equal(parseNetworkViews(Buffer.from('{"x":{"peers":[{"ip":"nope"}]}}')), undefined);
  assert.equal(parseNetworkViews(Buffer.from('not json')), undefined);
});
