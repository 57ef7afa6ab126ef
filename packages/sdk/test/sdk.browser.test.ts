/**
 * The SDK as a page uses it, in real Chromium (SwiftShader WebGPU): the engine in a worker behind
 * Comlink, an OpenAI-style API, streaming, AbortSignal, the request queue, KV reuse, typed errors.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyTokenizerPieces } from '../../cli/src/tiny-tokenizer.js';
import { tinyBaichuanConfig, writeRandomModel } from '../../cli/src/random-model.js';
import { mulberry32 } from '../src/model/random.js';
import { haveChromium, launchChromium, startHarness, type Harness } from './browser/launch.js';
import { REPO_ROOT, tempDir } from './helpers.js';

describe.skipIf(!haveChromium())('SDK in Chromium', () => {
  const dir = tempDir();
  let harness: Harness;
  let browser: Browser;
  let page: Page;
  let modelUrl: string;

  async function openPage(b = browser): Promise<Page> {
    const p = await (await b.newContext()).newPage();
    await p.goto(`${harness.origin}/sdk.html`);
    await p.waitForFunction(() => document.querySelector('#state')?.textContent === 'ready');
    return p;
  }

  beforeAll(async () => {
    await writeRandomModel(join(dir.path, 'tiny'), tinyBaichuanConfig({ vocabSize: tinyTokenizerPieces().length, contextWindow: 128 }), 'q4f32_1', 11, 'tiny', 64 * 1024);
    harness = await startHarness(dir.path);
    modelUrl = `${harness.origin}/artifacts/tiny/`;
    browser = await launchChromium();
    page = await openPage();
    const started = await page.evaluate((url) => window.sdk.start(url, false), modelUrl);
    expect(started.error).toBeUndefined();
    expect(started.progressEvents).toBeGreaterThan(0);
  });
  afterAll(async () => {
    await browser?.close();
    await harness?.close();
    dir.remove();
  });

  it('gives the same text for the same seed, and greedy output equal to the Node CLI', async () => {
    const params = { prompt: 'Once upon', max_tokens: 12, temperature: 0.9, top_p: 0.95, seed: 7 };
    const a = await page.evaluate((p) => window.sdk.complete(p), params);
    const b = await page.evaluate((p) => window.sdk.complete(p), params);
    expect(a.error).toBeUndefined();
    expect(a.result!.choices[0]!.text).toBe(b.result!.choices[0]!.text);
    const greedy = await page.evaluate(() => window.sdk.complete({ prompt: 'Once upon', max_tokens: 12, temperature: 0 }));
    const cli = JSON.parse(execFileSync(join(REPO_ROOT, 'node_modules/.bin/webchuan'), ['generate', '--model', join(dir.path, 'tiny'), '--prompt', 'Once upon', '--max-tokens', '12', '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })) as { text: string };
    expect(greedy.result!.choices[0]!.text).toBe(cli.text);
    expect(greedy.result!.usage.completion_tokens).toBe(12);
  });

  it('streams chunks whose text adds up to the non-streamed completion', async () => {
    const params = { prompt: 'Hello', max_tokens: 10, temperature: 0 };
    const streamed = await page.evaluate((p) => window.sdk.stream(p), params);
    const whole = await page.evaluate((p) => window.sdk.complete(p), params);
    expect(streamed.texts.join('')).toBe(whole.result!.choices[0]!.text);
    expect((streamed.last as { choices: { finish_reason: string }[] }).choices[0]!.finish_reason).toBe('length');
  });

  it('ends a stream promptly when aborted at 20 random points, and the next request succeeds', async () => {
    const next = mulberry32(3);
    for (let i = 0; i < 20; i++) {
      const at = 1 + Math.floor(next() * 8);
      const r = await page.evaluate(([n]) => window.sdk.stream({ prompt: 'Abort me', max_tokens: 40, temperature: 0 }, n), [at] as const);
      expect(r.error?.name).toBe('AbortError');
      expect(r.afterAbort).toBe(0);
      expect(r.texts.length).toBe(at);
      const ok = await page.evaluate(() => window.sdk.complete({ prompt: 'Still there?', max_tokens: 3, temperature: 0 }));
      expect(ok.result!.choices[0]!.finish_reason).toBe('length');
    }
  });

  it('completes 50 requests fired at once, each exactly as when run alone', async () => {
    const prompts = Array.from({ length: 50 }, (_, i) => `Prompt number ${i % 7}: ${'x'.repeat(i % 5)}`);
    const together = await page.evaluate(([p]) => window.sdk.many(p, 4), [prompts] as const);
    const alone: string[] = [];
    for (const prompt of [...new Set(prompts)]) alone.push((await page.evaluate((q) => window.sdk.complete({ prompt: q, max_tokens: 4, temperature: 0 }), prompt)).result!.choices[0]!.text);
    const byPrompt = new Map([...new Set(prompts)].map((p, i) => [p, alone[i]]));
    expect(together).toEqual(prompts.map((p) => byPrompt.get(p)));
  });

  it('reuses the KV cache for a prompt that extends the previous one, with the same tokens as without reuse', async () => {
    const first = await page.evaluate(() => window.sdk.complete({ prompt: 'The quick brown fox', max_tokens: 6, temperature: 0 }));
    const extended = `The quick brown fox${first.result!.choices[0]!.text} and then`;
    const reused = await page.evaluate((p) => window.sdk.complete({ prompt: p, max_tokens: 6, temperature: 0 }), extended);
    expect(reused.result!.usage.prompt_tokens_details.cached_tokens).toBeGreaterThan(10);
    await page.evaluate(() => window.sdk.complete({ prompt: 'Something else entirely', max_tokens: 1, temperature: 0 }));
    const fresh = await page.evaluate((p) => window.sdk.complete({ prompt: p, max_tokens: 6, temperature: 0 }), extended);
    expect(fresh.result!.usage.prompt_tokens_details.cached_tokens).toBeLessThanOrEqual(1); // only the leading '▁' piece is shared
    expect(reused.result!.choices[0]!.text).toBe(fresh.result!.choices[0]!.text);
  });

  it('stops at a stop string that spans tokens, without returning it', async () => {
    const whole = (await page.evaluate(() => window.sdk.complete({ prompt: 'Once upon', max_tokens: 12, temperature: 0 }))).result!.choices[0]!.text;
    expect(whole.length).toBeGreaterThan(8);
    const stop = whole.slice(4, 7); // three tiny-tokenizer tokens
    const cut = await page.evaluate((s) => window.sdk.complete({ prompt: 'Once upon', max_tokens: 12, temperature: 0, stop: s }), stop);
    expect(cut.error, JSON.stringify([whole, stop, cut.error])).toBeUndefined();
    expect(cut.result!.choices[0]!.text).toBe(whole.slice(0, whole.indexOf(stop)));
    expect(cut.result!.choices[0]!.finish_reason).toBe('stop');
  });

  it('raises typed errors: context overflow (unless truncating left), missing model, and recovers from a lost device', async () => {
    const long = 'word '.repeat(200);
    const overflow = await page.evaluate((p) => window.sdk.complete({ prompt: p, max_tokens: 8 }), long);
    expect(overflow.error).toMatchObject({ name: 'ContextOverflowError', code: 'context-overflow', isWebchuanError: true });
    const truncated = await page.evaluate((p) => window.sdk.complete({ prompt: p, max_tokens: 8, temperature: 0, truncation: 'left' }), long);
    expect(truncated.result!.usage.prompt_tokens).toBe(120);
    // max_tokens alone fills the window: the message names that cause, not "The prompt has 0 tokens".
    for (const truncation of ['none', 'left'] as const) {
      const greedy = await page.evaluate((t) => window.sdk.complete({ prompt: 'Once upon a time', max_tokens: 1e9, truncation: t }), truncation);
      expect(greedy.error).toMatchObject({ name: 'ContextOverflowError', code: 'context-overflow' });
      expect(greedy.error!.message).toBe('max_tokens is 1000000000, but the context window holds 128 tokens in all, the prompt included: no room is left for the prompt, whatever it is. Lower max_tokens to at most 127.');
    }

    const other = await openPage();
    const missing = await other.evaluate((url) => window.sdk.start(url, false), `${harness.origin}/artifacts/nope/`);
    expect(missing.error).toMatchObject({ name: 'ModelNotFoundError', code: 'model-not-found', isWebchuanError: true });
    await other.context().close();

    const before = await page.evaluate(() => window.sdk.complete({ prompt: 'Device', max_tokens: 5, temperature: 0 }));
    await page.evaluate(() => window.sdk.loseDevice());
    await new Promise((r) => setTimeout(r, 200));
    const after = await page.evaluate(() => window.sdk.complete({ prompt: 'Device', max_tokens: 5, temperature: 0 }));
    expect(after.error).toBeUndefined();
    expect(after.result!.choices[0]!.text).toBe(before.result!.choices[0]!.text);
  });

  it('refuses a model whose buffers exceed the GPU\'s limits before fetching any shard, with the numbers and what to try', async () => {
    // A tiny model whose config claims a 64M-token context: its KV cache alone is gigabytes per layer.
    const config = tinyBaichuanConfig({ vocabSize: tinyTokenizerPieces().length, contextWindow: 64 * 1024 * 1024 });
    await writeRandomModel(join(dir.path, 'huge-context'), config, 'q4f32_1', 4, 'tiny', 64 * 1024);
    const p = await openPage();
    harness.artifacts.log.length = 0;
    const r = await p.evaluate((url) => window.sdk.start(url, false), `${harness.origin}/artifacts/huge-context/`);
    expect(r.error).toMatchObject({ name: 'WebGPUUnavailableError', code: 'webgpu-unavailable' });
    expect(r.error!.message).toMatch(/needs a [\d.]+ [MG]B buffer .*this GPU allows [\d.]+ [MG]B.*try contextWindow ≤ \d+/);
    expect(harness.artifacts.log.filter((l) => l.file.startsWith('huge-context/') && l.file.endsWith('.bin'))).toEqual([]);
    // With a context window that fits, the same artifact loads and runs.
    const fits = await p.evaluate((url) => window.sdk.start(url, false, 256), `${harness.origin}/artifacts/huge-context/`);
    expect(fits.error).toBeUndefined();
    await p.context().close();

    // The CLI says the same on stderr, exits 1, and leaves stdout (JSON for a caller) empty.
    const cli = spawnSync(join(REPO_ROOT, 'node_modules/.bin/webchuan'), ['generate', '--model', join(dir.path, 'huge-context'), '--prompt', 'Hi', '--json'], { encoding: 'utf8' });
    expect(cli.status).toBe(1);
    expect(cli.stdout).toBe('');
    expect(cli.stderr).toMatch(/this GPU allows/);
  });

  it('raises WebGPUUnavailableError in a browser without WebGPU', async () => {
    const noGpu = await launchChromium(false);
    try {
      const p = await openPage(noGpu);
      const r = await p.evaluate((url) => window.sdk.start(url, false), modelUrl);
      expect(r.error).toMatchObject({ name: 'WebGPUUnavailableError', code: 'webgpu-unavailable', isWebchuanError: true });
    } finally {
      await noGpu.close();
    }
  });
});

describe.skipIf(!haveChromium())('shared engine across tabs', () => {
  const dir = tempDir();
  let harness: Harness;
  let browser: Browser;

  beforeAll(async () => {
    await writeRandomModel(join(dir.path, 'tiny'), tinyBaichuanConfig({ vocabSize: tinyTokenizerPieces().length, contextWindow: 128 }), 'q4f32_1', 12, 'tiny', 64 * 1024);
    harness = await startHarness(dir.path);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await harness?.close();
    dir.remove();
  });

  it('two pages with shared: true load the model once, both stream, and closing one leaves the other working', async () => {
    const context = await browser.newContext();
    const open = async () => {
      const p = await context.newPage();
      await p.goto(`${harness.origin}/sdk.html`);
      await p.waitForFunction(() => document.querySelector('#state')?.textContent === 'ready');
      return p;
    };
    const url = `${harness.origin}/artifacts/tiny/`;
    const [a, b] = [await open(), await open()];
    harness.artifacts.log.length = 0;
    const [ra, rb] = await Promise.all([a.evaluate((u) => window.sdk.start(u, true), url), b.evaluate((u) => window.sdk.start(u, true), url)]);
    expect(ra.error).toBeUndefined();
    expect(rb.error).toBeUndefined();
    const shards = harness.artifacts.log.filter((r) => r.file.endsWith('.bin'));
    expect(shards.length).toBe(new Set(shards.map((r) => r.file)).size); // each shard fetched once
    const params = { prompt: 'Together', max_tokens: 6, temperature: 0 };
    const [sa, sb] = await Promise.all([a.evaluate((p) => window.sdk.stream(p), params), b.evaluate((p) => window.sdk.stream(p), params)]);
    expect(sa.texts.join('')).toBe(sb.texts.join(''));
    expect(sa.texts.length).toBeGreaterThan(1);
    await a.close();
    const after = await b.evaluate((p) => window.sdk.complete(p), params);
    expect(after.error).toBeUndefined();
    expect(after.result!.choices[0]!.text).toBe(sa.texts.join(''));
    await context.close();
  });
});

describe.skipIf(!haveChromium())('every page and element gets the model it asked for', () => {
  const dir = tempDir();
  let harness: Harness;
  let browser: Browser;
  const config = tinyBaichuanConfig({ vocabSize: tinyTokenizerPieces().length, contextWindow: 128 });
  const prompts = ['Once upon', 'Hello there', 'The model', 'Ask me'];

  beforeAll(async () => {
    // Two models of the same shape and tokenizer, different weights: only the weights tell them apart.
    await writeRandomModel(join(dir.path, 'a'), config, 'q4f32_1', 21, 'tiny', 64 * 1024);
    await writeRandomModel(join(dir.path, 'b'), config, 'q4f32_1', 22, 'tiny', 64 * 1024);
    harness = await startHarness(dir.path);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await harness?.close();
    dir.remove();
  });

  async function openIn(context: BrowserContext): Promise<Page> {
    const p = await context.newPage();
    await p.goto(`${harness.origin}/sdk.html`);
    await p.waitForFunction(() => document.querySelector('#state')?.textContent === 'ready');
    return p;
  }

  /** Each prompt's greedy answer on a model, run alone on a page of its own. */
  async function alone(model: string): Promise<string[]> {
    const context = await browser.newContext();
    const p = await openIn(context);
    expect((await p.evaluate((u) => window.sdk.start(u, false), model)).error).toBeUndefined();
    const answers = await p.evaluate((ps) => window.sdk.interleaved(ps.map((prompt) => ({ name: 'default', prompt, max_tokens: 6 }))), prompts);
    await context.close();
    return answers;
  }

  it('two models on one page and in two tabs (one SharedWorker), requests interleaved and concurrent: each answer equals its model alone', async () => {
    const a = `${harness.origin}/artifacts/a/`;
    const b = `${harness.origin}/artifacts/b/`;
    const [aloneA, aloneB] = [await alone(a), await alone(b)];
    expect(aloneA).not.toEqual(aloneB); // the test can tell the models apart

    const context = await browser.newContext();
    const page = await openIn(context);
    expect((await page.evaluate((u) => window.sdk.start(u, true, undefined, 'a'), a)).error).toBeUndefined();
    expect((await page.evaluate((u) => window.sdk.start(u, true, undefined, 'b'), b)).error).toBeUndefined();
    const requests = prompts.flatMap((prompt) => [{ name: 'a', prompt, max_tokens: 6 }, { name: 'b', prompt, max_tokens: 6 }]);
    const together = await page.evaluate((r) => window.sdk.interleaved(r), requests);
    expect(together).toEqual(prompts.flatMap((_, i) => [aloneA[i], aloneB[i]]));

    // A second tab on model b while the first keeps asking model a, concurrently, through the same SharedWorker.
    const other = await openIn(context);
    expect((await other.evaluate((u) => window.sdk.start(u, true, undefined, 'b'), b)).error).toBeUndefined();
    const [onA, onB] = await Promise.all([
      page.evaluate((ps) => window.sdk.interleaved(ps.map((prompt) => ({ name: 'a', prompt, max_tokens: 6 }))), prompts),
      other.evaluate((ps) => window.sdk.interleaved(ps.map((prompt) => ({ name: 'b', prompt, max_tokens: 6 }))), prompts),
    ]);
    expect(onA).toEqual(aloneA);
    expect(onB).toEqual(aloneB);

    // A mistyped model fails for its caller only; everyone else keeps working.
    const typo = await other.evaluate((u) => window.sdk.start(u, true, undefined, 'typo'), `${harness.origin}/artifacts/aa/`);
    expect(typo.error).toMatchObject({ code: 'model-not-found' });
    expect(await page.evaluate((ps) => window.sdk.interleaved(ps.map((prompt) => ({ name: 'a', prompt, max_tokens: 6 }))), prompts)).toEqual(aloneA);
    expect(await other.evaluate((ps) => window.sdk.interleaved(ps.map((prompt) => ({ name: 'b', prompt, max_tokens: 6 }))), prompts)).toEqual(aloneB);
    await context.close();
  });

  it('names one model one way: /m, /m/ and the absolute URL are one engine and one cache entry', async () => {
    const context = await browser.newContext();
    const page = await openIn(context);
    const path = '/artifacts/a';
    const ids = [];
    for (const [i, url] of [path, `${path}/`, `${harness.origin}${path}/`, `./artifacts/a`].entries()) {
      const started = await page.evaluate(([u, n]) => window.sdk.start(u, true, undefined, n), [url, `m${i}`] as const);
      expect(started.error).toBeUndefined();
      ids.push(started.url);
    }
    expect(new Set(ids)).toEqual(new Set([`${harness.origin}/artifacts/a/`]));
    const cached = await page.evaluate(() => window.sdk.cacheList());
    expect(cached.filter((m) => m.id.includes('/artifacts/a'))).toHaveLength(1);
    await context.close();
  });

  it('bounds a 16 MB prompt before the tokenizer: a typed error at once, or its tail with truncation left; the engine stays usable', async () => {
    const context = await browser.newContext();
    const page = await openIn(context);
    expect((await page.evaluate((u) => window.sdk.start(u, false), `${harness.origin}/artifacts/a/`)).error).toBeUndefined();
    const huge = await page.evaluate(() => window.sdk.timed({ prompt: 'word '.repeat(16 * 1024 * 1024 / 5), max_tokens: 4 }));
    expect(huge.error).toMatchObject({ name: 'ContextOverflowError', code: 'context-overflow' });
    expect(huge.ms).toBeLessThan(5000);
    const tail = await page.evaluate(() => window.sdk.timed({ prompt: 'word '.repeat(64 * 1024 * 1024 / 5) + 'the end', max_tokens: 4, temperature: 0, truncation: 'left' }));
    expect(tail.error).toBeUndefined();
    expect(tail.result!.usage.prompt_tokens).toBe(128 - 4);
    const short = await page.evaluate(() => window.sdk.complete({ prompt: 'the end', max_tokens: 4, temperature: 0 }));
    expect(short.result!.choices[0]!.finish_reason).toBe('length');
    await context.close();
  });
});
