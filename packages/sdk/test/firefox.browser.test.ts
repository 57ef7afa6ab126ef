/**
 * The Firefox lane: Debian's Firefox ESR, headless, with WebGPU (wgpu, on Mesa's lavapipe on a machine
 * without a GPU), driven over WebDriver BiDi. The SDK from the built package answers the poetry model's
 * seed prompt with both 4-bit formats, and every kernel variant the engine can assemble is compiled by
 * Firefox's own WGSL compiler (naga): all of them compile except those that need a feature Firefox does
 * not offer — subgroups, which naga does not support yet — and the engine never picks those there.
 * The elements and the demo in Firefox: e2e/firefox.test.ts.
 */
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { haveFirefox, launchFirefox, pageAdapter } from './browser/firefox.js';
import { startHarness, type Harness } from './browser/launch.js';
import { REPO_ROOT } from './helpers.js';

const SEED_PROMPT = '登鹳雀楼->王之涣\n夜雨寄北->';

describe.skipIf(!haveFirefox())('Firefox with WebGPU', () => {
  let harness: Harness;
  let browser: Browser;

  async function open(path: string): Promise<Page> {
    const page = await browser.newPage();
    await page.goto(`${harness.origin}/${path}`);
    await page.waitForFunction(() => document.querySelector('#state')?.textContent === 'ready', { timeout: 60_000 });
    return page;
  }

  beforeAll(async () => {
    harness = await startHarness(join(REPO_ROOT, 'models/poetry'));
    browser = await launchFirefox({ webgpu: true });
    console.log(`[browser] ${await browser.version()}`);
  });
  afterAll(async () => {
    await browser?.close();
    await harness?.close();
  });

  it.each(['q4f32_1', 'q4f16_1'])('the SDK (createEngine, in a worker) completes the seed prompt with 李商隐 (poetry model, %s)', async (quant) => {
    const page = await open('sdk.html');
    const started = await page.evaluate((url) => window.sdk.start(url, true), `${harness.origin}/artifacts/${quant}/`);
    expect(started.error).toBeUndefined();
    console.log(`[gpu] Firefox: ${await pageAdapter(page)}`);
    const r = await page.evaluate((prompt) => window.sdk.complete({ prompt, max_tokens: 4, temperature: 0 }), SEED_PROMPT);
    expect(r.error).toBeUndefined();
    expect(r.result!.choices[0]!.text.startsWith('李商隐')).toBe(true);
    await page.evaluate(() => window.sdk.dispose());
    await page.close();
  });

  it("compiles every kernel variant with Firefox's WGSL compiler; only the subgroup ones fail, and the engine does not pick them here", async () => {
    const page = await open('kernels.html');
    const { adapter, features, chosen, results } = await page.evaluate(() => window.kernels.compileAll());
    console.log(`[gpu] Firefox: ${adapter}`);
    const failed = results.filter((r) => r.error);
    const needSubgroups = results.filter((r) => r.features.includes('subgroups'));
    console.log(`Firefox compiled ${results.length - failed.length} of ${results.length} kernel variants; ${failed.length} failed: ${[...new Set(failed.map((r) => r.name))].join(', ')}`);
    if (failed.length > 0) console.log(`  e.g. ${failed[0]!.key}: ${failed[0]!.error}`);
    expect(results.length).toBeGreaterThan(50);
    expect(results.filter((r) => r.features.includes('shader-f16') && !r.features.includes('subgroups')).every((r) => !r.error)).toBe(true);
    if (features.includes('subgroups')) {
      // The day Firefox offers subgroups, its compiler must take our subgroup kernels too.
      expect(failed).toEqual([]);
    } else {
      // Expected failures, named: exactly the variants that need subgroups.
      expect(failed.map((r) => r.key).sort()).toEqual(needSubgroups.map((r) => r.key).sort());
      expect(chosen.decodeMatvec).toBe('portable');
    }
    await page.close();
  }, 300_000);
});
