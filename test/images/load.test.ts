// The image store loading archives: docker save and OCI layouts, layer sharing, restart, removal
// rules, and archives that try to write outside the store.
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { SwarmError } from '../../src/api/errors.js';
import { ImageStore } from '../../src/executor/images/store.js';
import {
  buildBusyboxDockerArchive,
  buildBusyboxOciArchive,
  buildImage,
  busyboxLayer,
  makeLayerTar,
  tempDir,
  writeDockerArchive,
} from '../helpers/images.js';

let dir: string;
before(async () => {
  dir = await tempDir('load');
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function freshStore(name: string): Promise<ImageStore> {
  const s = new ImageStore(join(dir, name));
  await s.init();
  return s;
}

async function layerDirs(store: ImageStore): Promise<string[]> {
  return (await readdir(join(store.root, 'layers'))).sort();
}

function assertSwarmError(code: string, pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof SwarmError, `expected a SwarmError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, pattern);
    return true;
  };
}

describe('loading a docker save archive', () => {
  test('gives a tagged image whose layer holds busybox, its applet symlinks and a 1777 /tmp', async () => {
    const archive = join(dir, 'bb-docker.tar');
    const built = await buildBusyboxDockerArchive(archive, { tag: 'busybox:latest' });
    const store = await freshStore('docker');
    const loaded = await store.load(archive);
    assert.deepEqual(loaded, [{ id: built.id, tags: ['busybox:latest'] }]);

    const img = await store.resolve('busybox');
    assert.equal(img.id, built.id);
    assert.deepEqual(img.repoTags, ['busybox:latest']);
    assert.deepEqual(img.config.Cmd, ['sh']);
    assert.equal(img.layers.length, 1);
    const root = img.layers[0]!;
    assert.ok((await stat(join(root, 'bin/busybox'))).size > 1_000_000);
    assert.equal(await readlink(join(root, 'bin/sh')), '/bin/busybox');
    assert.equal((await stat(join(root, 'tmp'))).mode & 0o7777, 0o1777);
    assert.equal(await readFile(join(root, 'www/index.html'), 'utf8'), 'hello from busybox\n');
    assert.ok(img.size > 1_000_000);
    assert.equal(img.created, Date.parse('2026-01-02T03:04:05Z') / 1000);
    // The same image by every name Docker accepts.
    for (const name of ['busybox:latest', 'docker.io/library/busybox', built.id, built.id.slice(7, 19)]) {
      assert.equal((await store.resolve(name)).id, built.id, name);
    }
  });

  test('accepts a gzipped archive with gzipped layers', async () => {
    const image = buildImage([await busyboxLayer()], { labels: { variant: 'gz' } });
    const plain = join(dir, 'gz-inner.tar');
    await writeDockerArchive(plain, [{ image, tags: ['gz:1'] }], { gzipLayers: true });
    const archive = join(dir, 'gz.tar.gz');
    await writeFile(archive, gzipSync(await readFile(plain)));
    const store = await freshStore('gz');
    assert.deepEqual(await store.load(archive), [{ id: image.id, tags: ['gz:1'] }]);
    assert.deepEqual((await store.resolve('gz:1')).config.Labels, { variant: 'gz' });
  });

  test('an unknown name is NOT_FOUND with Docker wording', async () => {
    const store = await freshStore('empty');
    await assert.rejects(
      store.resolve('nosuchimage:1'),
      assertSwarmError('NOT_FOUND', /^No such image: nosuchimage:1$/),
    );
  });
});

describe('loading an OCI image layout archive', () => {
  test('gives the same image ID as docker save and shares its unpacked layer', async () => {
    const store = await freshStore('oci');
    const a = join(dir, 'oci-a.tar');
    const b = join(dir, 'oci-b.tar');
    const fromDocker = await buildBusyboxDockerArchive(a, { tag: 'busybox:latest' });
    const fromOci = await buildBusyboxOciArchive(b, { tag: 'localhost:5000/bb:1' });
    assert.equal(fromDocker.id, fromOci.id);
    await store.load(a);
    const [layer] = await layerDirs(store);
    const before = await stat(join(store.root, 'layers', layer!, 'diff', 'bin', 'busybox'));
    assert.deepEqual(await store.load(b), [{ id: fromOci.id, tags: ['localhost:5000/bb:1'] }]);
    assert.deepEqual(await layerDirs(store), [layer]);
    const afterLoad = await stat(join(store.root, 'layers', layer!, 'diff', 'bin', 'busybox'));
    assert.equal(afterLoad.ino, before.ino, 'the layer was not unpacked again');
    assert.deepEqual((await store.resolve('localhost:5000/bb:1')).repoTags, [
      'busybox:latest',
      'localhost:5000/bb:1',
    ]);
  });
});

describe('layer sharing', () => {
  test('two images on the same base layer unpack it once and keep it until the last image goes', async () => {
    const base = await busyboxLayer();
    const app = buildImage([base, await makeLayerTar([{ name: 'app.txt', content: 'app' }])], {
      cmd: ['cat', '/app.txt'],
    });
    const bb = buildImage([base]);
    const archive = join(dir, 'two.tar');
    await writeDockerArchive(archive, [
      { image: bb, tags: ['busybox:latest'] },
      { image: app, tags: ['app:1', 'app:latest'] },
    ]);
    const store = await freshStore('share');
    await store.load(archive);
    assert.equal((await layerDirs(store)).length, 2);
    const appImg = await store.resolve('app:1');
    const bbImg = await store.resolve('busybox');
    assert.equal(appImg.layers[0], bbImg.layers[0]);
    assert.equal(appImg.layers.length, 2);

    // Untagging one of two tags keeps the image.
    assert.deepEqual(await store.remove('app:latest'), [{ Untagged: 'app:latest' }]);
    const report = await store.remove('app:1');
    assert.deepEqual(report.slice(0, 2), [{ Untagged: 'app:1' }, { Deleted: app.id }]);
    assert.equal((await layerDirs(store)).length, 1, 'the shared base layer stays for busybox');
    assert.equal((await stat(bbImg.layers[0]!)).isDirectory(), true);
  });
});

describe('removal while in use', () => {
  test('is refused while a container holds the image, and works once it is released', async () => {
    const archive = join(dir, 'inuse.tar');
    const built = await buildBusyboxDockerArchive(archive, { tag: 'busybox:latest' });
    const store = await freshStore('inuse');
    await store.load(archive);
    store.acquire(built.id, 'c0ffee00c0ffee00c0ffee00');
    await assert.rejects(
      store.remove(built.id, { force: true }),
      assertSwarmError(
        'CONFLICT',
        /^conflict: unable to delete [0-9a-f]{12} \(cannot be forced\) - image is being used by running container c0ffee00c0ff$/,
      ),
    );
    await assert.rejects(store.remove('busybox'), assertSwarmError('CONFLICT', /must force.*c0ffee00c0ff/));
    assert.equal((await store.list()).length, 1);
    store.release(built.id, 'c0ffee00c0ffee00c0ffee00');
    const report = await store.remove('busybox');
    assert.deepEqual(report.slice(0, 2), [{ Untagged: 'busybox:latest' }, { Deleted: built.id }]);
    assert.deepEqual(await store.list(), []);
    assert.deepEqual(await layerDirs(store), []);
  });

  test('deleting by ID an image with two tags needs force', async () => {
    const archive = join(dir, 'twotags.tar');
    const image = buildImage([await busyboxLayer()]);
    await writeDockerArchive(archive, [{ image, tags: ['a:1', 'b:1'] }]);
    const store = await freshStore('twotags');
    await store.load(archive);
    await assert.rejects(
      store.remove(image.id),
      assertSwarmError('CONFLICT', /referenced in multiple repositories/),
    );
    const report = await store.remove(image.id, { force: true });
    assert.deepEqual(report.slice(0, 3), [{ Untagged: 'a:1' }, { Untagged: 'b:1' }, { Deleted: image.id }]);
  });
});

describe('restart', () => {
  test('a reopened store has the same images and tags and drops what a crash left in tmp/', async () => {
    const archive = join(dir, 'restart.tar');
    const built = await buildBusyboxDockerArchive(archive, { tag: 'busybox:1' });
    const root = join(dir, 'restart');
    const first = new ImageStore(root);
    await first.load(archive);
    // What a crash mid-pull leaves: a half-written temp dir and a layer nobody references.
    await mkdir(join(root, 'tmp', 'pull-crashed', 'unpacked-x', 'diff'), { recursive: true });
    await mkdir(join(root, 'layers', 'f'.repeat(64), 'diff'), { recursive: true });
    const second = new ImageStore(root);
    const img = await second.resolve('busybox:1');
    assert.equal(img.id, built.id);
    assert.deepEqual(await readdir(join(root, 'tmp')), []);
    assert.deepEqual(await layerDirs(second), [built.layers[0]!.diffId.slice(7)]);
  });
});

describe('hostile or broken archives', () => {
  test('a manifest.json that is not JSON is an invalid archive (400), not an internal error', async () => {
    const archive = join(dir, 'notjson.tar');
    await writeFile(archive, await makeLayerTar([{ name: 'manifest.json', content: '{"Config":' }]));
    const store = await freshStore('notjson');
    await assert.rejects(
      store.load(archive),
      assertSwarmError('INVALID_ARGUMENT', /invalid archive: manifest\.json/),
    );
  });

  test('a manifest.json over 4 MiB is refused before it is read into memory', async () => {
    const archive = join(dir, 'hugemanifest.tar');
    const huge = `[${' '.repeat(5 * 1024 * 1024)}]`;
    await writeFile(archive, await makeLayerTar([{ name: 'manifest.json', content: huge }]));
    const store = await freshStore('hugemanifest');
    await assert.rejects(
      store.load(archive),
      assertSwarmError('INVALID_ARGUMENT', /manifest\.json is larger than 4194304 bytes/),
    );
    assert.deepEqual(await readdir(join(store.root, 'tmp')), []);
  });

  test("a layer with a '../' member fails the load and writes nothing outside the layer", async () => {
    const victim = join(dir, 'victim');
    await mkdir(victim, { recursive: true });
    // Deep enough that '../' * 12 from inside the store's temp area would reach the filesystem root.
    const evil = await makeLayerTar([
      { name: 'ok.txt', content: 'fine' },
      { name: `${'../'.repeat(12)}${victim.slice(1)}/escaped.txt`, content: 'pwned' },
    ]);
    const image = buildImage([evil]);
    const archive = join(dir, 'evil.tar');
    await writeDockerArchive(archive, [{ image, tags: ['evil:1'] }]);
    const store = await freshStore('evil');
    await assert.rejects(store.load(archive), (err: unknown) => {
      assert.ok(err instanceof SwarmError);
      assert.match(err.message, /failed to unpack layer .*\.\./);
      return true;
    });
    assert.deepEqual(await readdir(victim), []);
    assert.deepEqual(await store.list(), []);
    assert.deepEqual(await layerDirs(store), []);
    assert.deepEqual(await readdir(join(store.root, 'tmp')), []);
  });

  test('a symlink pointing outside cannot be used to write through it', async () => {
    const victim = join(dir, 'victim2');
    await mkdir(victim, { recursive: true });
    const evil = await makeLayerTar([
      { name: 'esc', type: 'symlink', linkname: victim },
      { name: 'esc/pwned.txt', content: 'pwned' },
      { name: 'rel', type: 'symlink', linkname: '../../../../../../../../../../..' },
      { name: `rel${victim}/pwned2.txt`, content: 'pwned' },
    ]);
    const image = buildImage([evil]);
    const archive = join(dir, 'evil2.tar');
    await writeDockerArchive(archive, [{ image, tags: ['evil:2'] }]);
    const store = await freshStore('evil2');
    await assert.rejects(
      store.load(archive),
      assertSwarmError('INTERNAL', /failed to unpack layer .*Not a directory/),
    );
    assert.deepEqual(await readdir(victim), []);
    assert.deepEqual(await store.list(), []);
    assert.deepEqual(await layerDirs(store), []);
  });

  test('a layer whose content does not match its diff ID is refused and leaves nothing', async () => {
    const good = buildImage([await makeLayerTar([{ name: 'a', content: 'a' }])]);
    const other = await makeLayerTar([{ name: 'a', content: 'tampered' }]);
    const tampered = { ...good, layers: [{ ...good.layers[0]!, tar: other, gz: gzipSync(other) }] };
    const archive = join(dir, 'tampered.tar');
    await writeDockerArchive(archive, [{ image: tampered, tags: ['tampered:1'] }]);
    const store = await freshStore('tampered');
    await assert.rejects(
      store.load(archive),
      assertSwarmError('INVALID_ARGUMENT', /does not match its diff ID/),
    );
    assert.deepEqual(await store.list(), []);
    assert.deepEqual(await layerDirs(store), []);
    assert.deepEqual(await readdir(join(store.root, 'tmp')), []);
  });

  test('a tarball that is not an image archive is INVALID_ARGUMENT', async () => {
    const archive = join(dir, 'notimage.tar');
    await writeFile(archive, await makeLayerTar([{ name: 'hello.txt', content: 'hi' }]));
    const store = await freshStore('notimage');
    await assert.rejects(
      store.load(archive),
      assertSwarmError('INVALID_ARGUMENT', /neither a docker save archive/),
    );
  });
});
