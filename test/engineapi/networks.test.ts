// docker network inspect --verbose: the Services of a network, from the services, tasks and nodes
// a manager knows (pure).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Node, Service, Task } from '../../src/api/types.js';
import { networkServices } from '../../src/engineapi/networks.js';

const NET = 'net1';
const INGRESS = 'ingress1';

const attachment = (id: string, address: string, ingress = false) =>
  ({
    Network: {
      ID: id,
      Spec: { Name: id, Labels: {}, Ingress: ingress },
      DriverState: { Name: 'overlay', Options: {} },
      IPAMOptions: { Driver: { Name: 'default' }, Configs: [] },
    },
    Addresses: [address],
  }) satisfies Task['NetworksAttachments'] extends (infer A)[] | undefined ? A : never;

function service(id: string, name: string, extra: Partial<Service> = {}): Service {
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: '',
    UpdatedAt: '',
    Spec: { Name: name, TaskTemplate: { Networks: [{ Target: NET }] } },
    ...extra,
  } as Service;
}

function task(
  id: string,
  serviceId: string,
  slot: number,
  nodeId: string,
  state: string,
  attachments: ReturnType<typeof attachment>[],
): Task {
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: '',
    UpdatedAt: '',
    ServiceID: serviceId,
    Slot: slot,
    NodeID: nodeId,
    Spec: {},
    Status: { State: state, Timestamp: '' },
    DesiredState: 'running',
    NetworksAttachments: attachments,
  } as unknown as Task;
}

const nodes = [
  { ID: 'n1', Status: { State: 'ready', Addr: '192.168.1.1' } },
  { ID: 'n2', Status: { State: 'ready', Addr: '192.168.1.2' } },
] as unknown as Node[];

describe('network inspect --verbose', () => {
  test('each service on the network with its VIP, mesh ports on ingress, and running tasks with their node', () => {
    const api = service('s1', 'api', {
      Endpoint: {
        Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }],
        VirtualIPs: [
          { NetworkID: NET, Addr: '10.0.1.2/24' },
          { NetworkID: INGRESS, Addr: '10.0.0.2/24' },
        ],
      },
    });
    const rr = service('s2', 'rr', {
      Spec: { Name: 'rr', TaskTemplate: { Networks: [{ Target: NET }] }, EndpointSpec: { Mode: 'dnsrr' } },
    });
    const other = service('s3', 'other', {
      Spec: { Name: 'other', TaskTemplate: { Networks: [{ Target: 'net2' }] } },
    });
    const tasks = [
      task('t2', 's1', 2, 'n2', 'running', [
        attachment(NET, '10.0.1.4/24'),
        attachment(INGRESS, '10.0.0.4/24', true),
      ]),
      task('t1', 's1', 1, 'n1', 'running', [
        attachment(NET, '10.0.1.3/24'),
        attachment(INGRESS, '10.0.0.3/24', true),
      ]),
      task('t3', 's1', 3, 'n1', 'failed', [attachment(NET, '10.0.1.5/24')]),
      task('t4', 's2', 1, 'n2', 'running', [attachment(NET, '10.0.1.6/24')]),
    ];
    const out = networkServices(NET, [rr, other, api], tasks, nodes);
    assert.deepEqual(Object.keys(out), ['api', 'rr']);
    assert.deepEqual(out.api, {
      VIP: '10.0.1.2',
      Ports: [],
      LocalLBIndex: 0,
      Tasks: [
        { Name: 'api.1.t1', EndpointID: '', EndpointIP: '10.0.1.3', Info: { 'Host IP': '192.168.1.1' } },
        { Name: 'api.2.t2', EndpointID: '', EndpointIP: '10.0.1.4', Info: { 'Host IP': '192.168.1.2' } },
      ],
    });
    assert.equal(out.rr?.VIP, '', 'dnsrr: no VIP');
    assert.deepEqual(
      out.rr?.Tasks.map((t) => t.EndpointIP),
      ['10.0.1.6'],
    );
    const onIngress = networkServices(INGRESS, [api], tasks, nodes);
    assert.deepEqual(onIngress.api?.Ports, ['Target: 80, Publish: 8080']);
    assert.equal(onIngress.api?.VIP, '10.0.0.2');
  });
});
