/**
 * How long a person waits for the first suggestion: the built demo in Chromium, from opening the page
 * with an empty profile (the model downloaded, stored, uploaded) to the first ghost text, then from a
 * reload (the model from IndexedDB) to the first ghost text. A benchmark, not a test: it prints JSON.
 *
 *   npx tsx e2e/bench-first-ghost.ts [--no-build]
 *
 * The clock starts before navigation; a script types into the field as soon as the page has loaded
 * (one keystroke and its undo, so the prompt is the seed prompt), and the element's own pause
 * (`delay`, 400 ms) is part of the figure, as it is for a person. `phases_ms` says when the status
 * element entered each phase (downloading, loading, preparing: measuring / compiling, ready).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { launchChromium } from '../packages/sdk/test/browser/launch.js';
import { serveStatic } from './static-server.js';

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..');

if (!process.argv.includes('--no-build')) {
  execFileSync('npm', ['run', 'build', '-w', '@webchuan/demo'], { cwd: ROOT, stdio: 'ignore', env: { ...process.env, NODE_ENV: 'production' } });
}
const server = await serveStatic({ '/': join(ROOT, 'packages/demo/dist') });
const browser = await launchChromium();

/**
 * Records, in the page, when <baichuan-status> enters each phase (and each kernel stage while
 * 'preparing'), in ms since navigation started: where the wait before "Ready" goes.
 */
const WATCH_PHASES = `(() => {
  const seen = (window.__phases = {});
  const tick = () => {
    const s = document.querySelector('baichuan-status')?.state;
    if (s) {
      const name = s.phase === 'preparing' && s.progress?.kernels ? 'preparing: ' + s.progress.kernels.stage : s.phase;
      if (!(name in seen)) seen[name] = Math.round(performance.now());
    }
    if (s?.phase !== 'ready' && s?.phase !== 'error') setTimeout(tick, 20);
  };
  tick();
})()`;

async function firstGhost(page: Page, open: () => Promise<unknown>) {
  server.log.length = 0;
  const t0 = performance.now();
  await open();
  const loaded = performance.now() - t0;
  const field = page.locator('#inline-field');
  await field.click();
  await page.keyboard.press('Control+End');
  await page.keyboard.type('x');
  await page.keyboard.press('Backspace');
  const readyAt = page
    .waitForFunction(() => document.querySelector('baichuan-status')?.shadowRoot?.querySelector('[data-phase="ready"]'), null, { timeout: 600_000, polling: 20 })
    .then(() => performance.now() - t0);
  await page.waitForFunction(() => (document.querySelector('baichuan-completion#inline') as unknown as { ghost: string }).ghost.length > 0, null, { timeout: 600_000, polling: 20 });
  const ghostMs = performance.now() - t0;
  const status = await page.evaluate(() => (document.querySelector('baichuan-status')!.shadowRoot! as unknown as HTMLElement).textContent!.replace(/\s+/g, ' ').trim());
  await page.waitForFunction(() => !(document.querySelector('baichuan-completion#inline') as unknown as { running: boolean }).running, null, { timeout: 600_000 });
  const ghost = await page.evaluate(() => (document.querySelector('baichuan-completion#inline') as unknown as { ghost: string }).ghost);
  const figures = await page.locator('baichuan-completion#inline .usage').textContent();
  const phases = await page.evaluate(() => (window as unknown as { __phases: Record<string, number> }).__phases);
  return {
    page_load_ms: Math.round(loaded),
    model_ready_ms: Math.round(await readyAt),
    first_ghost_ms: Math.round(ghostMs),
    ready_to_first_ghost_ms: Math.round(ghostMs - (await readyAt)),
    /** When each phase began, in ms since the navigation started (the page's clock). */
    phases_ms: phases,
    status,
    ghost,
    /** The figures the page shows under the first suggestion. */
    figures,
    shard_requests: server.log.filter((p) => p.endsWith('.bin')).length,
  };
}

try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } }); // empty profile
  await context.addInitScript(WATCH_PHASES);
  const page = await context.newPage();
  // The WebGPU engine, as on a visitor's GPU: 'auto' would take the CPU path on this software adapter.
  const cold = await firstGhost(page, () => page.goto(`${server.origin}/?backend=webchuan`, { waitUntil: 'load' }));
  const reload = await firstGhost(page, () => page.reload({ waitUntil: 'load' }));
  const adapter = await page.evaluate(async () => {
    const a = await navigator.gpu?.requestAdapter();
    return a ? [a.info.vendor, a.info.architecture, a.info.description].filter(Boolean).join(' · ') : 'none';
  });
  console.log(JSON.stringify({ model: 'poetry-q4f32_1 (3.6 MB)', adapter, server: 'localhost, no throttling', cold_open: cold, reload_cached: reload }, null, 1));
} finally {
  await browser.close();
  await server.close();
}
