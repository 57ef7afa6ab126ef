/**
 * Peak memory of loading a model: writes (once) a ~1 GB artifact of Baichuan-7B's layer shapes (by
 * default one layer and an 8,000-token vocabulary at q0f32: 1.07 GB), then loads it in a fresh Node process per engine tree and prints each process's peak RSS.
 * On SwiftShader the GPU buffers live in the process too, so the floor is the weights themselves;
 * everything above that is what the loading path holds on the way.
 *
 *   npx tsx packages/cli/scripts/bench-load-memory.ts [--layers 1] [--vocab 8000] [--quant q0f32] [--dir ~/.cache/webchuan/loadmem]
 *       [--compare /path/to/older/tree]   (a checkout with node_modules, e.g. `git archive` of an older commit)
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { BAICHUAN_7B } from '../../sdk/src/model/config.js';
import { isQuantization } from '../../sdk/src/model/quant.js';
import { writeRandomModel } from '../src/random-model.js';

const { values: o } = parseArgs({
  options: {
    layers: { type: 'string', default: '1' },
    vocab: { type: 'string', default: '8000' },
    quant: { type: 'string', default: 'q0f32' },
    dir: { type: 'string', default: join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'webchuan', 'loadmem') },
    compare: { type: 'string', multiple: true },
  },
});
const quant = o.quant!;
if (!isQuantization(quant)) throw new Error(`--quant ${quant}?`);
const repo = resolve(fileURLToPath(import.meta.url), '../../../..');
const artifact = join(o.dir!, `baichuan-shape-${o.layers}L-v${o.vocab}-${quant}`);
if (!existsSync(join(artifact, 'tensor-cache.json'))) {
  process.stderr.write(`writing ${artifact}…\n`);
  await writeRandomModel(artifact, { ...BAICHUAN_7B, numLayers: Number(o.layers), vocabSize: Number(o.vocab) }, quant, 1, 'tiny'); // a tokenizer, since loading reads one
}
for (const root of [...(o.compare ?? []), repo]) {
  const line = execFileSync(process.execPath, [join(repo, 'packages/cli/scripts/load-memory-child.mjs'), root, artifact], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const r = JSON.parse(line) as { weights_gpu_bytes: number; peak_rss: number; rss_before_load: number; load_s: number };
  const GB = (b: number) => (b / 1e9).toFixed(2);
  process.stdout.write(`${JSON.stringify({ ...r, artifact })}\n`);
  process.stderr.write(`${root}: weights ${GB(r.weights_gpu_bytes)} GB, peak RSS ${GB(r.peak_rss)} GB (${GB(r.peak_rss - r.weights_gpu_bytes)} GB above the weights), load ${r.load_s} s\n`);
}
