// Local volumes in the Engine API: the local driver's rules (names, options, mount arguments) and
// Docker's list and prune filters (pure), then the /volumes routes over a VolumeStore in a temp dir
// (no containers: which volumes are in use is set by the test). Texts and shapes are those a
// private dockerd 20.10.24 answered for the same requests, and moby's rules for API ≥ 1.42 prune.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { EngineServer } from '../../src/engineapi/server.js';
import {
  parseVolumeCreate,
  volumeListFilter,
  volumePruneFilter,
  volumeRoutes,
} from '../../src/engineapi/volumes.js';
import {
  localOptionsProblem,
  mountArguments,
  needsMount,
  redactPassword,
  type Volume,
  VolumeStore,
  volumeNameProblem,
} from '../../src/executor/runc/volumes.js';
import { apiCall } from '../helpers/swarmd.js';

const vol = (name: string, extra: Partial<Volume> = {}): Volume => ({
  Name: name,
  Driver: 'local',
  CreatedAt: '2030-01-01T00:00:00Z',
  Mountpoint: `/v/${name}/_data`,
  Labels: null,
  Options: null,
  Scope: 'local',
  ...extra,
});
const filters = (f: Record<string, string[]>) => new Map(Object.entries(f));

describe('the local driver (pure)', () => {
  test('names: two characters at least, Docker’s character set, with Docker’s wording', () => {
    assert.equal(volumeNameProblem('ab'), undefined);
    assert.equal(volumeNameProblem('a_b.c-1'), undefined);
    assert.equal(
      volumeNameProblem('x'),
      'volume name is too short, names should be at least two alphanumeric characters',
    );
    for (const bad of ['a/b', 'a:b', '../etc', '_ab', '.hidden']) {
      assert.equal(
        volumeNameProblem(bad),
        `"${bad}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
      );
    }
  });

  test('options: type, device, o and size only; type and device go together; no quotas', () => {
    assert.equal(localOptionsProblem(null), undefined);
    assert.equal(localOptionsProblem({}), undefined);
    assert.equal(localOptionsProblem({ type: 'tmpfs', device: 'tmpfs', o: 'size=1m' }), undefined);
    assert.equal(localOptionsProblem({ type: 'none', device: '/srv', o: 'bind' }), undefined);
    assert.equal(localOptionsProblem({ foo: 'bar' }), 'invalid option: "foo"');
    assert.equal(localOptionsProblem({ type: 'tmpfs' }), 'missing required option: "device"');
    assert.equal(localOptionsProblem({ o: 'size=1m' }), 'missing required option: "device"');
    assert.equal(localOptionsProblem({ device: 'tmpfs' }), 'missing required option: "type"');
    assert.equal(localOptionsProblem({ o: 'x', device: 'd' }), 'missing required option: "type"');
    assert.equal(localOptionsProblem({ size: '10m' }), 'quota size requested but no quota support');
    assert.equal(localOptionsProblem({ size: '0' }), undefined);
    assert.equal(localOptionsProblem({ size: 'lots' }), "invalid size: 'lots'");
  });

  test('a volume is mounted only with a type or a device, with mount(8)’s arguments', () => {
    assert.equal(needsMount(null), false);
    assert.equal(needsMount({ size: '0' }), false);
    assert.equal(needsMount({ type: 'tmpfs', device: 'tmpfs' }), true);
    assert.deepEqual(mountArguments({ type: 'tmpfs', device: 'tmpfs', o: 'size=1m,uid=1000' }, '/v/_data'), [
      '-t',
      'tmpfs',
      '-o',
      'size=1m,uid=1000',
      'tmpfs',
      '/v/_data',
    ]);
    assert.deepEqual(mountArguments({ type: 'none', device: '/srv' }, '/t'), ['-t', 'none', '/srv', '/t']);
  });

  test('a mount error never shows a CIFS password', () => {
    assert.equal(
      redactPassword('mount error: opts addr=1.2.3.4,password=s3cret failed', 'addr=1.2.3.4,password=s3cret'),
      'mount error: opts addr=1.2.3.4,password=******** failed',
    );
    assert.equal(redactPassword('plain', 'size=1m'), 'plain');
  });
});

describe('list and prune filters (pure)', () => {
  const v1 = vol('v1', { Labels: { a: 'b', c: '' } });
  const okdev = vol('okdev', { Options: { type: 'none', device: '/x', o: 'bind' } });
  const anon = vol('8867c566cb538af3d6f1f84a95491ddd1222f58915bc67f12b16d560552a5d5f', {
    Labels: { 'com.docker.volume.anonymous': '' },
  });

  test('name is a regular expression (one that does not compile matches nothing), driver is exact', () => {
    const names = (f: Record<string, string[]>) =>
      [v1, okdev, anon].filter((v) => volumeListFilter(filters(f))(v, false)).map((v) => v.Name);
    assert.deepEqual(names({ name: ['v'] }), ['v1', 'okdev']);
    assert.deepEqual(names({ name: ['^v'] }), ['v1']);
    assert.deepEqual(names({ name: ['v1', 'okdev'] }), ['v1', 'okdev']);
    assert.deepEqual(names({ name: ['('] }), []);
    assert.deepEqual(names({ driver: ['local'] }).length, 3);
    assert.deepEqual(names({ driver: ['loc'] }), []);
    assert.deepEqual(names({ label: ['a=b'] }), ['v1']);
    assert.deepEqual(names({ label: ['c='] }), ['v1']);
    assert.deepEqual(names({ label: ['a', 'c'] }), ['v1']);
    assert.deepEqual(names({ label: ['a=c'] }), []);
  });

  test('dangling: true/1 keeps unused volumes, false/0 used ones; with both, true wins', () => {
    const keep = (values: string[], inUse: boolean) =>
      volumeListFilter(filters({ dangling: values }))(v1, inUse);
    assert.equal(keep(['true'], false), true);
    assert.equal(keep(['1'], true), false);
    assert.equal(keep(['false'], true), true);
    assert.equal(keep(['0'], false), false);
    assert.equal(keep(['true', 'false'], false), true);
    assert.throws(() => keep(['maybe'], false), { message: "Invalid filter 'dangling=[maybe]'" });
    assert.throws(() => volumeListFilter(filters({ bogus: ['1'] })), { message: "Invalid filter 'bogus'" });
  });

  test('prune: API < 1.42 takes every unused volume without options, ≥ 1.42 anonymous ones unless all', () => {
    const pruned = (f: Record<string, string[]>, version: string) =>
      [v1, okdev, anon].filter(volumePruneFilter(filters(f), version)).map((v) => v.Name.slice(0, 6));
    assert.deepEqual(pruned({}, '1.41'), ['v1', '8867c5']);
    assert.deepEqual(pruned({}, '1.47'), ['8867c5']);
    assert.deepEqual(pruned({ all: ['true'] }, '1.47'), ['v1', '8867c5']);
    assert.deepEqual(pruned({ all: ['0'] }, '1.41'), ['v1', '8867c5']);
    assert.deepEqual(pruned({ all: ['1'], label: ['a'] }, '1.47'), ['v1']);
    assert.deepEqual(pruned({ all: ['1'], 'label!': ['a'] }, '1.47'), ['8867c5']);
    assert.throws(() => pruned({ all: ['maybe'] }, '1.47'), { message: "Invalid filter 'all=[maybe]'" });
    assert.throws(() => pruned({ dangling: ['true'] }, '1.47'), { message: "Invalid filter 'dangling'" });
  });

  test('create bodies: unknown fields ignored, a missing body and a wrong type refused', () => {
    assert.deepEqual(parseVolumeCreate({ Name: 'ae', Bogus: 1 }), { Name: 'ae' });
    assert.throws(() => parseVolumeCreate(undefined), { message: 'got EOF while reading request body' });
    assert.throws(() => parseVolumeCreate({ Name: 12 }), /Name/);
    assert.throws(() => parseVolumeCreate({ Name: 'c', ClusterVolumeSpec: {} }), /cluster volumes/);
  });
});

describe('/volumes routes over a volume store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'skt-volumes-'));
  const socket = join(dir, 'api.sock');
  const root = join(dir, 'volumes');
  const users = new Map<string, string[]>();
  let store: VolumeStore;
  let server: EngineServer;
  const api = (method: string, path: string, body?: unknown, version = '1.47') =>
    apiCall(socket, method, `/v${version}${path}`, body);

  before(async () => {
    // A volume made before volumes had metadata: just its _data dir.
    mkdirSync(join(root, 'legacy', '_data'), { recursive: true });
    writeFileSync(join(root, 'legacy', '_data', 'kept'), 'data');
    store = new VolumeStore({ root, users: (name) => users.get(name) ?? [] });
    await store.load();
    server = new EngineServer({ serverName: 'swarmd-test', routes: volumeRoutes(store) });
    await server.listen(socket);
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => users.clear());

  test('create answers 201 with Docker’s keys; Labels and Options stay null when not given', async () => {
    const r = await api('POST', '/volumes/create', { Name: 'v1', Labels: { a: 'b', c: '' } });
    assert.equal(r.status, 201, r.body);
    const v = r.json<Record<string, unknown>>();
    assert.deepEqual(Object.keys(v), [
      'CreatedAt',
      'Driver',
      'Labels',
      'Mountpoint',
      'Name',
      'Options',
      'Scope',
    ]);
    assert.deepEqual(v, {
      CreatedAt: v.CreatedAt,
      Driver: 'local',
      Labels: { a: 'b', c: '' },
      Mountpoint: join(root, 'v1', '_data'),
      Name: 'v1',
      Options: null,
      Scope: 'local',
    });
    assert.match(String(v.CreatedAt), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(existsSync(join(root, 'v1', '_data')), true);
    const withOpts = await api('POST', '/volumes/create', {
      Name: 'tmp1',
      Driver: 'local',
      DriverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' },
      Labels: {},
    });
    assert.deepEqual(withOpts.json<Volume>().Options, { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' });
    assert.deepEqual(withOpts.json<Volume>().Labels, {});
  });

  test('creating an existing name returns it unchanged, as Docker 20.10 does', async () => {
    const again = await api('POST', '/volumes/create', { Name: 'v1', DriverOpts: { type: 'tmpfs' } });
    assert.equal(again.status, 201);
    assert.deepEqual(again.json<Volume>().Labels, { a: 'b', c: '' });
    assert.equal(again.json<Volume>().Options, null);
  });

  test('an anonymous volume gets a 64-hex name and the anonymous label', async () => {
    const r = await api('POST', '/volumes/create', {});
    assert.equal(r.status, 201);
    const v = r.json<Volume>();
    assert.match(v.Name, /^[0-9a-f]{64}$/);
    assert.deepEqual(v.Labels, { 'com.docker.volume.anonymous': '' });
    assert.equal((await api('DELETE', `/volumes/${v.Name}`)).status, 204);
  });

  test('bad creates answer Docker’s status and text', async () => {
    const cases: [unknown, number, string][] = [
      [
        { Name: 'x' },
        400,
        'create x: volume name is too short, names should be at least two alphanumeric characters',
      ],
      [
        { Name: 'a/b' },
        400,
        'create a/b: "a/b" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path',
      ],
      [{ Name: 'bad1', DriverOpts: { foo: 'bar' } }, 400, 'create bad1: invalid option: "foo"'],
      [
        { Name: 'bad2', DriverOpts: { type: 'tmpfs' } },
        400,
        'create bad2: missing required option: "device"',
      ],
      [
        { Name: 'nm', Driver: 'nosuch' },
        404,
        'create nm: error looking up volume plugin nosuch: plugin "nosuch" not found',
      ],
    ];
    for (const [body, status, message] of cases) {
      const r = await api('POST', '/volumes/create', body);
      assert.deepEqual({ status: r.status, body: r.json() }, { status, body: { message } });
    }
    assert.equal(existsSync(join(root, 'bad1')), false);
  });

  test('a volume made without metadata reads as created without labels or options, data kept', async () => {
    const r = await api('GET', '/volumes/legacy');
    assert.equal(r.status, 200);
    assert.deepEqual(
      { ...r.json<Volume>(), CreatedAt: '' },
      {
        CreatedAt: '',
        Driver: 'local',
        Labels: null,
        Mountpoint: join(root, 'legacy', '_data'),
        Name: 'legacy',
        Options: null,
        Scope: 'local',
      },
    );
  });

  test('list: {"Volumes": [...], "Warnings": null}, sorted by name, with the filters', async () => {
    const r = await api('GET', '/volumes');
    assert.equal(r.status, 200);
    const body = r.json<{ Volumes: Volume[]; Warnings: null }>();
    assert.deepEqual(Object.keys(body), ['Volumes', 'Warnings']);
    assert.equal(body.Warnings, null);
    assert.deepEqual(
      body.Volumes.map((v) => v.Name),
      ['legacy', 'tmp1', 'v1'],
    );
    users.set('v1', ['c1']);
    const q = (f: unknown) => api('GET', `/volumes?filters=${encodeURIComponent(JSON.stringify(f))}`);
    const names = async (f: unknown) => (await q(f)).json<{ Volumes: Volume[] }>().Volumes.map((v) => v.Name);
    assert.deepEqual(await names({ dangling: { true: true } }), ['legacy', 'tmp1']);
    assert.deepEqual(await names({ dangling: ['false'] }), ['v1']);
    assert.deepEqual(await names({ label: { 'a=b': true } }), ['v1']);
    assert.deepEqual(await names({ name: { '(': true } }), []);
    const bad = await q({ dangling: { maybe: true } });
    assert.deepEqual(
      { status: bad.status, body: bad.json() },
      {
        status: 400,
        body: { message: "Invalid filter 'dangling=[maybe]'" },
      },
    );
  });

  test('inspect and remove of a missing volume: 404 "get NAME: no such volume"; with force, 204', async () => {
    const r = await api('GET', '/volumes/nosuch');
    assert.deepEqual(
      { status: r.status, body: r.json() },
      { status: 404, body: { message: 'get nosuch: no such volume' } },
    );
    const rm = await api('DELETE', '/volumes/nosuch');
    assert.deepEqual(rm.json(), { message: 'get nosuch: no such volume' });
    assert.equal((await api('DELETE', '/volumes/nosuch?force=1')).status, 204);
    assert.equal((await api('DELETE', '/volumes/a%2Fb')).status, 404);
  });

  test('a volume in use is not removed, force or not: 409 with the users’ IDs', async () => {
    users.set('v1', ['64e9a14c7efb', '09bb2a409501']);
    for (const q of ['', '?force=1']) {
      const r = await api('DELETE', `/volumes/v1${q}`);
      assert.deepEqual(
        { status: r.status, body: r.json() },
        { status: 409, body: { message: 'remove v1: volume is in use - [64e9a14c7efb 09bb2a409501]' } },
      );
    }
    assert.equal(existsSync(join(root, 'v1', '_data')), true);
  });

  test('prune: at 1.41 every unused volume without options, at 1.47 anonymous ones unless all', async () => {
    const anon = (await api('POST', '/volumes/create', {})).json<Volume>().Name;
    writeFileSync(join(root, anon, '_data', 'f'), 'x'.repeat(1000));
    await api('POST', '/volumes/create', { Name: 'keepme', Labels: { keep: '' } });
    users.set('v1', ['c1']);
    const prune = async (f: unknown, version = '1.47') => {
      const q = f ? `?filters=${encodeURIComponent(JSON.stringify(f))}` : '';
      const r = await api('POST', `/volumes/prune${q}`, undefined, version);
      assert.equal(r.status, 200, r.body);
      return r.json<{ VolumesDeleted: string[]; SpaceReclaimed: number }>();
    };
    assert.deepEqual(await prune(undefined), { VolumesDeleted: [anon], SpaceReclaimed: 1000 });
    assert.deepEqual(await prune({ 'label!': ['keep'] }, '1.41'), {
      VolumesDeleted: ['legacy'],
      SpaceReclaimed: 4,
    });
    assert.deepEqual(await prune({ all: { true: true } }), { VolumesDeleted: ['keepme'], SpaceReclaimed: 0 });
    // tmp1 has options, v1 is in use: both stay.
    assert.deepEqual(await prune(undefined, '1.41'), { VolumesDeleted: [], SpaceReclaimed: 0 });
    assert.deepEqual(
      (await api('GET', '/volumes')).json<{ Volumes: Volume[] }>().Volumes.map((v) => v.Name),
      ['tmp1', 'v1'],
    );
    const bad = await api('POST', `/volumes/prune?filters=${encodeURIComponent('{"bogus":["1"]}')}`);
    assert.deepEqual(
      { status: bad.status, body: bad.json() },
      { status: 400, body: { message: "Invalid filter 'bogus'" } },
    );
  });

  test('an unused volume is removed with its data', async () => {
    assert.equal((await api('DELETE', '/volumes/tmp1')).status, 204);
    assert.equal(existsSync(join(root, 'tmp1')), false);
    assert.equal((await api('GET', '/volumes/tmp1')).status, 404);
  });
});
