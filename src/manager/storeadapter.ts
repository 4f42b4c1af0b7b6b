// The control API's view of the cluster store: reads from this manager's cache, writes to etcd,
// then waits until the cache has seen the write (so a client reads its own writes). Errors carry
// Docker's gRPC wording.
import { SwarmError } from '../api/errors.js';
import type { StoreCache } from '../store/cache.js';
import { resolve } from '../store/resolve.js';
import type { ClusterStore, WriteOptions } from '../store/store.js';
import type { ControlStore, Kind, KindMap } from './controlapi/store.js';
import type { Tables } from './tables.js';

const grpcName: Partial<Record<SwarmError['code'], string>> = {
  ALREADY_EXISTS: 'AlreadyExists',
  OUT_OF_SEQUENCE: 'Unknown',
  INVALID_ARGUMENT: 'InvalidArgument',
};

/** SwarmKit's errors reach Docker clients as "rpc error: code = X desc = …". */
function asRpcError(e: unknown): unknown {
  if (!(e instanceof SwarmError)) return e;
  const name = grpcName[e.code];
  if (!name || e.message.startsWith('rpc error:')) return e;
  return new SwarmError(e.code, `rpc error: code = ${name} desc = ${e.message}`, { cause: e });
}

// The casts below only bridge TypeScript's generic indexed access (ObjectOf<Tables, K> is KindMap[K]).
export class CachedControlStore implements ControlStore {
  constructor(
    private readonly store: ClusterStore<Tables>,
    private readonly cache: StoreCache<Tables>,
    /** The leader fence, when writes must be fenced (control API writes are not: any manager serves them). */
    private readonly writeOptions: () => WriteOptions = () => ({}),
  ) {}

  get<K extends Kind>(kind: K, id: string): KindMap[K] | undefined {
    return this.cache.get(kind, id) as unknown as KindMap[K] | undefined;
  }

  list<K extends Kind>(kind: K): KindMap[K][] {
    return this.cache.list(kind) as unknown as KindMap[K][];
  }

  tasksOfService(serviceId: string): KindMap['task'][] {
    return this.cache.byIndex('task', 'service', serviceId);
  }

  resolve<K extends Kind>(kind: K, ref: string): KindMap[K] {
    // Nodes have no unique name: Docker matches their hostname (or Spec.Name) by scanning.
    const nameOf =
      kind === 'node' ? (n: KindMap['node']) => n.Spec.Name || n.Description?.Hostname : undefined;
    return resolve(this.cache, kind, ref, nameOf as never) as unknown as KindMap[K];
  }

  private async settle(revision: number): Promise<void> {
    await this.cache.waitForRevision(revision);
  }

  async create<K extends Kind>(kind: K, obj: KindMap[K]): Promise<KindMap[K]> {
    try {
      const { Version: _v, CreatedAt: _c, UpdatedAt: _u, ...rest } = obj;
      // The store stamps CreatedAt/UpdatedAt itself; keep the caller's if it set them.
      const created = (await this.store.create(
        kind,
        rest as never,
        this.writeOptions(),
      )) as unknown as KindMap[K];
      await this.settle(created.Version.Index);
      return created;
    } catch (e) {
      throw asRpcError(e);
    }
  }

  async update<K extends Kind>(kind: K, obj: KindMap[K]): Promise<KindMap[K]> {
    try {
      const updated = (await this.store.update(
        kind,
        obj as never,
        this.writeOptions(),
      )) as unknown as KindMap[K];
      await this.settle(updated.Version.Index);
      return updated;
    } catch (e) {
      throw asRpcError(e);
    }
  }

  async remove(kind: Kind, id: string): Promise<void> {
    try {
      const rev = await this.store.delete(kind, id, this.writeOptions());
      await this.settle(rev);
    } catch (e) {
      throw asRpcError(e);
    }
  }
}
