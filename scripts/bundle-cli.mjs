// Bundles the compiled swarmctl (dist/src/cli/main.js and everything it imports, node_modules
// included) into one file, dist/swarmctl.mjs: Node then reads and links one module instead of
// ~150 (the yaml package alone is 83 files), which takes 100–200 ms off every swarmctl command on
// these machines. bin/swarmctl runs the bundle only when it is newer than the compiled sources, so
// a plain `tsc` never leaves a stale CLI behind. Run after tsc (`npm run build` does both).
import { build } from 'esbuild';

await build({
  entryPoints: ['dist/src/cli/main.js'],
  outfile: 'dist/swarmctl.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  logLevel: 'warning',
  // CommonJS dependencies bundled into an ES module still call require() for Node's built-ins.
  banner: {
    js: "import { createRequire as __skt_require } from 'node:module'; const require = __skt_require(import.meta.url);",
  },
});
