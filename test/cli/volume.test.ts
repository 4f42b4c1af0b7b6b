// `swarmctl volume …` beside the real docker CLIs (20.10 and 28.x) against the same Engine API
// volume routes over a VolumeStore in a temp dir (no swarmd, no containers: which volumes are in use
// is set by the test): the same output for create, ls (filters, -q, --format), inspect, rm and
// prune, and the same errors. Where the two docker CLIs differ, swarmctl prints what 28.x does
// (API 1.47: prune takes anonymous volumes unless -a; the daemon's own "not found" text).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { pruneReport, volumeRow } from '../../src/cli/commands/volume.js';
import type { EngineServer } from '../../src/engineapi/server.js';
import { volumeRoutes } from '../../src/engineapi/volumes.js';
import { VolumeStore } from '../../src/executor/runc/volumes.js';
import { type Run, SWARMCTL } from '../helpers/cli.js';
import { startTestEngine } from '../helpers/engine.js';
import { runSwarmctl } from './fakeengine.js';

/** `volume create` flags of a 1 MiB tmpfs volume. */
const TMPFS_OPTIONS = ['-o', 'type=tmpfs', '-o', 'device=tmpfs', '-o', 'o=size=1m'];

const DOCKER_20 = '/usr/bin/docker';
const DOCKER_28 = '/usr/local/bin/docker';

describe('volume output (pure)', () => {
  test('a row: labels sorted and joined, size, links and cluster fields N/A', () => {
    const row = volumeRow({
      Name: 'v1',
      Driver: 'local',
      Mountpoint: '/v/v1/_data',
      Scope: 'local',
      Labels: { c: '', a: 'b' },
    });
    assert.equal(row.Labels, 'a=b,c=');
    assert.deepEqual(Object.keys(row), [
      'Availability',
      'Driver',
      'Group',
      'Labels',
      'Links',
      'Mountpoint',
      'Name',
      'Scope',
      'Size',
      'Status',
    ]);
    assert.equal(
      volumeRow({ Name: 'x', Driver: 'local', Mountpoint: '', Scope: 'local', Labels: null }).Labels,
      '',
    );
  });

  test('prune report: the names deleted, a blank line, then the space in go-units’ decimal size', () => {
    assert.equal(pruneReport([], 0), 'Total reclaimed space: 0B\n');
    assert.equal(pruneReport(['a', 'b'], 1500), 'Deleted Volumes:\na\nb\n\nTotal reclaimed space: 1.5kB\n');
  });
});

