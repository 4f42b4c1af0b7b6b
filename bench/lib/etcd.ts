// A throw-away single-member etcd for the placement benchmark, started the way swarmd starts its own
// (src/etcd/supervisor.ts, full mTLS), in /tmp/skt-bench-etcd-*; stopping it is registered with cleanup.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Etcd3 } from 'etcd3';
import { createEtcdClient } from '../../src/etcd/client.js';
import { EtcdMember, memberPaths, peerURL } from '../../src/etcd/supervisor.js';
import { createEtcdCA, issueMemberCerts, loadClientCredentials, writeMemberTLS } from '../../src/etcd/tls.js';
import type { Cleanup } from './cleanup.js';

/** A port nothing listens on right now (the kernel picks it). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export async function startBenchEtcd(cleanup: Cleanup): Promise<{ client: Etcd3; member: EtcdMember }> {
  const stateDir = await mkdtemp('/tmp/skt-bench-etcd-');
  cleanup.defer(`rm ${stateDir}`, () => rm(stateDir, { recursive: true, force: true }));
  const ca = await createEtcdCA('bench');
  const certs = await issueMemberCerts(ca, { name: 'bench', peerIP: '127.0.0.1' });
  const tlsDir = memberPaths(stateDir).tlsDir;
  await writeMemberTLS(tlsDir, ca, certs);
  const [clientPort, peerPort, metricsPort] = [
    await freeLoopbackPort(),
    await freeLoopbackPort(),
    await freeLoopbackPort(),
  ];
  const member = await EtcdMember.create(stateDir, {
    name: 'bench',
    peerIP: '127.0.0.1',
    clientPort,
    peerPort,
    metricsPort,
    initialCluster: `bench=${peerURL('127.0.0.1', peerPort)}`,
    clusterState: 'new',
    clusterToken: `skt-bench-${Date.now()}`,
  });
  cleanup.defer('stop etcd', () => member.stop(5000));
  await member.start();
  const client = createEtcdClient({
    endpoints: [`https://localhost:${clientPort}`],
    ...(await loadClientCredentials(tlsDir)),
  });
  cleanup.defer('close etcd client', () => client.close());
  return { client, member };
}
