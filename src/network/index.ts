// The node networking API used by the executor (attach/detach per container), the daemon (gateway
// bridge, crash cleanup) and the port wiring (published-port rules).
export type { DnsConfig } from './container-files.js';
export type { AttachRequest, CleanupReport, ContainerAttachment, NodeNetworkConfig } from './node-network.js';
export { NodeNetwork } from './node-network.js';
export type { PortState } from './ports.js';
export { applyPortRules, removePortRules, renderPortRules } from './ports.js';
export {
  attachRequestFor,
  GATEWAY_NETWORK_NAME,
  NetworkProviderImpl,
  preparedNetworkFor,
} from './provider.js';
export { isServing, portStateFor, type TaskAddress } from './publish.js';
export { addressTasks, PortPublisher, type PortRulesTarget } from './publisher.js';
