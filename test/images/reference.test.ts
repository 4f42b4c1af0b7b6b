// Reference normalisation, registry-auth decoding, insecure-registry matching, platform choice and
// removal rules: the store's pure decisions.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { pullReference } from '../../src/engineapi/images.js';
import { pickPlatform } from '../../src/executor/images/manifests.js';
import {
  familiarize,
  familiarString,
  formatReference,
  normaliseTagged,
  parseReference,
} from '../../src/executor/images/reference.js';
import {
  decodeRegistryAuth,
  encodeRegistryAuth,
  isInsecureRegistry,
  parseChallenge,
} from '../../src/executor/images/registry.js';
import { planRemoval } from '../../src/executor/images/removal.js';

describe('references', () => {
  test('short names normalise the way Docker does', () => {
    const cases: [string, string][] = [
      ['busybox', 'docker.io/library/busybox:latest'],
      ['busybox:1.36', 'docker.io/library/busybox:1.36'],
      ['someone/app', 'docker.io/someone/app:latest'],
      ['index.docker.io/library/busybox:1', 'docker.io/library/busybox:1'],
      ['localhost:5000/busybox:1', 'localhost:5000/busybox:1'],
      ['localhost/busybox', 'localhost/busybox:latest'],
      ['registry.example.com/a/b/c:v2', 'registry.example.com/a/b/c:v2'],
    ];
    for (const [input, want] of cases) assert.equal(normaliseTagged(input), want, input);
  });

  test('familiar forms drop docker.io and library/', () => {
    assert.equal(familiarize('docker.io/library/busybox:latest'), 'busybox:latest');
    assert.equal(familiarize('docker.io/someone/app:1'), 'someone/app:1');
    assert.equal(familiarize('localhost:5000/busybox:1'), 'localhost:5000/busybox:1');
    const digest = `sha256:${'a'.repeat(64)}`;
    assert.equal(familiarString(parseReference(`busybox@${digest}`)), `busybox@${digest}`);
  });

  test('invalid references are refused', () => {
    for (const bad of ['', 'UPPER', 'a:b:c', 'busybox@sha256:123', 'a//b', '-x', 'x:-bad']) {
      assert.throws(() => parseReference(bad), /invalid reference format/, bad);
    }
  });

  test('normalising is idempotent and the familiar form normalises back', () => {
    const component = fc.stringMatching(/^[a-z0-9]{1,8}(?:[._-][a-z0-9]{1,8})?$/);
    const tag = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,10}$/);
    // A first path component with a dot would read as a registry host (Docker has the same rule).
    const first = fc.stringMatching(/^[a-z0-9]{1,8}(?:[_-][a-z0-9]{1,8})?$/);
    const domain = fc.constantFrom('', 'localhost:5000/', 'reg.example.com/', 'docker.io/');
    fc.assert(
      fc.property(domain, first, fc.array(component, { maxLength: 2 }), tag, (d, head, parts, t) => {
        const input = `${d}${[head, ...parts].join('/')}:${t}`;
        const canonical = normaliseTagged(input);
        assert.equal(normaliseTagged(canonical), canonical);
        assert.equal(normaliseTagged(familiarize(canonical)), canonical);
        assert.equal(formatReference(parseReference(canonical)), canonical);
      }),
    );
  });

  test('pull parameters combine fromImage and tag (or digest)', () => {
    const digest = `sha256:${'b'.repeat(64)}`;
    assert.equal(pullReference('localhost:5000/bb', '1'), 'localhost:5000/bb:1');
    assert.equal(pullReference('busybox', digest), `busybox@${digest}`);
    assert.equal(pullReference('busybox:1', ''), 'busybox:1');
  });
});

