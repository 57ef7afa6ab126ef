// Bundles the `webchuan` CLI (TypeScript sources of packages/cli and packages/sdk, WGSL kernels as
// text) into one ES module for a machine with no node_modules: esbuild (which tsx already brings)
// does the bundling, a small plugin loads `*.wgsl?raw` the way Vite does. The `webgpu` package is
// bundled too; it loads dawn.node from dist/<platform>-<arch>/ beside the bundle at run time.
//
//   node packages/cli/scripts/gpu-machine/bundle.mjs OUT_FILE
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2];
if (!out) throw new Error('usage: node bundle.mjs OUT_FILE');

const wgslRaw = {
  name: 'wgsl-raw',
  setup(b) {
    b.onResolve({ filter: /\.wgsl\?raw$/ }, (args) => ({ path: resolve(args.resolveDir, args.path.replace(/\?raw$/, '')), namespace: 'wgsl' }));
    b.onLoad({ filter: /.*/, namespace: 'wgsl' }, async (args) => ({ contents: `export default ${JSON.stringify(await readFile(args.path, 'utf8'))};`, loader: 'js' }));
  },
};

await build({
  entryPoints: [resolve(here, 'entry.ts')],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outfile: out,
  plugins: [wgslRaw],
  // The bundle is ESM; code that calls require() (the webgpu package, Emscripten glue) gets one.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  logLevel: 'warning',
});
