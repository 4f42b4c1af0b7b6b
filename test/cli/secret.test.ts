// `swarmctl secret …` and `swarmctl config …` against a fake Engine API holding secrets and configs
// in Docker's shape: the create bodies (base64 Data, labels, drivers), the ls table, the two
// `inspect --pretty` layouts, and the errors of create and rm in Docker's words.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, beforeEach, describe, it } from 'node:test';
import { type FakeEngine, type RecordedRequest, runSwarmctl, startFakeEngine } from './fakeengine.js';

const T0 = '2030-01-01T00:00:00.123456789Z';
const T1 = '2030-01-01T00:01:00Z';
const NOW = Date.parse('2030-01-01T00:02:30Z');

interface StoredObject {
  ID: string;
  Version: { Index: number };
  CreatedAt: string;
  UpdatedAt: string;
  Spec: { Name: string; Labels?: Record<string, string>; Data?: string; Driver?: { Name: string } };
}

const dir = mkdtempSync(join(tmpdir(), 'skt-secrets-'));
let engine: FakeEngine;
let objects: { secrets: StoredObject[]; configs: StoredObject[] };

/** Docker's routes for one collection: list, create, get and delete by ID or name. */
function collectionRoute(req: RecordedRequest): { status: number; body?: unknown } | undefined {
  const m = /^\/(secrets|configs)(?:\/(.+))?$/.exec(req.path);
  if (!m) return undefined;
  const kind = m[1] as 'secrets' | 'configs';
  const ref = m[2] ? decodeURIComponent(m[2]) : undefined;
  const noun = kind.slice(0, -1);
  if (ref === undefined && req.method === 'GET') return { status: 200, body: objects[kind] };
  if (ref === 'create' && req.method === 'POST') {
    const spec = JSON.parse(req.body) as StoredObject['Spec'];
    const ID = `${noun}id${objects[kind].length}`.padEnd(25, 'x');
    objects[kind].push({ ID, Version: { Index: 1 }, CreatedAt: T0, UpdatedAt: T0, Spec: spec });
    return { status: 201, body: { ID } };
  }
  const found = objects[kind].find((o) => o.ID === ref || o.Spec.Name === ref);
  if (!found) return { status: 404, body: { message: `${noun} ${ref} not found` } };
  if (req.method === 'DELETE') {
    objects[kind] = objects[kind].filter((o) => o !== found);
    return { status: 204 };
  }
  return { status: 200, body: found };
}

const swarmctl = (...args: string[]) =>
  runSwarmctl(['--socket', engine.socketPath, ...args], { now: () => NOW });
const sentBody = (path: string) =>
  JSON.parse(engine.requests.find((r) => r.path === path)?.body ?? '{}') as Record<string, unknown>;
const base64 = (text: string) => Buffer.from(text).toString('base64');

/** Runs with `text` as process.stdin, for `create NAME -`. */
async function withStdin<T>(text: string, run: () => Promise<T>): Promise<T> {
  const saved = Object.getOwnPropertyDescriptor(process, 'stdin');
  Object.defineProperty(process, 'stdin', { value: Readable.from([Buffer.from(text)]), configurable: true });
  try {
    return await run();
  } finally {
    if (saved) Object.defineProperty(process, 'stdin', saved);
  }
}

before(async () => {
  engine = await startFakeEngine(collectionRoute);
});
after(async () => {
  await engine.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  engine.requests.length = 0;
  objects = {
    secrets: [
      {
        ID: 'mo3hh323b6h9jv58v0u99iok6',
        Version: { Index: 11 },
        CreatedAt: T0,
        UpdatedAt: T1,
        Spec: { Name: 's10', Labels: { team: 'a', env: '' } },
      },
      {
        ID: 'xk1s0b7rqzv1y4n2l0p9c8d7e',
        Version: { Index: 12 },
        CreatedAt: T0,
        UpdatedAt: T0,
        Spec: { Name: 's2', Driver: { Name: 'vault' } },
      },
    ],
    configs: [
      {
        ID: 'slaw4iqmrgklnu3f1d05vqg5b',
        Version: { Index: 13 },
        CreatedAt: T0,
        UpdatedAt: T0,
        Spec: { Name: 'c1', Labels: { app: 'web' }, Data: base64('key=value\n') },
      },
    ],
  };
});

