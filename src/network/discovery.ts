// Service discovery on one node: keeps the latest network views the managers sent, the local tasks
// attached to overlays, the embedded DNS that answers them (by their gateway address) and the
// per-task rules (DNS redirect, VIPs) in step: a task's rules are replaced when what it sees changes.
import type { NetworkView, NetworkViews } from '../agent/session.js';
import { LatestApplier } from '../lib/latest.js';
import { createLogger } from '../lib/log.js';
import { EmbeddedDns } from './dns.js';
import {
  applyTaskServiceRules,
  renderTaskServiceRules,
  type TaskServiceRules,
  vipsOf,
} from './service-rules.js';

const log = createLogger({ component: 'discovery' });

/** A local task on overlays: its netns, its gateway-bridge address, the networks it is on. */
export interface LocalEndpoint {
  containerId: string;
  netns: string;
  gatewayIp: string;
  networkIds: string[];
}

/** Rule applies running at once (each is one process in the task's netns). */
const APPLY_LIMIT = 4;
/**
 * A task's rules are applied again once the views have not changed for RULES_QUIET_MS, and at the
 * latest RULES_MAX_WAIT_MS after the first change: a stack coming up changes the views many times a
 * second, and each change touches every local task's rules (one process per task and apply). The
 * DNS answers from the new views at once; a task attached now does not wait either: its rules are
 * in place before it starts.
 */
const RULES_QUIET_MS = 100;
const RULES_MAX_WAIT_MS = 400;

export class ServiceDiscovery {
  private views: NetworkViews = {};
  private readonly endpoints = new Map<string, LocalEndpoint>();
  /** The script last applied per container (skip unchanged), absent until the first apply. */
  private readonly applied = new Map<string, string>();
  private dns: Promise<EmbeddedDns> | undefined;
  private readonly rules = new LatestApplier<string>((id) => this.applyRules(id), {
    limit: APPLY_LIMIT,
    quietMs: RULES_QUIET_MS,
    maxWaitMs: RULES_MAX_WAIT_MS,
  });

  constructor(
    /** The node's gateway bridge address (where the DNS listens). */
    private readonly dnsAddr: () => Promise<string>,
    private readonly upstream: () => Promise<string[]>,
  ) {}

  private viewsOf(e: LocalEndpoint): NetworkView[] {
    return e.networkIds.map((id) => this.views[id]).filter((v): v is NetworkView => v !== undefined);
  }

  /**
   * The managers' latest views: the DNS answers from them at once, every local task's rules follow
   * (resolves when they have been applied).
   */
  async setViews(views: NetworkViews): Promise<void> {
    this.views = views;
    if (this.endpoints.size === 0) return;
    await this.updateDns();
    await Promise.all([...this.endpoints.keys()].map((id) => this.rules.request(id)));
  }

  /** A task attached to overlays: it gets its rules now (and the DNS starts with the first one). */
  async add(e: LocalEndpoint): Promise<void> {
    this.endpoints.set(e.containerId, e);
    // Before any rule sends the task's queries there: the DNS knows it first.
    await this.updateDns();
    await this.rules.request(e.containerId, true);
  }

  remove(containerId: string): void {
    this.endpoints.delete(containerId);
    this.applied.delete(containerId);
    void this.dns?.then((dns) => dns.setClients(this.clients())).catch(() => undefined);
  }

  close(): void {
    void this.dns?.then((dns) => dns.close()).catch(() => undefined);
    this.dns = undefined;
  }

  /** Starts the DNS on first use, then gives it the current table. */
  private async updateDns(): Promise<void> {
    if (this.dns === undefined) {
      const starting = (async () => {
        const dns = new EmbeddedDns({ address: await this.dnsAddr(), upstream: this.upstream });
        await dns.start();
        return dns;
      })();
      this.dns = starting;
      starting.catch(() => {
        if (this.dns === starting) this.dns = undefined; // tried again on the next change
      });
    }
    (await this.dns).setClients(this.clients());
  }

  /** One task's rules as the latest views give them; skipped when the kernel holds them already. */
  private async applyRules(id: string): Promise<void> {
    const e = this.endpoints.get(id);
    if (!e) return;
    const dnsAddr = await this.dnsAddr();
    const rules: TaskServiceRules = { dnsAddr, taskAddr: e.gatewayIp, vips: vipsOf(this.viewsOf(e)) };
    const script = renderTaskServiceRules(rules);
    const before = this.applied.get(id);
    if (before === script) return;
    try {
      await applyTaskServiceRules(e.netns, rules);
      if (this.endpoints.get(id) === e) this.applied.set(id, script);
    } catch (err) {
      // The task may be going away meanwhile; the next change tries again.
      if (this.endpoints.get(id) === e) log.warn('service rules not applied', { container: id, err });
    }
  }

  /** The DNS's table: each local task (by its gateway address) and the networks it is on. */
  private clients(): Record<string, NetworkView[]> {
    const out: Record<string, NetworkView[]> = {};
    for (const e of this.endpoints.values()) out[e.gatewayIp] = this.viewsOf(e);
    return out;
  }
}
