/**
 * The model cache in real Chromium (SwiftShader WebGPU), against a local server that cuts
 * connections, corrupts bytes and refuses Range: downloads, resumes, verifies, reloads offline.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TensorCacheJson } from '../src/model/artifact.js';
import { tinyTokenizerPieces } from '../../cli/src/tiny-tokenizer.js';
import { tinyBaichuanConfig, writeRandomModel } from '../../cli/src/random-model.js';
import { mulberry32 } from '../src/model/random.js';
import { haveChromium, launchChromium, startHarness, type Harness } from './browser/launch.js';
import { tempDir } from './helpers.js';

const MODEL = 'tiny';

describe.skipIf(!haveChromium())('model cache in Chromium', () => {
  const dir = tempDir();
  let harness: Harness;
  let browser: Browser;
  let cache: TensorCacheJson;
  let modelUrl: string;

  beforeAll(async () => {
    const config = tinyBaichuanConfig({ vocabSize: tinyTokenizerPieces().length, numKvHeads: 2 });
    await writeRandomModel(join(dir.path, MODEL), config, 'q0f32', 5, 'tiny', 64 * 1024);
    cache = JSON.parse(readFileSync(join(dir.path, MODEL, 'tensor-cache.json'), 'utf8')) as TensorCacheJson;
    harness = await startHarness(dir.path);
    modelUrl = `${harness.origin}/artifacts/${MODEL}/`;
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await harness?.close();
    dir.remove();
  });

  const total = () => cache.records.reduce((n, s) => n + s.nbytes, 0);
  const shardRequests = () => harness.artifacts.log.filter((r) => r.file.endsWith('.bin'));

  async function freshPage(quotaBytes?: number): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext();
    const page = await context.newPage();
    if (quotaBytes !== undefined) {
      // A real quota, enforced by Chromium itself (DevTools protocol), set before the page loads.
      const cdp = await context.newCDPSession(page);
      await cdp.send('Storage.overrideQuotaForOrigin', { origin: harness.origin, quotaSize: quotaBytes });
    }
    await page.goto(`${harness.origin}/index.html`);
    await page.waitForFunction(() => document.querySelector('#state')?.textContent === 'ready');
    return { context, page };
  }

  it('first load reports monotonic byte progress ending at the exact total; a reload fetches no shard and generates the same tokens', async () => {
    expect(cache.records.length).toBeGreaterThan(3);
    const { context, page } = await freshPage();
    harness.artifacts.log.length = 0;
    const { progress, error } = await page.evaluate((url) => window.harness.download(url), modelUrl);
    expect(error).toBeUndefined();
    const loaded = progress.map((p) => p.loadedBytes);
    for (let i = 1; i < loaded.length; i++) expect(loaded[i]!).toBeGreaterThanOrEqual(loaded[i - 1]!);
    expect(loaded.at(-1)).toBe(total());
    expect(progress.every((p) => p.totalBytes === total())).toBe(true);
    expect(shardRequests().length).toBe(cache.records.length);
    const first = await page.evaluate((url) => window.harness.generate(url, 'Hello', 8), modelUrl);
    expect(first.error, JSON.stringify(first.error)).toBeUndefined();
    expect(first.ids.length).toBe(8);

    harness.artifacts.log.length = 0;
    await page.reload();
    await page.waitForFunction(() => document.querySelector('#state')?.textContent === 'ready');
    expect(await page.evaluate((url) => window.harness.isCached(url), modelUrl)).toBe(true);
    const again = await page.evaluate((url) => window.harness.generate(url, 'Hello', 8), modelUrl);
    expect(again.ids).toEqual(first.ids);
    expect(harness.artifacts.log).toEqual([]); // zero requests of any kind: configs and tokenizer come from IndexedDB too
    await context.close();
  });

  it('survives its connection being cut at 20 random points in a row, resuming with Range', async () => {
    const { context, page } = await freshPage();
    harness.artifacts.log.length = 0;
    const next = mulberry32(20);
    harness.artifacts.faults.cutAfter = Array.from({ length: 20 }, () => 1 + Math.floor(next() * 60_000));
    const { error } = await page.evaluate((url) => window.harness.download(url), modelUrl);
    expect(error, JSON.stringify(error)).toBeUndefined();
    expect(harness.artifacts.faults.cutAfter).toEqual([]); // all 20 cuts happened
    expect(harness.artifacts.log.some((r) => r.range && r.status === 206)).toBe(true);
    const verified = await page.evaluate((url) => window.harness.verify(url), modelUrl);
    expect(verified).toEqual({ complete: cache.records.length, bad: [], partials: 0 });
    await context.close();
  });

  it('keeps the bytes of a download that gave up, and the next visit resumes from them with Range', async () => {
    const { context, page } = await freshPage();
    harness.artifacts.log.length = 0;
    // Cut after 10 KB, then a retry that delivers nothing: allowing no fruitless retry, it gives up.
    harness.artifacts.faults.cutAfter = [10_000, 0];
    const first = await page.evaluate((url) => window.harness.download(url, 0), modelUrl);
    expect(first.error?.name).toBe('NetworkError');
    expect(await page.evaluate((url) => window.harness.isCached(url), modelUrl)).toBe(false);
    const stored = first.progress.at(-1)!.loadedBytes;
    expect(stored).toBeGreaterThanOrEqual(10_000);
    harness.artifacts.log.length = 0;
    await page.reload();
    await page.waitForFunction(() => document.querySelector('#state')?.textContent === 'ready');
    const second = await page.evaluate((url) => window.harness.download(url), modelUrl);
    expect(second.error).toBeUndefined();
    // The first bytes it reports already include the kept ones: resumed, not restarted.
    expect(second.progress.find((p) => p.loadedBytes > 0)!.loadedBytes).toBeGreaterThanOrEqual(10_000);
    expect(harness.artifacts.log.find((r) => r.file.endsWith('.bin'))).toMatchObject({ range: 'bytes=10000-', status: 206 });
    expect(await page.evaluate((url) => window.harness.verify(url), modelUrl)).toEqual({ complete: cache.records.length, bad: [], partials: 0 });
    await context.close();
  });

  it('starts a shard over when the server ignores Range', async () => {
    const { context, page } = await freshPage();
    harness.artifacts.faults.ignoreRange = true;
    harness.artifacts.faults.cutAfter = [30_000, 10_000, 50_000];
    try {
      const { error } = await page.evaluate((url) => window.harness.download(url), modelUrl);
      expect(error).toBeUndefined();
    } finally {
      harness.artifacts.faults.ignoreRange = false;
    }
    expect((await page.evaluate((url) => window.harness.verify(url), modelUrl)).bad).toEqual([]);
    await context.close();
  });

  it('detects a corrupt shard, fetches it again, and never stores the corrupt copy', async () => {
    const { context, page } = await freshPage();
    harness.artifacts.log.length = 0;
    const victim = cache.records[1]!.dataPath;
    harness.artifacts.faults.corrupt.set(`${MODEL}/${victim}`, 1);
    const { error } = await page.evaluate((url) => window.harness.download(url), modelUrl);
    expect(error).toBeUndefined();
    expect(shardRequests().filter((r) => r.file === `${MODEL}/${victim}`).length).toBe(2);
    expect(await page.evaluate((url) => window.harness.verify(url), modelUrl)).toEqual({ complete: cache.records.length, bad: [], partials: 0 });
    await context.close();
  });

  it('gives up with IntegrityError when every copy is corrupt, leaving the shard incomplete', async () => {
    const { context, page } = await freshPage();
    const victim = cache.records[0]!.dataPath;
    harness.artifacts.faults.corrupt.set(`${MODEL}/${victim}`, 10);
    const { error } = await page.evaluate((url) => window.harness.download(url), modelUrl);
    harness.artifacts.faults.corrupt.clear();
    expect(error?.name).toBe('IntegrityError');
    expect(error?.code).toBe('integrity');
    const verified = await page.evaluate((url) => window.harness.verify(url), modelUrl);
    expect(verified.complete).toBe(0);
    expect(await page.evaluate((url) => window.harness.isCached(url), modelUrl)).toBe(false);
    await context.close();
  });

  it('fails before downloading any byte when the model is larger than the free quota, with QuotaExceededError', async () => {
    // A real artifact description of a 12 GB model: more than headless Chromium's 10 GiB quota.
    const huge = join(dir.path, 'huge');
    mkdirSync(huge, { recursive: true });
    for (const f of ['mlc-chat-config.json', 'tokenizer.model']) copyFileSync(join(dir.path, MODEL, f), join(huge, f));
    const shard = 32 * 1024 * 1024;
    const records = Array.from({ length: 375 }, (_, i) => ({ dataPath: `params_shard_${i}.bin`, format: 'raw-shard', nbytes: shard, records: [] }));
    writeFileSync(join(huge, 'tensor-cache.json'), JSON.stringify({ metadata: {}, records }));
    const { context, page } = await freshPage();
    const estimate = await page.evaluate(() => navigator.storage.estimate());
    expect(375 * shard).toBeGreaterThan(estimate.quota! - estimate.usage!);
    harness.artifacts.log.length = 0;
    const { error, progress } = await page.evaluate((url) => window.harness.download(url), `${harness.origin}/artifacts/huge/`);
    expect(error?.name).toBe('QuotaExceededError');
    expect(error?.message).toMatch(/needs 12\.6 GB more storage but only .* is free/);
    expect(shardRequests()).toEqual([]);
    expect(progress).toEqual([]);
    expect(await page.evaluate(() => window.harness.list())).toEqual([]); // nothing written
    await context.close();
  });

  it("turns IndexedDB's own quota failure mid-download into QuotaExceededError, storing nothing corrupt", async () => {
    const { context, page } = await freshPage(200_000); // Chromium enforces this on writes
    const { error } = await page.evaluate((url) => window.harness.download(url), modelUrl);
    expect(error?.name).toBe('QuotaExceededError');
    expect(error?.code).toBe('quota');
    expect((await page.evaluate((url) => window.harness.verify(url), modelUrl)).bad).toEqual([]);
    await context.close();
  });

  it('reports a missing model URL with ModelNotFoundError', async () => {
    const { context, page } = await freshPage();
    const { error } = await page.evaluate((url) => window.harness.download(url), `${harness.origin}/artifacts/no-such-model/`);
    expect(error?.name).toBe('ModelNotFoundError');
    await context.close();
  });

  it('lists cached models with their sizes, deletes one, deletes all', async () => {
    const { context, page } = await freshPage();
    await page.evaluate((url) => window.harness.download(url), modelUrl);
    const list = await page.evaluate(() => window.harness.list());
    expect(list).toEqual([{ id: modelUrl, bytes: total(), totalBytes: total(), complete: true }]);
    await page.evaluate((url) => window.harness.deleteModel(url), modelUrl);
    expect(await page.evaluate(() => window.harness.list())).toEqual([]);
    await page.evaluate((url) => window.harness.download(url), modelUrl);
    await page.evaluate(() => window.harness.deleteAll());
    expect(await page.evaluate(() => window.harness.list())).toEqual([]);
    expect(await page.evaluate((url) => window.harness.isCached(url), modelUrl)).toBe(false);
    await context.close();
  });
});
