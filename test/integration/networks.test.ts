// Swarm networks through the real docker CLI on a one-node swarm (a cluster in a box without
// workers): swarm init made the ingress network; `network create -d overlay` prints an ID and a
// second one is refused in Docker's words; `network ls` shows Docker's columns with the local
// bridge/host/none beside ingress and the new network; `network inspect` has Docker's keys, the next
// pool subnet and VNI 4097; a service attaches the network by name (stored as its ID), which keeps
// `network rm` from removing it until the service is gone; `network prune -f` removes unused ones.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { docker, NETWORK_RESOURCE_KEYS } from '../helpers/cli.js';
import { type Cluster, type ClusterHost, startCluster } from '../helpers/cluster.js';

interface InspectedNetwork {
  Name: string;
  Id: string;
  Scope: string;
  Driver: string;
  Ingress: boolean;
  IPAM: { Driver: string; Config: { Subnet: string; Gateway: string }[] };
  Options: Record<string, string>;
}

const VXLAN = 'com.docker.network.driver.overlay.vxlanid_list';

describe('swarm networks with the docker CLI', { timeout: 180_000 }, () => {
  let cluster: Cluster;
  let manager: ClusterHost;
  let skynetId = '';

  const inspect = async (name: string): Promise<InspectedNetwork> => {
    const r = await docker(manager, ['network', 'inspect', name]);
    assert.equal(r.code, 0, r.stderr);
    const [n] = JSON.parse(r.stdout) as InspectedNetwork[];
    assert.ok(n, `${name} inspected`);
    return n;
  };

  before(async () => {
    cluster = await startCluster({ workers: 0 });
    manager = cluster.manager;
  });
  after(async () => {
    await cluster?.destroy();
  });

  it('swarm init created the ingress network on the first pool subnet with VNI 4096', async () => {
    const ingress = await inspect('ingress');
    assert.equal(ingress.Ingress, true);
    assert.equal(ingress.Scope, 'swarm');
    assert.equal(ingress.Driver, 'overlay');
    assert.deepEqual(ingress.IPAM.Config, [{ Subnet: '10.0.0.0/24', Gateway: '10.0.0.1' }]);
    assert.equal(ingress.Options[VXLAN], '4096');
  });

  it('network create -d overlay prints the new ID; the same name again is a 409 in Docker words', async () => {
    const r = await docker(manager, ['network', 'create', '-d', 'overlay', 'skynet']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^[0-9a-z]{25}\n$/);
    skynetId = r.stdout.trim();
    const again = await docker(manager, ['network', 'create', '-d', 'overlay', 'skynet']);
    assert.equal(again.code, 1);
    assert.equal(again.stderr, 'Error response from daemon: network with name skynet already exists\n');
  });

  it("network ls shows Docker's columns: local bridge/host/none, ingress and skynet", async () => {
    const r = await docker(manager, ['network', 'ls']);
    assert.equal(r.code, 0, r.stderr);
    const [header, ...rows] = r.stdout.trimEnd().split('\n');
    assert.equal(header, 'NETWORK ID     NAME      DRIVER    SCOPE');
    const cells = rows.map((row) => row.split(/\s+/));
    assert.deepEqual(
      cells.map(([, name, driver, scope]) => `${name} ${driver} ${scope}`),
      [
        'bridge bridge local',
        'host host local',
        'ingress overlay swarm',
        'none null local',
        'skynet overlay swarm',
      ],
    );
    assert.ok(cells.every(([id]) => id?.length === 12));
    assert.ok(cells.some(([id]) => id === skynetId.slice(0, 12)));
  });

  it("network inspect has Docker's keys, the next pool subnet and VNI 4097", async () => {
    const r = await docker(manager, ['network', 'inspect', 'skynet']);
    const [raw] = JSON.parse(r.stdout) as Record<string, unknown>[];
    assert.deepEqual(Object.keys(raw ?? {}), NETWORK_RESOURCE_KEYS);
    const n = await inspect('skynet');
    assert.equal(n.Id, skynetId);
    assert.equal(n.Scope, 'swarm');
    assert.equal(n.Driver, 'overlay');
    assert.equal(n.IPAM.Driver, 'default');
    assert.deepEqual(n.IPAM.Config, [{ Subnet: '10.0.1.0/24', Gateway: '10.0.1.1' }]);
    assert.equal(n.Options[VXLAN], '4097');
    const f = await docker(manager, [
      'network',
      'inspect',
      '-f',
      '{{.Name}} {{.Scope}}',
      skynetId.slice(0, 8),
    ]);
    assert.equal(f.stdout, 'skynet swarm\n');
  });

  it('a service attaches skynet by name; rm refuses while it does and succeeds once it is gone', async () => {
    const created = await docker(manager, [
      'service',
      'create',
      '-d',
      '--name',
      'web',
      '--network',
      'skynet',
      'busybox',
      'sleep',
      '3600',
    ]);
    assert.equal(created.code, 0, created.stderr);
    const serviceId = created.stdout.trim().split('\n').pop() ?? '';
    const networks = await docker(manager, [
      'service',
      'inspect',
      'web',
      '--format',
      '{{json .Spec.TaskTemplate.Networks}}',
    ]);
    assert.deepEqual(JSON.parse(networks.stdout), [{ Target: skynetId }]);

    const refused = await docker(manager, ['network', 'rm', 'skynet']);
    assert.equal(refused.code, 1);
    assert.equal(
      refused.stderr,
      `Error response from daemon: rpc error: code = FailedPrecondition desc = network ${skynetId} is in use by service ${serviceId}\nexit status 1\n`,
    );
    const unknown = await docker(manager, [
      'service',
      'create',
      '-d',
      '--name',
      'lost',
      '--network',
      'nosuch',
      'busybox',
    ]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /network nosuch not found/);

    assert.equal((await docker(manager, ['service', 'rm', 'web'])).code, 0);
    const removed = await docker(manager, ['network', 'rm', 'skynet']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(removed.stdout, 'skynet\n');
    const gone = await docker(manager, ['network', 'inspect', 'skynet']);
    assert.equal(gone.code, 1);
    assert.equal(gone.stdout, '[]\n');
    assert.equal(gone.stderr, 'Error response from daemon: network skynet not found\n');
  });

  it('network prune -f removes the unused custom networks and keeps ingress', async () => {
    assert.equal((await docker(manager, ['network', 'create', '-d', 'overlay', 'idle'])).code, 0);
    const r = await docker(manager, ['network', 'prune', '-f']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'Deleted Networks:\nidle\n\n');
    const names = await docker(manager, [
      'network',
      'ls',
      '--format',
      '{{.Name}}',
      '--filter',
      'scope=swarm',
    ]);
    assert.equal(names.stdout, 'ingress\n');
  });
});
