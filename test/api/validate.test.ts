import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withDefaults } from '../../src/api/defaults.js';
import { SwarmError } from '../../src/api/errors.js';
import { parseVersionParam, validateServiceSpec, validateSwarmSpec } from '../../src/api/validate.js';

const ok = {
  Name: 'web',
  TaskTemplate: { ContainerSpec: { Image: 'busybox:1' } },
  Mode: { Replicated: { Replicas: 2 } },
};

function rejects(body: unknown, pattern: RegExp) {
  assert.throws(
    () => validateServiceSpec(body),
    (e: unknown) => e instanceof SwarmError && e.httpStatus === 400 && pattern.test(e.message),
  );
}

test('a minimal service spec is accepted and unknown fields are dropped', () => {
  const spec = validateServiceSpec({ ...ok, SomeFutureField: { x: 1 } });
  assert.equal(spec.Name, 'web');
  assert.equal('SomeFutureField' in spec, false);
});

test('a replicated service without a count, or without a mode, is stored with 1 replica (as Docker reads it back)', () => {
  assert.deepEqual(validateServiceSpec({ ...ok, Mode: { Replicated: {} } }).Mode, {
    Replicated: { Replicas: 1 },
  });
  const { Mode: _m, ...noMode } = ok;
  assert.deepEqual(validateServiceSpec(noMode).Mode, { Replicated: { Replicas: 1 } });
  assert.deepEqual(validateServiceSpec({ ...ok, Mode: { Global: {} } }).Mode, { Global: {} });
  assert.deepEqual(validateServiceSpec(ok).Mode, { Replicated: { Replicas: 2 } });
});

test('JSON nulls are treated as unset, as Docker decodes them', () => {
  const spec = validateServiceSpec({
    ...ok,
    Labels: null,
    TaskTemplate: { ContainerSpec: { Image: 'bb', Env: null } },
  });
  assert.equal(spec.Labels, undefined);
});

test('bad service specs are rejected with a message naming the field', () => {
  rejects({ ...ok, Mode: { Replicated: { Replicas: -1 } } }, /Mode\.Replicated\.Replicas/);
  rejects(
    { ...ok, Mode: { Replicated: { Replicas: 'two' } } },
    /Mode\.Replicated\.Replicas: expected number/,
  );
  rejects({ ...ok, Name: 'a/b' }, /valid as a DNS name component/);
  rejects({ ...ok, Name: '..' }, /valid as a DNS name component/);
  rejects({ ...ok, Name: 'x'.repeat(64) }, /63 characters or fewer/);
  rejects({ ...ok, Name: undefined }, /name must be provided/);
  rejects({ ...ok, TaskTemplate: {} }, /ContainerSpec/);
  rejects({ ...ok, TaskTemplate: { ContainerSpec: { Image: '' } } }, /image reference must be provided/);
  rejects([], /must be a JSON object/);
  rejects('web', /must be a JSON object/);
  rejects(null, /request body is required/);
  rejects({ ...ok, Mode: { Replicated: {}, Global: {} } }, /exactly one/);
  rejects({ ...ok, EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 70000 }] } }, /PublishedPort/);
  rejects(
    {
      ...ok,
      EndpointSpec: {
        Ports: [
          { TargetPort: 80, PublishedPort: 8080 },
          { TargetPort: 81, PublishedPort: 8080 },
        ],
      },
    },
    /duplicate published ports/,
  );
  rejects(
    {
      ...ok,
      TaskTemplate: {
        ContainerSpec: { Image: 'bb', Mounts: [{ Type: 'bind', Source: 'rel', Target: '/x' }] },
      },
    },
    /absolute path/,
  );
  rejects(
    {
      ...ok,
      TaskTemplate: { ContainerSpec: { Image: 'bb' }, Placement: { Constraints: ['node.role=manager'] } },
    },
    /operator/,
  );
  rejects(
    { ...ok, TaskTemplate: { ContainerSpec: { Image: 'bb' }, Resources: { Limits: { MemoryBytes: 100 } } } },
    /at least 4MiB/,
  );
  rejects({ ...ok, UpdateConfig: { FailureAction: 'explode' } }, /UpdateConfig\.FailureAction/);
  rejects({ ...ok, Mode: { Replicated: { Replicas: 2 ** 40 } } }, /more than this swarm allows/);
});

test('insertDefaults fills in SwarmKit defaults without touching what was set', () => {
  const d = withDefaults(validateServiceSpec({ ...ok, UpdateConfig: { Parallelism: 2 } }));
  assert.equal(d.TaskTemplate.ContainerSpec?.StopGracePeriod, 10e9);
  assert.deepEqual(d.TaskTemplate.RestartPolicy, { Condition: 'any', Delay: 5e9, MaxAttempts: 0 });
  assert.equal(d.UpdateConfig?.Parallelism, 2);
  assert.equal(d.UpdateConfig?.Monitor, 5e9);
  assert.equal(d.RollbackConfig?.Order, 'stop-first');
  assert.equal('Delay' in (d.UpdateConfig ?? {}), false, 'a zero Delay is left out, as Go omits it');
  assert.equal(d.EndpointSpec, undefined, 'Docker adds no EndpointSpec (vip is the mode all the same)');
  assert.equal(d.TaskTemplate.Runtime, 'container');
  assert.equal(d.TaskTemplate.ContainerSpec?.Isolation, 'default');
  assert.deepEqual(d.TaskTemplate.ContainerSpec?.DNSConfig, {});
});

test('version parameters must be non-negative integers', () => {
  assert.equal(parseVersionParam('service', '12'), 12);
  for (const bad of [null, '', '-1', '1.5', 'abc']) {
    assert.throws(() => parseVersionParam('service', bad), /invalid service version/);
  }
});

test('swarm specs reject a certificate expiry under an hour', () => {
  assert.throws(
    () => validateSwarmSpec({ CAConfig: { NodeCertExpiry: 60e9 } }),
    /minimum certificate expiry/,
  );
  assert.equal(
    validateSwarmSpec({ Orchestration: { TaskHistoryRetentionLimit: 3 } }).Orchestration
      ?.TaskHistoryRetentionLimit,
    3,
  );
});
