/**
 * The CPU path (llama.cpp through wllama) as a page uses it, in Chromium with WebGPU switched off:
 * `backend: 'auto'` picks it, the converter's default output of the poetry checkpoint answers the
 * seed prompt, and it keeps the API's promises — streaming, stop strings, abort, sampling, usage,
 * typed errors, the cache — on the same artifact and cache entry as the WebGPU engine.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { everyNth, loadPoems, singleAuthorTitles } from '../../cli/src/poetry-metrics.js';
import { loadNodeModel } from '../../cli/src/runtime.js';
import { generateGreedy } from '../src/engine/generate.js';
import { haveFirefox, launchFirefox } from './browser/firefox.js';
import { haveChromium, launchChromium, startHarness, type Harness } from './browser/launch.js';
import { REPO_ROOT, tempDir, type PytorchReferenceCase } from './helpers.js';
import { readFileSync } from 'node:fs';

const SEED_PROMPT = '登鹳雀楼->王之涣\n夜雨寄北->';
const webchuan = (...args: string[]) => execFileSync(join(REPO_ROOT, 'node_modules/.bin/webchuan'), args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describe.skipIf(!haveChromium())('the CPU path in Chromium without WebGPU', () => {
  const dir = tempDir('webchuan-cpu-');
  let harness: Harness;
  let browser: Browser;
  let page: Page;
  let modelUrl: string;
  /** Uncaught errors of the page and its workers: an ended request must leave none behind. */
  const pageErrors: string[] = [];

  beforeAll(async () => {
    // The converter's default output (q4f16_1) of the checkpoint the poetry model was trained as, and its float32 twin.
    webchuan('convert', join(REPO_ROOT, 'models/poetry/checkpoint'), '--out', join(dir.path, 'poetry'));
    webchuan('convert', join(REPO_ROOT, 'models/poetry/checkpoint'), '--quant', 'q0f32', '--out', join(dir.path, 'poetry-f32'));
    harness = await startHarness(dir.path);
    modelUrl = `${harness.origin}/artifacts/poetry/`;
    browser = await launchChromium(false);
    page = await (await browser.newContext()).newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${harness.origin}/sdk.html`);
    await page.waitForFunction(() => document.querySelector('#state')?.textContent === 'ready');
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await harness?.close();
    dir.remove();
  });

  it("backend 'auto' runs llama.cpp where there is no WebGPU, and answers the seed prompt with 李商隐", async () => {
    const started = await page.evaluate((url) => window.sdk.start(url, true, undefined, 'default', 'auto'), modelUrl);
    expect(started.error).toBeUndefined();
    expect(started.backend).toBe('cpu');
    expect(started.kind).toBe('dedicated');
    expect(started.progressEvents).toBeGreaterThan(0);
    const r = await page.evaluate((prompt) => window.sdk.complete({ prompt, max_tokens: 8, temperature: 0, stop: ['\n'] }), SEED_PROMPT);
    expect(r.error).toBeUndefined();
    expect(r.result!.choices[0]!.text).toBe('李商隐');
    expect(r.result!.choices[0]!.finish_reason).toBe('stop');
    expect(r.result!.usage.prompt_tokens).toBe(14);
    expect(r.result!.usage.completion_tokens).toBe(2); // 李商隐 and the \n that ended it, counted as the WebGPU engine counts them
  });

  it("code written for WebLLM (CreateMLCEngine) answers here too, on the CPU path, where WebLLM itself finds no adapter", async () => {
    const r = await page.evaluate(([url, prompt]) => window.sdk.mlc(url, prompt), [modelUrl, SEED_PROMPT] as const);
    expect(r.error).toBeUndefined();
    expect(r.backend).toBe('cpu');
    expect(r.text).toBe('李商隐');
  });

  it('streams, stops on strings, aborts, samples reproducibly with a seed, applies logit_bias, and counts cached tokens', async () => {
    const streamed = await page.evaluate((prompt) => window.sdk.stream({ prompt, max_tokens: 12, temperature: 0 }), '长恨歌->白居易\n');
    const whole = await page.evaluate((prompt) => window.sdk.complete({ prompt, max_tokens: 12, temperature: 0 }), '长恨歌->白居易\n');
    expect(streamed.texts.join('')).toBe(whole.result!.choices[0]!.text);
    expect(whole.result!.choices[0]!.text.length).toBeGreaterThan(4);
    const last = streamed.last as { choices: { finish_reason: string }[]; usage: { completion_tokens: number; extra: { decode_tokens_per_s: number } } };
    expect(last.choices[0]!.finish_reason).toBe('length');
    expect(last.usage.completion_tokens).toBe(12);
    expect(last.usage.extra.decode_tokens_per_s).toBeGreaterThan(0);
    // The same prompt again: llama.cpp reuses its cache, and the usage says how much of it.
    expect(whole.result!.usage.prompt_tokens_details.cached_tokens).toBe(whole.result!.usage.prompt_tokens - 1);

    const stopped = await page.evaluate((prompt) => window.sdk.complete({ prompt, max_tokens: 12, temperature: 0, stop: ['，'] }), '长恨歌->白居易\n');
    expect(stopped.result!.choices[0]!.finish_reason).toBe('stop');
    expect(whole.result!.choices[0]!.text.startsWith(`${stopped.result!.choices[0]!.text}，`)).toBe(true);
    // Stopping llama.cpp's stream on a stop string left its next piece rejecting with nobody listening.
    await page.waitForTimeout(500);
    expect(pageErrors).toEqual([]);

    const aborted = await page.evaluate((prompt) => window.sdk.stream({ prompt, max_tokens: 40, temperature: 0 }, 2), '长恨歌->白居易\n');
    expect(aborted.error?.name).toBe('AbortError');
    expect(aborted.afterAbort).toBe(0);
    // interruptAll(): the request ends with what it had and finish_reason 'abort', as on the WebGPU engine.
    const interrupted = await page.evaluate((prompt) => window.sdk.interrupted({ prompt, max_tokens: 40, temperature: 0 }), '长恨歌->白居易\n');
    expect(interrupted.error).toBeUndefined();
    expect(interrupted.finish).toBe('abort');
    expect(whole.result!.choices[0]!.text.startsWith(interrupted.text!)).toBe(true);

    const sampled = { prompt: '春晓->', max_tokens: 10, temperature: 1.2, top_k: 50, top_p: 0.95, repetition_penalty: 1.1, seed: 5 };
    const a = await page.evaluate((p) => window.sdk.complete(p), sampled);
    const b = await page.evaluate((p) => window.sdk.complete(p), sampled);
    const c = await page.evaluate((p) => window.sdk.complete(p), { ...sampled, seed: 6 });
    expect(a.result!.choices[0]!.text).toBe(b.result!.choices[0]!.text);
    expect([a.result!.choices[0]!.text, c.result!.choices[0]!.text].every((t) => t.length > 0)).toBe(true);

    // logit_bias: +100 on a token the model would not pick here puts it first.
    const ids = await page.evaluate(() => window.sdk.tokenize('白居易'));
    expect(ids).toHaveLength(1);
    const biased = await page.evaluate(([prompt, id]) => window.sdk.complete({ prompt, max_tokens: 1, temperature: 0, logit_bias: { [String(id)]: 100 } }), [SEED_PROMPT, ids[0]!] as const);
    expect(biased.result!.choices[0]!.text).toBe('白居易');

    // n choices (choice i samples with seed + i: they reproduce), echo, ignore_eos.
    const several = { prompt: '春晓->', max_tokens: 6, temperature: 1.2, seed: 5, n: 2, echo: true };
    const n1 = await page.evaluate((p) => window.sdk.complete(p), several);
    const n2 = await page.evaluate((p) => window.sdk.complete(p), several);
    expect(n1.error).toBeUndefined();
    expect(n1.result!.choices.map((ch) => ch.index)).toEqual([0, 1]);
    expect(n1.result!.choices.map((ch) => ch.text)).toEqual(n2.result!.choices.map((ch) => ch.text));
    expect(n1.result!.choices.every((ch) => ch.text.startsWith('春晓->') && ch.text.length > '春晓->'.length)).toBe(true);
    const alone = await page.evaluate((p) => window.sdk.complete(p), { prompt: '春晓->', max_tokens: 6, temperature: 1.2, seed: 5 });
    expect(n1.result!.choices[0]!.text).toBe(`春晓->${alone.result!.choices[0]!.text}`);
    expect(n1.result!.usage.completion_tokens).toBeGreaterThanOrEqual(2);
    const past = await page.evaluate((prompt) => window.sdk.complete({ prompt, max_tokens: 6, temperature: 0, ignore_eos: true }), SEED_PROMPT);
    expect(past.result!.choices[0]!.finish_reason).toBe('length');
    expect(past.result!.usage.completion_tokens).toBe(6);
  });

  it('raises the same typed errors as the WebGPU engine, and lists the model in the one cache', async () => {
    const bad = await page.evaluate(() => window.sdk.complete({ prompt: 'x', temperature: 5 }));
    expect(bad.error).toMatchObject({ name: 'InvalidRequestError', code: 'invalid-request' });
    const logprobs = await page.evaluate(() => window.sdk.complete({ prompt: 'x', logprobs: true }));
    expect(logprobs.error).toMatchObject({ name: 'InvalidRequestError', message: expect.stringMatching(/^logprobs: the 'cpu' backend/) });
    // Structured output is refused on this path, naming the field, never quietly dropped.
    const json = await page.evaluate(() => window.sdk.complete({ prompt: 'x', response_format: { type: 'json_object' } }));
    expect(json.error).toMatchObject({ name: 'InvalidRequestError', message: expect.stringMatching(/^response_format: the 'cpu' backend/) });
    const long = await page.evaluate(() => window.sdk.complete({ prompt: '春'.repeat(2000), max_tokens: 4 }));
    expect(long.error).toMatchObject({ name: 'ContextOverflowError' });
    const cut = await page.evaluate(() => window.sdk.complete({ prompt: '春晓->孟浩然\n'.repeat(200), max_tokens: 4, temperature: 0, truncation: 'left' }));
    expect(cut.error).toBeUndefined();
    const list = (await page.evaluate(() => window.sdk.cacheList())) as { id: string; complete: boolean }[];
    expect(list.find((m) => m.id === modelUrl)?.complete).toBe(true);
  });

  it('holds the quiz floor at 4 bits: title → author on every 6th title ≥ 90 %, within 2 points of float32', async () => {
    const titles = everyNth(singleAuthorTitles(loadPoems(join(REPO_ROOT, 'models/poetry/data/tang300.json'))), 6);
    const score = async (url: string, name: string) => {
      const started = await page.evaluate(([u, n]) => window.sdk.start(u, false, undefined, n, 'cpu'), [url, name] as const);
      expect(started.error).toBeUndefined();
      let correct = 0;
      for (const { title, author } of titles) {
        const shot = title === '登鹳雀楼' ? '静夜思->李白\n' : '登鹳雀楼->王之涣\n';
        const r = await page.evaluate(([prompt, n]) => window.sdk.complete({ prompt, max_tokens: 10, temperature: 0, stop: ['\n'] }, n), [`${shot}${title}->`, name] as const);
        if (r.result?.choices[0]!.text === author) correct++;
      }
      return (100 * correct) / titles.length;
    };
    const q4 = await score(modelUrl, 'default');
    const f32 = await score(`${harness.origin}/artifacts/poetry-f32/`, 'f32');
    console.log(`[quiz] title → author on the CPU path, ${titles.length} titles: q4f16_1 (Q4_0) ${q4.toFixed(1)} %, q0f32 (F32) ${f32.toFixed(1)} %`);
    expect(q4).toBeGreaterThanOrEqual(90);
    expect(Math.abs(q4 - f32)).toBeLessThanOrEqual(2);
  });
});

describe.skipIf(!haveChromium())('GGUF files from `webchuan gguf` on llama.cpp', () => {
  const dir = tempDir('webchuan-gguf-browser-');
  let harness: Harness;
  let browser: Browser;
  const cases = (JSON.parse(readFileSync(join(REPO_ROOT, 'models/poetry/reference/pytorch.json'), 'utf8')) as { cases: PytorchReferenceCase[] }).cases.slice(0, 4);
  const prompts = cases.map((c) => c.prompt);

  /** Our WebGPU engine's greedy ids (Dawn in Node) for each prompt, to the end-of-text token or 16 tokens. */
  async function engineIds(artifact: string): Promise<number[][]> {
    const model = await loadNodeModel(artifact);
    try {
      const out: number[][] = [];
      for (const prompt of prompts) out.push((await generateGreedy(model.forward, model.tokenizer.encode(prompt), { maxTokens: 16, stopTokenIds: [2] })).ids);
      return out;
    } finally {
      model.dispose();
    }
  }

  beforeAll(async () => {
    webchuan('convert', join(REPO_ROOT, 'models/poetry/checkpoint'), '--quant', 'q0f32', '--out', join(dir.path, 'f32-artifact'));
    webchuan('convert', join(REPO_ROOT, 'models/poetry/checkpoint'), '--out', join(dir.path, 'q4-artifact'));
    for (const type of ['F32', 'F16', 'Q8_0']) webchuan('gguf', join(dir.path, 'f32-artifact'), '--type', type, '--out', join(dir.path, type));
    webchuan('gguf', join(dir.path, 'q4-artifact'), '--out', join(dir.path, 'Q4_0'));
    webchuan('gguf', join(dir.path, 'q4-artifact'), '--split-mb', '1', '--out', join(dir.path, 'split'));
    harness = await startHarness(dir.path);
    browser = await launchChromium(false);
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await harness?.close();
    dir.remove();
  });

  it("greedy ids on F32 and F16 equal our engine's on the float32 artifact (Q8_0: its first lines); Q4_0, also split in files, equals it on the 4-bit one", async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${harness.origin}/gguf.html`);
    await page.waitForFunction(() => document.querySelector('#state')?.textContent === 'ready');
    const run = (folder: string) => {
      const files = readdirSync(join(dir.path, folder)).sort().map((f) => `${harness.origin}/artifacts/${folder}/${f}`);
      return page.evaluate(([f, p]) => window.gguf.greedy(f, p, 16, 2), [files, prompts] as const);
    };
    const t0 = performance.now();
    const f32 = await engineIds(join(dir.path, 'f32-artifact'));
    const q4 = await engineIds(join(dir.path, 'q4-artifact'));
    const t1 = performance.now();
    // Our engine on the float32 artifact reproduces PyTorch (the fidelity tests); the same here, as far as both go.
    cases.forEach((c, i) => expect(f32[i]).toEqual(c.greedy_continuation_ids.slice(0, f32[i]!.length)));
    for (const type of ['F32', 'F16']) expect(await run(type), type).toEqual(f32);
    // 8 bits requantize the weights: the answer (the first line) stays, a near tie later may not.
    const firstLine = (ids: number[]) => ids.slice(0, ids.indexOf(3) + 1);
    expect((await run('Q8_0')).map(firstLine)).toEqual(f32.map(firstLine));
    expect(readdirSync(join(dir.path, 'split')).length).toBeGreaterThan(1);
    expect(await run('Q4_0')).toEqual(q4);
    expect(await run('split')).toEqual(q4);
    console.log(`[gguf] our engine in Node: ${((t1 - t0) / 1000).toFixed(1)} s; llama.cpp on five GGUF sets: ${((performance.now() - t1) / 1000).toFixed(1)} s`);
    await page.context().close();
  }, 400_000);
});

