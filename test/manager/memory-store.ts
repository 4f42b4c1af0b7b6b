// The control store's contract in memory, for control API tests: schema-checked writes, unique
// names (as the etcd store's name index), CAS on Version.Index, and Docker's lookup by ID, name or
// ID prefix (the same `lookup` the real store uses).
import { SwarmError } from '../../src/api/errors.js';
import type { ControlStore, Kind, KindMap } from '../../src/manager/controlapi/store.js';
import { tables } from '../../src/manager/tables.js';
import { lookup } from '../../src/store/resolve.js';

export class MemoryStore implements ControlStore {
  private readonly objects = new Map<string, unknown>();
  private revision = 0;
  /** Writes made (create, update, remove), to assert that a refused request wrote nothing. */
  writes = 0;

  private key(kind: Kind, id: string): string {
    return `${kind}/${id}`;
  }

  private nameOf<K extends Kind>(kind: K, obj: KindMap[K]): string | undefined {
    const table = tables[kind] as { nameOf?: (o: KindMap[K]) => string | undefined };
    return table.nameOf?.(obj);
  }

  /** Stores an object as given (test setup: not counted as a write). */
  put<K extends Kind>(kind: K, obj: KindMap[K]): KindMap[K] {
    const next = { ...obj, Version: { Index: ++this.revision } };
    const parsed = tables[kind].schema.parse(JSON.parse(JSON.stringify(next))) as KindMap[K];
    this.objects.set(this.key(kind, parsed.ID), parsed);
    return parsed;
  }

  get<K extends Kind>(kind: K, id: string): KindMap[K] | undefined {
    return this.objects.get(this.key(kind, id)) as KindMap[K] | undefined;
  }

  list<K extends Kind>(kind: K): KindMap[K][] {
    return [...this.objects.entries()]
      .filter(([k]) => k.startsWith(`${kind}/`))
      .map(([, v]) => v as KindMap[K]);
  }

  tasksOfService(serviceId: string): KindMap['task'][] {
    return this.list('task').filter((t) => t.ServiceID === serviceId);
  }

  resolve<K extends Kind>(kind: K, ref: string): KindMap[K] {
    return lookup(kind, ref, {
      get: (id) => this.get(kind, id),
      named: (name) => this.list(kind).filter((o) => this.nameOf(kind, o) === name),
      all: () => this.list(kind),
    });
  }

  async create<K extends Kind>(kind: K, obj: KindMap[K]): Promise<KindMap[K]> {
    const name = this.nameOf(kind, obj);
    if (name !== undefined && this.list(kind).some((o) => this.nameOf(kind, o) === name)) {
      throw new SwarmError(
        'ALREADY_EXISTS',
        `name conflicts with an existing object: ${kind} ${name} already exists`,
      );
    }
    this.writes++;
    return this.put(kind, obj);
  }

  async update<K extends Kind>(kind: K, obj: KindMap[K]): Promise<KindMap[K]> {
    if (this.get(kind, obj.ID)?.Version.Index !== obj.Version.Index) {
      throw new SwarmError('OUT_OF_SEQUENCE', 'update out of sequence');
    }
    this.writes++;
    return this.put(kind, obj);
  }

  async remove(kind: Kind, id: string): Promise<void> {
    if (!this.objects.delete(this.key(kind, id)))
      throw new SwarmError('NOT_FOUND', `${kind} ${id} not found`);
    this.writes++;
  }
}
