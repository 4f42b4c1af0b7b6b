import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prettyService } from '../../src/cli/pretty.js';
import { ServiceSchema } from '../../src/cli/types.js';
import { serviceLsItem } from './fixtures.js';

test('service inspect --pretty matches docker 20.10 byte for byte (tabs included)', () => {
  // The recorded service with the defaults that insertDefaults=true adds.
  const defaults = {
    Parallelism: 1,
    FailureAction: 'pause',
    Monitor: 5e9,
    MaxFailureRatio: 0,
    Order: 'stop-first',
  };
  const service = ServiceSchema.parse({
    ...serviceLsItem,
    Spec: {
      ...serviceLsItem.Spec,
      TaskTemplate: {
        ...serviceLsItem.Spec.TaskTemplate,
        RestartPolicy: { Condition: 'any', Delay: 5e9, MaxAttempts: 0 },
      },
      UpdateConfig: defaults,
      RollbackConfig: defaults,
    },
  });
  assert.equal(
    prettyService(service),
    [
      '',
      'ID:\t\tt1mdmph27kpniy9bi3oskqncd',
      'Name:\t\tweb',
      'Service Mode:\tReplicated',
      ' Replicas:\t2',
      'Placement:',
      'UpdateConfig:',
      ' Parallelism:\t1',
      ' On failure:\tpause',
      ' Monitoring Period: 5s',
      ' Max failure ratio: 0',
      ' Update order:      stop-first',
      'RollbackConfig:',
      ' Parallelism:\t1',
      ' On failure:\tpause',
      ' Monitoring Period: 5s',
      ' Max failure ratio: 0',
      ' Rollback order:    stop-first',
      'ContainerSpec:',
      ' Image:\t\tbb:1',
      ' Args:\t\thttpd -f -p 80 ',
      ' Init:\t\tfalse',
      'Resources:',
      'Endpoint Mode:\tvip',
      'Ports:',
      ' PublishedPort = 8081',
      '  Protocol = tcp',
      '  TargetPort = 80',
      '  PublishMode = ingress ',
      '',
      '',
    ].join('\n'),
  );
});
