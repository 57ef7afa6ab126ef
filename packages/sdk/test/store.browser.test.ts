/**
 * The model cache in real Chromium (SwiftShader WebGPU), against a local server that cuts
 * connections, corrupts bytes and refuses Range: downloads, resumes, verifies, reloads offline.
 */
import { createHash } from 'node:crypto';
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
    const records = Array.from({ length: 375 }, (_, i) => ({ dataPath: `params_shard_${i}.bin`, format: 'raw-shard', nbytes: shard, records: [], sha256: '0'.repeat(64) }));
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
    // It says how much is still to store, not "needs 0 B".
    expect(error?.message).not.toMatch(/needs 0 B/);
    expect(error?.neededBytes).toBeGreaterThan(0);
    expect(error?.neededBytes).toBeLessThanOrEqual(total());
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
  /** An artifact written beside the tiny one, for tests that change what the server holds. */
  async function artifact(name: string, seed: number): Promise<{ url: string; dir: string; cache: TensorCacheJson }> {
    const out = join(dir.path, name);
    const config = tinyBaichuanConfig({ vocabSize: tinyTokenizerPieces().length, numKvHeads: 2 });
    await writeRandomModel(out, config, 'q0f32', seed, 'tiny', 64 * 1024);
    return { url: `${harness.origin}/artifacts/${name}/`, dir: out, cache: JSON.parse(readFileSync(join(out, 'tensor-cache.json'), 'utf8')) as TensorCacheJson };
  }

  /** SHA-256 of each shard file on the server's disk. */
  const diskDigests = (folder: string, c: TensorCacheJson) =>
    Object.fromEntries(c.records.map((r) => [r.dataPath, createHash('sha256').update(readFileSync(join(folder, r.dataPath))).digest('hex')]));

  it('a model URL with a query string (/tiny/?v=1): file names resolve against the path, every request keeps the query', async () => {
    const { context, page } = await freshPage();
    harness.artifacts.log.length = 0;
    const url = `${modelUrl}?v=1`;
    const { error } = await page.evaluate((u) => window.harness.download(u), url);
    expect(error, JSON.stringify(error)).toBeUndefined();
    const requests = harness.artifacts.log.filter((r) => r.file.startsWith(`${MODEL}/`));
    expect(new Set(requests.map((r) => r.file))).toEqual(new Set(['mlc-chat-config.json', 'tensor-cache.json', 'tokenizer.model', ...cache.records.map((r) => r.dataPath)].map((f) => `${MODEL}/${f}`)));
    expect(requests.every((r) => r.query === '?v=1' && r.status === 200)).toBe(true);
    expect(await page.evaluate((u) => window.harness.isCached(u), url)).toBe(true);
    await context.close();
  });

  it('a host that ignores Range and serves a truncated shard: a bounded number of requests, then a NetworkError saying what it sent', async () => {
    const { context, page } = await freshPage();
    harness.artifacts.log.length = 0;
    const victim = `${MODEL}/${cache.records[1]!.dataPath}`;
    harness.artifacts.faults.ignoreRange = true;
    harness.artifacts.faults.truncate.set(victim, 10_000);
    let result;
    try {
      result = await page.evaluate((url) => window.harness.download(url, undefined, 30_000), modelUrl);
    } finally {
      harness.artifacts.faults.ignoreRange = false;
      harness.artifacts.faults.truncate.clear();
    }
    const requests = harness.artifacts.log.filter((r) => r.file === victim).length;
    expect(result.timedOut, `still downloading after 30 s, ${requests} requests for the shard`).toBeFalsy();
    expect(result.error?.name).toBe('NetworkError');
    expect(result.error?.message).toMatch(new RegExp(`ignoring the Range request: 10000 bytes.* 10000 of ${cache.records[1]!.nbytes} bytes`));
    expect(requests).toBeLessThanOrEqual(8);
    await context.close();
  });

  it('an SPA host answering every path with its index.html: ModelNotFoundError that says so, not a broken artifact', async () => {
    const { context, page } = await freshPage();
    harness.artifacts.faults.htmlForMissing = true;
    let result;
    try {
      result = await page.evaluate((url) => window.harness.download(url, undefined, 20_000), `${harness.origin}/artifacts/no-such-model/`);
    } finally {
      harness.artifacts.faults.htmlForMissing = false;
    }
    expect(result.error?.name).toBe('ModelNotFoundError');
    expect(result.error?.message).toMatch(/HTML page \(text\/html\), not mlc-chat-config\.json: check the model URL/);
    expect(await page.evaluate(() => window.harness.list())).toEqual([]);
    await context.close();
  });

  it('an HTML page where a shard should be (a captive portal): ModelNotFoundError after one request, no bytes of it kept', async () => {
    const { context, page } = await freshPage();
    harness.artifacts.log.length = 0;
    const victim = `${MODEL}/${cache.records[1]!.dataPath}`;
    harness.artifacts.faults.html.add(victim);
    let result;
    try {
      result = await page.evaluate((url) => window.harness.download(url, undefined, 20_000), modelUrl);
    } finally {
      harness.artifacts.faults.html.clear();
    }
    expect(result.timedOut).toBeFalsy();
    expect(result.error?.name).toBe('ModelNotFoundError');
    expect(result.error?.message).toMatch(/HTML page \(text\/html\), not params_shard_1\.bin/);
    expect(harness.artifacts.log.filter((r) => r.file === victim).length).toBe(1);
    expect((await page.evaluate((url) => window.harness.verify(url), modelUrl)).partials).toBe(0);
    await context.close();
  });

  it('deleting a model during its download stops the download with AbortError, and nothing of the model is left', async () => {
    const { context, page } = await freshPage();
    harness.artifacts.faults.shardDelayMs = 200; // slow enough that the deletion lands mid-download
    let result;
    try {
      result = await page.evaluate(([url, after]) => window.harness.downloadThenDelete(url, after), [modelUrl, cache.records[0]!.nbytes] as const);
    } finally {
      harness.artifacts.faults.shardDelayMs = 0;
    }
    expect(result.deletedAt).toBeLessThan(total());
    expect(result.error?.name).toBe('AbortError');
    expect(result.keysLeft).toEqual([]);
    expect(await page.evaluate(() => window.harness.list())).toEqual([]);
    // The model can be downloaded again afterwards.
    expect((await page.evaluate((url) => window.harness.download(url), modelUrl)).error).toBeUndefined();
    expect(await page.evaluate((url) => window.harness.verify(url), modelUrl)).toEqual({ complete: cache.records.length, bad: [], partials: 0 });
    await context.close();
  });

  it('a cache record whose configs are gone heals: the next download fetches them again', async () => {
    const { context, page } = await freshPage();
    expect((await page.evaluate((url) => window.harness.download(url), modelUrl)).error).toBeUndefined();
    await page.evaluate((url) => window.harness.dropFile(url, 'mlc-chat-config.json'), modelUrl);
    expect(await page.evaluate((url) => window.harness.isCached(url), modelUrl)).toBe(false);
    expect((await page.evaluate((url) => window.harness.download(url), modelUrl)).error).toBeUndefined();
    const keys = await page.evaluate((url) => window.harness.keysFor(url), modelUrl);
    expect(keys.map((k) => k.join(' '))).toContain(`file ${modelUrl} mlc-chat-config.json`);
    expect(await page.evaluate((url) => window.harness.isCached(url), modelUrl)).toBe(true);
    await context.close();
  });

  it('a partial download whose artifact was replaced on the server starts over with the new one, instead of failing its hash forever', async () => {
    const first = await artifact('replaced', 5);
    const firstDigests = diskDigests(first.dir, first.cache);
    const { context, page } = await freshPage();
    harness.artifacts.faults.cutAfter = [10_000, 0];
    const partial = await page.evaluate((url) => window.harness.download(url, 0), first.url);
    expect(partial.error?.name).toBe('NetworkError');
    const second = await artifact('replaced', 6); // same URL, new weights
    expect(diskDigests(second.dir, second.cache)).not.toEqual(firstDigests);
    const result = await page.evaluate((url) => window.harness.download(url), first.url);
    expect(result.error, JSON.stringify(result.error)).toBeUndefined();
    expect(await page.evaluate((url) => window.harness.storedShardDigests(url), first.url)).toEqual(diskDigests(second.dir, second.cache));
    expect((await page.evaluate((url) => window.harness.verify(url), first.url)).partials).toBe(0);
    await context.close();
  });

  it('an artifact with only md5sum (as MLC writes them) is checked with MD5: a corrupt copy is fetched again', async () => {
    const md5only = await artifact('md5only', 7);
    const stripped = { ...md5only.cache, records: md5only.cache.records.map(({ sha256: _, ...r }) => r) };
    writeFileSync(join(md5only.dir, 'tensor-cache.json'), JSON.stringify(stripped));
    const { context, page } = await freshPage();
    harness.artifacts.log.length = 0;
    const victim = `md5only/${md5only.cache.records[1]!.dataPath}`;
    harness.artifacts.faults.corrupt.set(victim, 1);
    const result = await page.evaluate((url) => window.harness.download(url), md5only.url);
    harness.artifacts.faults.corrupt.clear();
    expect(result.error).toBeUndefined();
    expect(harness.artifacts.log.filter((r) => r.file === victim).length).toBe(2);
    expect(await page.evaluate((url) => window.harness.storedShardDigests(url), md5only.url)).toEqual(diskDigests(md5only.dir, md5only.cache));
    await context.close();
  });

  it('an artifact whose shards carry neither sha256 nor md5sum is refused with BadArtifactError before any shard is fetched', async () => {
    const nohash = await artifact('nohash', 8);
    const stripped = { ...nohash.cache, records: nohash.cache.records.map(({ sha256: _s, md5sum: _m, ...r }) => r) };
    writeFileSync(join(nohash.dir, 'tensor-cache.json'), JSON.stringify(stripped));
    const { context, page } = await freshPage();
    harness.artifacts.log.length = 0;
    const result = await page.evaluate((url) => window.harness.download(url), nohash.url);
    expect(result.error?.name).toBe('BadArtifactError');
    expect(result.error?.message).toMatch(/params_shard_0\.bin has neither sha256 nor md5sum/);
    expect(shardRequests()).toEqual([]);
    expect(await page.evaluate(() => window.harness.list())).toEqual([]);
    await context.close();
  });
});
