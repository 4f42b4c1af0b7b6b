// Read-modify-write of one node object, as the dispatcher and the manager's membership shell do it:
// the change is applied to the cached node and written with compare-and-swap, retried when someone
// else wrote meanwhile; an unchanged node is not written (it keeps its version).
import { isDeepStrictEqual } from 'node:util';
import { SwarmError } from '../api/errors.js';
import type { Node } from '../api/types.js';
import type { StoreCache } from '../store/cache.js';
import type { ClusterStore, WriteOptions } from '../store/store.js';
import type { Tables } from './tables.js';

const ATTEMPTS = 5;

/** The object as JSON would carry it: keys whose value is undefined dropped, at every depth. */
function asJSON(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v));
}

export async function changeNode(
  store: ClusterStore<Tables>,
  cache: StoreCache<Tables>,
  nodeId: string,
  change: (n: Node) => Node,
  options: () => WriteOptions = () => ({}),
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const n = cache.get('node', nodeId);
    if (!n) return;
    const next = change(n);
    // A client holding the version (node inspect, then node update) must not see "update out of
    // sequence" because nothing changed, e.g. an agent registered again.
    if (isDeepStrictEqual(asJSON(next), asJSON(n))) return;
    try {
      const updated = await store.update('node', next, options());
      await cache.waitForRevision(updated.Version.Index).catch(() => undefined);
      return;
    } catch (e) {
      if (!(e instanceof SwarmError && e.code === 'OUT_OF_SEQUENCE') || attempt >= ATTEMPTS) throw e;
    }
  }
}
