// Node operations of the control API: list with filters, inspect, update (spec with version),
// remove (refusing managers and live nodes as SwarmKit does).
import { failedPrecondition } from '../../api/errors.js';
import type { Node } from '../../api/types.js';
import { validateNodeSpec } from '../../api/validate.js';
import { type Filters, nodeFilter } from './filters.js';
import type { ControlStore } from './store.js';

export class NodeApi {
  constructor(
    private readonly store: ControlStore,
    private readonly selfId: () => string,
    /** The node ID holding the leader lease now (ManagerStatus.Leader is computed, never stored). */
    private readonly leaderId: () => string | undefined = () => undefined,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Leader and reachability are computed: a manager whose node is down is unreachable. */
  private present(n: Node): Node {
    if (!n.ManagerStatus) return n;
    const { Leader: _l, ...stored } = n.ManagerStatus;
    const ms = { ...stored, Reachability: n.Status.State === 'down' ? 'unreachable' : stored.Reachability };
    return { ...n, ManagerStatus: n.ID === this.leaderId() ? { Leader: true, ...ms } : ms };
  }

  list(filters: Filters): Node[] {
    const keep = nodeFilter(filters, this.selfId());
    return this.store
      .list('node')
      .filter(keep)
      .map((n) => this.present(n));
  }

  /** Like Docker's lookup, plus "self" for this node (Docker's engine leaves that to the CLI). */
  private resolve(ref: string): Node {
    if (ref === 'self' && !this.store.get('node', ref)) return this.store.resolve('node', this.selfId());
    return this.store.resolve('node', ref);
  }

  get(ref: string): Node {
    return this.present(this.resolve(ref));
  }

  async update(ref: string, version: number, body: unknown): Promise<Node> {
    const spec = validateNodeSpec(body);
    const node = this.resolve(ref);
    if (node.Spec.Role === 'manager' && spec.Role === 'worker') {
      const managers = this.store.list('node').filter((n) => n.Spec.Role === 'manager');
      if (managers.length <= 1) {
        throw failedPrecondition(
          'rpc error: code = FailedPrecondition desc = attempting to demote the last manager of the swarm',
        );
      }
    }
    const next: Node = {
      ...node,
      Version: { Index: version },
      UpdatedAt: this.now().toISOString(),
      Spec: spec,
    };
    return this.store.update('node', next);
  }

  async remove(ref: string, force: boolean): Promise<void> {
    // Docker's engine does not resolve "self" here: `docker node rm self` is "node self not found".
    const node = this.store.resolve('node', ref);
    // A dead manager may go with --force: the leader then removes its etcd member.
    const deadAndForced = force && node.Status.State === 'down';
    if ((node.Spec.Role === 'manager' || node.ManagerStatus) && !deadAndForced) {
      throw failedPrecondition(
        `rpc error: code = FailedPrecondition desc = node ${node.ID} is a cluster manager and is a member of the raft cluster. It must be demoted to worker before removal`,
      );
    }
    if (!force && node.Status.State !== 'down' && node.Status.State !== 'unknown') {
      throw failedPrecondition(
        `rpc error: code = FailedPrecondition desc = node ${node.ID} is not down and can't be removed`,
      );
    }
    await this.store.remove('node', node.ID);
  }
}
