/**
 * The 'webllm' backend in real Chromium (SwiftShader WebGPU): MLC's real prebuilt WebGPU library for
 * Qwen2-0.5B (q4f32_1, for @mlc-ai/web-llm 0.2.79, from ../shared/data/webllm-libs) runs through
 * webchuan's SDK, worker and elements, on a random-weight artifact generated here from the library's
 * own metadata (its text is noise). Nothing is mocked: WebLLM compiles and runs its kernels.
 *
 * SwiftShader makes WebLLM slow (about 25 s to load, 90 s for the first request while its pipelines
 * compile, 15 s a token on an idle 2-core machine; three times that on a busy one), so every case
 * shares one loaded model and asks for a couple of tokens.
 */
import { symlinkSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readModelLibMetadata } from '../src/model/model-lib.js';
import { writeRandomModelForLib } from '../../cli/src/random-model-for-lib.js';
import { haveChromium, launchChromium, startHarness, type Harness } from './browser/launch.js';
import { sharedFile, tempDir } from './helpers.js';

const QWEN = 'data/webllm-libs/Qwen2-0.5B-Instruct-q4f32_1-ctx4k_cs1k-webgpu.wasm';
const TINYLLAMA = 'data/webllm-libs/TinyLlama-1.1B-Chat-v0.4-q0f32-ctx2k_cs1k-webgpu.wasm';
const qwenLib = haveChromium() ? sharedFile(QWEN) : undefined;
const tinyLlamaLib = haveChromium() ? sharedFile(TINYLLAMA) : undefined;

