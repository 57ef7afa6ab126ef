/**
 * Both engines on the same files, the same page and the same (SwiftShader) GPU: MLC's TinyLlama-1.1B
 * q0f32 library (../shared/data/webllm-libs) for WebLLM, and a random-weight artifact made from its
 * metadata, which webchuan's engine loads too (LLaMA layout, float32 weights stored as bfloat16).
 * Each engine: load, one warm-up request (pipelines compile), then the measured request, greedy, the
 * same prompt tokens; then it is disposed before the other loads. Prints one JSON line per engine.
 *
 *   npx tsx packages/sdk/test/browser/compare-backends.ts [--prompt 16] [--decode 4] [--context 1024] [--out DIR]
 *
 * Not part of `npm test` (about 15 minutes on a 2-core machine, 2.2 GB of files): the README's figures.
 */
import { existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readModelLibMetadata } from '../../src/model/model-lib.js';
import { writeRandomModelForLib } from '../../../cli/src/random-model-for-lib.js';
import { chromium } from 'playwright-core';
import { CHROMIUM, chromiumArgs, startHarness } from './launch.js';
import { SHARED, tempDir } from '../helpers.js';

const { values: o } = parseArgs({ options: { prompt: { type: 'string' }, decode: { type: 'string' }, context: { type: 'string' }, out: { type: 'string' } } });
const promptTokens = Number(o.prompt ?? 16);
const decodeTokens = Number(o.decode ?? 4);
const contextWindow = Number(o.context ?? 1024);
const libFile = join(SHARED, 'data/webllm-libs/TinyLlama-1.1B-Chat-v0.4-q0f32-ctx2k_cs1k-webgpu.wasm');
const t0 = Date.now();
const log = (text: string) => process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(0)} s] ${text}\n`);

const temp = o.out ? { path: o.out, remove: () => undefined } : tempDir('webchuan-compare-');
const root = temp.path;
if (!existsSync(join(root, 'tinyllama', 'tensor-cache.json'))) {
  log('writing the random TinyLlama artifact');
  await writeRandomModelForLib(join(root, 'tinyllama'), readModelLibMetadata(new Uint8Array(readFileSync(libFile))), { vocabSize: 32003, bf16: true, seed: 5 });
}
mkdirSync(join(root, 'libs'), { recursive: true });
if (!existsSync(join(root, 'libs', 'tinyllama.wasm'))) symlinkSync(libFile, join(root, 'libs', 'tinyllama.wasm'));

const harness = await startHarness(root, ['@mlc-ai/web-llm']);
// A profile on disk: a new context of a launched browser keeps its storage in memory, with a quota
// too small for two engines' copies of a 2.2 GB model.
const context = await chromium.launchPersistentContext(join(root, 'profile'), { executablePath: CHROMIUM, args: chromiumArgs() });
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (e) => log(`page error: ${e.message}`));
  await page.goto(`${harness.origin}/webllm.html`);
  await page.waitForFunction(() => document.querySelector('#state')?.textContent === 'ready');
  await page.evaluate(() => window.webllm.enable());
  const model = `${harness.origin}/artifacts/tinyllama/`;
  const lib = `${harness.origin}/artifacts/libs/tinyllama.wasm`;
  // Distinct words of the synthetic vocabulary: exactly one token each, on both engines.
  const words = (n: number, salt: number) => Array.from({ length: n }, (_, i) => `w${1000 + salt * 997 + i * 13}`).join(' ');
  for (const backend of ['webchuan', 'webllm'] as const) {
    const loadStart = Date.now();
    const started = await page.evaluate(([m, l, b, c]) => window.webllm.start(m, b === 'webllm' ? l : undefined, { backend: b, shared: false, contextWindow: c }), [model, lib, backend, contextWindow] as const);
    if (started.error) throw new Error(`${backend}: ${started.error.message}`);
    const loadS = (Date.now() - loadStart) / 1000;
    log(`${backend}: loaded in ${loadS.toFixed(0)} s`);
    const warm = Date.now();
    const w = await page.evaluate((p) => window.webllm.complete({ prompt: p, max_tokens: 2, temperature: 0 }), words(8, 9));
    if (w.error) throw new Error(`${backend} warm-up: ${w.error.message}`);
    const warmS = (Date.now() - warm) / 1000;
    log(`${backend}: warm-up request in ${warmS.toFixed(0)} s`);
    const run = Date.now();
    const r = await page.evaluate(([p, d]) => window.webllm.complete({ prompt: p, max_tokens: d, temperature: 0 }), [words(promptTokens, 1), decodeTokens] as const);
    if (r.error) throw new Error(`${backend}: ${r.error.message}`);
    const u = r.result!.usage;
    console.log(JSON.stringify({ backend, model: 'TinyLlama-1.1B q0f32 (random weights, bf16-stored)', contextWindow, load_s: loadS, warmup_s: warmS, request_s: (Date.now() - run) / 1000, prompt_tokens: u.prompt_tokens, completion_tokens: u.completion_tokens, prefill_tokens_per_s: u.extra.prefill_tokens_per_s, decode_tokens_per_s: u.extra.decode_tokens_per_s, time_to_first_token_s: u.extra.time_to_first_token_s, text: r.result!.choices[0]!.text }));
    await page.evaluate(() => window.webllm.dispose());
  }
} finally {
  await context.close();
  await harness.close();
  temp.remove();
}
