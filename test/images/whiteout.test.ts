// Docker whiteouts in layers become overlayfs whiteouts, and an overlay over the unpacked layers
// shows what Docker would: deleted files gone, opaque directories holding only the new layer's files.
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ImageStore } from '../../src/executor/images/store.js';
import { run } from '../../src/lib/exec.js';
import { buildImage, busyboxLayer, makeLayerTar, tempDir, writeDockerArchive } from '../helpers/images.js';

let dir: string;
let mounted: string | undefined;
before(async () => {
  dir = await tempDir('whiteout');
});
after(async () => {
  if (mounted) await run('umount', [mounted], { okCodes: [0, 32] });
  await rm(dir, { recursive: true, force: true });
});

test('whiteouts unpack to overlay form and an overlay of the layers hides what the top layer deleted', async () => {
  const top = await makeLayerTar([
    { name: 'etc/', type: 'directory' },
    { name: 'etc/.wh.group', content: '' },
    { name: 'www/', type: 'directory' },
    { name: 'www/.wh..wh..opq', content: '' },
    { name: 'www/new.html', content: 'new page\n' },
  ]);
  const image = buildImage([await busyboxLayer(), top]);
  const archive = join(dir, 'wh.tar');
  await writeDockerArchive(archive, [{ image, tags: ['wh:1'] }]);
  const store = new ImageStore(join(dir, 'store'));
  await store.load(archive);
  const [lower, upperLayer] = (await store.resolve('wh:1')).layers as [string, string];

  // The top layer in overlay form.
  const group = await stat(join(upperLayer, 'etc/group'));
  assert.ok(group.isCharacterDevice(), 'etc/group is a whiteout char device');
  assert.equal(group.rdev, 0);
  const opaque = await run('getfattr', [
    '--only-values',
    '-n',
    'trusted.overlay.opaque',
    join(upperLayer, 'www'),
  ]);
  assert.equal(opaque.stdout, 'y');
  assert.deepEqual((await readdir(join(upperLayer, 'www'))).sort(), ['new.html']);
  assert.deepEqual(await readdir(join(upperLayer, 'etc')), ['group']);

  // Mounted as a container's rootfs would be (leftmost lowerdir = top layer).
  for (const d of ['upper', 'work', 'merged']) await mkdir(join(dir, d));
  const merged = join(dir, 'merged');
  await run('mount', [
    '-t',
    'overlay',
    'overlay',
    '-o',
    `lowerdir=${upperLayer}:${lower},upperdir=${join(dir, 'upper')},workdir=${join(dir, 'work')}`,
    merged,
  ]);
  mounted = merged;
  try {
    await assert.rejects(stat(join(merged, 'etc/group')), /ENOENT/);
    assert.match(await readFile(join(merged, 'etc/passwd'), 'utf8'), /^root:x:0:0/);
    assert.deepEqual(await readdir(join(merged, 'www')), ['new.html']);
    assert.ok((await stat(join(merged, 'bin/busybox'))).isFile());
  } finally {
    await run('umount', [merged]);
    mounted = undefined;
  }
});
