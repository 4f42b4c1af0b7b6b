// What the control API needs from the cluster store: cached reads and versioned writes. The
// manager adapts src/store to it; tests may use an in-memory implementation.
import type { Task } from '../../api/types.js';
import type { ObjectOf } from '../../store/table.js';
import type { Tables } from '../tables.js';

/** The object type of each table (Cluster, Node, Service, Task). */
export type KindMap = { [K in keyof Tables]: ObjectOf<Tables, K> };
export type Kind = keyof KindMap;

export interface ControlStore {
  get<K extends Kind>(kind: K, id: string): KindMap[K] | undefined;
  list<K extends Kind>(kind: K): KindMap[K][];
  /** Tasks of one service, from the cache's index. */
  tasksOfService(serviceId: string): Task[];
  /** Docker's lookup: full ID, then exact name, then unique ID prefix (404 / 400 ambiguous). */
  resolve<K extends Kind>(kind: K, ref: string): KindMap[K];
  /** Creates the object (and its name index entry); returns it with its Version. */
  create<K extends Kind>(kind: K, obj: KindMap[K]): Promise<KindMap[K]>;
  /** Compare-and-swap on obj.Version.Index; stale → OUT_OF_SEQUENCE. Returns the new version. */
  update<K extends Kind>(kind: K, obj: KindMap[K]): Promise<KindMap[K]>;
  remove(kind: Kind, id: string): Promise<void>;
}
