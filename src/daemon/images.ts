// The node's image store as swarmd uses it: removal is refused while a container (any state) uses
// the image — the holders are read from the container runtime at that moment, so they survive
// restarts — and a task whose image is missing pulls it first, as Docker's engine does.
import { SwarmError } from '../api/errors.js';
import { ImageStore } from '../executor/images/store.js';
import type { RegistryAuth, ResolvedImage } from '../executor/types.js';
import { createLogger } from '../lib/log.js';

const log = createLogger({ component: 'images' });

export class NodeImageStore extends ImageStore {
  constructor(
    root: string,
    /** Image ID → IDs of the containers using it, right now. */
    private readonly containersUsing: () => Iterable<{ imageId: string; containerId: string }>,
  ) {
    super(root);
  }

  override async remove(ref: string, opts: { force?: boolean } = {}) {
    const held: { imageId: string; containerId: string }[] = [...this.containersUsing()];
    for (const h of held) this.acquire(h.imageId, h.containerId);
    try {
      return await super.remove(ref, opts);
    } finally {
      for (const h of held) this.release(h.imageId, h.containerId);
    }
  }

  /**
   * For the executor: the local image, pulled first when missing (with the task's registry
   * credentials, if its service has some); "No such image: X" if it cannot be.
   */
  async resolveForTask(ref: string, pull: { auth?: RegistryAuth } = {}): Promise<ResolvedImage> {
    try {
      return await this.resolve(ref);
    } catch (e) {
      if (!(e instanceof SwarmError) || e.code !== 'NOT_FOUND') throw e;
      try {
        await this.pull(ref, pull.auth ? { auth: pull.auth } : {});
      } catch (pullErr) {
        // Never the credentials: only the image, whether some were given, and the registry's answer.
        log.info('image pull for a task failed', {
          image: ref,
          withAuth: pull.auth !== undefined,
          err: pullErr,
        });
        throw e;
      }
      return this.resolve(ref);
    }
  }
}
