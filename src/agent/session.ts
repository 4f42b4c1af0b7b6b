// The agent ↔ dispatcher contract, transport-neutral: in-process on a manager's own node, gRPC over
// mTLS for remote nodes. The dispatcher implements it; the agent only calls it.
import type { NodeDescription, Task, TaskStatus, TLSInfo } from '../api/types.js';

export interface TaskStatusUpdate {
  taskId: string;
  status: TaskStatus;
}

export interface SessionInfo {
  sessionId: string;
  /** How often the agent must heartbeat (ms); the node is marked down after 3 missed periods. */
  heartbeatPeriodMs: number;
  /** The managers' remote API addresses ("ip:port"), for a remote agent to fail over to. */
  managers?: string[];
}

export interface Heartbeat {
  /** When to send the next one (ms). */
  periodMs: number;
  /** The managers' remote API addresses ("ip:port"), kept current. */
  managers?: string[];
  /** The role the cluster wants for this node: a promoted worker reads "manager". */
  role?: 'manager' | 'worker';
  /**
   * What the node should trust and who signs certificates now (base64 SPKI): during a root rotation
   * a node renews once its certificate's issuer differs, and takes the new root once it is in force.
   */
  trust?: { rootCA: string; issuerPublicKey: string };
}

/** A remote endpoint on an overlay: its address (no prefix) and the underlay address of its node. */
export interface NetworkPeer {
  ip: string;
  nodeAddr: string;
}

/** A service as the embedded DNS and the VIP rules of one network see it. */
export interface ServiceRecord {
  id: string;
  name: string;
  /** Network aliases the service's tasks have on this network. */
  aliases: string[];
  /** Its VIP on this network (vip mode), without prefix. */
  vip?: string;
  /** Running tasks: their DNS name (`svc.slot.id`) and address on this network. */
  tasks: { name: string; ip: string }[];
  /** On the ingress network: the ports the service publishes through the routing mesh. */
  ports?: {
    protocol: 'tcp' | 'udp' | 'sctp';
    publishedPort: number;
    targetPort: number;
    keepSource?: boolean;
  }[];
}

/** What a node knows of one overlay network its tasks use. */
export interface NetworkView {
  peers: NetworkPeer[];
  services: ServiceRecord[];
  /** The network's VXLAN ID, gateway and MTU, to build its devices without a local task (ingress). */
  vni?: number;
  gateway?: string;
  mtu?: number;
  /** This node's own address on the network ("a.b.c.d/len"): the ingress network's, for the mesh. */
  self?: string;
}

/** Network ID → its view. */
export type NetworkViews = Record<string, NetworkView>;

/** A secret's or config's payload as a node receives it. */
export interface TaskPayload {
  name: string;
  /** base64 */
  data: string;
  /** The template driver ("golang") when the payload is a template. */
  templating?: string;
}

/** The secrets and configs a node's tasks reference, by ID: all it holds; what drops out is forgotten. */
export interface NodePayloads {
  secrets: Record<string, TaskPayload>;
  configs: Record<string, TaskPayload>;
}

/** What a node reports with each heartbeat: the TLS state it is in (Docker's node TLSInfo). */
export interface NodeReport {
  tlsInfo?: TLSInfo;
}

export interface DispatcherSession {
  /** Opens a session for this node with its description; re-opening replaces the old session. */
  register(nodeId: string, description: NodeDescription): Promise<SessionInfo>;
  /** Keeps the node READY; returns the next period. Throws "session invalid" for a stale session. */
  heartbeat(sessionId: string, report?: NodeReport): Promise<Heartbeat>;
  /**
   * Calls `onTasks` with the node's full task set (tasks assigned to it, state ≥ ASSIGNED) now and
   * after every change. Returns a function that ends the watch.
   */
  watchAssignments(sessionId: string, onTasks: (tasks: Task[]) => void): () => void;
  /**
   * Calls `onPeers` with the remote endpoints of every overlay network the node's tasks use (network
   * ID → task addresses on other nodes with their node's address) now and after every change.
   * Optional: a transport without it leaves the node's overlays without remote peers.
   */
  watchNetworks?(sessionId: string, onViews: (views: NetworkViews) => void): () => void;
  /**
   * Calls `onPayloads` with the secrets and configs the node's tasks (placed, not past RUNNING)
   * reference, now and after every change. A node never receives one no task of its needs.
   */
  watchPayloads?(sessionId: string, onPayloads: (payloads: NodePayloads) => void): () => void;
  /** Records observed task states (batched by the dispatcher). Only the node's own tasks. */
  updateTaskStatus(sessionId: string, updates: TaskStatusUpdate[]): Promise<void>;
}
