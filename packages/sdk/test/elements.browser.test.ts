/**
 * The elements as a page uses them, in real Chromium, from the built package: a status element that
 * is moved in the DOM keeps following its model, the labels tell a cached load from a ready model,
 * and a chat with no model says so in itself instead of asking the page's own URL for a model.
 */
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyBaichuanConfig, writeRandomModel } from '../../cli/src/random-model.js';
import { tinyTokenizerPieces } from '../../cli/src/tiny-tokenizer.js';
import { haveChromium, launchChromium, startHarness, type Harness } from './browser/launch.js';
import { tempDir } from './helpers.js';

describe.skipIf(!haveChromium())('elements in Chromium', () => {
  const dir = tempDir();
  let harness: Harness;
  let browser: Browser;

  beforeAll(async () => {
    await writeRandomModel(join(dir.path, 'tiny'), tinyBaichuanConfig({ vocabSize: tinyTokenizerPieces().length, contextWindow: 128 }), 'q4f32_1', 3, 'tiny', 16 * 1024);
    harness = await startHarness(dir.path);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await harness?.close();
    dir.remove();
  });

  async function open(): Promise<Page> {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${harness.origin}/elements.html`);
    await page.waitForFunction(() => document.querySelector('#state')?.textContent === 'ready');
    return page;
  }
  const phase = (page: Page, selector: string) => page.evaluate((s) => document.querySelector(s)?.shadowRoot?.querySelector('[data-phase]')?.getAttribute('data-phase'), selector);
  const text = (page: Page, selector: string) => page.evaluate((s) => (document.querySelector(s)!.shadowRoot as unknown as HTMLElement).textContent!.replace(/\s+/g, ' ').trim(), selector);

  it('a <baichuan-status> removed mid-download and inserted again follows its model to ready; a cached load says so until the GPU upload ends', async () => {
    const page = await open();
    harness.artifacts.faults.shardDelayMs = 300; // slow enough to move the element while shards arrive
    const model = `${harness.origin}/artifacts/tiny/`;
    await page.evaluate((m) => {
      const status = document.createElement('baichuan-status');
      status.id = 's';
      status.setAttribute('model', m);
      document.querySelector('#stage')!.append(status);
    }, model);
    await page.waitForFunction(() => document.querySelector('#s')?.shadowRoot?.querySelector('[data-phase="downloading"]'), null, { timeout: 30_000 });
    await page.evaluate(() => {
      const status = document.querySelector('#s')!;
      status.remove();
      setTimeout(() => document.querySelector('#stage')!.append(status), 200);
    });
    harness.artifacts.faults.shardDelayMs = 0;
    await page.waitForFunction(() => document.querySelector('#s')?.isConnected && document.querySelector('#s')?.shadowRoot?.querySelector('[data-phase="ready"]'), null, { timeout: 60_000 });
    expect(await text(page, '#s')).toBe('Ready');
    await page.context().close();
  });

  it('labels a load from the cache as such until the model is ready', async () => {
    const context = await browser.newContext();
    const first = await context.newPage();
    await first.goto(`${harness.origin}/elements.html`);
    await first.waitForFunction(() => document.querySelector('#state')?.textContent === 'ready');
    const model = `${harness.origin}/artifacts/tiny/`;
    const add = (page: Page) =>
      page.evaluate((m) => {
        const status = document.createElement('baichuan-status');
        status.id = 's';
        status.setAttribute('model', m);
        // Every label the element shows, in order, sampled each frame.
        const seen: string[] = [];
        (window as unknown as { labels: string[] }).labels = seen;
        const sample = () => {
          const label = status.shadowRoot?.querySelector('[part="label"]')?.textContent;
          if (label && seen.at(-1) !== label) seen.push(label);
          if (!label?.startsWith('Ready')) requestAnimationFrame(sample);
        };
        document.querySelector('#stage')!.append(status);
        requestAnimationFrame(sample);
      }, model);
    await add(first);
    await first.waitForFunction(() => document.querySelector('#s')?.shadowRoot?.querySelector('[data-phase="ready"]'), null, { timeout: 60_000 });
    await first.close();
    const second = await context.newPage();
    await second.goto(`${harness.origin}/elements.html`);
    await second.waitForFunction(() => document.querySelector('#state')?.textContent === 'ready');
    await add(second);
    await second.waitForFunction(() => document.querySelector('#s')?.shadowRoot?.querySelector('[data-phase="ready"]'), null, { timeout: 60_000 });
    expect(await text(second, '#s')).toBe('Ready (loaded from the cache)');
    const labels = await second.evaluate(() => (window as unknown as { labels: string[] }).labels);
    // Never 'ready' before createEngine resolved, never 'downloading' for files already stored.
    expect(labels.filter((l) => l.startsWith('Ready'))).toEqual(['Ready (loaded from the cache)']);
    expect(labels.some((l) => /download/i.test(l))).toBe(false);
    await context.close();
  });

  it('a <baichuan-chat> with no model shows the problem in itself and asks no URL for a model', async () => {
    const page = await open();
    harness.artifacts.log.length = 0;
    await page.evaluate(() => {
      const chat = document.createElement('baichuan-chat');
      chat.id = 'c';
      chat.setAttribute('model', '');
      document.querySelector('#stage')!.append(chat);
    });
    await page.locator('#c textarea').fill('Hello');
    await page.locator('#c button[part="send"]').click();
    await page.waitForFunction(() => document.querySelector('#c')?.shadowRoot?.querySelector('[part="error"]'), null, { timeout: 10_000 });
    expect(await page.locator('#c [part="error"]').textContent()).toMatch(/model/i);
    expect(harness.artifacts.log).toEqual([]);
    expect(await phase(page, '#c')).toBeUndefined();
    await page.context().close();
  });
});
