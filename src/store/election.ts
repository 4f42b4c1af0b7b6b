// Leader election among managers by etcd lease: the leader is whoever created the leader key (value =
// node ID) under its lease. Its fence (key + create revision) goes into every leader write, so once the
// key is gone or re-created by someone else, a deposed leader's writes fail in etcd itself.
import type { Etcd3, Lease } from 'etcd3';
import { createLogger } from '../lib/log.js';
import type { Fence } from './store.js';

export const LEADER_KEY = '/swarm/leader';

export interface LeadershipState {
  isLeader: boolean;
  /** The current leader's node ID, if one is known. */
  leaderId: string | undefined;
}

export interface ElectionOptions {
  key?: string;
  /**
   * Lease TTL: a dead leader is replaced after at most about this long (plus etcd's 0.5 s expiry
   * sweep). Default 2 s: etcd's floor is 1.5 × its election timeout (1 s here); keepalives go every
   * TTL/3, so a dead leader's lease ends 1.3–2 s after its death and failover stays under 3 s.
   */
  ttlSeconds?: number;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export class LeaderElection {
  readonly key: string;
  private readonly ttlSeconds: number;
  private state: LeadershipState = { isLeader: false, leaderId: undefined };
  private currentFence: Fence | undefined;
  private listeners = new Set<(s: LeadershipState) => void>();
  private stopped = true;
  private loop: Promise<void> | undefined;
  private lease: Lease | undefined;
  /** Wakes the campaign loop (lease lost, key deleted, stop). */
  private wake: (() => void) | undefined;
  private readonly log;

  constructor(
    private readonly client: Etcd3,
    readonly nodeId: string,
    opts: ElectionOptions = {},
  ) {
    this.key = opts.key ?? LEADER_KEY;
    this.ttlSeconds = opts.ttlSeconds ?? 2;
    this.log = createLogger({ component: 'election', node: nodeId });
  }

  get isLeader(): boolean {
    return this.state.isLeader;
  }
  get leaderId(): string | undefined {
    return this.state.leaderId;
  }
  /** The fence to attach to every leader write; undefined when not the leader. */
  fence(): Fence | undefined {
    return this.state.isLeader ? this.currentFence : undefined;
  }

  /** Subscribes to leadership changes; returns the unsubscribe function. */
  onChange(fn: (s: LeadershipState) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Resolves with the leader's ID once one is known. */
  async waitForLeader(timeoutMs = 10_000): Promise<string> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (this.state.leaderId) return this.state.leaderId;
      await sleep(50);
    }
    throw new Error(`no leader within ${timeoutMs} ms`);
  }

  private set(next: LeadershipState, fence?: Fence): void {
    this.currentFence = next.isLeader ? fence : undefined;
    if (next.isLeader === this.state.isLeader && next.leaderId === this.state.leaderId) return;
    this.state = next;
    this.log.info('leadership changed', { isLeader: next.isLeader, leaderId: next.leaderId });
    for (const fn of this.listeners) {
      try {
        fn(next);
      } catch (err) {
        this.log.error('leadership listener threw', { err });
      }
    }
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.loop = this.run();
  }

  /** Stops campaigning; a leader resigns (deletes its key, revokes its lease) so another takes over now. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    this.loop = undefined;
  }

  private async run(): Promise<void> {
    let delay = 100;
    while (!this.stopped) {
      try {
        await this.campaignWithLease();
        delay = 100;
      } catch (err) {
        if (!this.stopped) this.log.warn('election round failed', { err });
      }
      this.set({ isLeader: false, leaderId: this.state.isLeader ? undefined : this.state.leaderId });
      if (this.stopped) break;
      await sleep(delay);
      delay = Math.min(delay * 2, 1000);
    }
    this.set({ isLeader: false, leaderId: undefined });
  }

  /** One lease's life: campaign, hold or watch, until the lease is lost or we stop. */
  private async campaignWithLease(): Promise<void> {
    const lease = this.client.lease(this.ttlSeconds, { autoKeepAlive: true });
    this.lease = lease;
    let lost = false;
    let lastKeepalive = Date.now();
    lease.on('keepaliveSucceeded', () => {
      lastKeepalive = Date.now();
    });
    lease.on('lost', (err) => {
      this.log.warn('election lease lost', { err });
      lost = true;
      this.wake?.();
    });
    // A leader whose keepalives stop answering steps down before etcd can expire the lease (writes
    // are fenced anyway); two missed keepalives in a row are not enough on a busy machine.
    const staleAfterMs = this.ttlSeconds * 1000 - 400;
    const stale = () => Date.now() - lastKeepalive > staleAfterMs;
    try {
      const leaseId = await lease.grant();
      lastKeepalive = Date.now();
      while (!this.stopped && !lost) {
        const res = await this.client.kv.txn({
          compare: [{ key: Buffer.from(this.key), target: 'Create', result: 'Equal', create_revision: 0 }],
          success: [
            { request_put: { key: Buffer.from(this.key), value: Buffer.from(this.nodeId), lease: leaseId } },
          ],
          failure: [{ request_range: { key: Buffer.from(this.key) } }],
        });
        const revision = Number(res.header.revision);
        if (res.succeeded) {
          this.set({ isLeader: true, leaderId: this.nodeId }, { key: this.key, createRevision: revision });
        } else {
          const kv = res.responses[0]?.response_range?.kvs?.[0];
          if (!kv) continue; // deleted in between: campaign again
          if (String(kv.lease) === leaseId && kv.value.toString('utf8') === this.nodeId) {
            // Our own key under our own live lease (a watch error sent us round again): we still
            // lead, fenced by the key's create revision.
            this.set(
              { isLeader: true, leaderId: this.nodeId },
              { key: this.key, createRevision: Number(kv.create_revision) },
            );
          } else {
            this.set({ isLeader: false, leaderId: kv.value.toString('utf8') });
          }
        }
        // Hold (or follow) until the key is deleted, the lease is lost, keepalives go stale, or stop.
        await this.watchUntilChange(revision, () => this.state.isLeader && stale());
        if (this.state.isLeader && stale()) {
          this.log.warn('lease keepalives stale; stepping down');
          break;
        }
      }
    } finally {
      const wasLeader = this.state.isLeader;
      this.set({ isLeader: false, leaderId: wasLeader ? undefined : this.state.leaderId });
      this.lease = undefined;
      // Revoking deletes our key at once (if it still is ours) so the next leader need not wait the TTL.
      await lease.revoke({ deadline: Date.now() + 1000 }).catch(() => lease.release());
    }
  }

  /** Resolves when the leader key is deleted or replaced after `revision`, or on wake()/`check()` true. */
  private async watchUntilChange(revision: number, check: () => boolean): Promise<void> {
    const watcher = await this.client
      .watch()
      .key(this.key)
      .startRevision(String(revision + 1))
      .create();
    try {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        const timer = setInterval(() => {
          if (check()) resolve();
        }, 200);
        const done = () => {
          clearInterval(timer);
          resolve();
        };
        watcher.on('delete', done);
        watcher.on('put', (kv) => {
          // Someone else holds the key now (our key was deleted and re-created in between).
          if (kv.value.toString('utf8') !== this.nodeId || !this.state.isLeader) done();
        });
        watcher.on('error', done);
        if (this.stopped) done();
        // Clear the interval whichever way we resolve.
        this.wake = done;
      });
    } finally {
      this.wake = undefined;
      await watcher.cancel().catch(() => undefined);
    }
  }
}
