// Pulling from registries: Debian's docker-registry over plain http (anonymous and bearer-token),
// manifest lists, and a fake registry that sends wrong, short or unknown content.
import assert from 'node:assert/strict';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SwarmError } from '../../src/api/errors.js';
import { ImageStore, type ProgressEvent } from '../../src/executor/images/store.js';
import {
  buildBusyboxDockerArchive,
  buildImage,
  busyboxImage,
  busyboxLayer,
  type FakeRegistry,
  MT,
  makeLayerTar,
  pushArchive,
  pushImage,
  pushImageWithLayers,
  pushManifestList,
  serveImage,
  sha256,
  startFakeRegistry,
  startRegistry,
  type TestRegistry,
  tempDir,
} from '../helpers/images.js';

let dir: string;
before(async () => {
  dir = await tempDir('pull');
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

let storeSeq = 0;
async function freshStore(): Promise<ImageStore> {
  const s = new ImageStore(join(dir, `store-${storeSeq++}`));
  await s.init();
  return s;
}

/** The store holds nothing: no image, no layer, no blob, nothing left in tmp/. */
async function assertEmpty(store: ImageStore): Promise<void> {
  assert.deepEqual(await store.list(), []);
  for (const sub of ['layers', 'tmp', 'imagedb', 'blobs/sha256']) {
    assert.deepEqual(await readdir(join(store.root, sub)), [], sub);
  }
}

function rejectsWith(code: string, pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof SwarmError, `expected a SwarmError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.match(err.message, pattern);
    return true;
  };
}

describe('pulling from docker-registry over plain http', () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startRegistry();
  });
  after(async () => {
    await registry?.stop();
  });

  test('pull stores a tagged image with its repo digest and reports Docker progress', async () => {
    const image = await busyboxImage();
    const digest = await pushImage(registry, 'bb', '1', image);
    const store = await freshStore();
    const events: ProgressEvent[] = [];
    const ref = `${registry.host}/bb:1`;
    const result = await store.pull(ref, { onProgress: (e) => events.push(e) });
    assert.deepEqual(result, { id: image.id, digest, ref, upToDate: false });
    const img = await store.resolve(ref);
    assert.deepEqual(img.repoTags, [ref]);
    assert.deepEqual(img.repoDigests, [`${registry.host}/bb@${digest}`]);
    assert.deepEqual(img.config.Cmd, ['sh']);
    assert.equal(img.layers.length, 1);
    const statuses = events.map((e) => e.status);
    assert.equal(statuses[0], 'Pulling from bb');
    assert.ok(statuses.includes('Pull complete'));
    assert.deepEqual(statuses.slice(-2), [`Digest: ${digest}`, `Status: Downloaded newer image for ${ref}`]);
    // By digest too.
    assert.equal((await store.resolve(`${registry.host}/bb@${digest}`)).id, image.id);

    // A second pull finds everything in place.
    const again: ProgressEvent[] = [];
    const second = await store.pull(ref, { onProgress: (e) => again.push(e) });
    assert.equal(second.upToDate, true);
    assert.ok(again.some((e) => e.status === 'Already exists'));
    assert.equal(again.at(-1)?.status, `Status: Image is up to date for ${ref}`);
  });

  test('uncompressed Docker layers and zstd OCI layers pull and unpack as gzip ones do', async () => {
    const extra = await makeLayerTar([{ name: 'etc/forms.txt', content: 'plain' }]);
    const third = await makeLayerTar([{ name: 'etc/zstd.txt', content: 'squeezed' }]);
    const image = buildImage([await busyboxLayer(), extra, third]);
    const store = await freshStore();
    // Docker manifest: gzip + uncompressed; OCI manifest: gzip + uncompressed + zstd.
    await pushImageWithLayers(
      registry,
      'forms',
      'docker',
      buildImage([await busyboxLayer(), extra]),
      ['gzip', 'none'],
      'docker',
    );
    await pushImageWithLayers(registry, 'forms', 'oci', image, ['gzip', 'none', 'zstd'], 'oci');
    for (const tag of ['docker', 'oci']) {
      const ref = `${registry.host}/forms:${tag}`;
      await store.pull(ref);
      const img = await store.resolve(ref);
      assert.equal(img.layers.length, tag === 'docker' ? 2 : 3);
      const top = img.layers.at(-1) ?? '';
      const want = tag === 'docker' ? ['etc/forms.txt', 'plain'] : ['etc/zstd.txt', 'squeezed'];
      assert.equal(
        await readFile(join(top, want[0] ?? ''), 'utf8'),
        want[1],
        `${tag}: the top layer unpacked`,
      );
    }
  });

  test('pulling a manifest list takes the linux/amd64 image', async () => {
    const base = await busyboxLayer();
    const arm = buildImage([base], { architecture: 'arm64', labels: { arch: 'arm64' } });
    const amd = buildImage([base], { architecture: 'amd64', labels: { arch: 'amd64' } });
    const listDigest = await pushManifestList(registry, 'multi', '1', [arm, amd]);
    const store = await freshStore();
    const result = await store.pull(`${registry.host}/multi:1`);
    assert.equal(result.id, amd.id);
    assert.equal(result.digest, listDigest);
    const img = await store.resolve(`${registry.host}/multi:1`);
    assert.deepEqual(img.config.Labels, { arch: 'amd64' });
    assert.equal(img.architecture, 'amd64');
  });

  test('an image pushed from a docker save archive pulls back with the same ID', async () => {
    const archive = join(dir, 'push-me.tar');
    const built = await buildBusyboxDockerArchive(archive, { tag: 'busybox:latest' });
    await pushArchive(registry, 'library/fromarchive', 'v2', archive);
    const store = await freshStore();
    const result = await store.pull(`${registry.host}/library/fromarchive:v2`);
    assert.equal(result.id, built.id);
  });

  test('an unknown tag is NOT_FOUND naming the reference, and stores nothing', async () => {
    const store = await freshStore();
    await assert.rejects(
      store.pull(`${registry.host}/bb:nosuchtag`),
      rejectsWith('NOT_FOUND', new RegExp(`manifest for ${registry.host}/bb:nosuchtag not found`)),
    );
    await assertEmpty(store);
  });
});

describe('pulling from a registry with bearer-token auth', () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startRegistry({ tokenAuth: true });
    await pushImage(registry, 'private/bb', 'v1', await busyboxImage());
  });
  after(async () => {
    await registry?.stop();
  });

  test('without credentials the pull fails as unauthorized and stores nothing', async () => {
    const store = await freshStore();
    await assert.rejects(
      store.pull(`${registry.host}/private/bb:v1`),
      rejectsWith(
        'UNAUTHENTICATED',
        /pull access denied for localhost:\d+\/private\/bb:v1.*authentication required/,
      ),
    );
    await assertEmpty(store);
  });

  test('with wrong credentials the pull fails as unauthorized', async () => {
    const store = await freshStore();
    await assert.rejects(
      store.pull(`${registry.host}/private/bb:v1`, { auth: { username: 'skt', password: 'wrong' } }),
      rejectsWith('UNAUTHENTICATED', /credentials were rejected/),
    );
    await assertEmpty(store);
  });

  test('with the X-Registry-Auth credentials the pull gets a token and succeeds', async () => {
    const store = await freshStore();
    const result = await store.pull(`${registry.host}/private/bb:v1`, { auth: registry.credentials! });
    assert.equal((await store.resolve(`${registry.host}/private/bb:v1`)).id, result.id);
  });
});

describe('pulls that must fail cleanly', () => {
  let fake: FakeRegistry;
  before(async () => {
    fake = await startFakeRegistry();
  });
  after(async () => {
    await fake?.stop();
  });

  async function twoLayerImage(tag: string) {
    return buildImage([await busyboxLayer(), await makeLayerTar([{ name: `${tag}.txt`, content: tag }])]);
  }

  test('a layer whose bytes do not match its digest fails naming the layer', async () => {
    const image = await twoLayerImage('wrong');
    serveImage(fake, 'wrong', '1', image);
    const top = image.layers[1]!;
    fake.blobs.set(top.digest, Buffer.concat([top.gz.subarray(0, -1), Buffer.from([top.gz.at(-1)! ^ 0xff])]));
    const store = await freshStore();
    await assert.rejects(
      store.pull(`${fake.host}/wrong:1`),
      rejectsWith(
        'INVALID_ARGUMENT',
        new RegExp(`layer ${top.digest} of ${fake.host}/wrong:1: digest mismatch`),
      ),
    );
    await assertEmpty(store);
  });

  test('a truncated layer fails naming the layer', async () => {
    const image = await twoLayerImage('short');
    serveImage(fake, 'short', '1', image);
    const top = image.layers[1]!;
    fake.truncate.add(top.digest);
    const store = await freshStore();
    await assert.rejects(store.pull(`${fake.host}/short:1`), (err: unknown) => {
      assert.ok(err instanceof SwarmError);
      assert.match(
        err.message,
        new RegExp(`layer ${top.digest} of ${fake.host}/short:1: (download failed|truncated)`),
      );
      return true;
    });
    await assertEmpty(store);
  });

  test('an unknown manifest media type fails naming it', async () => {
    const body = Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'old', tag: '1', fsLayers: [] }));
    fake.manifests.set('old:1', {
      body,
      contentType: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
    });
    const store = await freshStore();
    await assert.rejects(
      store.pull(`${fake.host}/old:1`),
      rejectsWith(
        'INVALID_ARGUMENT',
        /old:1: unsupported manifest media type "application\/vnd.docker.distribution.manifest.v1\+prettyjws"/,
      ),
    );
    await assertEmpty(store);
  });

  test('a layer in a compression we cannot read fails as an unsupported media type before any download', async () => {
    const image = await twoLayerImage('bzip2');
    serveImage(fake, 'bzip2', '1', image);
    const manifest = JSON.parse(fake.manifests.get('bzip2:1')!.body.toString()) as {
      layers: { mediaType: string }[];
    };
    manifest.layers[1]!.mediaType = 'application/vnd.oci.image.layer.v1.tar+bzip2';
    const body = Buffer.from(JSON.stringify({ ...manifest, mediaType: MT.ociManifest }));
    fake.manifests.set('bzip2:1', { body, contentType: MT.ociManifest });
    const store = await freshStore();
    const seen = fake.requests.length;
    await assert.rejects(
      store.pull(`${fake.host}/bzip2:1`),
      rejectsWith(
        'INVALID_ARGUMENT',
        /unsupported layer media type "application\/vnd.oci.image.layer.v1.tar\+bzip2"/,
      ),
    );
    assert.deepEqual(
      fake.requests.slice(seen).filter((p) => p.includes('/blobs/')),
      [],
    );
    await assertEmpty(store);
  });

  test('a manifest fetched by digest must hash to that digest', async () => {
    const image = await twoLayerImage('bydigest');
    const digest = serveImage(fake, 'bydigest', '1', image);
    const other = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: MT.dockerManifest, config: {}, layers: [] }),
    );
    fake.manifests.set(`bydigest@${digest}`, { body: other, contentType: MT.dockerManifest });
    const store = await freshStore();
    await assert.rejects(
      store.pull(`${fake.host}/bydigest@${digest}`),
      rejectsWith(
        'INVALID_ARGUMENT',
        new RegExp(`manifest ${digest} .*digest mismatch \\(content is ${sha256(other)}\\)`),
      ),
    );
    await assertEmpty(store);
  });
});
