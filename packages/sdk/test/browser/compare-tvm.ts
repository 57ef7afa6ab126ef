/**
 * Side by side on identical weights: webchuan's WGSL engine and the library TVM compiles for the same
 * artifact (`webchuan compile-lib`), run by WebLLM 0.2.85, in one Chromium page (SwiftShader), one
 * after the other, through the same SDK calls (createEngine with backend 'webchuan' or 'webllm').
 * Each engine: time to Ready (download into IndexedDB, GPU upload, and for WebLLM its shader
 * compile), one warm-up request (the prompt reversed), then the measured greedy request; then it is
 * disposed. WebLLM samples on the GPU even when greedy (softmax at temperature 1e-6, a sort of the
 * vocabulary, top-p), which its decode figure includes. Prints one
 * JSON line per engine.
 *
 *   npx tsx packages/sdk/test/browser/compare-tvm.ts [--model models/poetry/q4f32_1 | --shape 7b-layout]
 *       [--prompt "<text>"] [--decode 8] [--out DIR]
 *
 * --shape 7b-layout: a random model of Baichuan-7B's layout at hidden 2048 (16 heads of 128,
 * intermediate 5504, 2 layers, Baichuan-7B's 64,000-token tokenizer from ../shared), q4f32_1 (SwiftShader
 * has no shader-f16, which TVM's q4f16_1 kernels need). The library is linked with --quick (the host
 * code only; the GPU kernels are the same). Not part of `npm test`: the README's figures.
 */
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { compileLib } from '../../../cli/src/compile-lib.js';
import { tinyBaichuanConfig, writeRandomModel } from '../../../cli/src/random-model.js';
import { REPO_ROOT, SHARED, tempDir } from '../helpers.js';
import { CHROMIUM, chromiumArgs, startHarness } from './launch.js';

const { values: o } = parseArgs({ options: { model: { type: 'string' }, shape: { type: 'string' }, prompt: { type: 'string' }, decode: { type: 'string' }, out: { type: 'string' } } });
const decodeTokens = Number(o.decode ?? 8);
const t0 = Date.now();
const log = (text: string) => process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(0)} s] ${text}\n`);

const temp = o.out ? { path: resolve(o.out), remove: () => undefined } : tempDir('webchuan-compare-tvm-');
const root = temp.path;
mkdirSync(root, { recursive: true });
let artifact: string;
let label: string;
let prompt: string;
if (o.shape === '7b-layout') {
  artifact = join(root, 'baichuan-7b-layout-2048x2');
  label = 'random Baichuan-7B layout, hidden 2048, 2 layers, vocab 64000, q4f32_1';
  prompt = o.prompt ?? '今天天气很好，我们一起去公园散步，然后在湖边吃午饭。';
  if (!existsSync(join(artifact, 'tensor-cache.json'))) {
    log('writing the random 7B-layout artifact');
    const config = tinyBaichuanConfig({ hiddenSize: 2048, numHeads: 16, numKvHeads: 16, headDim: 128, intermediateSize: 5504, numLayers: 2, vocabSize: 64000, contextWindow: 1024 });
    await writeRandomModel(artifact, config, 'q4f32_1', 7, join(SHARED, 'data/baichuan-7b/tokenizer.model'));
  }
} else if (o.shape === undefined) {
  artifact = resolve(o.model ?? join(REPO_ROOT, 'models/poetry/q4f32_1'));
  label = `${artifact.replace(`${REPO_ROOT}/`, '')}`;
  prompt = o.prompt ?? '床前明月光，疑是地上霜。举头望明月，';
} else {
  throw new Error(`--shape must be 7b-layout, got ${o.shape}`);
}

const site = join(root, 'site');
mkdirSync(site, { recursive: true });
if (!existsSync(join(site, 'model'))) symlinkSync(artifact, join(site, 'model'));
const libPath = join(site, 'model.wasm');
if (!existsSync(libPath)) {
  log(`compiling the library for ${label}`);
  const lib = await compileLib(artifact, { out: libPath, quick: true, onProgress: (line) => log(line) });
  log(`compiled in ${lib.seconds.toFixed(0)} s (${(lib.bytes / 1e6).toFixed(1)} MB)`);
}

const harness = await startHarness(site, ['web-llm-0.2.85'], { alias: { '@mlc-ai/web-llm': 'web-llm-0.2.85' } });
const context = await chromium.launchPersistentContext(join(root, 'profile'), { executablePath: CHROMIUM, args: chromiumArgs() });
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (e) => log(`page error: ${e.message}`));
  await page.goto(`${harness.origin}/webllm.html`);
  await page.waitForFunction(() => document.querySelector('#state')?.textContent === 'ready');
  await page.evaluate(() => window.webllm.enable());
  const model = `${harness.origin}/artifacts/model/`;
  const lib = `${harness.origin}/artifacts/model.wasm`;
  for (const backend of ['webchuan', 'webllm'] as const) {
    const loadStart = Date.now();
    const started = await page.evaluate(([m, l, b]) => window.webllm.start(m, b === 'webllm' ? l : undefined, { backend: b, shared: false }), [model, lib, backend] as const);
    if (started.error) throw new Error(`${backend}: ${started.error.message}`);
    const readyS = (Date.now() - loadStart) / 1000;
    log(`${backend}: ready in ${readyS.toFixed(0)} s`);
    const warm = Date.now();
    // The warm-up compiles the pipelines for the measured prompt's length: the same characters reversed
    // (another prompt, so webchuan's KV reuse cannot skip the measured prefill).
    const w = await page.evaluate((p) => window.webllm.complete({ prompt: p, max_tokens: 2, temperature: 0 }), [...prompt].reverse().join(''));
    if (w.error) throw new Error(`${backend} warm-up: ${w.error.message}`);
    const warmS = (Date.now() - warm) / 1000;
    log(`${backend}: warm-up request in ${warmS.toFixed(0)} s`);
    const run = Date.now();
    const r = await page.evaluate(([p, d]) => window.webllm.complete({ prompt: p, max_tokens: d, temperature: 0 }), [prompt, decodeTokens] as const);
    if (r.error) throw new Error(`${backend}: ${r.error.message}`);
    const u = r.result!.usage;
    console.log(
      JSON.stringify({
        backend,
        model: label,
        ready_s: readyS,
        warmup_s: warmS,
        request_s: (Date.now() - run) / 1000,
        prompt_tokens: u.prompt_tokens,
        completion_tokens: u.completion_tokens,
        prefill_tokens_per_s: u.extra.prefill_tokens_per_s,
        decode_tokens_per_s: u.extra.decode_tokens_per_s,
        time_to_first_token_s: u.extra.time_to_first_token_s,
        gpu_bytes: started.model?.gpuBytes,
        text: r.result!.choices[0]!.text,
      }),
    );
    await page.evaluate(() => window.webllm.dispose());
  }
} finally {
  await context.close();
  await harness.close();
  temp.remove();
}