describe('registry access', () => {
  test('X-Registry-Auth decodes base64url JSON; empty and {} mean anonymous', () => {
    const creds = { username: 'u', password: 'p+/?', serveraddress: 'localhost:5000' };
    assert.deepEqual(decodeRegistryAuth(Buffer.from(JSON.stringify(creds)).toString('base64url')), creds);
    assert.deepEqual(decodeRegistryAuth(Buffer.from(JSON.stringify(creds)).toString('base64')), creds);
    assert.equal(decodeRegistryAuth(''), undefined);
    assert.equal(decodeRegistryAuth(Buffer.from('{}').toString('base64url')), undefined);
    assert.throws(() => decodeRegistryAuth('!!!not-base64!!!'), /X-Registry-Auth/);
  });

  test('X-Registry-Auth re-encodes to canonical base64url and is capped at 16 KiB', () => {
    const creds = { username: 'u', password: 'p+/?', serveraddress: 'localhost:5000' };
    const sent = Buffer.from(JSON.stringify({ ...creds, email: 'x@y' })).toString('base64');
    const canonical = encodeRegistryAuth(decodeRegistryAuth(sent)!);
    assert.match(canonical, /^[A-Za-z0-9_-]+$/);
    assert.deepEqual(decodeRegistryAuth(canonical), creds);
    assert.throws(() => decodeRegistryAuth('e'.repeat(16 * 1024 + 1)), /longer than 16384 bytes/);
    assert.throws(() => encodeRegistryAuth({ password: 'x'.repeat(13_000) }), /longer than 16384 bytes/);
  });

  test('insecure registries: localhost and 127.0.0.0/8 by default, host:port and CIDR entries', () => {
    const dflt = ['localhost', '127.0.0.0/8'];
    assert.equal(isInsecureRegistry('localhost:5000', dflt), true);
    assert.equal(isInsecureRegistry('127.1.2.3:5000', dflt), true);
    assert.equal(isInsecureRegistry('docker.io', dflt), false);
    assert.equal(isInsecureRegistry('10.0.0.7:5000', dflt), false);
    assert.equal(isInsecureRegistry('10.0.0.7:5000', ['10.0.0.0/24']), true);
    assert.equal(isInsecureRegistry('reg.lan:443', ['reg.lan:443']), true);
    assert.equal(isInsecureRegistry('reg.lan:5000', ['reg.lan:443']), false);
  });

  test('bearer challenges parse into realm, service and scope', () => {
    const ch = parseChallenge(
      'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"',
    );
    assert.deepEqual(ch, {
      scheme: 'bearer',
      params: {
        realm: 'https://auth.example/token',
        service: 'registry.example',
        scope: 'repository:a/b:pull',
      },
    });
  });

  test('a manifest list yields its linux/amd64 entry, or nothing', () => {
    const d = (c: string) => `sha256:${c.repeat(64)}`;
    const index = {
      schemaVersion: 2 as const,
      manifests: [
        { digest: d('1'), size: 1, platform: { os: 'linux', architecture: 'arm64' } },
        { digest: d('2'), size: 1, platform: { os: 'windows', architecture: 'amd64' } },
        { digest: d('3'), size: 1, platform: { os: 'linux', architecture: 'amd64' } },
      ],
    };
    assert.equal(pickPlatform(index)?.digest, d('3'));
    assert.equal(pickPlatform({ ...index, manifests: index.manifests.slice(0, 2) }), undefined);
  });
});

describe('removal rules', () => {
  const id = `sha256:${'c'.repeat(64)}`;
  const base = { imageId: id, holders: [] as string[], force: false, familiar: familiarize };
  const a = 'docker.io/library/a:1';
  const b = 'docker.io/library/b:1';

  test('untagging one of several tags never deletes the image, even in use', () => {
    assert.deepEqual(planRemoval({ ...base, namedTag: a, tags: [a, b], holders: ['x'] }), {
      ok: true,
      untag: [a],
      deleteImage: false,
    });
  });

  test('the last tag of an image in use needs force and then only untags', () => {
    const refused = planRemoval({ ...base, namedTag: a, tags: [a], holders: ['0123456789abcdef'] });
    assert.equal(refused.ok, false);
    if (!refused.ok) assert.match(refused.error.message, /must force.*container 0123456789ab/);
    assert.deepEqual(planRemoval({ ...base, namedTag: a, tags: [a], holders: ['h'], force: true }), {
      ok: true,
      untag: [a],
      deleteImage: false,
    });
  });

  test('deleting by ID an image in use cannot be forced', () => {
    const plan = planRemoval({ ...base, namedTag: undefined, tags: [a], holders: ['h'], force: true });
    assert.equal(plan.ok, false);
    if (!plan.ok) {
      assert.equal(plan.error.code, 'CONFLICT');
      assert.match(plan.error.message, /^conflict: unable to delete cccccccccccc \(cannot be forced\)/);
    }
  });

  test('deleting by ID with several tags needs force', () => {
    assert.equal(planRemoval({ ...base, namedTag: undefined, tags: [a, b] }).ok, false);
    assert.deepEqual(planRemoval({ ...base, namedTag: undefined, tags: [a, b], force: true }), {
      ok: true,
      untag: [a, b],
      deleteImage: true,
    });
  });
});
