// The image routes behind the Engine API server, driven by the real docker CLIs (20.10 and 28.x)
// and by raw HTTP where the wire shape matters: load, pull, images, inspect, tag, rmi.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { imageRoutes } from '../../src/engineapi/images.js';
import { EngineServer } from '../../src/engineapi/server.js';
import { systemRoutes } from '../../src/engineapi/system.js';
import { ImageStore } from '../../src/executor/images/store.js';
import { run } from '../../src/lib/exec.js';
import {
  buildBusyboxDockerArchive,
  buildImage,
  busyboxImage,
  busyboxLayer,
  makeLayerTar,
  pushImage,
  serveImage,
  startFakeRegistry,
  startRegistry,
  type TestRegistry,
  tempDir,
} from '../helpers/images.js';

const CLIS = ['/usr/bin/docker', '/usr/local/bin/docker'];

let dir: string;
let socket: string;
let server: EngineServer;
let store: ImageStore;
let registry: TestRegistry;
let archive: string;

before(async () => {
  dir = await tempDir('routes');
  socket = join(dir, 'engine.sock');
  store = new ImageStore(join(dir, 'store'));
  await store.init();
  server = new EngineServer({
    serverName: 'swarmd-test',
    routes: [
      ...systemRoutes({
        swarmInfo: async () => ({}),
        swarmHeader: () => 'inactive',
        counts: async () => ({ containers: 0, running: 0, paused: 0, stopped: 0, images: 0 }),
        hostname: 'test',
        stateDir: dir,
      }),
      ...imageRoutes(store),
    ],
  });
  await server.listen(socket);
  registry = await startRegistry();
  archive = join(dir, 'bb.tar');
  await buildBusyboxDockerArchive(archive, { tag: 'busybox:latest' });
});

after(async () => {
  await server?.close();
  await registry?.stop();
  await rm(dir, { recursive: true, force: true });
});

function docker(cli: string, args: string[]) {
  return run(cli, args, {
    env: { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: join(dir, 'docker-config') },
    okCodes: [0, 1],
    timeoutMs: 60_000,
  });
}

function raw(
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString(),
          type: String(res.headers['content-type']),
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

for (const cli of CLIS) {
  describe(`docker CLI ${cli}`, () => {
    test('docker load prints "Loaded image" and docker images lists it', async () => {
      const load = await docker(cli, ['load', '-i', archive]);
      assert.equal(load.code, 0, load.stderr);
      assert.match(load.stdout, /Loaded image: busybox:latest/);
      const images = await docker(cli, ['images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}']);
      assert.equal(images.code, 0, images.stderr);
      const id = (await store.resolve('busybox')).id;
      assert.match(images.stdout, new RegExp(`^busybox:latest ${id.slice(7, 19)} \\d`, 'm'));
      const filtered = await docker(cli, ['images', '-q', 'busybox']);
      assert.equal(filtered.stdout.trim(), id.slice(7, 19));
      const none = await docker(cli, ['images', '-q', 'nosuch']);
      assert.equal(none.stdout.trim(), '');
    });

    test('docker pull from a local registry shows the digest and the status line', async () => {
      const image = await busyboxImage({ labels: { cli: cli } });
      const digest = await pushImage(registry, 'clibb', '1', image);
      const ref = `${registry.host}/clibb:1`;
      const pull = await docker(cli, ['pull', ref]);
      assert.equal(pull.code, 0, pull.stderr);
      assert.match(pull.stdout, /1: Pulling from clibb/);
      assert.match(pull.stdout, new RegExp(`Digest: ${digest}`));
      assert.match(pull.stdout, new RegExp(`Status: Downloaded newer image for ${ref}`));
      const inspect = await docker(cli, [
        'image',
        'inspect',
        ref,
        '--format',
        '{{json .RootFS}} {{.Os}}/{{.Architecture}} {{json .Config.Cmd}}',
      ]);
      assert.equal(inspect.code, 0, inspect.stderr);
      assert.equal(
        inspect.stdout.trim(),
        `{"Type":"layers","Layers":["${image.layers[0]!.diffId}"]} linux/amd64 ["sh"]`,
      );
      const rmi = await docker(cli, ['rmi', ref]);
      assert.equal(rmi.code, 0, rmi.stderr);
      assert.match(rmi.stdout, new RegExp(`Untagged: ${ref}`));
      assert.match(rmi.stdout, new RegExp(`Deleted: ${image.id}`));
    });

    test('docker pull of a missing tag fails with the registry error', async () => {
      const pull = await docker(cli, ['pull', `${registry.host}/clibb:nosuch`]);
      assert.equal(pull.code, 1);
      assert.match(pull.stderr, /manifest for localhost:\d+\/clibb:nosuch not found/);
    });

    test('docker rmi is refused while a container uses the image, and works after', async () => {
      const id = (await store.resolve('busybox')).id;
      store.acquire(id, 'feedfacefeedfacefeedface0');
      try {
        const refused = await docker(cli, ['rmi', 'busybox']);
        assert.equal(refused.code, 1);
        assert.match(
          refused.stderr,
          /Error response from daemon: conflict: unable to remove repository reference "busybox:latest" \(must force\) - container feedfacefeed is using its referenced image/,
        );
      } finally {
        store.release(id, 'feedfacefeedfacefeedface0');
      }
      const rmi = await docker(cli, ['rmi', 'busybox']);
      assert.equal(rmi.code, 0, rmi.stderr);
      assert.match(rmi.stdout, /Untagged: busybox:latest/);
      assert.match(rmi.stdout, new RegExp(`Deleted: ${id}`));
      const missing = await docker(cli, ['rmi', 'busybox']);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /No such image: busybox/);
    });
  });
}

