// Task reads of the control API: list with Docker's filters (service and node resolved first) and
// inspect.
import type { Service, Task } from '../../api/types.js';
import { type Filters, taskFilter } from './filters.js';
import type { ControlStore } from './store.js';

export class TaskApi {
  constructor(
    private readonly store: ControlStore,
    private readonly selfId: () => string,
  ) {}

  list(filters: Filters): Task[] {
    const services = new Map<string, Service>(this.store.list('service').map((s) => [s.ID, s]));
    let serviceIds: Set<string> | undefined;
    const svcRefs = filters.get('service');
    if (svcRefs) {
      serviceIds = new Set();
      for (const ref of svcRefs) {
        for (const s of services.values()) {
          if (s.ID === ref || s.Spec.Name === ref || s.ID.startsWith(ref)) serviceIds.add(s.ID);
        }
      }
    }
    let nodeIds: Set<string> | undefined;
    const nodeRefs = filters.get('node');
    if (nodeRefs) {
      nodeIds = new Set();
      for (const ref of nodeRefs) {
        const r = ref === 'self' ? this.selfId() : ref;
        for (const n of this.store.list('node')) {
          if (n.ID === r || n.Description?.Hostname === r || n.ID.startsWith(r)) nodeIds.add(n.ID);
        }
      }
    }
    const keep = taskFilter(filters, {
      serviceIds,
      nodeIds,
      serviceOf: (t) => services.get(t.ServiceID),
      nodeOf: (t) => (t.NodeID ? this.store.get('node', t.NodeID) : undefined),
    });
    const tasks =
      serviceIds && serviceIds.size <= 8
        ? [...serviceIds].flatMap((id) => this.store.tasksOfService(id))
        : this.store.list('task');
    return tasks.filter(keep);
  }

  get(ref: string): Task {
    return this.store.resolve('task', ref);
  }
}
