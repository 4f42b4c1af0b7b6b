import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  NODE_TABLE,
  nodeRow,
  renderTable,
  SERVICE_TABLE,
  serviceRow,
  TASK_TABLE,
  type TaskContext,
  taskRows,
} from '../../src/cli/formatters.js';
import { NodeSchema, ServiceSchema, type Task, TaskSchema } from '../../src/cli/types.js';
import { nodeSelf, serviceLsItem, taskNoImage, taskRunning, taskUnschedulable } from './fixtures.js';

// Expected texts are copied byte for byte from docker-cli-outputs.md (20.10.24).

test('service ls matches docker for the recorded service', () => {
  const service = ServiceSchema.parse(serviceLsItem);
  assert.equal(
    renderTable(SERVICE_TABLE, [serviceRow(service)]),
    'ID             NAME      MODE         REPLICAS   IMAGE     PORTS\n' +
      't1mdmph27kpn   web       replicated   2/2        bb:1      *:8081->80/tcp\n',
  );
});

test('service ls -q and --format print one line per service without a header', () => {
  const service = ServiceSchema.parse(serviceLsItem);
  assert.equal(renderTable(SERVICE_TABLE, [serviceRow(service)], '{{.ID}}'), 't1mdmph27kpn\n');
  assert.equal(renderTable(SERVICE_TABLE, [serviceRow(service)], '{{.Name}}: {{.Replicas}}'), 'web: 2/2\n');
});

test('node ls stars the current node and matches docker', () => {
  const node = NodeSchema.parse(nodeSelf);
  assert.equal(
    renderTable(NODE_TABLE, [nodeRow(node, node.ID)]),
    'ID                            HOSTNAME   STATUS    AVAILABILITY   MANAGER STATUS   ENGINE VERSION\n' +
      'esllzp6ulhjbq2vgojw97rby5 *   vm         Ready     Active         Leader           20.10.24+dfsg1\n',
  );
});

function ctx(serviceId: string, name: string, now: number, noTrunc = false): TaskContext {
  return {
    serviceNames: new Map([[serviceId, name]]),
    globalServices: new Set(),
    nodeNames: new Map([['esllzp6ulhjbq2vgojw97rby5', 'vm']]),
    now,
    noTrunc,
  };
}

test('service ps of an unschedulable task quotes and truncates the error like docker', () => {
  const task = TaskSchema.parse(taskUnschedulable);
  const now = Date.parse(task.Status.Timestamp ?? '') + 12_300;
  const c = ctx(task.ServiceID, 'x', now);
  assert.equal(
    renderTable(TASK_TABLE, taskRows([task], c)),
    'ID             NAME      IMAGE     NODE      DESIRED STATE   CURRENT STATE            ERROR                              PORTS\n' +
      '92anmv296v3u   x.1       bb:1                Running         Pending 12 seconds ago   "no suitable node (scheduling …"   \n',
  );
  assert.equal(
    renderTable(TASK_TABLE, taskRows([task], { ...c, noTrunc: true })),
    'ID                          NAME      IMAGE     NODE      DESIRED STATE   CURRENT STATE            ERROR                                                                 PORTS\n' +
      '92anmv296v3ulqaxbuhgsa86h   x.1       bb:1                Running         Pending 12 seconds ago   "no suitable node (scheduling constraints not satisfied on 1 node)"   \n',
  );
});

test('service ps puts older tasks of a slot under the newest, indented', () => {
  const base = TaskSchema.parse(taskNoImage);
  const at = (id: string, secondsAgo: number, desired: string): Task => {
    const ts = new Date(Date.parse('2026-11-23T08:00:51Z') - secondsAgo * 1000).toISOString();
    return {
      ...base,
      ID: id,
      CreatedAt: ts,
      DesiredState: desired,
      Status: { ...base.Status, Timestamp: ts },
    };
  };
  const tasks = [
    at('z12el0y9ornguykwkxf9kte9o', 12, 'shutdown'),
    at('4fnskr4qj7pozc69qztc69but', 1, 'ready'),
    at('xrmnrxour07bbftawf1jef6tr', 11, 'shutdown'),
    at('fhrqrll97g15m98euut5ive4h', 6, 'shutdown'),
  ];
  const c = ctx(base.ServiceID, 'noimg', Date.parse('2026-11-23T08:00:51.2Z'));
  assert.equal(
    renderTable(TASK_TABLE, taskRows(tasks, c)),
    'ID             NAME          IMAGE           NODE      DESIRED STATE   CURRENT STATE             ERROR                            PORTS\n' +
      '4fnskr4qj7po   noimg.1       nosuchimage:1   vm        Ready           Rejected 1 second ago     "No such image: nosuchimage:1"   \n' +
      'fhrqrll97g15    \\_ noimg.1   nosuchimage:1   vm        Shutdown        Rejected 6 seconds ago    "No such image: nosuchimage:1"   \n' +
      'xrmnrxour07b    \\_ noimg.1   nosuchimage:1   vm        Shutdown        Rejected 11 seconds ago   "No such image: nosuchimage:1"   \n' +
      'z12el0y9orng    \\_ noimg.1   nosuchimage:1   vm        Shutdown        Rejected 12 seconds ago   "No such image: nosuchimage:1"   \n',
  );
});

test('service ps of a running task says "Running less than a second ago"', () => {
  const task = TaskSchema.parse(taskRunning);
  const c = ctx(task.ServiceID, 'web', Date.parse(task.Status.Timestamp ?? '') + 300);
  const [row] = taskRows([task], c);
  assert.equal(row?.CurrentState, 'Running less than a second ago');
  assert.equal(row?.Name, 'web.1');
  assert.equal(row?.Node, 'vm');
});