describe('wire shapes', () => {
  test('GET /images/json gives Docker summaries; old API versions get VirtualSize', async () => {
    await store.load(archive);
    const id = (await store.resolve('busybox')).id;
    const res = await raw('GET', '/v1.41/images/json');
    assert.equal(res.status, 200);
    const list = JSON.parse(res.body) as Record<string, unknown>[];
    const entry = list.find((i) => i.Id === id)!;
    assert.deepEqual(Object.keys(entry).sort(), [
      'Containers',
      'Created',
      'Id',
      'Labels',
      'ParentId',
      'RepoDigests',
      'RepoTags',
      'SharedSize',
      'Size',
      'VirtualSize',
    ]);
    assert.deepEqual(entry.RepoTags, ['busybox:latest']);
    assert.equal(entry.Containers, -1);
  });

  test('a pull that fails before any progress is a plain HTTP error', async () => {
    const early = await raw('POST', '/v1.47/images/create?fromImage=localhost:1/x&tag=1');
    assert.equal(early.status, 503);
    assert.match(JSON.parse(early.body).message, /Get "http:\/\/localhost:1\/v2\/x\/manifests\/1"/);
  });

  test('a pull that fails mid-stream ends with an in-band errorDetail message, and the CLI shows it', async () => {
    const fake = await startFakeRegistry();
    try {
      // A layer this store cannot already have, so it must be downloaded.
      const image = buildImage([
        await busyboxLayer(),
        await makeLayerTar([{ name: 'only-here', content: 'x' }]),
      ]);
      serveImage(fake, 'bad', '1', image);
      const gz = Buffer.from(image.layers[1]!.gz);
      gz[gz.length - 1] = gz.at(-1)! ^ 0xff;
      fake.blobs.set(image.layers[1]!.digest, gz);
      const res = await raw('POST', `/v1.47/images/create?fromImage=${fake.host}/bad&tag=1`);
      assert.equal(res.status, 200, res.body);
      assert.equal(res.type, 'application/json');
      const lines = res.body
        .trim()
        .split('\r\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.deepEqual(lines[0], { status: 'Pulling from bad', id: '1' });
      const last = lines.at(-1)!;
      assert.match(
        String(last.error),
        new RegExp(`layer ${image.layers[1]!.digest} of ${fake.host}/bad:1: digest mismatch`),
      );
      assert.deepEqual(last.errorDetail, { message: last.error });
      const cli = await docker('/usr/local/bin/docker', ['pull', `${fake.host}/bad:1`]);
      assert.equal(cli.code, 1);
      assert.match(cli.stderr, /digest mismatch/);
    } finally {
      await fake.stop();
    }
  });

  test('POST /images/{name}/tag adds a tag; DELETE of an unknown image is 404 with Docker wording', async () => {
    const tag = await raw('POST', '/v1.47/images/busybox/tag?repo=localhost:5000/mine&tag=2');
    assert.equal(tag.status, 201);
    assert.deepEqual((await store.resolve('localhost:5000/mine:2')).id, (await store.resolve('busybox')).id);
    const del = await raw('DELETE', '/v1.47/images/localhost:5000/mine:2');
    assert.equal(del.status, 200);
    assert.deepEqual(JSON.parse(del.body), [{ Untagged: 'localhost:5000/mine:2' }]);
    const missing = await raw('DELETE', '/v1.47/images/nosuch');
    assert.equal(missing.status, 404);
    assert.deepEqual(JSON.parse(missing.body), { message: 'No such image: nosuch:latest' });
  });
});