describe('swarmctl secret create / config create', () => {
  it('a secret from a file: POST /secrets/create with base64 Data, labels and templating; prints the ID', async () => {
    const file = join(dir, 'password.txt');
    writeFileSync(file, 's3cr3t');
    const r = await swarmctl(
      'secret',
      'create',
      '-l',
      'team=a',
      '--label',
      'env',
      '--template-driver',
      'golang',
      'pw',
      file,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${objects.secrets[2]?.ID}\n`);
    assert.deepEqual(sentBody('/secrets/create'), {
      Name: 'pw',
      Labels: { team: 'a', env: '' },
      Data: base64('s3cr3t'),
      Templating: { Name: 'golang' },
    });
  });

  it('a secret from stdin with "-" sends exactly what docker sends', async () => {
    const r = await withStdin('s3cr3t', () => swarmctl('secret', 'create', 's1', '-'));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      engine.requests.find((q) => q.path === '/secrets/create')?.body,
      '{"Name":"s1","Labels":{},"Data":"czNjcjN0"}',
    );
  });

  it('a config from a file, and from stdin', async () => {
    const file = join(dir, 'c1.txt');
    writeFileSync(file, 'key=value\n');
    const r = await swarmctl('config', 'create', '--label', 'app=web', 'c2', file);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${objects.configs[1]?.ID}\n`);
    assert.deepEqual(sentBody('/configs/create'), {
      Name: 'c2',
      Labels: { app: 'web' },
      Data: 'a2V5PXZhbHVlCg==',
    });
    engine.requests.length = 0;
    const piped = await withStdin('x: 1\n', () =>
      swarmctl('config', 'create', '--template-driver', 'golang', 'c3', '-'),
    );
    assert.equal(piped.code, 0, piped.stderr);
    assert.deepEqual(sentBody('/configs/create'), {
      Name: 'c3',
      Labels: {},
      Data: base64('x: 1\n'),
      Templating: { Name: 'golang' },
    });
  });

  it('an external driver takes no payload: Driver is sent and Data left out', async () => {
    const r = await swarmctl('secret', 'create', '-d', 'vault', 'ext');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(sentBody('/secrets/create'), { Name: 'ext', Labels: {}, Driver: { Name: 'vault' } });
    const both = await swarmctl('secret', 'create', '-d', 'vault', 'ext', join(dir, 'c1.txt'));
    assert.equal(both.code, 1);
    assert.equal(both.stderr, 'When using secret driver secret data must be empty\n');
  });

  it("a missing file is Go's open error, and no request is sent; a secret needs a file or a driver", async () => {
    const secret = await swarmctl('secret', 'create', 's1', 'nosuch.txt');
    assert.equal(secret.code, 1);
    assert.equal(
      secret.stderr,
      'Error reading content from "nosuch.txt": open nosuch.txt: no such file or directory\n',
    );
    const config = await swarmctl('config', 'create', 'c1', 'nosuch.txt');
    assert.equal(config.code, 1);
    assert.equal(config.stderr, 'open nosuch.txt: no such file or directory\n');
    const directory = await swarmctl('config', 'create', 'c1', dir);
    assert.equal(directory.stderr, `Error reading content from "${dir}": read ${dir}: is a directory\n`);
    assert.deepEqual(
      engine.requests.filter((q) => q.method === 'POST'),
      [],
    );
    const noFile = await swarmctl('secret', 'create', 's1');
    assert.equal(noFile.code, 1);
    assert.equal(
      noFile.stderr,
      "secret file is required\nSee 'swarmctl secret create --help'.\n\n" +
        'Usage:  swarmctl secret create [OPTIONS] SECRET [file|-]\n\nCreate a secret from a file or STDIN as content\n',
    );
  });
});

