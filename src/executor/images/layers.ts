// Unpacks one layer tarball into a directory in overlayfs form: Docker's whiteout files become what
// overlayfs reads (runtime.md §1): `.wh..wh..opq` → xattr trusted.overlay.opaque=y on its directory
// (done first), `.wh.NAME` → a char device 0/0 named NAME. One bash process per layer.
import { SwarmError } from '../../api/errors.js';
import { ExecError, run } from '../../lib/exec.js';

// GNU tar refuses members containing '..' and strips leading '/', and it defers symlinks whose
// target is absolute or climbs out (placeholder files until the end), so nothing lands outside $D.
// Every file and dir is fsynced before the caller renames the layer into place.
const UNPACK_SCRIPT = `
set -euo pipefail
D=$1; T=$2
tar -C "$D" --numeric-owner --same-owner -xpf "$T"
while IFS= read -r -d '' f; do
  setfattr -n trusted.overlay.opaque -v y "\${f%/*}"
  rm -f "$f"
done < <(find "$D" -name '.wh..wh..opq' -type f -print0)
while IFS= read -r -d '' f; do
  d=\${f%/*}; n=\${f##*/}; n=\${n#.wh.}
  rm -f "$f"
  case "$n" in .wh.*) continue ;; esac
  rm -rf "$d/$n"
  mknod "$d/$n" c 0 0
done < <(find "$D" -name '.wh.*' -type f -print0)
find "$D" \\( -type f -o -type d \\) -print0 | xargs -0 -r sync --
`;

/**
 * Unpacks the uncompressed or gzipped tarball `tarPath` into the existing empty dir `dest`.
 * `what` names the layer in errors ("layer sha256:…").
 */
export async function unpackLayer(tarPath: string, dest: string, what: string): Promise<void> {
  try {
    await run('/bin/bash', ['-c', UNPACK_SCRIPT, 'unpack-layer', dest, tarPath], { timeoutMs: 10 * 60_000 });
  } catch (err) {
    const detail = err instanceof ExecError ? err.result.stderr.trim() : String(err);
    throw new SwarmError('INTERNAL', `failed to unpack ${what}: ${detail}`, { cause: err });
  }
}
