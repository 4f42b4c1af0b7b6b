// Writes a busybox image (from Debian's busybox-static) as a `docker save` archive: the demo's image,
// since this machine has no registry to pull from. Usage: node scripts/busybox-image.mjs OUT.tar [TAG]
import { buildBusyboxDockerArchive } from '../dist/test/helpers/images.js';

const [out, tag = 'busybox:latest'] = process.argv.slice(2);
if (!out) {
  console.error('usage: node scripts/busybox-image.mjs OUT.tar [TAG]');
  process.exit(2);
}
await buildBusyboxDockerArchive(out, { tag });
console.log(`wrote ${out} (${tag})`);
