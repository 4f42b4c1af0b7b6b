// The executor's NetworkProvider over a NodeNetwork: a container is attached to the node's gateway
// bridge (and its task's overlay networks) before it is created and detached when it is removed; the
// port datapath asks for its address; the agent hands over each overlay network's remote peers.

import { invalidArgument } from '../api/errors.js';
import { ContainerSpecSchema } from '../api/types.js';
import type { ExecutorTask, NetworkProvider, PreparedNetwork } from '../executor/types.js';
import { KeyedLock } from '../lib/keyed-lock.js';
import type { ServiceDiscovery } from './discovery.js';
import { overlayNetworksOf } from './network-attachments.js';
import type { AttachRequest, ContainerAttachment, NodeNetwork } from './node-network.js';
import type { NetworkPeer } from './overlay.js';
import { TASK_DNS_SYSCTL } from './service-rules.js';

/** The name `docker inspect` shows for the gateway network, as Docker names its gateway bridge network. */
export const GATEWAY_NETWORK_NAME = 'docker_gwbridge';

/** The task fields that shape a container's network identity (the executor's type does not list all). */
const networkFieldsSchema = ContainerSpecSchema.pick({ Hostname: true, Hosts: true, DNSConfig: true });

/**
 * What to attach for a container: Docker's hostname rule (the spec's Hostname, else the first 12
 * characters of the container ID), the spec's extra hosts and its DNS settings, and the overlay
 * networks of the task's NetworksAttachments.
 */
export function attachRequestFor(containerId: string, task?: ExecutorTask): AttachRequest {
  const parsed = networkFieldsSchema.safeParse(task?.Spec.ContainerSpec ?? {});
  if (!parsed.success) {
    throw invalidArgument(`invalid container spec: ${parsed.error.issues[0]?.message}`);
  }
  const { Hostname, Hosts, DNSConfig } = parsed.data;
  const overlays = overlayNetworksOf(task);
  const dns = DNSConfig && {
    ...(DNSConfig.Nameservers ? { nameservers: DNSConfig.Nameservers } : {}),
    ...(DNSConfig.Search ? { search: DNSConfig.Search } : {}),
    ...(DNSConfig.Options ? { options: DNSConfig.Options } : {}),
  };
  return {
    containerId,
    hostname: Hostname || containerId.slice(0, 12),
    ...(Hosts && Hosts.length > 0 ? { extraHosts: Hosts } : {}),
    ...(dns ? { dns } : {}),
    ...(overlays.length > 0 ? { overlays } : {}),
  };
}

export function preparedNetworkFor(a: ContainerAttachment): PreparedNetwork {
  return {
    netnsPath: a.netnsPath,
    // On overlays its 127.0.0.11 is DNATed to the node's DNS: such packets may leave lo (eth0).
    ...((a.overlays?.length ?? 0) > 0 ? { sysctls: { [TASK_DNS_SYSCTL]: '1' } } : {}),
    hostsFile: a.hostsFile,
    resolvConf: a.resolvConfFile,
    hostname: a.hostname,
    networks: {
      [GATEWAY_NETWORK_NAME]: { IPAddress: a.ip, IPPrefixLen: a.prefixLength, MacAddress: a.mac },
      ...Object.fromEntries(
        (a.overlays ?? []).map((e) => [
          e.networkName,
          { IPAddress: e.ip, IPPrefixLen: e.prefixLength, MacAddress: e.mac, NetworkID: e.networkId },
        ]),
      ),
    },
  };
}

export class NetworkProviderImpl implements NetworkProvider {
  private readonly network: NodeNetwork;
  /** Per container, so a release never overtakes the prepare it undoes. */
  private readonly perContainer = new KeyedLock<string>();

  constructor(
    network: NodeNetwork,
    /** Service discovery of tasks on overlays (embedded DNS, VIPs); absent, tasks get none. */
    private readonly discovery?: ServiceDiscovery,
  ) {
    this.network = network;
  }

  /** Attaches the container (the gateway bridge is made first, if it is not yet). Preparing again returns the same. */
  async prepareNetwork(containerId: string, task?: ExecutorTask): Promise<PreparedNetwork> {
    const request = attachRequestFor(containerId, task);
    return await this.serialize(containerId, async () => {
      await this.network.gatewayReady();
      const a = await this.network.attachContainer(request);
      const overlays = a.overlays ?? [];
      if (this.discovery && overlays.length > 0)
        await this.discovery.add({
          containerId,
          netns: a.netns,
          gatewayIp: a.ip,
          networkIds: overlays.map((o) => o.networkId),
        });
      return preparedNetworkFor(a);
    });
  }

  /**
   * After a restart: containers that survived it on overlays get their service discovery again (the
   * embedded DNS and their rules follow the next views from the managers).
   */
  async adoptDiscovery(containerIds: Iterable<string>): Promise<void> {
    if (!this.discovery) return;
    for (const containerId of containerIds) {
      const a = await this.network.attachment(containerId);
      const overlays = a?.overlays ?? [];
      if (a && overlays.length > 0)
        await this.discovery.add({
          containerId,
          netns: a.netns,
          gatewayIp: a.ip,
          networkIds: overlays.map((o) => o.networkId),
        });
    }
  }

  /** Detaches the container; the executor kills its processes first. Releasing twice is fine. */
  releaseNetwork(containerId: string): Promise<void> {
    this.discovery?.remove(containerId);
    return this.serialize(containerId, () => this.network.detachContainer(containerId));
  }

  /**
   * The full set of remote endpoints of an overlay network (task IPs on other nodes, each with its
   * node's underlay address); kept for a network with no local task until one arrives.
   */
  setNetworkPeers(networkId: string, peers: readonly NetworkPeer[]): Promise<void> {
    return this.network.setNetworkPeers(networkId, peers);
  }

  /** The container's address on the gateway network, or undefined when it is not attached. */
  async addressOf(containerId: string): Promise<string | undefined> {
    return (await this.network.attachment(containerId))?.ip;
  }

  private serialize<T>(containerId: string, fn: () => Promise<T>): Promise<T> {
    return this.perContainer.run(containerId, fn);
  }
}
