// Service discovery on one node: keeps the latest network views the managers sent, the local tasks
// attached to overlays, the embedded DNS that answers them (by their gateway address) and the
// per-task rules (DNS redirect, VIPs) in step: a task's rules are replaced when what it sees changes.
import type { NetworkView, NetworkViews } from '../agent/session.js';
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

export class ServiceDiscovery {
  private views: NetworkViews = {};
  private readonly endpoints = new Map<string, LocalEndpoint>();
  /** The script last applied per container (skip unchanged), absent until the first apply. */
  private readonly applied = new Map<string, string>();
  private dns: EmbeddedDns | undefined;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    /** The node's gateway bridge address (where the DNS listens). */
    private readonly dnsAddr: () => Promise<string>,
    private readonly upstream: () => Promise<string[]>,
  ) {}

  private viewsOf(e: LocalEndpoint): NetworkView[] {
    return e.networkIds.map((id) => this.views[id]).filter((v): v is NetworkView => v !== undefined);
  }

  /** The managers' latest views: every local task's rules follow. */
  setViews(views: NetworkViews): Promise<void> {
    this.views = views;
    return this.sync([...this.endpoints.keys()]);
  }

  /** A task attached to overlays: it gets its rules now (and the DNS starts with the first one). */
  add(e: LocalEndpoint): Promise<void> {
    this.endpoints.set(e.containerId, e);
    return this.sync([e.containerId]);
  }

  remove(containerId: string): void {
    this.endpoints.delete(containerId);
    this.applied.delete(containerId);
    this.dns?.setClients(this.clients());
  }

  close(): void {
    this.dns?.close();
    this.dns = undefined;
  }

  private sync(ids: string[]): Promise<void> {
    this.queue = this.queue
      .catch(() => undefined)
      .then(async () => {
        const dnsAddr = await this.dnsAddr();
        await this.ensureDns(dnsAddr);
        // Before any rule sends a task's queries here: the DNS knows every client first.
        this.dns?.setClients(this.clients());
        for (const id of ids) {
          const e = this.endpoints.get(id);
          if (!e) continue;
          const rules: TaskServiceRules = { dnsAddr, taskAddr: e.gatewayIp, vips: vipsOf(this.viewsOf(e)) };
          const script = renderTaskServiceRules(rules);
          const before = this.applied.get(id);
          if (before === script) continue;
          try {
            await applyTaskServiceRules(e.netns, rules, before === undefined);
            this.applied.set(id, script);
          } catch (err) {
            // The task may be going away meanwhile; the next change tries again.
            if (this.endpoints.has(id)) log.warn('service rules not applied', { container: id, err });
          }
        }
      });
    return this.queue;
  }

  private async ensureDns(address: string): Promise<void> {
    if (this.dns) return;
    const dns = new EmbeddedDns({ address, upstream: this.upstream });
    await dns.start();
    this.dns = dns;
  }

  /** The DNS's table: each local task (by its gateway address) and the networks it is on. */
  private clients(): Record<string, NetworkView[]> {
    const out: Record<string, NetworkView[]> = {};
    for (const e of this.endpoints.values()) out[e.gatewayIp] = this.viewsOf(e);
    return out;
  }
}
