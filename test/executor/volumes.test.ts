// Volumes of the runc runtime against real runc + conmon (needs root): a task's volume mount makes
// the named volume with the mount's labels and driver options, its data outlives the container, a
// volume with tmpfs options is mounted only while a container that uses it runs (also across a
// runtime restart), the image's content is copied into an empty volume unless NoCopy, anonymous
// volumes go with their container, a volume in use is not removed, and nothing stays mounted.
import assert from 'node:assert/strict';
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ContainerRuntime } from '../../src/executor/runc/runtime.js';
import type { ContainerSpec, MountSpec } from '../../src/executor/types.js';
import { buildBusyboxLayer, census, type Harness, makeHarness, scrub, until } from './fixtures.js';

const TMPFS: MountSpec['VolumeOptions'] = {
  DriverConfig: { Options: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' } },
};

describe('runc runtime volumes', () => {
  let h: Harness;
  let seedDir: string;
  before(async () => {
    // An image whose /seed directory (uid 1000, mode 0750) holds a file: what a volume copies.
    seedDir = mkdtempSync('/tmp/skt-exec-seed-');
    const layer = buildBusyboxLayer(join(seedDir, 'layer'));
    mkdirSync(join(layer, 'seed'));
    writeFileSync(join(layer, 'seed', 'hello'), 'from the image\n');
    chownSync(join(layer, 'seed'), 1000, 1000);
    chmodSync(join(layer, 'seed'), 0o750);
    h = await makeHarness({ seeded: { layers: [layer] } });
  });
  after(async () => {
    if (h) {
      h.runtime.close();
      for (const c of h.runtime.list()) await h.runtime.remove(c.Id, { force: true }).catch(() => undefined);
      scrub(h);
    }
    rmSync(seedDir, { recursive: true, force: true });
  });

  const volumeMountedOnHost = (name: string) =>
    readDirMounts().includes(join(h.stateDir, 'volumes', name, '_data'));
  function readDirMounts(): string[] {
    return census(h).mounts;
  }
  async function run(spec: Omit<ContainerSpec, 'Image'>, image = 'bb') {
    const c = await h.runtime.create({ spec: { Image: image, ...spec } });
    await h.runtime.start(c.Id);
    return c.Id;
  }
  async function runToExit(spec: Omit<ContainerSpec, 'Image'>, image = 'bb') {
    const id = await run(spec, image);
    return h.runtime.waitExit(id);
  }

  test('a volume mount makes the named volume with its labels; the data outlives the container', async () => {
    const mount: MountSpec = {
      Type: 'volume',
      Source: 'data1',
      Target: '/data',
      VolumeOptions: { Labels: { k: 'v' } },
    };
    const first = await runToExit({ Args: ['sh', '-c', 'echo kept > /data/file'], Mounts: [mount] });
    assert.equal(first.State.ExitCode, 0);
    const vol = h.runtime.volumes.get('data1');
    assert.deepEqual(
      { Labels: vol.Labels, Options: vol.Options, Mountpoint: vol.Mountpoint },
      { Labels: { k: 'v' }, Options: null, Mountpoint: join(h.stateDir, 'volumes', 'data1', '_data') },
    );
    await h.runtime.remove(first.Id);
    const second = await runToExit({
      Args: ['sh', '-c', 'test "$(cat /data/file)" = kept'],
      Mounts: [{ Type: 'volume', Source: 'data1', Target: '/data' }],
    });
    assert.equal(second.State.ExitCode, 0);
    await h.runtime.remove(second.Id);
  });

  test('a volume in use, even by a stopped container, is not removed', async () => {
    const c = await runToExit({
      Args: ['true'],
      Mounts: [{ Type: 'volume', Source: 'data1', Target: '/data' }],
    });
    await assert.rejects(h.runtime.volumes.remove('data1', { force: true }), {
      message: `remove data1: volume is in use - [${c.Id}]`,
    });
    await h.runtime.remove(c.Id);
    await h.runtime.volumes.remove('data1');
    assert.equal(h.runtime.volumes.has('data1'), false);
    assert.deepEqual(readdirSync(join(h.stateDir, 'volumes')).includes('data1'), false);
  });

  test('a tmpfs volume is mounted while a container uses it, shared, and unmounted after the last', async () => {
    const mounts: MountSpec[] = [{ Type: 'volume', Source: 'tvol', Target: '/data', VolumeOptions: TMPFS }];
    const a = await run({ Args: ['sh', '-c', 'echo from-a > /data/f; sleep 1000'], Mounts: mounts });
    const b = await run({ Args: ['sleep', '1000'], Mounts: mounts });
    assert.equal(volumeMountedOnHost('tvol'), true);
    assert.deepEqual(h.runtime.volumes.get('tvol').Options, { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' });
    const inside = await h.runtime.execSync(b, ['sh', '-c', "grep ' /data ' /proc/mounts; cat /data/f"]);
    assert.match(inside.stdout, /^tmpfs \/data tmpfs rw,.*size=1024k/);
    await until(
      async () => (await h.runtime.execSync(b, ['cat', '/data/f'])).stdout === 'from-a\n',
      5000,
      'a’s file',
    );
    await h.runtime.stop(a, 0);
    assert.equal(volumeMountedOnHost('tvol'), true, 'still used by b');
    await h.runtime.stop(b, 0);
    assert.equal(volumeMountedOnHost('tvol'), false);
    await h.runtime.remove(a);
    await h.runtime.remove(b);
  });

  test('a mounted volume stays mounted for a container that outlives a runtime restart', async () => {
    const id = await run({
      Args: ['sleep', '1000'],
      Mounts: [{ Type: 'volume', Source: 'tvol', Target: '/data', VolumeOptions: TMPFS }],
    });
    h.runtime.close();
    const again = new ContainerRuntime({ stateDir: h.stateDir, images: h.images, namePrefix: h.prefix });
    h.runtime = again;
    const report = await again.adopt();
    assert.deepEqual(report.running, [id]);
    assert.equal(volumeMountedOnHost('tvol'), true);
    assert.deepEqual(again.volumes.get('tvol').Options, { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' });
    await again.stop(id, 0);
    assert.equal(volumeMountedOnHost('tvol'), false);
    await again.remove(id);
  });

  test('a volume whose mount fails makes the start fail with Docker’s words, and leaves no mount', async () => {
    const c = await h.runtime.create({
      spec: {
        Image: 'bb',
        Args: ['true'],
        Mounts: [
          {
            Type: 'volume',
            Source: 'badbind',
            Target: '/data',
            VolumeOptions: {
              DriverConfig: { Options: { type: 'none', device: '/nonexistent-skt-dir', o: 'bind' } },
            },
          },
        ],
      },
    });
    await assert.rejects(
      h.runtime.start(c.Id),
      new RegExp(
        `^SwarmError: error while mounting volume '${join(h.stateDir, 'volumes', 'badbind', '_data')}': failed to mount local volume: `,
      ),
    );
    assert.equal(volumeMountedOnHost('badbind'), false);
    await h.runtime.remove(c.Id);
    await h.runtime.volumes.remove('badbind');
  });

  test('the image’s content goes into an empty volume, owner and mode kept; not with NoCopy', async () => {
    const copied = await h.runtime.create({
      spec: {
        Image: 'seeded',
        Args: ['true'],
        Mounts: [{ Type: 'volume', Source: 'seedvol', Target: '/seed' }],
      },
    });
    const data = join(h.stateDir, 'volumes', 'seedvol', '_data');
    assert.deepEqual(readdirSync(data), ['hello']);
    const st = statSync(data);
    assert.deepEqual({ uid: st.uid, mode: st.mode & 0o7777 }, { uid: 1000, mode: 0o750 });
    const nocopy = await h.runtime.create({
      spec: {
        Image: 'seeded',
        Args: ['true'],
        Mounts: [{ Type: 'volume', Source: 'emptyvol', Target: '/seed', VolumeOptions: { NoCopy: true } }],
      },
    });
    assert.deepEqual(readdirSync(join(h.stateDir, 'volumes', 'emptyvol', '_data')), []);
    // A volume that already holds something is left as it is.
    writeFileSync(join(h.stateDir, 'volumes', 'emptyvol', '_data', 'mine'), 'x');
    const notEmpty = await h.runtime.create({
      spec: {
        Image: 'seeded',
        Args: ['true'],
        Mounts: [{ Type: 'volume', Source: 'emptyvol', Target: '/seed' }],
      },
    });
    assert.deepEqual(readdirSync(join(h.stateDir, 'volumes', 'emptyvol', '_data')), ['mine']);
    for (const c of [copied, nocopy, notEmpty]) await h.runtime.remove(c.Id);
    for (const v of ['seedvol', 'emptyvol']) await h.runtime.volumes.remove(v);
  });

  test('an anonymous volume is labelled so and goes with its container; a named one stays', async () => {
    const c = await runToExit({
      Args: ['true'],
      Mounts: [
        { Type: 'volume', Target: '/anon' },
        { Type: 'volume', Source: 'named1', Target: '/named' },
      ],
    });
    const anon = c.Mounts.find((m) => m.Destination === '/anon')?.Name ?? '';
    assert.match(anon, /^[0-9a-f]{64}$/);
    assert.deepEqual(h.runtime.volumes.get(anon).Labels, { 'com.docker.volume.anonymous': '' });
    await h.runtime.remove(c.Id);
    assert.equal(h.runtime.volumes.has(anon), false);
    assert.equal(h.runtime.volumes.has('named1'), true);
    await h.runtime.volumes.remove('named1');
  });

  test('a bad volume name or driver refuses the container with Docker’s text', async () => {
    await assert.rejects(
      h.runtime.create({ spec: { Image: 'bb', Mounts: [{ Type: 'volume', Source: 'x', Target: '/x' }] } }),
      { message: 'create x: volume name is too short, names should be at least two alphanumeric characters' },
    );
    await assert.rejects(
      h.runtime.create({
        spec: {
          Image: 'bb',
          Mounts: [
            {
              Type: 'volume',
              Source: 'pv',
              Target: '/x',
              VolumeOptions: { DriverConfig: { Name: 'nfsplugin' } },
            },
          ],
        },
      }),
      { message: 'create pv: error looking up volume plugin nfsplugin: plugin "nfsplugin" not found' },
    );
    await assert.rejects(
      h.runtime.create({
        spec: { Image: 'bb', Mounts: [{ Type: 'bind', Source: '/nonexistent-skt', Target: '/x' }] },
      }),
      { message: 'invalid mount config for type "bind": bind source path does not exist: /nonexistent-skt' },
    );
  });

  test('after removing every container nothing is mounted and no anonymous volume is left', async () => {
    for (const c of h.runtime.list()) await h.runtime.remove(c.Id, { force: true });
    await until(() => census(h).conmons.length === 0, 5000, 'conmon processes to exit');
    assert.deepEqual(census(h), { mounts: [], cgroups: [], conmons: [], bundles: [] });
    assert.deepEqual(
      h.runtime.volumes.list().map((v) => v.Name),
      ['tvol'],
    );
  });
});
