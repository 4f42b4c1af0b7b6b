// Acceptance (issue 15): swarmd answers with Docker's shapes. The same requests Docker was sent
// (test/helpers/record-docker.ts, recorded from dockerd 20.10 in test/fixtures/docker) are sent to
// swarmd, and each answer's key set — every path of keys, user maps such as Labels taken whole — is
// compared with Docker's: a minimal-spec service (with and without insertDefaults), a global
// service, a task (plain and on an overlay network), a node, the swarm, /info's Swarm section; and
// the status and message of the errors Docker gives for a mode change, a join while in a swarm, an
// unknown path and a stale version; and versions that do not move under a client (node and swarm
// read-then-update right after init), join tokens rotated by swarm update.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Cluster, loadBusybox, startCluster, until } from '../helpers/cluster.js';
import { FIDELITY_REQUESTS } from '../helpers/record-docker.js';

const FIXTURES = join(import.meta.dirname, '../../../test/fixtures/docker');

function fixture(name: string): { status: number; body: unknown } {
  return JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8'));
}

/** Maps whose keys are the user's data (compared as one value, not key by key). */
const USER_MAPS = new Set(['Labels', 'Options', 'Attributes', 'Engine.Labels']);

/** Every key path of a JSON value ("Spec.TaskTemplate.ContainerSpec.Image", "Networks[].Target"). */
export function keyPaths(v: unknown, prefix = '', out = new Set<string>()): Set<string> {
  if (Array.isArray(v)) {
    for (const x of v) keyPaths(x, `${prefix}[]`, out);
    return out;
  }
  if (v === null || typeof v !== 'object') return out;
  for (const [k, x] of Object.entries(v)) {
    const path = prefix ? `${prefix}.${k}` : k;
    out.add(path);
    if (!USER_MAPS.has(k)) keyPaths(x, path, out);
  }
  return out;
}

/** The key paths Docker has and we lack, and those we have and Docker does not. */
function diff(docker: unknown, ours: unknown): { missing: string[]; extra: string[] } {
  const d = keyPaths(docker);
  const o = keyPaths(ours);
  return { missing: [...d].filter((p) => !o.has(p)).sort(), extra: [...o].filter((p) => !d.has(p)).sort() };
}

function assertSameKeys(name: string, ours: unknown): void {
  const { missing, extra } = diff(fixture(name).body, ours);
  assert.deepEqual({ missing, extra }, { missing: [], extra: [] }, `${name}: key paths differ from Docker's`);
}

