// Secrets and configs in the control API (MemoryStore, a marker sealer): Docker's validation and
// wording, sealed storage, what the API returns, in-use refusal, service references resolved and
// checked; and which payloads a node is sent (pure).
import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import { SwarmError } from '../../src/api/errors.js';
import { PayloadApi, resolveServicePayloads, retiredName } from '../../src/manager/controlapi/payloads.js';
import { payloadRefsFor } from '../../src/manager/dispatcher/dispatcher.js';
import { markerSealer } from '../helpers/payloads.js';
import { service, task } from './fixtures.js';
import { MemoryStore } from './memory-store.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
let store: MemoryStore;
let secrets: PayloadApi;
let configs: PayloadApi;

async function refuses(p: Promise<unknown>, message: RegExp): Promise<void> {
  const before = store.writes;
  await assert.rejects(p, (e: unknown) => e instanceof SwarmError && message.test(e.message));
  assert.equal(store.writes, before, 'nothing written');
}

describe('secrets and configs API', () => {
  beforeEach(() => {
    store = new MemoryStore();
    secrets = new PayloadApi('secret', store, markerSealer);
    configs = new PayloadApi('config', store, markerSealer);
  });

  test('a secret is stored sealed and never returned; a config is returned in clear', async () => {
    const s = await secrets.create({ Name: 'db_pw', Labels: { a: 'b' }, Data: b64('pw') });
    assert.equal(store.get('secret', s.ID)?.Spec.Data, `sealed-for-test:${b64('pw')}`);
    assert.ok(!('Data' in secrets.get('db_pw').Spec));
    assert.ok(!('Data' in (secrets.list(new Map())[0]?.Spec ?? {})));
    assert.deepEqual(secrets.payload(s.ID), { name: 'db_pw', data: b64('pw') });
    await configs.create({ Name: 'conf', Data: b64('k=v'), Templating: { Name: 'golang' } });
    assert.equal(configs.get('conf').Spec.Data, b64('k=v'));
    assert.equal(configs.payload(configs.get('conf').ID)?.templating, 'golang');
  });

  test("bad input gets Docker's wording and writes nothing", async () => {
    await refuses(
      secrets.create({ Name: 'big', Data: b64('x'.repeat(500 * 1024)) }),
      /secret data must be larger than 0 and less than 512000 bytes/,
    );
    await refuses(secrets.create({ Name: 'empty', Data: '' }), /larger than 0/);
    await refuses(
      secrets.create({ Name: '-bad', Data: b64('x') }),
      /invalid name, only 64 \[a-zA-Z0-9-_.\] characters allowed/,
    );
    await refuses(secrets.create({ Name: 'a'.repeat(65), Data: b64('x') }), /invalid name/);
    await refuses(
      secrets.create({ Name: 'd', Data: b64('x'), Driver: { Name: 'vault' } }),
      /drivers are not supported/,
    );
    await refuses(
      configs.create({ Name: 't', Data: b64('x'), Templating: { Name: 'jinja' } }),
      /unsupported template driver/,
    );
    await secrets.create({ Name: 'dup', Data: b64('x') });
    await refuses(secrets.create({ Name: 'dup', Data: b64('y') }), /secret dup already exists/);
  });

  test('only labels may change; filters by name, names, id and label', async () => {
    const s = await secrets.create({ Name: 'one', Data: b64('x') });
    await refuses(
      secrets.update('one', s.Version.Index, { Name: 'two' }),
      /only updates to Labels are allowed/,
    );
    await secrets.update('one', s.Version.Index, { Name: 'one', Labels: { env: 'prod' } });
    assert.deepEqual(secrets.get('one').Spec.Labels, { env: 'prod' });
    await secrets.create({ Name: 'other', Data: b64('x') });
    const names = (f: [string, string[]][]) =>
      secrets
        .list(new Map(f))
        .map((o) => o.Spec.Name)
        .sort();
    assert.deepEqual(names([['name', ['on']]]), ['one']);
    assert.deepEqual(names([['names', ['on']]]), []);
    assert.deepEqual(names([['label', ['env=prod']]]), ['one']);
    assert.deepEqual(names([['id', [s.ID.slice(0, 5)]]]), ['one']);
  });

  test("a service's references are resolved by name, checked, and keep the object from removal", async () => {
    const s = await secrets.create({ Name: 'db_pw', Data: b64('x') });
    const spec = service('x', {
      Name: 'db',
      TaskTemplate: {
        ContainerSpec: {
          Image: 'busybox',
          Secrets: [
            { SecretID: '', SecretName: 'db_pw', File: { Name: 'db_pw', UID: '0', GID: '0', Mode: 0o444 } },
            { SecretID: '', SecretName: 'db_pw', File: { Name: 'alt', UID: '0', GID: '0', Mode: 0o400 } },
          ],
        },
      },
    }).Spec;
    const resolved = resolveServicePayloads(store, spec);
    assert.deepEqual(
      resolved.TaskTemplate.ContainerSpec?.Secrets?.map((r) => r.SecretID),
      [s.ID, s.ID],
    );
    const clash = structuredClone(spec);
    const refs = clash.TaskTemplate.ContainerSpec?.Secrets ?? [];
    if (refs[1]?.File) refs[1].File.Name = 'db_pw';
    assert.throws(() => resolveServicePayloads(store, clash), /conflicting target: 'db_pw'/);
    const missing = structuredClone(spec);
    if (missing.TaskTemplate.ContainerSpec?.Secrets?.[0])
      missing.TaskTemplate.ContainerSpec.Secrets[0].SecretName = 'nosuch';
    assert.throws(() => resolveServicePayloads(store, missing), /secret not found: nosuch/);
    store.put('service', { ...service('svc1', resolved), Spec: { ...resolved, Name: 'db' } });
    await refuses(secrets.remove('db_pw'), /secret 'db_pw' is in use by the following service: db/);
  });

  test('rotation: the new value takes the name, the old one is kept under its retired name, users are updated', async () => {
    const updates: { id: string; version: number; ids: string[] }[] = [];
    const rotating = new PayloadApi('secret', store, markerSealer, undefined, async (id, version, spec) => {
      updates.push({
        id,
        version,
        ids: (spec.TaskTemplate.ContainerSpec?.Secrets ?? []).map((r) => r.SecretID),
      });
    });
    const old = await rotating.create({ Name: 'pw', Labels: { team: 'a' }, Data: b64('v1') });
    const svc = store.put('service', {
      ...service('svc1', {
        Name: 'db',
        TaskTemplate: {
          ContainerSpec: {
            Image: 'busybox',
            Secrets: [{ SecretID: old.ID, SecretName: 'pw', File: { Name: 'pw' } }],
          },
        },
      }),
    });
    assert.deepEqual(
      await rotating.rotate('pw', { Data: b64('v1') }),
      { ID: old.ID, Services: [] },
      'same value: nothing',
    );
    const r = await rotating.rotate('pw', { Data: b64('v2') });
    assert.notEqual(r.ID, old.ID);
    assert.deepEqual(r.Services, ['db']);
    assert.deepEqual(updates, [{ id: svc.ID, version: svc.Version.Index, ids: [r.ID] }]);
    assert.equal(rotating.get('pw').ID, r.ID);
    assert.deepEqual(rotating.payload(r.ID)?.data, b64('v2'));
    const retired = rotating.get(retiredName('pw', old.ID));
    assert.equal(retired.ID, old.ID);
    assert.deepEqual(retired.Spec.Labels, { team: 'a', 'swarmkit-ts.replaced-by': 'pw' });
    assert.equal(rotating.payload(old.ID)?.data, b64('v1'), 'running tasks and a rollback still have it');
    await refuses(rotating.rotate('pw', { Data: b64('x'.repeat(600 * 1024)) }), /less than 512000 bytes/);
    assert.equal(retiredName('a'.repeat(64), 'abcdefghijk').length, 64);
  });

  test('a node is sent the payloads of its own tasks that are not past running, nothing else', () => {
    const svc = service('s', {
      Name: 'db',
      TaskTemplate: {
        ContainerSpec: {
          Image: 'busybox',
          Secrets: [{ SecretID: 'sec1', SecretName: 'a' }],
          Configs: [{ ConfigID: 'cfg1', ConfigName: 'c' }],
        },
      },
    });
    const mine = task('t1', svc, { node: 'n1', state: 'running' });
    const done = { ...task('t2', svc, { node: 'n1', state: 'complete' }), Spec: { ...mine.Spec } };
    assert.deepEqual(payloadRefsFor('n1', [mine]), { secrets: ['sec1'], configs: ['cfg1'] });
    assert.deepEqual(payloadRefsFor('n2', [mine]), { secrets: [], configs: [] });
    assert.deepEqual(payloadRefsFor('n1', [done]), { secrets: [], configs: [] });
  });
});
