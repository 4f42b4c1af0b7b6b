// A task's secret and config files from the node's payloads (pure): targets, owners and modes as
// Docker sets them, templates rendered per task, and a clear error for a payload the node lacks.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { taskFiles } from '../../src/agent/taskfiles.js';
import type { ExecutorTask } from '../../src/executor/types.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const node = { id: 'n1', hostname: 'worker-1', os: 'linux', architecture: 'x86_64' };
const task: ExecutorTask = {
  ID: 't1',
  ServiceID: 's1',
  ServiceName: 'db',
  Slot: 2,
  NodeID: 'n1',
  Spec: {
    ContainerSpec: {
      Image: 'busybox',
      Env: ['MODE=prod'],
      Secrets: [
        { SecretID: 'sec1', SecretName: 'db_pw' },
        {
          SecretID: 'sec1',
          SecretName: 'db_pw',
          File: { Name: 'alt', UID: '1000', GID: '1001', Mode: 0o400 },
        },
      ],
      Configs: [
        { ConfigID: 'cfg1', ConfigName: 'app', File: { Name: '/etc/app.conf' } },
        { ConfigID: 'cfg2', ConfigName: 'plain' },
      ],
    },
  },
};
const payloads = {
  secrets: { sec1: { name: 'db_pw', data: b64('pw') } },
  configs: {
    cfg1: {
      name: 'app',
      data: b64(
        '{{ .Service.Name }}.{{ .Task.Slot }} on {{ .Node.Hostname }} {{ env "MODE" }} {{ secret "alt" }}',
      ),
      templating: 'golang',
    },
    cfg2: { name: 'plain', data: b64('{{ not a template }}') },
  },
};

test('secrets under /run/secrets (0444, root by default), configs at their targets, templates rendered', () => {
  const files = taskFiles(task, payloads, node);
  assert.deepEqual(
    files.map((f) => [f.target, f.data.toString(), f.uid, f.gid, f.mode.toString(8)]),
    [
      ['/run/secrets/db_pw', 'pw', 0, 0, '444'],
      ['/run/secrets/alt', 'pw', 1000, 1001, '400'],
      ['/etc/app.conf', 'db.2 on worker-1 prod pw', 0, 0, '444'],
      ['/plain', '{{ not a template }}', 0, 0, '444'],
    ],
  );
});

test('a payload the node does not hold is a clear error naming it', () => {
  assert.throws(
    () => taskFiles(task, { secrets: {}, configs: payloads.configs }, node),
    /secret db_pw not found on this node/,
  );
});
