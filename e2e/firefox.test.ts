/**
 * The built demo in Firefox ESR with WebGPU (its own wgpu and WGSL compiler, on Mesa's lavapipe on a
 * machine without a GPU), driven over WebDriver BiDi as a person would: the poetry model loads, the
 * seed prompt's ghost text is 李商隐 and Tab accepts it, and the chat answers 春晓 with its author and
 * first line. The page's console errors are printed (Firefox's own WebGPU warnings included) and its
 * uncaught errors fail the run. The rest of the demo is covered in Chromium (demo.test.ts).
 */
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveFirefox, launchFirefox, pageAdapter } from '../packages/sdk/test/browser/firefox.js';
import { buildDemo, DEMO_DIST } from './demo-build.js';
import { serveStatic, type StaticServer } from './static-server.js';

const ghost = (page: Page) => page.evaluate(() => (document.querySelector('baichuan-completion#inline') as unknown as { ghost: string }).ghost);

describe.skipIf(!haveFirefox())('the demo in Firefox', () => {
  let server: StaticServer;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    buildDemo();
    server = await serveStatic({ '/': DEMO_DIST });
    browser = await launchFirefox({ webgpu: true });
    console.log(`[browser] ${await browser.version()}`);
    page = await browser.newPage();
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.on('console', (m) => m.type() === 'error' && console.log(`[firefox console.error] ${m.text()}`));
    await page.goto(`${server.origin}/`);
    await page.waitForFunction(() => document.querySelector('baichuan-status')?.shadowRoot?.querySelector('[data-phase="ready"]'), { timeout: 180_000 });
    console.log(`[gpu] Firefox: ${await pageAdapter(page)}`);
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('completes the seed prompt with 李商隐 as ghost text, and Tab accepts it', async () => {
    await page.focus('#inline-field');
    expect(await page.$eval('#inline-field', (f) => (f as HTMLTextAreaElement).value)).toBe('登鹳雀楼->王之涣\n夜雨寄北->');
    await page.keyboard.down('Control');
    await page.keyboard.press('End');
    await page.keyboard.up('Control');
    await page.keyboard.type('x');
    await page.keyboard.press('Backspace'); // the seed prompt again, as typed: a pause asks for a suggestion
    await page.waitForFunction(() => {
      const c = document.querySelector('baichuan-completion#inline') as unknown as { ghost: string; running: boolean };
      return c.ghost.length > 0 && !c.running;
    }, { timeout: 120_000 });
    const full = await ghost(page);
    expect(full.startsWith('李商隐')).toBe(true);
    expect(await page.$eval('baichuan-completion#inline', (el) => el.shadowRoot!.querySelector('.ghost')?.textContent)).toBe(full);
    const before = await page.$eval('#inline-field', (f) => (f as HTMLTextAreaElement).value);
    await page.keyboard.press('Tab');
    expect(await page.$eval('#inline-field', (f) => (f as HTMLTextAreaElement).value)).toBe(before + full);
  });

  it('answers the poem title 春晓 in the chat with its author and first line', async () => {
    await page.evaluate(() => {
      const chat = document.querySelector('baichuan-chat')!.shadowRoot!;
      const input = chat.querySelector('textarea')!;
      input.value = '春晓';
      input.dispatchEvent(new Event('input', { bubbles: true, composed: true }));
      chat.querySelector<HTMLButtonElement>('button[part="send"]')!.click();
    });
    await page.waitForFunction(() => {
      const c = document.querySelector('baichuan-chat') as unknown as { running: boolean; messages: unknown[] };
      return c.messages.length === 2 && !c.running;
    }, { timeout: 120_000 });
    const reply = await page.evaluate(() => document.querySelector('baichuan-chat')!.shadowRoot!.querySelector('li.assistant .text')!.textContent!);
    expect(reply.startsWith('孟浩然\n春眠不觉晓，处处闻啼鸟。')).toBe(true);
    expect(pageErrors).toEqual([]);
  });
});