describe('swarmctl secret ls / config ls', () => {
  it("prints Docker's table sorted by name, with full IDs and times as durations", async () => {
    const r = await swarmctl('secret', 'ls');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      'ID                          NAME      DRIVER    CREATED         UPDATED\n' +
        'xk1s0b7rqzv1y4n2l0p9c8d7e   s2        vault     2 minutes ago   2 minutes ago\n' +
        'mo3hh323b6h9jv58v0u99iok6   s10                 2 minutes ago   About a minute ago\n',
    );
    const configs = await swarmctl('config', 'list');
    assert.equal(
      configs.stdout,
      'ID                          NAME      CREATED         UPDATED\n' +
        'slaw4iqmrgklnu3f1d05vqg5b   c1        2 minutes ago   2 minutes ago\n',
    );
  });

  it('-q prints IDs only, --format wins over -q, and filters reach the daemon', async () => {
    const q = await swarmctl('secret', 'ls', '-q', '-f', 'name=s', '--filter', 'label=team');
    assert.equal(q.stdout, 'xk1s0b7rqzv1y4n2l0p9c8d7e\nmo3hh323b6h9jv58v0u99iok6\n');
    const list = engine.requests.find((x) => x.path === '/secrets');
    assert.deepEqual(JSON.parse(list?.query.get('filters') ?? ''), {
      name: { s: true },
      label: { team: true },
    });
    const fmt = await swarmctl('secret', 'ls', '-q', '--format', '{{.Name}}: {{.Labels}}');
    assert.equal(fmt.stdout, 's2: \ns10: env=,team=a\n');
  });
});

describe('swarmctl secret inspect / config inspect', () => {
  it('--pretty for a config shows the decoded payload after "Data:"', async () => {
    const r = await swarmctl('config', 'inspect', '--pretty', 'c1');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      'ID:\t\t\tslaw4iqmrgklnu3f1d05vqg5b\n' +
        'Name:\t\t\tc1\n' +
        'Labels:\n' +
        ' - app=web\n' +
        'Created at:            \t2030-01-01 00:00:00.123456789 +0000 UTC\n' +
        'Updated at:            \t2030-01-01 00:00:00.123456789 +0000 UTC\n' +
        'Data:\n' +
        'key=value\n\n',
    );
  });

  it('--pretty for secrets has a Driver line and no Data; a label without value shows its key alone', async () => {
    const r = await swarmctl('secret', 'inspect', '--pretty', 's10', 's2');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      'ID:              mo3hh323b6h9jv58v0u99iok6\n' +
        'Name:              s10\n' +
        'Labels:\n' +
        ' - env\n' +
        ' - team=a\n' +
        'Driver:            \n' +
        'Created at:        2030-01-01 00:00:00.123456789 +0000 UTC\n' +
        'Updated at:        2030-01-01 00:01:00 +0000 UTC\n' +
        'ID:              xk1s0b7rqzv1y4n2l0p9c8d7e\n' +
        'Name:              s2\n' +
        'Driver:            vault\n' +
        'Created at:        2030-01-01 00:00:00.123456789 +0000 UTC\n' +
        'Updated at:        2030-01-01 00:00:00.123456789 +0000 UTC\n',
    );
    const missing = await swarmctl('secret', 'inspect', '--pretty', 's2', 'nosuch');
    assert.equal(missing.code, 1);
    assert.equal(missing.stdout, '');
    assert.equal(missing.stderr, 'Error response from daemon: secret nosuch not found\n');
  });

  it('without --pretty: the JSON array as the daemon sent it, or one template line per object', async () => {
    const r = await swarmctl('secret', 'inspect', 's2', 'nosuch');
    assert.equal(r.code, 1);
    assert.deepEqual(JSON.parse(r.stdout), [objects.secrets[1]]);
    assert.match(r.stdout, /^\[\n {4}\{\n {8}"ID": "xk1s0b7rqzv1y4n2l0p9c8d7e",\n {8}"Version"/);
    assert.equal(r.stderr, 'Error response from daemon: secret nosuch not found\n');
    const t = await swarmctl('config', 'inspect', '-f', '{{.Spec.Name}} {{.Version.Index}}', 'c1');
    assert.equal(t.stdout, 'c1 13\n');
  });
});

describe('swarmctl secret rm / config rm', () => {
  it('echoes each name removed; a missing one is the daemon error and exit status 1 at the end', async () => {
    const r = await swarmctl('secret', 'rm', 'nosuch', 's2', 'gone');
    assert.equal(r.code, 1);
    assert.equal(r.stdout, 's2\n');
    assert.equal(
      r.stderr,
      'Error response from daemon: secret nosuch not found\nError response from daemon: secret gone not found\n',
    );
    assert.deepEqual(
      objects.secrets.map((s) => s.Spec.Name),
      ['s10'],
    );
    const ok = await swarmctl('config', 'remove', 'c1');
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, 'c1\n');
  });
});