describe("Docker's shapes", { timeout: 180_000 }, () => {
  let cluster: Cluster;
  const api = async (method: string, path: string, body?: unknown) => {
    const r = await cluster.manager.api(method, `/v1.41${path}`, body);
    return { status: r.status, body: r.body ? (JSON.parse(r.body) as unknown) : undefined };
  };
  const create = async (body: unknown) => {
    const r = await api('POST', '/services/create', body);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return (r.body as { ID: string }).ID;
  };
  const runningTask = (serviceId: string) =>
    until(
      `a running task of ${serviceId}`,
      async () => {
        const r = await api(
          'GET',
          `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [serviceId] }))}`,
        );
        return (r.body as { Status: { State: string } }[]).find((t) => t.Status.State === 'running');
      },
      60_000,
    );
  let globalId = '';

  before(async () => {
    cluster = await startCluster({ workers: 0 });
    await loadBusybox(cluster.hosts);
  });
  after(() => cluster?.destroy());

  // First, right after init (before() only loads an image).
  it('versions stay put: a read-then-update of the node and the swarm succeeds at once; rotating tokens works', async () => {
    const info = (await api('GET', '/info')).body as { Swarm: { NodeID: string } };
    for (let i = 0; i < 5; i++) {
      const node = (await api('GET', `/nodes/${info.Swarm.NodeID}`)).body as {
        Version: { Index: number };
        Spec: Record<string, unknown>;
      };
      const r = await api('POST', `/nodes/${info.Swarm.NodeID}/update?version=${node.Version.Index}`, {
        ...node.Spec,
        Labels: { round: String(i) },
      });
      assert.equal(r.status, 200, `round ${i}: ${JSON.stringify(r.body)}`);
      await new Promise((res) => setTimeout(res, 300));
    }
    const swarm = (await api('GET', '/swarm')).body as {
      Version: { Index: number };
      Spec: unknown;
      JoinTokens: { Worker: string; Manager: string };
    };
    const rotated = await api(
      'POST',
      `/swarm/update?version=${swarm.Version.Index}&rotateWorkerToken=true&rotateManagerToken=true`,
      swarm.Spec,
    );
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    const after = (await api('GET', '/swarm')).body as typeof swarm;
    assert.notEqual(after.JoinTokens.Worker, swarm.JoinTokens.Worker);
    assert.notEqual(after.JoinTokens.Manager, swarm.JoinTokens.Manager);
    const stale = await api('POST', `/swarm/update?version=${swarm.Version.Index}`, swarm.Spec);
    const want = fixture('error-out-of-sequence');
    assert.deepEqual(stale, { status: want.status, body: want.body });
  });

  it('a minimal-spec service reads back as Docker’s, with and without insertDefaults', async () => {
    const id = await create(FIDELITY_REQUESTS.minimalService);
    assertSameKeys('service-minimal', (await api('GET', `/services/${id}`)).body);
    assertSameKeys(
      'service-minimal-defaults',
      (await api('GET', `/services/${id}?insertDefaults=true`)).body,
    );
  });

  it('a global service reads back with Mode {"Global": {}}, and its running task as Docker’s', async () => {
    globalId = await create(FIDELITY_REQUESTS.globalService);
    const svc = (await api('GET', `/services/${globalId}`)).body as { Spec: { Mode: unknown } };
    assert.deepEqual(svc.Spec.Mode, { Global: {} });
    assertSameKeys('service-global', svc);
    assertSameKeys('task', await runningTask(globalId));
  });

  it('a task on an overlay network has Docker’s NetworksAttachments', async () => {
    const net = await api('POST', '/networks/create', FIDELITY_REQUESTS.network);
    assert.equal(net.status, 201, JSON.stringify(net.body));
    const id = await create(FIDELITY_REQUESTS.networkedService((net.body as { Id: string }).Id));
    assertSameKeys('task-networked', await runningTask(id));
  });

  it('the node, the swarm and /info’s Swarm section have Docker’s keys', async () => {
    const info = (await api('GET', '/info')).body as { Swarm: { NodeID: string } };
    assertSameKeys('info-swarm', info.Swarm);
    assertSameKeys('node', (await api('GET', `/nodes/${info.Swarm.NodeID}`)).body);
    assertSameKeys('swarm', (await api('GET', '/swarm')).body);
  });

  it('errors come with Docker’s status and message', async () => {
    const svc = (await api('GET', `/services/${globalId}`)).body as {
      Version: { Index: number };
      Spec: Record<string, unknown>;
    };
    const cases: [string, { status: number; body: unknown }][] = [
      [
        'error-mode-change',
        await api('POST', `/services/${globalId}/update?version=${svc.Version.Index}`, {
          ...svc.Spec,
          Mode: { Replicated: { Replicas: 2 } },
        }),
      ],
      [
        'error-join-in-swarm',
        await api('POST', '/swarm/join', { RemoteAddrs: ['10.231.0.9:2377'], JoinToken: 'x' }),
      ],
      ['error-unknown-path', await api('GET', '/no/such/path')],
      ['error-out-of-sequence', await api('POST', `/services/${globalId}/update?version=1`, svc.Spec)],
    ];
    for (const [name, got] of cases) {
      const want = fixture(name);
      assert.deepEqual(
        { status: got.status, body: got.body },
        { status: want.status, body: want.body },
        name,
      );
    }
  });
});
