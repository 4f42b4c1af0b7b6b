// The shell that keeps a node's published-port rules in step with its services and tasks: computes
// the state (publish.ts), skips it when nothing changed, and applies one table swap at a time,
// folding a burst of updates into a single apply of the latest state.
import type { Service, Task } from '../api/types.js';
import { createLogger } from '../lib/log.js';
import type { PortState } from './ports.js';
import { portStateFor, type TaskAddress } from './publish.js';

const logger = createLogger({ component: 'network.ports' });

/** Where the rules go: `NodeNetwork` is one. */
export interface PortRulesTarget {
  applyPortRules(state: PortState): Promise<void>;
}

/**
 * The node's tasks with their containers' addresses (Status.ContainerStatus.ContainerID looked up
 * with `addressOf`, e.g. `NetworkProviderImpl.addressOf`). Tasks without an attached container are
 * left out: they cannot serve.
 */
export async function addressTasks(
  tasks: readonly Task[],
  addressOf: (containerId: string) => Promise<string | undefined>,
): Promise<TaskAddress[]> {
  const out: TaskAddress[] = [];
  for (const task of tasks) {
    const containerId = task.Status.ContainerStatus?.ContainerID;
    const ip = containerId ? await addressOf(containerId) : undefined;
    if (ip !== undefined) out.push({ task, ip });
  }
  return out;
}

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class PortPublisher {
  private readonly target: PortRulesTarget;
  /** Key of the state the kernel holds; undefined before the first apply and after a failed one. */
  private appliedKey: string | undefined;
  private pending: { key: string; state: PortState; waiters: Waiter[] } | undefined;
  private draining = false;

  constructor(target: PortRulesTarget) {
    this.target = target;
  }

  /**
   * Makes the node forward what `services` and the tasks call for (see `portStateFor`). Resolves
   * once this state — or a later one asked for meanwhile — is in the kernel; rejects if that apply
   * fails (the next update then applies again, even an identical state).
   */
  update(
    services: readonly Service[],
    localTasks: readonly TaskAddress[],
    remoteTasks: readonly TaskAddress[] = [],
  ): Promise<void> {
    return this.publish(portStateFor(services, localTasks, remoteTasks));
  }

  private publish(state: PortState): Promise<void> {
    // portStateFor is canonical, so its JSON identifies the state.
    const key = JSON.stringify(state);
    return new Promise<void>((resolve, reject) => {
      const waiters = this.pending?.waiters ?? [];
      waiters.push({ resolve, reject });
      this.pending = { key, state, waiters };
      if (!this.draining) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.pending !== undefined) {
        const { key, state, waiters } = this.pending;
        this.pending = undefined;
        if (key === this.appliedKey) {
          for (const w of waiters) w.resolve();
          continue;
        }
        try {
          await this.target.applyPortRules(state);
          this.appliedKey = key;
          logger.debug('published ports applied', {
            ingress: state.ingress?.length ?? 0,
            host: state.host?.length ?? 0,
          });
          for (const w of waiters) w.resolve();
        } catch (err) {
          this.appliedKey = undefined;
          logger.error('applying published ports failed', { error: err });
          for (const w of waiters) w.reject(err);
        }
      }
    } finally {
      this.draining = false;
    }
  }
}
