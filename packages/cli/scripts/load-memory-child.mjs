// Child of bench-load-memory.ts: loads one artifact with the engine of the tree at ROOT (this
// repository, or an older checkout for a before/after comparison) and prints its peak RSS.
//   node load-memory-child.mjs ROOT ARTIFACT_DIR
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';

const [root, dir] = process.argv.slice(2);
const { register: registerTsx } = await import(pathToFileURL(join(root, 'node_modules/tsx/dist/esm/api/index.mjs')).href);
registerTsx();
register(pathToFileURL(join(root, 'packages/cli/src/wgsl-loader.mjs')).href);
const { loadNodeModel } = await import(pathToFileURL(join(root, 'packages/cli/src/runtime.ts')).href);
const before = process.memoryUsage().rss;
const t0 = performance.now();
const model = await loadNodeModel(dir, { contextWindow: 256 });
const seconds = (performance.now() - t0) / 1000;
const peak = process.resourceUsage().maxRSS * 1024;
process.stdout.write(`${JSON.stringify({ root, weights_gpu_bytes: model.weights.bytes, rss_before_load: before, peak_rss: peak, load_s: Number(seconds.toFixed(1)) })}\n`);
model.dispose();
