// Runtime behaviour at its seams: the network provider contract, and following a log that conmon
// truncates at --log-size-max.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ContainerRuntime } from '../../src/executor/runc/runtime.js';
import type { NetworkProvider, PreparedNetwork } from '../../src/executor/types.js';
import { census, type Harness, makeHarness, scrub, until } from './fixtures.js';

class RecordingNetwork implements NetworkProvider {
  prepared: string[] = [];
  released: string[] = [];
  constructor(private readonly dir: string) {}
  async prepareNetwork(containerId: string): Promise<PreparedNetwork> {
    this.prepared.push(containerId);
    const hosts = join(this.dir, `hosts-${containerId}`);
    const resolv = join(this.dir, `resolv-${containerId}`);
    writeFileSync(hosts, '127.0.0.1\tlocalhost\n10.0.9.7\tfromnet\n');
    writeFileSync(resolv, 'nameserver 127.0.0.11\noptions ndots:0\n');
    return {
      hostsFile: hosts,
      resolvConf: resolv,
      hostname: 'fromnet',
      networks: { ov: { IPAddress: '10.0.9.7', IPPrefixLen: 24, NetworkID: 'n1' } },
    };
  }
  async releaseNetwork(containerId: string): Promise<void> {
    this.released.push(containerId);
  }
}

describe('runtime seams', () => {
  let h: Harness;
  before(async () => {
    h = await makeHarness({}, { logSizeMax: 4096 });
  });
  after(() => {
    if (!h) return;
    h.runtime.close();
    scrub(h);
  });

  test("the network provider's hostname, hosts and resolv.conf are what the container sees; it is released at removal", async () => {
    const net = new RecordingNetwork(h.dir);
    const rt = new ContainerRuntime({
      stateDir: h.stateDir,
      images: h.images,
      namePrefix: h.prefix,
      network: net,
    });
    try {
      await rt.adopt();
      const c = await rt.run({
        spec: { Image: 'bb', Args: ['sh', '-c', 'hostname; grep fromnet /etc/hosts; cat /etc/resolv.conf'] },
      });
      const done = await rt.waitExit(c.Id);
      assert.equal(done.State.ExitCode, 0);
      const lines: string[] = [];
      for await (const e of rt.logs(c.Id, {})) lines.push(e.line);
      assert.deepEqual(lines, [
        'fromnet\n',
        '10.0.9.7\tfromnet\n',
        'nameserver 127.0.0.11\n',
        'options ndots:0\n',
      ]);
      assert.deepEqual(net.prepared, [c.Id]);
      assert.deepEqual(net.released, []);
      await rt.remove(c.Id);
      assert.deepEqual(net.released, [c.Id]);
    } finally {
      rt.close();
    }
  });

  test('a follower keeps reading after conmon truncates the log at --log-size-max', async () => {
    const c = await h.runtime.run({
      spec: {
        Image: 'bb',
        Args: [
          'sh',
          '-c',
          'i=0; while [ $i -lt 400 ]; do echo line-$i; i=$((i+1)); done; sleep 0.5; echo final',
        ],
      },
    });
    const seen: string[] = [];
    for await (const e of h.runtime.logs(c.Id, { follow: true })) seen.push(e.line);
    assert.equal(seen.at(-1), 'final\n');
    assert.ok(seen.length < 401, 'the truncated file no longer holds every line');
    await h.runtime.remove(c.Id);
    await until(() => census(h).conmons.length === 0, 5000, 'conmons to exit');
    assert.deepEqual(census(h), { mounts: [], cgroups: [], conmons: [], bundles: [] });
  });
});
