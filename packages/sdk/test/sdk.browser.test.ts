/**
 * The SDK as a page uses it, in real Chromium (SwiftShader WebGPU): the engine in a worker behind
 * Comlink, an OpenAI-style API, streaming, AbortSignal, the request queue, KV reuse, typed errors.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
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
