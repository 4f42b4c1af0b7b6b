// Cluster membership changes, the way a manager joins and leaves: add as learner → start it → promote;
// demote = remove. etcd refuses reconfigurations for ~5 s after any member (re)connects ("unhealthy
// cluster") and refuses to promote a learner that has not caught up ("not in sync"): both are retried.
import type { Etcd3 } from 'etcd3';
import { failedPrecondition, unavailable } from '../api/errors.js';
import { createLogger } from '../lib/log.js';

const log = createLogger({ component: 'etcd-membership' });

export interface MemberInfo {
  /** etcd member ID, as a decimal string (uint64). */
  id: string;
  /** Empty for a member that was added but has not started yet. */
  name: string;
  peerURLs: string[];
  isLearner: boolean;
}

/** Errors etcd returns while a reconfiguration is not safe yet; retrying later succeeds. */
const RETRYABLE = [
  'unhealthy cluster',
  'not in sync',
  // etcd 3.4: "can only promote a learner member which is in sync with leader"
  'in sync with leader',
  'not enough started members',
  'too many learner members',
  'request timed out',
  'leader changed',
  'no leader',
];

function isRetryable(err: unknown): boolean {
  const msg = err instanceof Error ? err.message : String(err);
  return RETRYABLE.some((s) => msg.includes(s));
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Runs `fn` until it succeeds, retrying the reconfiguration refusals etcd says are temporary. */
async function withReconfigRetry<T>(what: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const until = Date.now() + timeoutMs;
  let delay = 200;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!isRetryable(err)) throw failedPrecondition(`${what}: ${err instanceof Error ? err.message : err}`);
      if (Date.now() + delay > until) throw unavailable(`${what}: gave up after ${timeoutMs} ms`, err);
      log.debug('reconfiguration refused for now; retrying', { what, err });
      await sleep(delay);
      delay = Math.min(delay * 1.5, 1000);
    }
  }
}

export async function listMembers(client: Etcd3): Promise<MemberInfo[]> {
  const res = await client.cluster.memberList({ linearizable: true });
  return (res.members ?? []).map((m) => ({
    id: String(m.ID),
    name: m.name ?? '',
    peerURLs: m.peerURLs ?? [],
    isLearner: Boolean(m.isLearner),
  }));
}

/** `name=url,...` for etcd's --initial-cluster, naming the new member `newName`. */
export function initialClusterFor(members: MemberInfo[], newId: string, newName: string): string {
  const parts: string[] = [];
  for (const m of members) {
    const name = m.id === newId ? newName : m.name;
    for (const url of m.peerURLs) parts.push(`${name}=${url}`);
  }
  return parts.join(',');
}

/**
 * Adds a learner (non-voting, so an unstarted member cannot stall writes). Returns its ID and the
 * --initial-cluster the new member must start with (state `existing`).
 */
export async function addLearner(
  client: Etcd3,
  newName: string,
  peerURL: string,
  timeoutMs = 30_000,
): Promise<{ id: string; initialCluster: string }> {
  const res = await withReconfigRetry(`add learner ${peerURL}`, timeoutMs, () =>
    client.cluster.memberAdd({ peerURLs: [peerURL], isLearner: true }),
  );
  const id = String(res.member.ID);
  const members = (res.members ?? []).map((m) => ({
    id: String(m.ID),
    name: m.name ?? '',
    peerURLs: m.peerURLs ?? [],
    isLearner: Boolean(m.isLearner),
  }));
  return { id, initialCluster: initialClusterFor(members, id, newName) };
}

/** Promotes a started learner to a voter; retried while it catches up. */
export async function promote(client: Etcd3, id: string, timeoutMs = 30_000): Promise<void> {
  await withReconfigRetry(`promote member ${id}`, timeoutMs, () => client.cluster.memberPromote({ ID: id }));
}

/** Removes a member (demote/leave). The removed etcd exits 0 by itself; its data dir is dead. */
export async function removeMember(client: Etcd3, id: string, timeoutMs = 30_000): Promise<void> {
  await withReconfigRetry(`remove member ${id}`, timeoutMs, () => client.cluster.memberRemove({ ID: id }));
}

/** The ID of the member serving this client's endpoint (its `status().header.member_id`). */
export async function localMemberId(client: Etcd3): Promise<string> {
  const s = await client.maintenance.status();
  return String(s.header.member_id);
}

/**
 * Resolves once the member serving this client is a voter (a learner serves no linearizable reads:
 * the store cannot start on it). Its promotion is the job of the manager that added it.
 */
export async function waitUntilVoter(client: Etcd3, timeoutMs = 120_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const status = await client.maintenance.status().catch(() => undefined);
    if (status && !status.isLearner) return;
    if (Date.now() > until)
      throw unavailable(`this manager's etcd member was not promoted to a voter within ${timeoutMs} ms`);
    await sleep(200);
  }
}
