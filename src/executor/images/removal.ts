// Decides what `docker rmi REF` does (Docker's rules), without touching the disk: which tags to
// drop, whether the image itself goes, or why it is refused. Pure.
import { conflict, type SwarmError } from '../../api/errors.js';
import { truncateDigest } from './naming.js';

export interface RemovalInput {
  imageId: string;
  /** The canonical tag the user named, or undefined when they named the image by ID. */
  namedTag: string | undefined;
  /** Every canonical tag pointing at the image. */
  tags: string[];
  /** Containers (holders) using the image. */
  holders: string[];
  force: boolean;
  /** Familiar form of a canonical tag, for messages. */
  familiar(tag: string): string;
}

export type RemovalPlan =
  | { ok: true; untag: string[]; deleteImage: boolean }
  | { ok: false; error: SwarmError };

export function planRemoval(input: RemovalInput): RemovalPlan {
  const { imageId, namedTag, tags, holders, force } = input;
  const short = truncateDigest(imageId);
  const holder = holders[0];
  if (namedTag !== undefined) {
    const others = tags.filter((t) => t !== namedTag);
    if (others.length > 0) return { ok: true, untag: [namedTag], deleteImage: false };
    if (holder !== undefined) {
      if (!force) {
        return {
          ok: false,
          error: conflict(
            `conflict: unable to remove repository reference "${input.familiar(namedTag)}" (must force) - container ${holder.slice(0, 12)} is using its referenced image ${short}`,
          ),
        };
      }
      // Forced: the name goes, the image stays for the container that runs it (Docker leaves it dangling).
      return { ok: true, untag: [namedTag], deleteImage: false };
    }
    return { ok: true, untag: [namedTag], deleteImage: true };
  }
  if (holder !== undefined) {
    return {
      ok: false,
      error: conflict(
        `conflict: unable to delete ${short} (cannot be forced) - image is being used by running container ${holder.slice(0, 12)}`,
      ),
    };
  }
  if (tags.length > 1 && !force) {
    return {
      ok: false,
      error: conflict(
        `conflict: unable to delete ${short} (must be forced) - image is referenced in multiple repositories`,
      ),
    };
  }
  return { ok: true, untag: [...tags], deleteImage: true };
}
