// The stack deploy plan (pure): what is created, updated (with the fields that differ), left alone
// or pruned; depends_on waves; external objects that must exist; the dry-run report.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type CurrentStack,
  type DesiredStack,
  dependencyWaves,
  planStack,
  renderPlan,
  specDiff,
} from '../../src/stack/plan.js';

const web = {
  Name: 'app_web',
  Labels: { 'com.docker.stack.namespace': 'app' },
  TaskTemplate: { ContainerSpec: { Image: 'bb:1', Args: ['httpd'] } },
};
const desired: DesiredStack = {
  networks: [
    { name: 'app_default', external: false, create: {} },
    { name: 'shared', external: true },
  ],
  secrets: [{ name: 'app_pw', external: false, create: { Name: 'app_pw', Data: 'cHc=' } }],
  configs: [{ name: 'app_conf', external: false, create: { Name: 'app_conf', Data: 'YT0x' } }],
  services: [
    { name: 'app_web', spec: web, dependsOn: [{ service: 'app_db', condition: 'service_healthy' }] },
    {
      name: 'app_db',
      spec: { Name: 'app_db', TaskTemplate: { ContainerSpec: { Image: 'db:1' } } },
      dependsOn: [],
    },
  ],
};
const empty: CurrentStack = { networks: [{ name: 'shared' }], secrets: [], configs: [], services: [] };

test('a first deploy creates everything, the dependency first', () => {
  const plan = planStack('app', desired, empty, false);
  assert.deepEqual(plan.createNetworks, ['app_default']);
  assert.deepEqual(plan.createSecrets, ['app_pw']);
  assert.deepEqual(plan.createConfigs, ['app_conf']);
  assert.deepEqual(plan.createServices, ['app_web', 'app_db']);
  assert.deepEqual(plan.waves, [['app_db'], ['app_web']]);
  assert.match(renderPlan(plan), /Would create network app_default\nWould create secret app_pw/);
});

test('a redeploy changes nothing; an image change updates that service only, naming the field; prune removes the rest', () => {
  const current: CurrentStack = {
    networks: [{ name: 'shared' }, { name: 'app_default' }],
    secrets: [{ name: 'app_pw' }],
    configs: [{ name: 'app_conf', data: 'YT0x' }],
    services: [
      {
        id: 'w',
        name: 'app_web',
        version: 3,
        spec: { ...web, Mode: {}, EndpointSpec: { Ports: [] } },
        stack: 'app',
      },
      { id: 'd', name: 'app_db', version: 4, spec: desired.services[1]?.spec ?? {}, stack: 'app' },
      { id: 'o', name: 'app_old', version: 1, spec: {}, stack: 'app' },
    ],
  };
  const same = planStack('app', desired, current, false);
  assert.deepEqual([same.createServices, same.updateServices, same.removeServices], [[], [], []]);
  assert.equal(renderPlan(same), 'Nothing would change\n');
  const bumped = structuredClone(desired);
  const bumpedWeb = bumped.services[0];
  assert.ok(bumpedWeb);
  (bumpedWeb.spec as typeof web).TaskTemplate.ContainerSpec.Image = 'bb:2';
  const plan = planStack('app', bumped, current, true);
  assert.deepEqual(plan.updateServices, [{ name: 'app_web', fields: ['TaskTemplate.ContainerSpec.Image'] }]);
  assert.deepEqual(plan.removeServices, ['app_old']);
  assert.equal(
    renderPlan(plan),
    'Would update service app_web:\n  TaskTemplate.ContainerSpec.Image\nWould remove service app_old\n',
  );
  const changedConfig = planStack(
    'app',
    desired,
    { ...current, configs: [{ name: 'app_conf', data: 'YT0y' }] },
    false,
  );
  assert.deepEqual(changedConfig.changedConfigs, ['app_conf']);
});

test('an external object that does not exist is an error naming it; a depends_on cycle is an error', () => {
  assert.throws(
    () => planStack('app', desired, { ...empty, networks: [] }, false),
    /network shared declared as external, but could not be found/,
  );
  assert.throws(
    () =>
      dependencyWaves([
        { name: 'a', spec: {}, dependsOn: [{ service: 'b', condition: 'service_started' }] },
        { name: 'b', spec: {}, dependsOn: [{ service: 'a', condition: 'service_started' }] },
      ]),
    /cycle among: a, b/,
  );
});

test('specDiff treats absent, empty and zero values alike, ignores key order, not array order', () => {
  assert.deepEqual(specDiff({ a: { b: [] }, c: '', d: 0 }, { a: {} }), []);
  assert.deepEqual(specDiff({ args: ['a', 'b'] }, { args: ['b', 'a'] }), ['args[0]', 'args[1]']);
  assert.deepEqual(
    specDiff({ n: [{ Target: 'x', Aliases: ['w'] }] }, { n: [{ Aliases: ['w'], Target: 'x' }] }),
    [],
  );
});