describe.skipIf(!qwenLib || !tinyLlamaLib)('WebLLM backend in Chromium (MLC\'s Qwen2-0.5B q4f32_1 library, random weights)', () => {
  const dir = tempDir('webchuan-webllm-');
  let harness: Harness;
  let browser: Browser;
  let page: Page;
  let model: string;
  let lib: string;
  let totalBytes: number;
  /** The greedy continuation the API streamed, for the element to match. */
  let streamed = '';
  const PROMPT = 'w10 w11 w12';

  beforeAll(async () => {
    await writeRandomModelForLib(join(dir.path, 'qwen'), readModelLibMetadata(new Uint8Array(readFileSync(qwenLib!))), { seed: 3 });
    const cache = JSON.parse(readFileSync(join(dir.path, 'qwen', 'tensor-cache.json'), 'utf8')) as { records: { nbytes: number }[] };
    totalBytes = cache.records.reduce((n, s) => n + s.nbytes, 0);
    mkdirSync(join(dir.path, 'libs'));
    symlinkSync(qwenLib!, join(dir.path, 'libs', 'qwen2.wasm'));
    symlinkSync(tinyLlamaLib!, join(dir.path, 'libs', 'tinyllama.wasm'));
    harness = await startHarness(dir.path, ['@mlc-ai/web-llm']);
    model = `${harness.origin}/artifacts/qwen/`;
    lib = `${harness.origin}/artifacts/libs/qwen2.wasm`;
    browser = await launchChromium();
    page = await (await browser.newContext()).newPage();
    page.on('pageerror', (e) => console.warn(`[page] ${e.message}`));
    await page.goto(`${harness.origin}/webllm.html`);
    await page.waitForFunction(() => document.querySelector('#state')?.textContent === 'ready');
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
    await harness?.close();
    dir.remove();
  });

  it('is a typed error until webchuan/webllm is imported, and without a model library', async () => {
    const off = await page.evaluate(([m, l]) => window.webllm.start(m, l), [model, lib] as const);
    expect(off.error).toMatchObject({ name: 'InvalidRequestError', code: 'invalid-request', param: 'backend' });
    expect(off.error!.message).toContain("import 'webchuan/webllm'");
    await page.evaluate(() => window.webllm.enable());
    const noLib = await page.evaluate((m) => window.webllm.start(m, undefined), model);
    expect(noLib.error).toMatchObject({ code: 'invalid-request', param: 'modelLib' });
  });

  it('refuses a missing library (ModelNotFoundError naming its URL) and one that does not fit, before any weight is downloaded', async () => {
    harness.artifacts.log.length = 0;
    const missing = `${harness.origin}/artifacts/libs/nope.wasm`;
    const gone = await page.evaluate(([m, l]) => window.webllm.start(m, l), [model, missing] as const);
    expect(gone.error).toMatchObject({ name: 'ModelNotFoundError', code: 'model-not-found' });
    expect(gone.error!.message).toContain(missing);

    const other = `${harness.origin}/artifacts/libs/tinyllama.wasm`;
    const misfit = await page.evaluate(([m, l]) => window.webllm.start(m, l), [model, other] as const);
    expect(misfit.error).toMatchObject({ name: 'BadArtifactError', code: 'bad-artifact' });
    expect(misfit.error!.message).toContain(`The model library ${other} does not fit the artifact ${model}: model type: the library is compiled for "llama"`);
    // The same check, asked by the page itself: every difference, the first the same.
    const differences = await page.evaluate(([l, m]) => window.webllm.check(l, m), [other, model] as const);
    expect(differences[0]).toBe('model type: the library is compiled for "llama", the artifact\'s mlc-chat-config.json says "qwen2"');
    expect(differences).toContain('parameter model.embed_tokens.weight [vocab_size, 2048] float32: the library needs it, the artifact has no such tensor');
    expect(await page.evaluate(([l, m]) => window.webllm.check(l, m), [lib, model] as const)).toEqual([]);
    expect(harness.artifacts.log.filter((r) => r.file.endsWith('.bin'))).toEqual([]);
  });

  it('loads through WebLLM with progress in bytes and streams a greedy completion with usage figures', async () => {
    // The model's own context window (the elements below load with no options, and join this load).
    const started = await page.evaluate(([m, l]) => window.webllm.start(m, l), [model, lib] as const);
    expect(started.error).toBeUndefined();
    expect(started.model).toMatchObject({ url: model, backend: 'webllm', chatTemplate: 'model', modelType: 'qwen2', quantization: 'q4f32_1', contextWindow: 4096, vocabSize: 151936, gpuBytes: totalBytes });
    expect(started.kind).toBe('shared');
    const last = started.progress.at(-1)!;
    expect(last).toMatchObject({ loadedBytes: totalBytes, totalBytes, cachedBytes: 0 });
    expect(started.progress.some((p) => p.loadedBytes > 0 && p.loadedBytes < totalBytes)).toBe(true); // shard by shard
    expect(started.progress.map((p) => p.loadedBytes)).toEqual([...started.progress.map((p) => p.loadedBytes)].sort((a, b) => a - b));

    const r = await page.evaluate((p) => window.webllm.stream({ prompt: p, max_tokens: 2, temperature: 0 }), PROMPT);
    expect(r.error).toBeUndefined();
    const final = r.last as { choices: { finish_reason: string }[]; usage: { prompt_tokens: number; completion_tokens: number; extra: { prefill_tokens_per_s: number; decode_tokens_per_s: number } } };
    expect(final.choices[0]!.finish_reason).toBe('length');
    expect(final.usage.prompt_tokens).toBe(3);
    expect(final.usage.completion_tokens).toBe(2);
    expect(final.usage.extra.prefill_tokens_per_s).toBeGreaterThan(0);
    expect(final.usage.extra.decode_tokens_per_s).toBeGreaterThan(0);
    streamed = r.texts.join('');
    expect(streamed).toMatch(/^( ?(w\d+|<unk>|<\|[a-z_]+\|>)){1,2}$/); // two words of the synthetic vocabulary
    console.log(`[webllm] qwen2-0.5b q4f32_1 on SwiftShader: ${JSON.stringify(final.usage)}, stream ${((r.ms ?? 0) / 1000).toFixed(1)} s (first request: pipelines compile)`);
  }, 600_000);

  it('encodes and decodes with the artifact\'s tokenizer.json, and refuses sampling WebLLM cannot honour', async () => {
    expect(await page.evaluate(() => window.webllm.tokenize('w5 w6 w151000'))).toEqual([5, 6, 151000]);
    expect(await page.evaluate(() => window.webllm.detokenize([5, 6]))).toBe('w5 w6');
    for (const [param, value] of [['top_k', 5], ['repetition_penalty', 1.1]] as const) {
      const r = await page.evaluate(([p, k, v]) => window.webllm.complete({ prompt: p, max_tokens: 2, [k]: v }), [PROMPT, param, value] as const);
      expect(r.error).toMatchObject({ name: 'InvalidRequestError', param });
    }
    const overflow = await page.evaluate(() => window.webllm.complete({ prompt: 'w7 '.repeat(5000), max_tokens: 2 }));
    expect(overflow.error).toMatchObject({ name: 'ContextOverflowError', code: 'context-overflow' });
  });

  it('aborts a chat (the model\'s own template) after its first chunk: nothing arrives after the abort', async () => {
    const r = await page.evaluate(() => window.webllm.stream({ messages: [{ role: 'user', content: 'w20 w21' }], max_tokens: 8, temperature: 0 }, 1));
    expect(r.error).toMatchObject({ name: 'AbortError', code: 'aborted' });
    expect(r.texts).toHaveLength(1);
    expect(r.afterAbort).toBe(0);
    expect(r.msAfterAbort).toBeLessThan(1000);
  }, 600_000);

  it('holds a chat reply to an EBNF grammar through WebLLM\'s own XGrammar, with n and logprobs; refuses what WebLLM cannot hold', async () => {
    const r = await page.evaluate(
      (p) => window.webllm.chat({ messages: [{ role: 'user', content: p }], max_tokens: 2, temperature: 0.8, seed: 1, n: 2, logprobs: true, top_logprobs: 2, response_format: { type: 'grammar', grammar: 'root ::= "w" [0-9]+' } }),
      PROMPT,
    );
    expect(r.error).toBeUndefined();
    expect(r.result!.choices.map((c) => c.index)).toEqual([0, 1]);
    for (const c of r.result!.choices) {
      expect(c.message.content).toMatch(/^w[0-9]+$/);
      expect(c.logprobs!.content!.length).toBeGreaterThan(0);
      expect(c.logprobs!.content!.every((t) => t.top_logprobs.length === 2)).toBe(true);
    }
    // WebLLM's completions API drops response_format: refused, not run unheld.
    const completion = await page.evaluate((p) => window.webllm.complete({ prompt: p, max_tokens: 2, response_format: { type: 'grammar', grammar: 'root ::= "w" [0-9]+' } }), PROMPT);
    expect(completion.error).toMatchObject({ name: 'InvalidRequestError', param: 'response_format' });
    const strict = await page.evaluate((p) => window.webllm.chat({ messages: [{ role: 'user', content: p }], max_tokens: 2, response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object' }, strict: false } } }), PROMPT);
    expect(strict.error).toMatchObject({ name: 'InvalidRequestError', param: 'response_format.json_schema.strict' });
    const top = await page.evaluate((p) => window.webllm.complete({ prompt: p, max_tokens: 2, logprobs: true, top_logprobs: 6 }), PROMPT);
    expect(top.error).toMatchObject({ name: 'InvalidRequestError', param: 'top_logprobs' });
    // WebLLM builds XGrammar's tables for Qwen2's 151,936 tokens on the first grammar request, then two choices of two tokens at ~15 s a token.
  }, 900_000);

  it('<baichuan-completion backend="webllm"> joins the loaded engine and streams the same greedy text as the API', async () => {
    await page.evaluate(([m, l, p]) => {
      const host = document.querySelector('#elements')!;
      host.innerHTML = `<baichuan-status backend="webllm"></baichuan-status><baichuan-completion backend="webllm" mode="button" max-tokens="2"><textarea></textarea></baichuan-completion>`;
      for (const el of host.children) el.setAttribute('model-lib', l), el.setAttribute('model', m);
      host.querySelector('textarea')!.value = p;
    }, [model, lib, PROMPT] as const);
    const t0 = Date.now();
    await page.locator('baichuan-completion button').click();
    await page.waitForFunction(() => {
      const el = document.querySelector('baichuan-completion') as unknown as { running: boolean };
      return el.running === false && document.querySelector('textarea')!.value.length > 'w10 w11 w12'.length;
    }, null, { timeout: 570_000 });
    const value = await page.locator('textarea').inputValue();
    expect(value).toBe(PROMPT + streamed);
    const status = await page.locator('baichuan-status').evaluate((el) => el.shadowRoot!.querySelector('[part="status"]')!.getAttribute('data-phase'));
    expect(status).toBe('ready');
    console.log(`[webllm] element: ${((Date.now() - t0) / 1000).toFixed(1)} s for 2 tokens on the shared, warm engine`);
  }, 600_000);

  it('lists the model it loaded as complete in WebLLM\'s cache, and deletes it', async () => {
    const list = await page.evaluate(() => window.webllm.cacheList());
    expect(list).toContainEqual({ id: model, bytes: totalBytes, totalBytes, complete: true });
    expect(await page.evaluate((m) => window.webllm.cacheHas(m), model)).toBe(true);
    await page.evaluate((m) => window.webllm.cacheDelete(m), model);
    expect(await page.evaluate((m) => window.webllm.cacheHas(m), model)).toBe(false);
    expect((await page.evaluate(() => window.webllm.cacheList())).map((m) => m.id)).not.toContain(model);
  });
});
