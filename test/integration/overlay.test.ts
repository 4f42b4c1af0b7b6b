// An overlay network across hosts, through the real docker CLI in a cluster in a box (1 manager + 2
// workers): `network create -d overlay skynet`, a 3-replica web service and a client service on it;
// from inside the client task (docker exec on its node) the service name resolves to its VIP,
// tasks.api to the 3 task addresses, and requests to http://api reach all 3 tasks over VXLAN; a
// dnsrr service resolves to its tasks; a service on another network is neither seen nor reached; a
// port published through the mesh answers on every node and, through ten scale 3 → 1 → 3 rounds,
// reaches only the tasks meant to run; an --internal network has no way out.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type ApiTask, docker } from '../helpers/cli.js';
import {
  type Cluster,
  type ClusterHost,
  hostOfNode,
  loadBusybox,
  startCluster,
  until,
} from '../helpers/cluster.js';

interface ServiceJSON {
  ID: string;
  Endpoint?: { VirtualIPs?: { NetworkID: string; Addr: string }[] };
}

describe('overlay networks across hosts', { timeout: 300_000 }, () => {
  let cluster: Cluster;
  let manager: ClusterHost;
  let client: { host: ClusterHost; container: string };

  const running = async (service: string) =>
    (await manager.api('GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [service] }))}`))
      .json<ApiTask[]>()
      .filter((t) => t.DesiredState === 'running' && t.Status.State === 'running');
  const nodeHost = (nodeId: string) => hostOfNode(cluster, nodeId);
  const inClient = (args: string[]) => docker(client.host, ['exec', client.container, ...args]);
  const create = async (args: string[]) => {
    const r = await docker(manager, ['service', 'create', '-d', ...args]);
    assert.equal(r.code, 0, r.stderr);
  };

  before(async () => {
    cluster = await startCluster({ workers: 2 });
    manager = cluster.manager;
    await loadBusybox(cluster.hosts);
    const net = await docker(manager, ['network', 'create', '-d', 'overlay', 'skynet']);
    assert.equal(net.code, 0, net.stderr);
    await create([
      '--name',
      'api',
      '--network',
      'skynet',
      '--replicas',
      '3',
      'busybox',
      'sh',
      '-c',
      'mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www',
    ]);
    await create(['--name', 'client', '--network', 'skynet', 'busybox', 'sleep', '3600']);
    const [c] = await until('api ×3 and the client running', async () => {
      const api = await running('api');
      const cl = await running('client');
      return api.length === 3 && cl.length === 1 ? cl : undefined;
    });
    assert.ok(c?.NodeID && c.Status.ContainerStatus?.ContainerID);
    client = { host: await nodeHost(c.NodeID), container: c.Status.ContainerStatus.ContainerID };
  });
  after(async () => {
    await cluster?.destroy();
  });

  it('the api tasks run on three different nodes', async () => {
    assert.equal(new Set((await running('api')).map((t) => t.NodeID)).size, 3);
  });

  it('the service name resolves to its VIP and tasks.api to the three task addresses', async () => {
    const svc = (await manager.api('GET', '/services/api')).json<ServiceJSON>();
    const vip = svc.Endpoint?.VirtualIPs?.[0]?.Addr.replace(/\/\d+$/, '');
    assert.ok(vip, 'api has a VIP');
    const r = await until('nslookup api', async () => {
      const x = await inClient(['nslookup', 'api', '127.0.0.11']);
      return x.code === 0 && x.stdout.includes(vip) ? x : undefined;
    });
    assert.match(r.stdout, new RegExp(`Address: ${vip.replace(/\./g, '\\.')}`));
    const addrs = (await running('api')).map((t) =>
      (
        (t as unknown as { NetworksAttachments: { Addresses: string[] }[] }).NetworksAttachments[0]
          ?.Addresses[0] ?? ''
      ).replace(/\/\d+$/, ''),
    );
    const tasks = await inClient(['nslookup', 'tasks.api', '127.0.0.11']);
    for (const a of addrs) assert.ok(tasks.stdout.includes(a), `${a} in ${tasks.stdout}`);
  });

  it('network inspect on a manager shows its containers on the network and the nodes that have it', async () => {
    const r = await docker(manager, ['network', 'inspect', 'skynet']);
    assert.equal(r.code, 0, r.stderr);
    type Inspect = {
      Containers: Record<string, { Name: string; IPv4Address: string }>;
      Peers?: { IP: string }[];
    };
    const [n] = JSON.parse(r.stdout) as Inspect[];
    const mine = Object.values(n?.Containers ?? {});
    assert.ok(mine.length >= 1, 'the api task on the manager is listed');
    for (const c of mine) assert.match(c.IPv4Address, /^10\.0\.\d+\.\d+\/24$/, c.Name);
    const peers = (n?.Peers ?? []).map((p) => p.IP).sort();
    assert.deepEqual(peers, cluster.hosts.map((h) => h.ip).sort(), 'api runs on all three nodes');
  });

  it('network inspect --verbose lists the services on the network with their VIP and running tasks', async () => {
    const r = await docker(manager, [
      'network',
      'inspect',
      '--verbose',
      '-f',
      '{{json .Services}}',
      'skynet',
    ]);
    assert.equal(r.code, 0, r.stderr);
    type Services = Record<
      string,
      { VIP: string; Tasks: { Name: string; EndpointIP: string; Info: Record<string, string> }[] }
    >;
    const services = JSON.parse(r.stdout) as Services;
    const api = services.api;
    assert.ok(api, `api is listed: ${r.stdout}`);
    assert.match(api.VIP, /^10\.0\.\d+\.\d+$/);
    assert.equal(api.Tasks.length, 3);
    for (const t of api.Tasks) {
      assert.match(t.Name, /^api\.[1-3]\.[a-z0-9]+$/);
      assert.match(t.EndpointIP, /^10\.0\.\d+\.\d+$/);
    }
    assert.deepEqual(
      api.Tasks.map((t) => t.Info['Host IP']).sort(),
      cluster.hosts.map((h) => h.ip).sort(),
      'one task on each node',
    );
    assert.ok(services.client, 'the client service is listed too');
    const plain = await docker(manager, ['network', 'inspect', '-f', '{{json .Services}}', 'skynet']);
    assert.equal(plain.stdout.trim(), 'null', 'without --verbose there are no Services');
  });

  it('requests to http://api reach all three tasks through the VIP, across hosts', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 12; i++) {
      // busybox-static's wget -T crashes: `timeout` bounds a hung request instead.
      const r = await inClient(['timeout', '5', 'wget', '-qO-', 'http://api/']);
      assert.equal(r.code, 0, r.stderr);
      seen.add(r.stdout.trim());
    }
    assert.equal(seen.size, 3, [...seen].join(', '));
  });

  it('a dnsrr service resolves to its task addresses; a service on another network is not seen', async () => {
    await create([
      '--name',
      'rr',
      '--endpoint-mode',
      'dnsrr',
      '--network',
      'skynet',
      '--replicas',
      '2',
      'busybox',
      'sleep',
      '3600',
    ]);
    // othernet also carries Docker's MTU option: its task's interface takes it.
    const net2 = await docker(manager, [
      'network',
      'create',
      '-d',
      'overlay',
      '--opt',
      'com.docker.network.driver.mtu=1400',
      'othernet',
    ]);
    assert.equal(net2.code, 0, net2.stderr);
    await create(['--name', 'hidden', '--network', 'othernet', 'busybox', 'sleep', '3600']);
    const rr = await until('2 rr tasks resolved', async () => {
      const x = await inClient(['nslookup', 'rr', '127.0.0.11']);
      const n = (x.stdout.match(/Address: 10\./g) ?? []).length;
      return n === 2 ? x : undefined;
    });
    assert.ok(rr);
    await until('hidden running', async () => ((await running('hidden')).length === 1 ? true : undefined));
    const hidden = await inClient(['nslookup', 'hidden', '127.0.0.11']);
    assert.doesNotMatch(hidden.stdout, /Address: 10\./);
    const [h] = await running('hidden');
    assert.ok(h?.NodeID, 'the hidden task runs');
    const host = await nodeHost(h.NodeID);
    const link = await docker(host, [
      'exec',
      h.Status.ContainerStatus?.ContainerID ?? '',
      'ip',
      'link',
      'show',
      'eth1',
    ]);
    assert.match(link.stdout, /mtu 1400/, link.stdout + link.stderr);
  });

  it('a port published through the mesh answers on every node; through ten scale 3 → 1 → 3 rounds every node reaches only the tasks meant to run, even while removed ones stop', async () => {
    // httpd as PID 1 ignores SIGTERM: a removed task runs on for its whole grace period, and the
    // mesh of every node must have dropped it before that.
    await create([
      '--name',
      'web',
      '--publish',
      '8080:80',
      '--stop-grace-period',
      '8s',
      'busybox',
      'sh',
      '-c',
      'mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www',
    ]);
    const [worker2] = cluster.workers.slice(-1);
    assert.ok(worker2);
    const get = async (ip: string) => {
      const r = await worker2.inNetns('curl', ['-s', '--max-time', '3', `http://${ip}:8080/`]);
      return r.code === 0 ? r.stdout.trim() : undefined;
    };
    const hostnames = async () =>
      (await running('web')).map((t) => t.Status.ContainerStatus?.ContainerID?.slice(0, 12) ?? '').sort();
    /** Whether `n` requests through every node are all answered, by exactly `want`. */
    const everyNodeReaches = async (want: string[], n: number) => {
      for (const h of cluster.hosts) {
        const seen = new Set<string>();
        for (let i = 0; i < n; i++) seen.add((await get(h.ip)) ?? 'no answer');
        if ([...seen].sort().join() !== want.join()) return false;
      }
      return true;
    };
    await until('web answers on every node', async () => {
      const one = await hostnames();
      return one.length === 1 && (await everyNodeReaches(one, 2)) ? true : undefined;
    });
    for (let round = 1; round <= 10; round++) {
      assert.equal((await docker(manager, ['service', 'scale', '-d', 'web=3'])).code, 0);
      const three = await until(`round ${round}: 3 tasks running`, async () => {
        const h = await hostnames();
        return h.length === 3 ? h : undefined;
      });
      await until(`round ${round}: every node reaches the 3 tasks`, async () =>
        (await everyNodeReaches(three, 6)) ? true : undefined,
      );
      assert.equal((await docker(manager, ['service', 'scale', '-d', 'web=1'])).code, 0);
      const left = await until(`round ${round}: one task meant to run`, async () => {
        const h = await hostnames();
        return h.length === 1 ? h : undefined;
      });
      await until(`round ${round}: every node reaches only the task left`, async () =>
        (await everyNodeReaches(left, 3)) ? true : undefined,
      );
      // And it holds, while the two removed tasks are still stopping.
      assert.ok(await everyNodeReaches(left, 6), `round ${round}: a removed task answered again`);
      const stopping = (
        await manager.api('GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: ['web'] }))}`)
      )
        .json<ApiTask[]>()
        .filter((t) => t.DesiredState !== 'running' && t.Status.State === 'running');
      assert.ok(
        stopping.length >= 2,
        `round ${round}: the removed tasks had stopped before the mesh dropped them`,
      );
    }
  });

  it('tasks on different networks cannot reach each other, and an --internal network has no way out', async () => {
    const [h] = await running('hidden');
    assert.ok(h?.NodeID && h.Status.ContainerStatus?.ContainerID);
    const host = await nodeHost(h.NodeID);
    const inspect = await docker(host, ['inspect', h.Status.ContainerStatus.ContainerID]);
    const nets = (
      JSON.parse(inspect.stdout) as { NetworkSettings: { Networks: Record<string, { IPAddress: string }> } }[]
    )[0]?.NetworkSettings.Networks;
    for (const [name, n] of Object.entries(nets ?? {})) {
      const r = await inClient(['ping', '-c', '1', '-W', '1', n.IPAddress]);
      assert.notEqual(r.code, 0, `client reached hidden's ${name} address ${n.IPAddress}`);
    }
    const net = await docker(manager, ['network', 'create', '-d', 'overlay', '--internal', 'closed']);
    assert.equal(net.code, 0, net.stderr);
    await create(['--name', 'shut', '--network', 'closed', 'busybox', 'sleep', '3600']);
    const [t] = await until('shut running', async () => {
      const r = await running('shut');
      return r.length === 1 ? r : undefined;
    });
    assert.ok(t?.NodeID && t.Status.ContainerStatus?.ContainerID);
    const shutHost = await nodeHost(t.NodeID);
    const routes = await docker(shutHost, ['exec', t.Status.ContainerStatus.ContainerID, 'ip', 'route']);
    assert.doesNotMatch(routes.stdout, /^default/m, routes.stdout);
    const out = await docker(shutHost, [
      'exec',
      t.Status.ContainerStatus.ContainerID,
      'ping',
      '-c',
      '1',
      '-W',
      '1',
      manager.ip,
    ]);
    assert.notEqual(out.code, 0, 'an internal task reached a node address');
  });

  it('beyond Docker: a service labelled to keep the source IP sees the client address, from the nodes that run it', async () => {
    const script =
      "printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho $REMOTE_ADDR\\n' > /www/cgi-bin/ip";
    await create([
      '--name',
      'whoami',
      '--label',
      'swarmkit-ts.publish.keep-source-ip=true',
      '--publish',
      '8081:80',
      'busybox',
      'sh',
      '-c',
      `mkdir -p /www/cgi-bin && ${script} && chmod +x /www/cgi-bin/ip && exec httpd -f -p 80 -h /www`,
    ]);
    const [t] = await until('whoami running', async () => {
      const r = await running('whoami');
      return r.length === 1 ? r : undefined;
    });
    assert.ok(t?.NodeID);
    const withTask = await nodeHost(t.NodeID);
    const client = cluster.hosts.find((h) => h !== withTask);
    const without = cluster.hosts.find((h) => h !== withTask && h !== client);
    assert.ok(client && without);
    const seen = await until('the client address through the mesh port', async () => {
      const r = await client.inNetns('curl', [
        '-s',
        '--max-time',
        '3',
        `http://${withTask.ip}:8081/cgi-bin/ip`,
      ]);
      // busybox httpd writes the peer as an IPv4-mapped IPv6 address: [::ffff:a.b.c.d]
      return r.code === 0 && r.stdout.trim() ? r.stdout.trim().replace(/^\[::ffff:(.*)\]$/, '$1') : undefined;
    });
    assert.equal(seen, client.ip, 'the task saw the client, not a node address');
    const refused = await client.inNetns('curl', [
      '-s',
      '--max-time',
      '3',
      `http://${without.ip}:8081/cgi-bin/ip`,
    ]);
    assert.notEqual(refused.code, 0, 'a node without a task of the service does not forward it');
  });
});
