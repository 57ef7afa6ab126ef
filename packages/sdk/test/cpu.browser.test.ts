/**
 * The CPU path (llama.cpp through wllama) as a page uses it, in Chromium with WebGPU switched off:
 * `backend: 'auto'` picks it, the converter's default output of the poetry checkpoint answers the
 * seed prompt, and it keeps the API's promises — streaming, stop strings, abort, sampling, usage,
 * typed errors, the cache — on the same artifact and cache entry as the WebGPU engine.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveChromium, launchChromium, startHarness, type Harness } from './browser/launch.js';
import { REPO_ROOT, tempDir } from './helpers.js';

const SEED_PROMPT = '登鹳雀楼->王之涣\n夜雨寄北->';
const webchuan = (...args: string[]) => execFileSync(join(REPO_ROOT, 'node_modules/.bin/webchuan'), args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describe.skipIf(!haveChromium())('the CPU path in Chromium without WebGPU', () => {
  const dir = tempDir('webchuan-cpu-');
  let harness: Harness;
  let browser: Browser;
  let page: Page;
  let modelUrl: string;

  beforeAll(async () => {
    // The converter's default output (q4f16_1) of the checkpoint the poetry model was trained as.
    webchuan('convert', join(REPO_ROOT, 'models/poetry/checkpoint'), '--out', join(dir.path, 'poetry'));
    harness = await startHarness(dir.path);
    modelUrl = `${harness.origin}/artifacts/poetry/`;
    browser = await launchChromium(false);
    page = await (await browser.newContext()).newPage();
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
});