describe('swarmctl volume beside the docker CLIs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'skt-cli-volumes-'));
  const socket = join(dir, 'api.sock');
  const root = join(dir, 'volumes');
  const users = new Map<string, string[]>();
  let server: EngineServer;

  const runFile = (file: string, args: string[], env: NodeJS.ProcessEnv, stdin = ''): Promise<Run> =>
    new Promise((resolve) => {
      const child = execFile(file, args, { env, timeout: 30_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
      );
      child.stdin?.end(stdin);
    });
  const dockerEnv = {
    PATH: process.env.PATH,
    HOME: dir,
    DOCKER_CONFIG: dir,
    DOCKER_HOST: `unix://${socket}`,
  };
  const docker = (bin: string, args: string[]) => runFile(bin, args, dockerEnv);
  const swarmctl = (...args: string[]) => runSwarmctl(['--socket', socket, ...args]);

  /** swarmctl prints what docker 28.x prints (and 20.10 too unless told), with the same status. */
  async function same(args: string[], opts: { with20?: boolean } = {}): Promise<Run> {
    const ours = await swarmctl(...args);
    const theirs = await docker(DOCKER_28, args);
    assert.deepEqual(ours, theirs, `swarmctl ${args.join(' ')} vs docker 28.x`);
    if (opts.with20 !== false) {
      const old = await docker(DOCKER_20, args);
      assert.deepEqual(ours, old, `swarmctl ${args.join(' ')} vs docker 20.10`);
    }
    return ours;
  }

  before(async () => {
    const store = new VolumeStore({ root, users: (name) => users.get(name) ?? [] });
    await store.load();
    server = await startTestEngine(socket, dir, volumeRoutes(store));
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => users.clear());

  test('create prints the name; the daemon keeps the labels and options as docker sends them', async () => {
    assert.deepEqual(await swarmctl('volume', 'create', '--label', 'a=b', '--label', 'c', 'v1'), {
      code: 0,
      stdout: 'v1\n',
      stderr: '',
    });
    assert.deepEqual(await docker(DOCKER_28, ['volume', 'create', '--label', 'a=b', '--label', 'c', 'v2']), {
      code: 0,
      stdout: 'v2\n',
      stderr: '',
    });
    const created = await swarmctl('volume', 'create', ...TMPFS_OPTIONS, 'tmp1');
    assert.equal(created.stdout, 'tmp1\n');
    // What each client sent ends up the same: docker's own inspect of both shows it.
    const [v1, v2] = JSON.parse((await docker(DOCKER_28, ['volume', 'inspect', 'v1', 'v2'])).stdout) as {
      Labels: unknown;
      Options: unknown;
    }[];
    assert.deepEqual([v1?.Labels, v1?.Options], [{ a: 'b', c: '' }, null]);
    assert.deepEqual([v2?.Labels, v2?.Options], [v1?.Labels, v1?.Options]);
    const anonymous = await swarmctl('volume', 'create');
    assert.match(anonymous.stdout, /^[0-9a-f]{64}\n$/);
    await same(['volume', 'create', 'tmp1']);
  });

  test('create errors: the daemon’s words, exit 1', async () => {
    await same(['volume', 'create', '-o', 'foo=bar', 'badopt']);
    await same(['volume', 'create', 'a:b']);
    await same(['volume', 'create', '-d', 'nosuch', 'x1']);
  });

  test('ls: the DRIVER / VOLUME NAME table sorted by name, -q, filters and formats', async () => {
    const table = await same(['volume', 'ls']);
    assert.match(
      table.stdout,
      /^DRIVER {4}VOLUME NAME\nlocal {5}[0-9a-f]{64}\nlocal {5}tmp1\nlocal {5}v1\nlocal {5}v2\n$/,
    );
    await same(['volume', 'ls', '-q']);
    await same(['volume', 'ls', '--filter', 'name=v']);
    await same(['volume', 'ls', '--filter', 'name=^t', '--filter', 'name=2$']);
    await same(['volume', 'ls', '--filter', 'label=a=b']);
    await same(['volume', 'ls', '-f', 'driver=local', '-q']);
    users.set('v1', ['64e9a14c7efb']);
    await same(['volume', 'ls', '--filter', 'dangling=true']);
    await same(['volume', 'ls', '--filter', 'dangling=false']);
    // docker prints several labels in Go's random map order: compared where there is one at most.
    await same([
      'volume',
      'ls',
      '--format',
      '{{.Name}} {{.Driver}} {{.Scope}} {{.Mountpoint}} {{.Links}} {{.Size}}',
    ]);
    await same(['volume', 'ls', '-f', 'name=tmp1', '--format', 'table {{.Name}}\t{{.Labels}}\t{{.Scope}}']);
    await same(['volume', 'ls', '-f', 'name=tmp1', '--format', '{{json .}}'], { with20: false });
    assert.equal(
      (await swarmctl('volume', 'ls', '-f', 'name=v1', '--format', '{{.Labels}}')).stdout,
      'a=b,c=\n',
    );
    await same(['volume', 'ls', '--filter', 'dangling=maybe']);
    await same(['volume', 'ls', '--filter', 'bogus=1']);
  });

  test('inspect: the JSON array, --format, and what was found before the daemon’s error', async () => {
    await same(['volume', 'inspect', 'v1']);
    await same(['volume', 'inspect', 'v1', 'tmp1']);
    await same(['volume', 'inspect', '--format', '{{.Name}} {{.Mountpoint}} {{.Labels}} {{.Driver}}', 'v1']);
    // No options given: null in the JSON, an empty Go map to a template.
    await same([
      'volume',
      'inspect',
      '--format',
      '{{.Options}} {{.Status}} {{json .Options}} {{len .Options}}',
      'v1',
    ]);
    await same(['volume', 'inspect', '--format', '{{json .}}', 'v1']);
    const missing = await same(['volume', 'inspect', 'v1', 'nosuch'], { with20: false });
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'Error response from daemon: get nosuch: no such volume\n');
    await same(['volume', 'inspect', 'nosuch'], { with20: false });
  });

  test('rm: each name removed is printed; a missing one is an error unless -f; in use is refused', async () => {
    users.set('v2', ['64e9a14c7efbb30fb8c0d9b23cae0f792baeab4b1ff4516830f70117aac2821c']);
    const inUse = await same(['volume', 'rm', 'v2']);
    assert.deepEqual(inUse, {
      code: 1,
      stdout: '',
      stderr:
        'Error response from daemon: remove v2: volume is in use - [64e9a14c7efbb30fb8c0d9b23cae0f792baeab4b1ff4516830f70117aac2821c]\n',
    });
    await same(['volume', 'rm', '-f', 'v2']);
    await same(['volume', 'rm', 'nosuch'], { with20: false });
    await same(['volume', 'rm', '-f', 'nosuch']);
    await swarmctl('volume', 'create', 'gone1');
    await swarmctl('volume', 'create', 'gone2');
    assert.deepEqual(await swarmctl('volume', 'rm', 'gone1', 'nosuch', 'gone2'), {
      code: 1,
      stdout: 'gone1\ngone2\n',
      stderr: 'Error response from daemon: get nosuch: no such volume\n',
    });
  });

  test('prune: anonymous unused volumes, all with -a, filters; the report as docker 28.x prints it', async () => {
    const anon = (await swarmctl('volume', 'create')).stdout.trim();
    writeFileSync(join(root, anon, '_data', 'data'), 'x'.repeat(2048));
    users.set('v1', ['c1']);
    const first = await swarmctl('volume', 'prune', '-f');
    assert.equal(first.stdout.includes(`Deleted Volumes:\n`), true);
    assert.equal(first.stdout.endsWith('\nTotal reclaimed space: 2.048kB\n'), true, first.stdout);
    await same(['volume', 'prune', '-f'], { with20: false });
    await same(['volume', 'prune', '-f', '--filter', 'label=nosuch'], { with20: false });
    await same(['volume', 'prune', '-f', '--filter', 'bogus=1'], { with20: false });
    await swarmctl('volume', 'create', '--label', 'keep', 'kept');
    const all = await swarmctl('volume', 'prune', '-a', '-f', '--filter', 'label!=keep');
    // tmp1 has options and v1 is in use: both stay, as does the labelled one.
    assert.deepEqual(all, {
      code: 0,
      stdout: 'Deleted Volumes:\nv2\n\nTotal reclaimed space: 0B\n',
      stderr: '',
    });
    assert.equal((await swarmctl('volume', 'ls', '-q')).stdout, 'kept\ntmp1\nv1\n');
  });

  test('prune asks first, as docker 28.x: declined, nothing is removed', async () => {
    for (const all of [false, true]) {
      const args = ['volume', 'prune', ...(all ? ['-a'] : [])];
      const ours = await runFile(process.execPath, [SWARMCTL, '--socket', socket, ...args], process.env);
      const theirs = await runFile(DOCKER_28, args, dockerEnv);
      assert.deepEqual(ours, theirs);
      assert.match(ours.stdout, all ? /remove all local volumes/ : /remove anonymous local volumes/);
    }
    assert.equal((await swarmctl('volume', 'ls', '-q')).stdout, 'kept\ntmp1\nv1\n');
  });
});
