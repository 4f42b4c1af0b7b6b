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

/** Network ID → remote endpoints (task address, its node's underlay address). */
export type NetworkPeers = Record<string, { ip: string; nodeAddr: string }[]>;

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
  watchNetworkPeers?(sessionId: string, onPeers: (peers: NetworkPeers) => void): () => void;
  /** Records observed task states (batched by the dispatcher). Only the node's own tasks. */
  updateTaskStatus(sessionId: string, updates: TaskStatusUpdate[]): Promise<void>;
}
