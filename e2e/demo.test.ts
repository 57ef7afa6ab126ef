/**
 * The built demo, driven in Debian's Chromium (SwiftShader WebGPU) as a person would use it:
 * download with progress, ghost text and Tab, chat with Stop, reload from the cache, deleting from
 * the cache panel, a browser without WebGPU, and model output that looks like HTML. Screenshots of
 * each state go to e2e/output/.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveChromium, launchChromium } from '../packages/sdk/test/browser/launch.js';
import { MARKUP_PIECE, tinyTokenizerPieces } from '../packages/cli/src/tiny-tokenizer.js';
import { serveStatic, type StaticServer } from './static-server.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUTPUT = join(ROOT, 'e2e/output');
const DEMO_DIST = join(ROOT, 'packages/demo/dist');
const MARKUP_ID = tinyTokenizerPieces().findIndex((p) => p.piece === MARKUP_PIECE);

const shot = (page: Page, name: string) => page.screenshot({ path: join(OUTPUT, `${name}.png`), fullPage: true });
const phase = (page: Page) => page.evaluate(() => document.querySelector('baichuan-status')!.shadowRoot!.querySelector('[data-phase]')?.getAttribute('data-phase'));
const statusText = (page: Page) => page.evaluate(() => (document.querySelector('baichuan-status')!.shadowRoot! as unknown as HTMLElement).textContent!.replace(/\s+/g, ' ').trim());

describe.skipIf(!haveChromium())('the demo, as a person uses it', () => {
  let server: StaticServer;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    mkdirSync(OUTPUT, { recursive: true });
    execFileSync('npm', ['run', 'build', '-w', '@webchuan/demo'], { cwd: ROOT, stdio: 'ignore' });
    server = await serveStatic({ '/': DEMO_DIST });
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1100, height: 900 } })).newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('shows download progress on the first visit, then ready', async () => {
    server.trickle = 4096; // ~80 KB/s: slow enough to see
    await page.goto(`${server.origin}/`);
    await page.waitForFunction(() => {
      const bar = document.querySelector('baichuan-status')?.shadowRoot?.querySelector('progress');
      return bar && bar.value > 20_000 && bar.value < bar.max;
    }, null, { timeout: 30_000 });
    expect(await statusText(page)).toMatch(/Downloading the model [\d.]+ KB \/ [\d.]+ KB/);
    await shot(page, '1-downloading');
    server.trickle = 0;
    await page.waitForFunction(() => document.querySelector('baichuan-status')?.shadowRoot?.querySelector('[data-phase="ready"]'), null, { timeout: 60_000 });
    expect(await statusText(page)).toContain('Ready');
  });

  it('shows ghost text after a pause in typing, and Tab accepts it', async () => {
    const field = page.locator('#inline-field');
    await field.click();
    await page.keyboard.press('Control+End');
    await page.keyboard.type('李商');
    await page.waitForFunction(() => (document.querySelector('baichuan-completion#inline') as unknown as { ghost: string }).ghost.length >= 4, null, { timeout: 30_000 });
    await shot(page, '2-ghost-text');
    const before = await field.inputValue();
    await page.waitForFunction(() => !(document.querySelector('baichuan-completion#inline') as unknown as { running: boolean }).running);
    const full = await page.evaluate(() => (document.querySelector('baichuan-completion#inline') as unknown as { ghost: string }).ghost);
    expect(await page.locator('baichuan-completion#inline').evaluate((el) => el.shadowRoot!.querySelector('.ghost')?.textContent)).toBe(full);
    await page.keyboard.press('Tab');
    expect(await field.inputValue()).toBe(before + full);
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('inline-field'); // Tab did not move focus
    // Esc dismisses, and typing on cancels the running request.
    await page.keyboard.type('x');
    await page.waitForFunction(() => (document.querySelector('baichuan-completion#inline') as unknown as { ghost: string }).ghost.length > 0, null, { timeout: 30_000 });
    await page.keyboard.press('Escape');
    expect(await page.evaluate(() => (document.querySelector('baichuan-completion#inline') as unknown as { ghost: string }).ghost)).toBe('');
  });

  it('streams a chat reply and stops it mid-reply', async () => {
    const chat = page.locator('baichuan-chat');
    await chat.locator('textarea').fill('Write a long poem');
    await chat.locator('button[part="send"]').click();
    await page.waitForFunction(() => {
      const el = document.querySelector('baichuan-chat')!;
      return (el.shadowRoot!.querySelector('li.assistant .text')?.textContent ?? '').length >= 3;
    }, null, { timeout: 30_000 });
    await shot(page, '3-chat-streaming');
    await chat.locator('button[part="stop"]').click();
    await page.waitForFunction(() => !(document.querySelector('baichuan-chat') as unknown as { running: boolean }).running);
    const reply = await chat.locator('li.assistant .text').textContent();
    await page.waitForTimeout(500);
    expect(await chat.locator('li.assistant .text').textContent()).toBe(reply); // nothing more arrives
    expect(reply!.length).toBeLessThan(48 * 4);
    expect(await chat.locator('button[part="send"]').isEnabled()).toBe(true);
  });

  it('on reload says the model came from the cache and makes zero shard requests', async () => {
    server.log.length = 0;
    await page.reload();
    await page.waitForFunction(() => document.querySelector('baichuan-status')?.shadowRoot?.querySelector('[data-phase="ready"]'), null, { timeout: 60_000 });
    expect(await statusText(page)).toContain('Ready (loaded from the cache)');
    expect(server.log.filter((p) => p.endsWith('.bin'))).toEqual([]);
    await shot(page, '4-cached');
  });

  it('deletes the model from the cache panel', async () => {
    const rows = page.locator('#cache tbody tr');
    await expect.poll(() => rows.count()).toBeGreaterThan(0);
    await expect.poll(() => page.locator('#cache tbody').textContent()).toContain('tiny-random');
    await page.locator('#cache tbody button').first().click();
    await expect.poll(() => page.locator('#cache tbody').textContent()).toContain('Nothing stored yet.');
    await shot(page, '5-cache-deleted');
  });

  it('shows model output that looks like HTML as text, and runs none of it', async () => {
    await page.evaluate((id) => {
      const chat = document.querySelector('baichuan-chat') as unknown as { logitBias: Record<string, number>; maxTokens: number };
      chat.logitBias = { [id]: 100 };
      chat.maxTokens = 2;
    }, MARKUP_ID);
    const chat = page.locator('baichuan-chat');
    await chat.locator('textarea').fill('Say something');
    await chat.locator('button[part="send"]').click();
    await page.waitForFunction(() => {
      const chat = document.querySelector('baichuan-chat')!;
      const replies = chat.shadowRoot!.querySelectorAll('li.assistant .text');
      return !(chat as unknown as { running: boolean }).running && replies.length > 0 && (replies[replies.length - 1]!.textContent ?? '').length > 0;
    }, null, { timeout: 30_000 });
    const last = chat.locator('li.assistant .text').last();
    expect(await last.textContent()).toContain('<img src=x onerror="window.pwned=1">');
    expect(await page.evaluate(() => document.querySelector('baichuan-chat')!.shadowRoot!.querySelectorAll('img').length)).toBe(0);
    await page.waitForTimeout(300);
    expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
    await shot(page, '6-markup-as-text');
  });

  it('tells a person without WebGPU what is wrong and what to do', async () => {
    const noGpu = await launchChromium(false);
    try {
      const p = await (await noGpu.newContext({ viewport: { width: 1100, height: 700 } })).newPage();
      await p.goto(`${server.origin}/`);
      await p.waitForFunction(() => document.querySelector('baichuan-status')?.shadowRoot?.querySelector('[data-phase="error"]'), null, { timeout: 30_000 });
      const text = await statusText(p);
      expect(text).toMatch(/This browser has no WebGPU|no GPU adapter is available/);
      expect(text).toContain('a browser with WebGPU');
      await shot(p, '7-no-webgpu');
    } finally {
      await noGpu.close();
    }
  });
});

describe.skipIf(!haveChromium())('the built demo under another base path', () => {
  it('loads and becomes ready when served from /some/sub/path/', async () => {
    const server = await serveStatic({ '/some/sub/path/': DEMO_DIST });
    const browser = await launchChromium();
    try {
      const p = await browser.newPage();
      await p.goto(`${server.origin}/some/sub/path/`);
      await p.waitForFunction(() => document.querySelector('baichuan-status')?.shadowRoot?.querySelector('[data-phase="ready"]'), null, { timeout: 60_000 });
      expect(server.log.some((path) => path.startsWith('/some/sub/path/models/tiny-random/params_shard_'))).toBe(true);
      expect(server.log.filter((path) => !path.startsWith('/some/sub/path/') && path !== '/favicon.ico')).toEqual([]);
    } finally {
      await browser.close();
      await server.close();
    }
  });
});

describe.skipIf(!haveChromium())('a page with only the elements script and one tag, from another origin', () => {
  it('completes a textarea with dist/elements.js served by a CDN-like origin, with no build step', async () => {
    // Origin B plays the CDN: the package's dist/ as npm publishes it, with CORS as CDNs send it.
    const cdn = await serveStatic({ '/webchuan@0.1.0/dist/': join(ROOT, 'packages/sdk/dist') }, { cors: true });
    const site = join(OUTPUT, 'plain-page');
    mkdirSync(site, { recursive: true });
    writeFileSync(join(site, 'index.html'), `<!doctype html>
<meta charset="utf-8">
<link rel="icon" href="data:,">
<script type="module" src="${cdn.origin.replace('localhost', '127.0.0.1')}/webchuan@0.1.0/dist/elements.js"></script>
<baichuan-completion model="/models/tiny-random/" delay="100"><textarea id="t" rows="3">Hello</textarea></baichuan-completion>
`);
    // Origin A is the page's own: it holds the page and the model, nothing of webchuan's.
    const server = await serveStatic({ '/': site, '/models/': join(DEMO_DIST, 'models') });
    const browser = await launchChromium();
    try {
      const p = await browser.newPage();
      const problems: string[] = [];
      p.on('pageerror', (e) => problems.push(e.message));
      p.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
      await p.goto(`${server.origin}/`);
      await p.locator('#t').click();
      await p.keyboard.press('Control+End');
      await p.keyboard.type(' world');
      await p.waitForFunction(() => ((document.querySelector('baichuan-completion') as unknown as { ghost?: string }).ghost ?? '').length > 0, null, { timeout: 60_000 }).catch((e: Error) => {
        throw new Error(`${e.message}; page problems: ${problems.join(' | ')}; page origin requests: ${server.log.join(' ')}; CDN requests: ${cdn.log.join(' ')}`);
      });
      expect(problems).toEqual([]);
      // The worker and the tokenizer's wasm came from the CDN, once each; the model from the page's origin.
      expect(cdn.log.filter((path) => path.endsWith('/engine-worker.js'))).toHaveLength(1);
      expect(cdn.log.filter((path) => path.endsWith('/sentencepiece.wasm'))).toHaveLength(1);
      expect(server.log.some((path) => path.startsWith('/models/tiny-random/params_shard_'))).toBe(true);
      await p.screenshot({ path: join(OUTPUT, '8-plain-page-cdn.png') });
    } finally {
      await browser.close();
      await server.close();
      await cdn.close();
    }
  });
  it('runs the WebLLM backend from the CDN too: dist/webllm.js registers it, its self-contained worker starts and reports a missing library by URL', async () => {
    const cdn = await serveStatic({ '/webchuan@0.1.0/dist/': join(ROOT, 'packages/sdk/dist') }, { cors: true });
    const site = join(OUTPUT, 'plain-page-webllm');
    mkdirSync(site, { recursive: true });
    const dist = `${cdn.origin.replace('localhost', '127.0.0.1')}/webchuan@0.1.0/dist`;
    writeFileSync(join(site, 'index.html'), `<!doctype html>
<meta charset="utf-8">
<link rel="icon" href="data:,">
<script type="module" src="${dist}/elements.js"></script>
<script type="module" src="${dist}/webllm.js"></script>
<baichuan-status backend="webllm" model="/models/tiny-random/" model-lib="/libs/missing-webgpu.wasm"></baichuan-status>
`);
    const server = await serveStatic({ '/': site, '/models/': join(DEMO_DIST, 'models') });
    const browser = await launchChromium();
    try {
      const p = await browser.newPage();
      await p.goto(`${server.origin}/`);
      // elements.js runs first and starts the element before webllm.js has registered the backend:
      // the element says so, then starts again once it is registered.
      await p.waitForFunction(() => document.querySelector('baichuan-status')?.shadowRoot?.querySelector('[data-phase="error"]')?.parentNode?.textContent?.includes('HTTP 404'), null, { timeout: 60_000 });
      expect(await statusText(p)).toContain(`No model artifact at ${server.origin}/libs/missing-webgpu.wasm (HTTP 404)`);
      expect(cdn.log.filter((path) => path.endsWith('/webllm-worker.js'))).toHaveLength(1);
      expect(cdn.log.filter((path) => path.endsWith('/engine-worker.js'))).toEqual([]); // only the engine the page asked for
      expect(server.log.filter((path) => path.endsWith('.bin'))).toEqual([]); // refused before any weight
    } finally {
      await browser.close();
      await server.close();
      await cdn.close();
    }
  });
});
