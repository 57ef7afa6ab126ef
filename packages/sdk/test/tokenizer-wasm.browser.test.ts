/**
 * The tokenizer runtime's wasm in real Chromium: fetched once, checked against the digest its glue
 * was generated with, kept in IndexedDB, and compiled from there on later loads with no request.
 */
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveChromium, launchChromium, startHarness, type Harness } from './browser/launch.js';
import { tempDir } from './helpers.js';

describe.skipIf(!haveChromium())('tokenizer wasm in Chromium', () => {
  const dir = tempDir();
  let harness: Harness;
  let browser: Browser;

  beforeAll(async () => {
    harness = await startHarness(dir.path);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await harness?.close();
    dir.remove();
  });

  it('is fetched once, then compiled from IndexedDB with zero requests, and tokenizes', async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${harness.origin}/index.html`);
    await page.waitForFunction(() => document.querySelector('#state')?.textContent === 'ready');
    const assets = `/@fs${join(import.meta.dirname, '../src/store/assets.ts')}`;
    // A string, so the test runner leaves its dynamic import alone: the page imports the source module from Vite.
    const result = (await page.evaluate(`(async () => {
      const { loadTokenizerRuntime } = await import(${JSON.stringify(assets)});
      const wasmRequests = () => performance.getEntriesByType('resource').filter((e) => e.name.includes('sentencepiece') && e.name.includes('.wasm')).length;
      const first = await loadTokenizerRuntime();
      const afterFirst = wasmRequests();
      await loadTokenizerRuntime();
      await loadTokenizerRuntime();
      const binding = await first.instantiate();
      return { afterFirst, afterThree: wasmRequests(), hasTokenizer: typeof binding.Tokenizer.FromBlobSentencePiece === 'function' };
    })()`)) as { afterFirst: number; afterThree: number; hasTokenizer: boolean };
    expect(result.afterFirst).toBe(1);
    expect(result.afterThree).toBe(1);
    expect(result.hasTokenizer).toBe(true);
    await page.context().close();
  });
});