describe.skipIf(!haveChromium())('the CPU path on a cross-origin isolated page', () => {
  const dir = tempDir('webchuan-cpu-coi-');
  let harness: Harness;
  let browser: Browser;

  beforeAll(async () => {
    webchuan('convert', join(REPO_ROOT, 'models/poetry/checkpoint'), '--out', join(dir.path, 'poetry'));
    harness = await startHarness(dir.path, [], { crossOriginIsolated: true });
    browser = await launchChromium(false);
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await harness?.close();
    dir.remove();
  });

  it('runs llama.cpp on the threads asked for, and answers as on one thread', async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${harness.origin}/sdk.html`);
    await page.waitForFunction(() => document.querySelector('#state')?.textContent === 'ready');
    expect(await page.evaluate(() => window.sdk.isolated())).toBe(true);
    const started = await page.evaluate((url) => window.sdk.start(url, false, undefined, 'default', 'cpu', 2), `${harness.origin}/artifacts/poetry/`);
    expect(started.error).toBeUndefined();
    expect((started.info as { cpu: { threads: number } }).cpu.threads).toBe(2);
    const r = await page.evaluate((prompt) => window.sdk.complete({ prompt, max_tokens: 8, temperature: 0, stop: ['\n'] }), SEED_PROMPT);
    expect(r.result!.choices[0]!.text).toBe('李商隐');
    await page.context().close();
  });
});

describe.skipIf(!haveFirefox())('the CPU path in Firefox with WebGPU switched off', () => {
  const dir = tempDir('webchuan-cpu-firefox-');
  let harness: Harness;

  beforeAll(async () => {
    webchuan('convert', join(REPO_ROOT, 'models/poetry/checkpoint'), '--out', join(dir.path, 'poetry'));
    harness = await startHarness(dir.path);
  }, 180_000);
  afterAll(async () => {
    await harness?.close();
    dir.remove();
  });

  it("answers the seed prompt with 李商隐 through backend 'auto'", async () => {
    const browser = await launchFirefox({ webgpu: false });
    try {
      const page = await browser.newPage();
      await page.goto(`${harness.origin}/sdk.html`);
      await page.waitForFunction(() => document.querySelector('#state')?.textContent === 'ready', { timeout: 60_000 });
      expect(await page.evaluate(() => 'gpu' in navigator)).toBe(false);
      const started = await page.evaluate((url: string) => window.sdk.start(url, true, undefined, 'default', 'auto'), `${harness.origin}/artifacts/poetry/`);
      expect(started.error).toBeUndefined();
      expect(started.backend).toBe('cpu');
      const r = await page.evaluate((prompt: string) => window.sdk.complete({ prompt, max_tokens: 8, temperature: 0, stop: ['\n'] }), SEED_PROMPT);
      expect(r.error).toBeUndefined();
      expect(r.result!.choices[0]!.text).toBe('李商隐');
    } finally {
      await browser.close();
    }
  });
});
