/**
 * The built demo, driven in Debian's Chromium (SwiftShader WebGPU) as a person would use it, on its
 * default model (the poetry model): the first-visit note and download progress, "can this device run
 * it?" cards, ghost text (李商隐 from the seed prompt) and Tab, a poem chat with per-reply figures and
 * Stop, the Evaluate panel against the CLI, phone/tablet/desktop layouts without horizontal scrolling,
 * keyboard focus, axe in light and dark, reload from the cache, deleting from the cache panel, a
 * browser without WebGPU (the CPU path: ghost text, chat, Evaluate), model output that looks like HTML (on a tiny
 * random model generated here), and a link naming another origin's model, which loads only once the visitor
 * agrees. Every console error or warning of the demo's pages fails the run. Screenshots go to e2e/output/.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveChromium, launchChromium } from '../packages/sdk/test/browser/launch.js';
import { MARKUP_PIECE, tinyTokenizerPieces } from '../packages/cli/src/tiny-tokenizer.js';
import { tinyBaichuanConfig, writeRandomModel } from '../packages/cli/src/random-model.js';
import { compileLib, ensureToolchain } from '../packages/cli/src/compile-lib.js';
import { canCompileLibs } from '../packages/cli/test/toolchain.js';
import { serveStatic, type StaticServer } from './static-server.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUTPUT = join(ROOT, 'e2e/output');
const DEMO_DIST = join(ROOT, 'packages/demo/dist');
const SDK_DIST = join(ROOT, 'packages/sdk/dist');
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const MARKUP_ID = tinyTokenizerPieces().findIndex((p) => p.piece === MARKUP_PIECE);
/** A tiny random model (with the generated tokenizer that has MARKUP_PIECE), made for this run. */
const TINY = join(tmpdir(), `webchuan-e2e-tiny-${process.pid}`);
const TINY_URL = '/test-models/tiny-random/';
/** The demo model's WebLLM library, compiled for this run by `webchuan compile-lib` (TVM), served beside the demo. */
const LIBS = join(tmpdir(), `webchuan-e2e-libs-${process.pid}`);
const POETRY_LIB = 'poetry-q4f32_1-webgpu.wasm';
const QUIZ_LIMIT = 1;
const VIEWPORTS = [
  { width: 390, height: 844, name: 'phone' },
  { width: 768, height: 1024, name: 'tablet' },
  { width: 1280, height: 800, name: 'desktop' },
  // Odd widths: the layout must not depend on the three above.
  { width: 320, height: 640, name: 'w320' },
  { width: 600, height: 900, name: 'w600' },
  { width: 1024, height: 768, name: 'w1024' },
];

const shot = (page: Page, name: string) => page.screenshot({ path: join(OUTPUT, `${name}.png`), fullPage: true });
const statusText = (page: Page) => page.evaluate(() => (document.querySelector('baichuan-status')!.shadowRoot! as unknown as HTMLElement).textContent!.replace(/\s+/g, ' ').trim());
const ready = (page: Page) => page.waitForFunction(() => document.querySelector('baichuan-status')?.shadowRoot?.querySelector('[data-phase="ready"]'), null, { timeout: 120_000 });
const ghost = (page: Page) => page.evaluate(() => (document.querySelector('baichuan-completion#inline') as unknown as { ghost: string }).ghost);
const horizontalOverflow = (page: Page) => page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth }));

/**
 * The one request the page makes knowing it may fail: whether this site hosts Baichuan-7B (it does
 * not here), before offering to load it. Chromium logs that 404 like any other.
 */
const expected404 = (text: string, url: string) => text.startsWith('Failed to load resource: the server responded with a status of 404') && url.endsWith('/models/baichuan-7b-q4f16_1/mlc-chat-config.json');

/** Every console error and warning, and every uncaught error, of a page: the run must have none. */
const problems: string[] = [];
function watch(page: Page, label: string): Page {
  page.on('console', (m) => (m.type() === 'error' || m.type() === 'warning') && !expected404(m.text(), m.location().url) && problems.push(`${label} console.${m.type()}: ${m.text()} (${m.location().url})`));
  page.on('pageerror', (e) => problems.push(`${label} pageerror: ${e.message}`));
  return page;
}

beforeAll(async () => {
  await writeRandomModel(TINY, tinyBaichuanConfig({ vocabSize: tinyTokenizerPieces().length }), 'q4f32_1', 7, 'tiny');
});
afterAll(() => {
  rmSync(TINY, { recursive: true, force: true });
  rmSync(LIBS, { recursive: true, force: true });
});

describe.skipIf(!haveChromium())('the demo, as a person uses it', () => {
  let server: StaticServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  /** `webchuan eval` on the same questions, run beside the browser (it takes minutes on SwiftShader). */
  let cli: Promise<{ macroAccuracy: number; subjects: { name: string; accuracy: number; questions: { choice: string }[] }[] }>;
  /** The demo model's library for WebLLM, compiling beside the browser; undefined where no toolchain can be made. */
  let library: Promise<unknown> | undefined;

  beforeAll(async () => {
    mkdirSync(OUTPUT, { recursive: true });
    // NODE_ENV=production: vitest sets NODE_ENV=test, with which Vite would bundle Lit's dev build
    // (and its console warnings) into the demo; the test drives the demo as it ships.
    execFileSync('npm', ['run', 'build', '-w', '@webchuan/demo'], { cwd: ROOT, stdio: 'ignore', env: { ...process.env, NODE_ENV: 'production' } });
    const out = join(tmpdir(), `webchuan-e2e-eval-${process.pid}.json`);
    cli = new Promise((resolve, reject) => {
      const child = spawn('npx', ['webchuan', 'eval', '--model', 'models/poetry/q4f32_1', '--data', 'models/poetry/data/quiz', '--limit', String(QUIZ_LIMIT), '--out', out], {
        cwd: ROOT,
        env: { ...process.env, VK_ICD_FILENAMES: '/usr/lib/chromium/vk_swiftshader_icd.json' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(readFileSync(out, 'utf8'))) : reject(new Error(`webchuan eval exited ${code}: ${stderr.slice(-2000)}`))));
    });
    cli.catch(() => undefined); // awaited (and reported) by the test that needs it
    if (canCompileLibs('demo e2e, WebLLM in Compare engines')) {
      mkdirSync(LIBS, { recursive: true });
      library = ensureToolchain().then(() => compileLib(join(ROOT, 'models/poetry/q4f32_1'), { out: join(LIBS, POETRY_LIB), quick: true }));
      library.catch(() => undefined); // awaited (and reported) by the test that needs it
    }
    server = await serveStatic({ '/': DEMO_DIST, [TINY_URL]: TINY, '/sdk/': SDK_DIST, '/test-libs/': LIBS });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = watch(await context.newPage(), 'demo');
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('explains on a first visit what is stored where, and shows download progress, then the GPU kernels being prepared, then ready', async () => {
    server.trickle = 4096; // ~80 KB/s: slow enough to see
    // This page runs the WebGPU engine (on SwiftShader here), as a GPU-equipped visitor's would; 'auto'
    // would take the CPU path on a software adapter, which the test without WebGPU below walks through.
    await page.goto(`${server.origin}/?backend=webchuan`);
    const note = page.locator('#first-visit');
    expect(await note.isVisible()).toBe(true);
    expect(await note.textContent()).toMatch(/IndexedDB, for this site only/);
    expect(await note.textContent()).toContain('Models stored in this browser');
    expect(await page.locator('#model-intro').textContent()).toMatch(/not Baichuan-7B.*5\.8 million parameters, a 3\.6 MB download.*trained in this repository on Tang poetry/);
    await page.waitForFunction(() => {
      const bar = document.querySelector('baichuan-status')?.shadowRoot?.querySelector('progress');
      return bar && bar.value > 20_000 && bar.value < bar.max;
    }, null, { timeout: 30_000 });
    expect(await statusText(page)).toMatch(/Downloading the model [\d.]+ KB \/ 3\.6 MB/);
    await shot(page, '01-first-visit-downloading');
    server.trickle = 0;
    // The weights are on the GPU; the kernels of the first reply are still being timed and compiled
    // (tens of seconds on a software GPU): the status says so, in words, with a count.
    await page.waitForFunction(() => /of \d+ compiled/.test(document.querySelector('baichuan-status')?.shadowRoot?.querySelector('[data-phase="preparing"]')?.textContent ?? ''), null, { timeout: 120_000, polling: 50 });
    expect(await statusText(page)).toMatch(/^Preparing GPU kernels for the first reply: \d+ of \d+ compiled…$/);
    await shot(page, '01-first-visit-preparing-kernels');
    await ready(page);
    expect(await statusText(page)).toContain('Ready');
    // Dismissed once, it stays dismissed.
    await page.locator('#first-visit-ok').click();
    expect(await note.isHidden()).toBe(true);
  });

  it('shows the model at work on the first screen: a suggestion under the pre-filled prompt, without typing or scrolling, on a desktop and a phone', async () => {
    // Ready → one suggestion for the pre-filled text, with nobody typing.
    await page.waitForFunction(() => (document.querySelector('baichuan-completion#inline') as unknown as { ghost: string; running: boolean }).ghost.length > 0, null, { timeout: 60_000 });
    expect((await ghost(page)).startsWith('李商隐')).toBe(true);
    // Ready meant ready: the first reply's figures hold no wait for kernels (they would say so).
    await page.waitForFunction(() => !(document.querySelector('baichuan-completion#inline') as unknown as { running: boolean }).running);
    expect(await page.locator('baichuan-completion#inline .usage').textContent()).toMatch(/^\d+ tokens · first token [\d.]+ s · prefill/);
    for (const v of [{ width: 1280, height: 800 }, { width: 390, height: 844 }]) {
      await page.setViewportSize(v);
      await page.evaluate(() => window.scrollTo(0, 0));
      const box = await page.evaluate(() => {
        const ghostSpan = document.querySelector('baichuan-completion#inline')!.shadowRoot!.querySelector('.ghost')!;
        return { ghostBottom: ghostSpan.getBoundingClientRect().bottom, fieldBottom: document.querySelector('#inline-field')!.getBoundingClientRect().bottom, innerHeight };
      });
      expect(box.fieldBottom, `${v.width}×${v.height}`).toBeLessThanOrEqual(box.innerHeight);
      expect(box.ghostBottom, `${v.width}×${v.height}`).toBeLessThanOrEqual(box.innerHeight);
      await page.screenshot({ path: join(OUTPUT, `00-first-screen-${v.width}x${v.height}.png`) });
    }
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('says for each catalog model, before any download, what it needs and whether this device runs it — deviceVerdict\'s own words', async () => {
    await page.waitForFunction(() => document.querySelector<HTMLElement>('#model-cards')?.dataset.ready === 'true');
    // Once downloaded, the card says so (and the verdict no longer counts its bytes against storage).
    await expect.poll(() => page.locator('#model-cards li[data-model="poetry-q4f32_1"]').textContent()).toContain('3.6 MB (stored in this browser)');
    // The same functions, from the package's own dist/ (not the demo's bundle), on this browser's adapter.
    await page.addScriptTag({ type: 'module', content: `import * as sdk from '/sdk/index.js'; window.sdk = sdk;` });
    await page.waitForFunction(() => 'sdk' in window);
    const expected = await page.evaluate(async () => {
      const sdk = (window as unknown as { sdk: typeof import('webchuan') }).sdk;
      const device = await sdk.describeDevice();
      const poetry = (await (await fetch('./models/poetry-q4f32_1/mlc-chat-config.json')).json()) as import('webchuan').ChatConfigJson;
      const baichuan = sdk.buildChatConfig(sdk.BAICHUAN_7B, 'q4f16_1', { tokenizerFiles: ['tokenizer.model'] });
      return {
        software: device.adapter ? sdk.isSoftwareAdapter(device.adapter) : false,
        'baichuan-7b-q4f16_1': sdk.deviceVerdict({ chatConfig: baichuan, downloadBytes: 3938197504, contextWindow: 4096 }, device),
        'poetry-q4f32_1': sdk.deviceVerdict({ chatConfig: poetry, downloadBytes: 3616256, cachedBytes: 3616256, contextWindow: 512 }, device),
      };
    });
    expect(expected.software).toBe(true); // SwiftShader
    // The speed comes from a ~60 ms probe of the CPU, run again here: the words must match, the figure may move.
    const words = (summary: string) => summary.replace(/about \d+ tokens\/s|about [\d.]+ (s|min) per token/, 'about N');
    for (const id of ['baichuan-7b-q4f16_1', 'poetry-q4f32_1'] as const) {
      const card = page.locator(`#model-cards li[data-model="${id}"]`);
      expect(words((await card.locator('.verdict').textContent())!)).toBe(words(expected[id].summary));
      expect(await card.locator('.verdict').getAttribute('data-kind')).toBe(expected[id].kind);
    }
    // A software GPU sends the poetry model to the CPU path; Baichuan-7B fits neither path here.
    expect(expected['baichuan-7b-q4f16_1'].kind).toBe('does-not-fit');
    expect(expected['poetry-q4f32_1'].kind).toBe('cpu');
    expect(expected['poetry-q4f32_1'].summary).toMatch(/^Runs on the CPU \(llama\.cpp, 1 thread\) because the only GPU here is a software one: expect about \d+ tokens\/s\.$/);
    expect(await page.locator('#model-cards li[data-model="poetry-q4f32_1"]').textContent()).toContain('Runs onthe CPU (llama.cpp)');
    const baichuan = await page.locator('#model-cards li[data-model="baichuan-7b-q4f16_1"]').textContent();
    expect(baichuan).toContain('3.9 GB');
    expect(baichuan).toContain('6.2 GB');
    expect(baichuan).toMatch(/on the CPU, it needs [\d.]+ GB .*llama\.cpp's wasm memory holds 4\.3 GB/);
    const poetry = await page.locator('#model-cards li[data-model="poetry-q4f32_1"]').textContent();
    expect(poetry).toContain('3.6 MB (stored in this browser)');
    expect(poetry).toContain('16.0 MB');
    expect(await page.locator('#model-cards li[data-model="poetry-q4f32_1"] button').getAttribute('aria-current')).toBe('true');
    // Baichuan-7B is not hosted beside this build: its card says how to get it, and offers no Load
    // button that would end in a 404.
    const baichuanCard = page.locator('#model-cards li[data-model="baichuan-7b-q4f16_1"]');
    expect(await baichuanCard.locator('button').count()).toBe(0);
    expect(await baichuanCard.locator('.hosting').textContent()).toContain('Not hosted on this site yet');
    expect(baichuan).toContain('npx webchuan convert');
    await baichuanCard.screenshot({ path: join(OUTPUT, '02-baichuan-not-hosted.png') });
    await page.locator('#model-cards').screenshot({ path: join(OUTPUT, '02-verdict-cards.png') });
  });

  it('completes the seed prompt with 李商隐 as ghost text; Tab accepts it, Esc dismisses', async () => {
    const field = page.locator('#inline-field');
    expect(await field.inputValue()).toBe('登鹳雀楼->王之涣\n夜雨寄北->');
    await field.click();
    await page.keyboard.press('Control+End');
    await page.keyboard.type('x');
    await page.keyboard.press('Backspace'); // the seed prompt again, as typed: a pause asks for a suggestion
    await page.waitForFunction(() => {
      const c = document.querySelector('baichuan-completion#inline') as unknown as { ghost: string; running: boolean };
      return c.ghost.length > 0 && !c.running;
    }, null, { timeout: 60_000 });
    const full = await ghost(page);
    expect(full.startsWith('李商隐')).toBe(true);
    expect(await page.locator('baichuan-completion#inline').evaluate((el) => el.shadowRoot!.querySelector('.ghost')?.textContent)).toBe(full);
    // The reply's figures sit under it.
    expect(await page.locator('baichuan-completion#inline').evaluate((el) => el.shadowRoot!.querySelector('.usage')?.textContent)).toMatch(/first token [\d.]+ s · prefill [\d.]+ tok\/s/);
    await page.locator('baichuan-completion#inline').screenshot({ path: join(OUTPUT, '03-ghost-text.png') });
    const before = await field.inputValue();
    await page.keyboard.press('Tab');
    expect(await field.inputValue()).toBe(before + full);
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('inline-field'); // Tab did not move focus
    await page.keyboard.type('x');
    await page.waitForFunction(() => (document.querySelector('baichuan-completion#inline') as unknown as { ghost: string }).ghost.length > 0, null, { timeout: 60_000 });
    await page.keyboard.press('Escape');
    expect(await ghost(page)).toBe('');
    // Typing on and Esc abort requests silently.
    expect(await page.locator('baichuan-completion#inline').evaluate((el) => el.shadowRoot!.querySelector('[part="hint"]')?.textContent)).toBe('');
  });

  it('answers a poem title with its author and the poem, with figures under the reply; Stop ends a reply', async () => {
    const chat = page.locator('baichuan-chat');
    expect(await chat.locator('textarea').getAttribute('placeholder')).toContain('春晓');
    await chat.locator('textarea').fill('春晓');
    await chat.locator('button[part="send"]').click();
    await page.waitForFunction(() => {
      const c = document.querySelector('baichuan-chat') as unknown as { running: boolean; messages: unknown[] };
      return c.messages.length === 2 && !c.running;
    }, null, { timeout: 60_000 });
    const reply = (await chat.locator('li.assistant .text').first().textContent())!;
    // The author, then the poem (the model recites 83 % of 唐诗三百首's first lines; 春晓 is one).
    expect(reply.startsWith('孟浩然\n春眠不觉晓，处处闻啼鸟。')).toBe(true);
    expect(reply).not.toContain('->'); // stopped before another poem's title line
    // A prompt size still compiling in the background after "ready" would be waited for, and said.
    expect(await chat.locator('li.assistant .usage').first().textContent()).toMatch(/^\d+ tokens · first token [\d.]+ s( \([\d.]+ s of it preparing GPU kernels, once\))? · prefill [\d.]+ tok\/s · decode [\d.]+ tok\/s$/);
    expect(await page.locator('#speed').count()).toBe(0); // no page-level "Last run" line any more
    await chat.screenshot({ path: join(OUTPUT, '04-chat-finished.png') });

    await chat.locator('textarea').fill('春望');
    await chat.locator('button[part="send"]').click();
    await page.waitForFunction(() => (document.querySelector('baichuan-chat')!.shadowRoot!.querySelectorAll('li.assistant .text')[1]?.textContent ?? '').length >= 3, null, { timeout: 60_000 });
    await chat.locator('button[part="stop"]').click();
    await page.waitForFunction(() => !(document.querySelector('baichuan-chat') as unknown as { running: boolean }).running);
    const stopped = await chat.locator('li.assistant .text').nth(1).textContent();
    await page.waitForTimeout(500);
    expect(await chat.locator('li.assistant .text').nth(1).textContent()).toBe(stopped); // nothing more arrives
    expect(await chat.locator('button[part="send"]').isEnabled()).toBe(true);
    // Stopping is not a failure: no error under the chat (the minified SDK once lost AbortError's name).
    expect(await chat.locator('[part="error"]').count()).toBe(0);

    // A third turn: the transcript (capped in height) follows the new reply down to its last line.
    await chat.locator('textarea').fill('枫桥夜泊');
    await chat.locator('button[part="send"]').click();
    await page.waitForFunction(() => {
      const c = document.querySelector('baichuan-chat') as unknown as { running: boolean; messages: unknown[] };
      return c.messages.length === 6 && !c.running;
    }, null, { timeout: 60_000 });
    const transcript = () => page.evaluate(() => {
      const ol = document.querySelector('baichuan-chat')!.shadowRoot!.querySelector('ol')!;
      const last = ol.querySelector('li:last-child')!.getBoundingClientRect();
      const box = ol.getBoundingClientRect();
      return { scrollTop: ol.scrollTop, clientHeight: ol.clientHeight, scrollHeight: ol.scrollHeight, lastBottom: last.bottom, boxBottom: box.bottom };
    });
    const t = await transcript();
    expect(t.scrollHeight).toBeGreaterThan(t.clientHeight); // three turns overflow the transcript
    expect(t.scrollTop + t.clientHeight).toBeGreaterThanOrEqual(t.scrollHeight - 2);
    expect(t.lastBottom).toBeLessThanOrEqual(t.boxBottom + 1); // the last reply's figures are in view
    expect((await chat.locator('li.assistant .text').nth(2).textContent())!.startsWith('张继')).toBe(true);
    await chat.screenshot({ path: join(OUTPUT, '04-chat-three-turns.png') });
    // A reader who scrolls up stays where they are when the element renders again.
    await page.evaluate(async () => {
      const el = document.querySelector('baichuan-chat')!;
      const ol = el.shadowRoot!.querySelector('ol')!;
      ol.scrollTop = 0;
      await new Promise((r) => setTimeout(r, 50)); // the scroll event
      el.requestUpdate();
      await el.updateComplete;
    });
    expect((await transcript()).scrollTop).toBe(0);
  });

  it('"Continue writing" goes on with the poem whose title and author the box starts with', async () => {
    const field = page.locator('#button-field');
    const before = await field.inputValue();
    expect(before).toBe('春晓->孟浩然\n');
    await page.locator('baichuan-completion#button button').click();
    await page.waitForFunction(() => document.querySelector('baichuan-completion#button')!.shadowRoot!.querySelector('[part="usage"]'), null, { timeout: 120_000 });
    const after = await field.inputValue();
    expect(after.startsWith(`${before}春眠不觉晓，处处闻啼鸟。`)).toBe(true);
    expect(after.length - before.length).toBeGreaterThanOrEqual(16);
    // The device panel counts what was just stored, without a reload.
    await expect.poll(() => page.locator('#storage-left').textContent()).not.toMatch(/\(0 B used\)/);
  });

  it('scores the quiz in the tab exactly as `webchuan eval --limit` does on the command line (both on the WebGPU engine)', async () => {
    // The CLI runs the WebGPU engine; so does this page (?backend=webchuan). On the CPU path llama.cpp's
    // arithmetic differs in the last bits, and a near tie may choose another letter (its own test is below).
    await page.locator('#eval-limit').fill(String(QUIZ_LIMIT));
    expect(await page.locator('#eval-subjects input:checked').count()).toBe(3);
    await page.locator('#eval-run').click();
    await page.waitForFunction(() => !document.querySelector<HTMLElement>('#eval-progress')!.hidden, null, { timeout: 10_000 });
    await page.waitForFunction(() => !document.querySelector<HTMLElement>('#eval-results')!.hidden || /failed/.test(document.querySelector('#eval-status')!.textContent!), null, { timeout: 300_000 });
    expect(await page.locator('#eval-status').textContent()).toMatch(/^Done: 3 questions/);
    const table = page.locator('#eval-results');
    const inTab = { macro: Number(await table.getAttribute('data-macro-accuracy')), choices: JSON.parse((await table.getAttribute('data-choices'))!) as string[][] };
    await page.locator('#eval-title').scrollIntoViewIfNeeded();
    await shot(page, '05-evaluate');
    const summary = await cli;
    expect(inTab.choices).toEqual(summary.subjects.map((s) => s.questions.map((q) => q.choice)));
    expect(inTab.macro).toBe(summary.macroAccuracy);
    expect(await page.locator('#eval-average').textContent()).toBe(`${(100 * summary.macroAccuracy).toFixed(1)} %`);
  }, 400_000);

  it('compares the engines this page can run: WebGPU, the CPU path and WebLLM on a library compiled for the model, each with its figures and the same text', async () => {
    // WebLLM is a row only with a library: this run's, compiled by `webchuan compile-lib` from the
    // demo's own artifact (TVM 0.27, run by the demo's WebLLM 0.2.85).
    if (library) {
      await library;
      await page.locator('#compare-lib').fill(`${server.origin}/test-libs/${POETRY_LIB}`);
    }
    await page.locator('#compare-tokens').fill('4');
    await page.locator('#compare-form button[type="submit"]').click();
    const rows = page.locator('#compare-results tbody tr');
    const engines = library ? 3 : 2;
    // WebLLM compiles its shader modules when it loads: about a minute on SwiftShader.
    await expect.poll(() => rows.count(), { timeout: 300_000 }).toBe(engines);
    await page.waitForFunction(() => !document.querySelector<HTMLButtonElement>('#compare-form button[type="submit"]')!.disabled, null, { timeout: 300_000 });
    const cells = await Promise.all(Array.from({ length: engines }, (_, i) => rows.nth(i).locator('td').allTextContents()));
    expect(cells[0]![0]).toContain('WebGPU');
    expect(cells[1]![0]).toContain('CPU');
    if (library) expect(cells[2]![0]).toContain('WebLLM');
    for (const row of cells) {
      expect(row[1], row[0]).toMatch(/^\d+\.\d\d$/); // prefill tok/s
      expect(row[3], row[0]).toMatch(/^\d+\.\d\d s$/); // first token
      expect(row[4]!.startsWith('李商隐'), `${row[0]}: ${row[4]}`).toBe(true);
    }
    await page.locator('#compare-results').screenshot({ path: join(OUTPUT, '05-compare-engines.png') });
  }, 1_800_000); // on a fresh machine the library waits for the TVM toolchain to be made (about 10 minutes, once)

  it('fits phones, tablets and desktops without horizontal scrolling, in light and dark', async () => {
    const widths: Record<string, { scrollWidth: number; clientWidth: number }> = {};
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      for (const v of VIEWPORTS) {
        await page.setViewportSize({ width: v.width, height: v.height });
        await page.waitForTimeout(100);
        const o = await horizontalOverflow(page);
        widths[`${v.width}x${v.height} ${scheme}`] = o;
        expect(o.scrollWidth, `${v.width}×${v.height} ${scheme}`).toBeLessThanOrEqual(o.clientWidth);
        if (v.width === 390 || v.width === 768 || v.width === 1280) {
          await page.evaluate(() => window.scrollTo(0, 0));
          await page.screenshot({ path: join(OUTPUT, `06-${v.name}-${v.width}x${v.height}-${scheme}.png`), fullPage: true });
          await page.locator('baichuan-chat').screenshot({ path: join(OUTPUT, `06-${v.name}-chat-${scheme}.png`) });
        }
      }
    }
    writeFileSync(join(OUTPUT, 'scroll-widths.json'), `${JSON.stringify(widths, null, 1)}\n`);
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('has no axe violations of any impact, light or dark', async () => {
    const report: Record<string, unknown> = {};
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ path: AXE });
      const result = await page.evaluate(async () => {
        const axe = (window as unknown as { axe: { run(context: Document, options: object): Promise<{ violations: { id: string; impact: string | null; nodes: { target: unknown[] }[] }[]; passes: unknown[] }> } }).axe;
        const r = await axe.run(document, { resultTypes: ['violations'] });
        return { passes: r.passes.length, violations: r.violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.map((n) => JSON.stringify(n.target)) })) };
      });
      report[scheme] = result;
      expect(result.violations, scheme).toEqual([]);
    }
    writeFileSync(join(OUTPUT, 'axe.json'), `${JSON.stringify(report, null, 1)}\n`);
    await page.emulateMedia({ colorScheme: 'light' });
  });

  it('reaches every control with the keyboard, each with a visible focus ring', async () => {
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.locator('body').click({ position: { x: 1, y: 1 } });
    const seen: { key: string; outline: string; visible: boolean }[] = [];
    for (let i = 0; i < 60; i++) {
      await page.keyboard.press('Tab');
      const f = await page.evaluate(() => {
        let el: Element | null = document.activeElement;
        while (el?.shadowRoot?.activeElement) el = el.shadowRoot.activeElement;
        if (!el || el === document.body) return null;
        const host = (el.getRootNode() as ShadowRoot).host;
        const style = getComputedStyle(el);
        return { key: `${host ? `${host.id || host.localName} ` : ''}${el.id ? `#${el.id}` : `${el.localName}${el.getAttribute('part') ? `[${el.getAttribute('part')}]` : ''}${el.textContent?.trim() ? ` "${el.textContent.trim().slice(0, 30)}"` : ''}`}`, outline: `${style.outlineStyle} ${style.outlineWidth}`, visible: el.matches(':focus-visible') };
      });
      if (!f) continue;
      if (seen[0]?.key === f.key) break; // wrapped around
      seen.push(f);
    }
    const keys = seen.map((s) => s.key);
    for (const wanted of ['#inline-field', '#button-field', 'chat textarea[input]', '#eval-limit', '#eval-run', '#compare-lib', '#compare-prompt']) {
      expect(keys, `${wanted} in ${keys.join(' | ')}`).toContain(wanted);
    }
    expect(keys.some((k) => k.startsWith('button "Load Baichuan-7B"'))).toBe(false); // not hosted here: no button
    expect(keys.some((k) => k.startsWith('button "Run on each engine"'))).toBe(true);
    expect(keys.some((k) => k.startsWith('button "Delete"'))).toBe(true);
    for (const s of seen) {
      expect(s.visible, s.key).toBe(true);
      expect(s.outline, s.key).not.toMatch(/^none/);
    }
  });

  it('on reload says the model came from the cache and makes zero shard requests', async () => {
    server.log.length = 0;
    await page.reload();
    await ready(page);
    expect(await statusText(page)).toContain('Ready (loaded from the cache)');
    expect(server.log.filter((p) => p.endsWith('.bin'))).toEqual([]);
    expect(await page.locator('#first-visit').isHidden()).toBe(true);
    await shot(page, '07-cached');
  });

  it('deletes the model from the cache panel', async () => {
    const cards = page.locator('#cache li');
    await expect.poll(() => page.locator('#cache').textContent()).toContain('poetry-q4f32_1');
    expect(await cards.first().textContent()).toContain('3.6 MB of 3.6 MB stored, complete');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.locator('#cache').screenshot({ path: join(OUTPUT, '08-cache-card-phone.png') });
    await page.locator('#cache button').first().click();
    await expect.poll(() => page.locator('#cache').textContent()).toContain('Nothing stored yet.');
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('shows model output that looks like HTML as text, and runs none of it (tiny random model, ?model=)', async () => {
    await page.goto(`${server.origin}/?model=${encodeURIComponent(TINY_URL)}`);
    await ready(page);
    expect(await page.locator('#model-intro').textContent()).toContain(TINY_URL);
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
    await shot(page, '09-markup-as-text');
  });

  it('works without WebGPU: the CPU path gives ghost text, a chat reply and the Evaluate score, and the cards say so', async () => {
    const noGpu = await launchChromium(false);
    try {
      const p = await (await noGpu.newContext({ viewport: { width: 390, height: 844 } })).newPage();
      // Chromium itself logs "No available adapters." when a page asks for one and there is none; the
      // page asks at most twice (describeDevice, and createEngine's choice of path). Anything else logged here is a problem.
      const own: string[] = [];
      p.on('console', (m) => (m.type() === 'error' || m.type() === 'warning') && !expected404(m.text(), m.location().url) && own.push(`no-webgpu console.${m.type()}: ${m.text()}`));
      p.on('pageerror', (e) => problems.push(`no-webgpu pageerror: ${e.message}`));
      await p.goto(`${server.origin}/`);
      await ready(p);
      await p.waitForFunction(() => document.querySelector<HTMLElement>('#model-cards')?.dataset.ready === 'true');
      expect(await p.locator('#model-cards li[data-model="poetry-q4f32_1"] .verdict').textContent()).toMatch(/^Runs on the CPU \(llama\.cpp, 1 thread\) because no WebGPU here: expect about \d+ tokens\/s\.$/);
      expect(await p.locator('#model-cards .verdict[data-kind="no-webgpu"]').count()).toBe(0);

      const field = p.locator('#inline-field');
      await field.click();
      await p.keyboard.press('Control+End');
      await p.keyboard.type('x');
      await p.keyboard.press('Backspace');
      await p.waitForFunction(() => {
        const c = document.querySelector('baichuan-completion#inline') as unknown as { ghost: string; running: boolean };
        return c.ghost.length > 0 && !c.running;
      }, null, { timeout: 60_000 });
      expect((await ghost(p)).startsWith('李商隐')).toBe(true);

      const chat = p.locator('baichuan-chat');
      await chat.locator('textarea').fill('春晓');
      await chat.locator('button[part="send"]').click();
      await p.waitForFunction(() => {
        const c = document.querySelector('baichuan-chat') as unknown as { running: boolean; messages: unknown[] };
        return c.messages.length === 2 && !c.running;
      }, null, { timeout: 60_000 });
      expect((await chat.locator('li.assistant .text').first().textContent())!.startsWith('孟浩然\n春眠不觉晓，处处闻啼鸟。')).toBe(true);

      await p.locator('#eval-limit').fill(String(QUIZ_LIMIT));
      await p.locator('#eval-run').click();
      await p.waitForFunction(() => !document.querySelector<HTMLElement>('#eval-results')!.hidden || /failed/.test(document.querySelector('#eval-status')!.textContent!), null, { timeout: 120_000 });
      expect(await p.locator('#eval-status').textContent()).toMatch(/^Done: 3 questions/);
      expect(await p.locator('#eval-average').textContent()).toMatch(/^\d+\.\d %$/);
      await shot(p, '10-no-webgpu-cpu-path');
      expect(own.filter((m) => m === 'no-webgpu console.warning: No available adapters.').length).toBeLessThanOrEqual(2);
      problems.push(...own.filter((m) => m !== 'no-webgpu console.warning: No available adapters.'));
    } finally {
      await noGpu.close();
    }
  }, 300_000);

  it('logged no console error or warning and no uncaught error on any page', () => {
    expect(problems).toEqual([]);
  });
});

describe.skipIf(!haveChromium())("the demo on Lit's development build", () => {
  it('logs no Lit warning (no element schedules an update after one completed) through load, ghost text, Tab, a chat and Stop', async () => {
    // The same demo bundled with Lit's dev build (NODE_ENV=development), which warns about
    // "change-in-update": an element setting a reactive property once its update has completed.
    const out = join(tmpdir(), `webchuan-e2e-demo-dev-${process.pid}`);
    execFileSync('npx', ['vite', 'build', '--outDir', out, '--emptyOutDir', '--logLevel', 'error'], { cwd: join(ROOT, 'packages/demo'), stdio: 'ignore', env: { ...process.env, NODE_ENV: 'development' } });
    const server = await serveStatic({ '/': out, '/tiny/': TINY });
    const browser = await launchChromium();
    try {
      const p = await browser.newPage();
      const warnings: string[] = [];
      let devMode = false;
      p.on('console', (m) => {
        if (m.text().startsWith('Lit is in dev mode')) devMode = true;
        else if ((m.type() === 'error' || m.type() === 'warning') && !expected404(m.text(), m.location().url)) warnings.push(m.text());
      });
      p.on('pageerror', (e) => warnings.push(e.message));
      await p.goto(`${server.origin}/`);
      await ready(p);
      await p.locator('#inline-field').click();
      await p.keyboard.press('Control+End');
      await p.keyboard.type('x');
      await p.keyboard.press('Backspace');
      await p.waitForFunction(() => (document.querySelector('baichuan-completion#inline') as unknown as { ghost: string }).ghost.length > 0, null, { timeout: 60_000 });
      await p.keyboard.press('Tab');
      const chat = p.locator('baichuan-chat');
      await chat.locator('textarea').fill('春晓');
      await chat.locator('button[part="send"]').click();
      await p.waitForFunction(() => (document.querySelector('baichuan-chat')!.shadowRoot!.querySelector('li.assistant .text')?.textContent ?? '').length >= 2, null, { timeout: 60_000 });
      await chat.locator('button[part="stop"]').click();
      await p.waitForFunction(() => !(document.querySelector('baichuan-chat') as unknown as { running: boolean }).running);
      await p.locator('baichuan-completion#button button').click();
      await p.waitForFunction(() => document.querySelector('baichuan-completion#button')!.shadowRoot!.querySelector('[part="usage"]'), null, { timeout: 60_000 }); // finished
      // Another model by URL, in the same tab: every element follows the new model.
      await p.goto(`${server.origin}/?model=${encodeURIComponent(`${server.origin}/tiny/`)}`);
      await ready(p);
      expect(devMode).toBe(true); // the check ran on Lit's dev build
      expect(warnings).toEqual([]);
      // And a browser without WebGPU, whose elements all become ready on the CPU path.
      const noGpu = await launchChromium(false);
      try {
        const q = await noGpu.newPage();
        q.on('console', (m) => (m.type() === 'error' || m.type() === 'warning') && !m.text().startsWith('Lit is in dev mode') && m.text() !== 'No available adapters.' && !expected404(m.text(), m.location().url) && warnings.push(m.text()));
        await q.goto(`${server.origin}/`);
        await q.waitForFunction(() => document.querySelector('baichuan-status')?.shadowRoot?.querySelector('[data-phase="ready"]'), null, { timeout: 120_000 });
        await q.waitForFunction(() => document.querySelector<HTMLElement>('#model-cards')?.dataset.ready === 'true');
      } finally {
        await noGpu.close();
      }
      expect(warnings).toEqual([]);
    } finally {
      await browser.close();
      await server.close();
      rmSync(out, { recursive: true, force: true });
    }
  }, 180_000);
});

describe.skipIf(!haveChromium())('the built demo under another base path', () => {
  it('loads and becomes ready when served from /some/sub/path/', async () => {
    const server = await serveStatic({ '/some/sub/path/': DEMO_DIST });
    const browser = await launchChromium();
    try {
      const p = await browser.newPage();
      await p.goto(`${server.origin}/some/sub/path/`);
      await ready(p);
      expect(server.log.some((path) => path.startsWith('/some/sub/path/models/poetry-q4f32_1/params_shard_'))).toBe(true);
      // Everything from under the base path, the favicon included (it is inline: no request at all).
      expect(server.log.filter((path) => !path.startsWith('/some/sub/path/'))).toEqual([]);
    } finally {
      await browser.close();
      await server.close();
    }
  });
});

describe.skipIf(!haveChromium())('a demo link naming another origin\'s model and library', () => {
  it('fetches nothing from that origin until the visitor agrees on a notice naming it; the page\'s own ?model= loads as before', async () => {
    // Origin B: a model (and, by name, a library) a crafted link points the demo at, served with CORS.
    const other = await serveStatic({ '/tiny/': TINY }, { cors: true });
    const server = await serveStatic({ '/': DEMO_DIST, '/own-tiny/': TINY });
    const browser = await launchChromium();
    try {
      const p = await browser.newPage();
      const pageProblems: string[] = [];
      p.on('pageerror', (e) => pageProblems.push(e.message));
      const origin = other.origin.replace('localhost', '127.0.0.1');
      const model = `${origin}/tiny/`;
      const lib = `${origin}/libs/tiny-webgpu.wasm`;
      await p.goto(`${server.origin}/?model=${encodeURIComponent(model)}&lib=${encodeURIComponent(lib)}`);
      const notice = p.locator('#consent');
      await notice.waitFor({ state: 'visible' });
      const text = (await notice.textContent())!.replace(/\s+/g, ' ');
      expect(text).toContain(`load files from ${origin}`);
      expect(text).toContain(`Model: ${model}`);
      expect(text).toContain(lib);
      expect(await p.locator('#consent-yes').textContent()).toBe(`Load from ${new URL(origin).host}`);
      expect(new URL((await p.locator('#consent-no').getAttribute('href'))!).search).toBe('');
      await p.waitForFunction(() => document.querySelector<HTMLElement>('#model-cards')?.dataset.ready === 'true'); // the page has settled
      await p.waitForTimeout(1000);
      expect(other.log).toEqual([]); // not one request: no config, no tokenizer, no shard
      expect(await p.locator('#compare-lib').inputValue()).toBe('');
      expect(await p.locator('#compare-form button[type="submit"]').isDisabled()).toBe(true);
      expect(await p.locator('#status').isHidden()).toBe(true); // no "model URL is empty" while it waits
      expect(await p.locator('#cache').textContent()).toContain('Nothing stored yet.');
      await shot(p, '12-consent-other-origin');

      await p.locator('#consent-yes').click();
      await ready(p);
      expect(await notice.isHidden()).toBe(true);
      expect(other.log.some((path) => path.startsWith('/tiny/params_shard_'))).toBe(true);
      expect(await p.locator('#compare-lib').inputValue()).toBe(lib);

      // The page's own model by URL: no notice, loaded at once.
      other.log.length = 0;
      await p.goto(`${server.origin}/?model=${encodeURIComponent('/own-tiny/')}`);
      await ready(p);
      expect(await notice.isHidden()).toBe(true);
      expect(server.log.some((path) => path.startsWith('/own-tiny/params_shard_'))).toBe(true);
      expect(other.log).toEqual([]);
      expect(pageProblems).toEqual([]);
    } finally {
      await browser.close();
      await server.close();
      await other.close();
    }
  });
});

describe.skipIf(!haveChromium())('a page with only the elements script and one tag, from another origin', () => {
  it('completes a textarea with dist/elements.js served by a CDN-like origin, with no build step', async () => {
    // Origin B plays the CDN: the package's dist/ as npm publishes it, with CORS as CDNs send it.
    const cdn = await serveStatic({ '/webchuan@0.1.0/dist/': SDK_DIST }, { cors: true });
    const site = join(OUTPUT, 'plain-page');
    mkdirSync(site, { recursive: true });
    writeFileSync(join(site, 'index.html'), `<!doctype html>
<meta charset="utf-8">
<link rel="icon" href="data:,">
<script type="module" src="${cdn.origin.replace('localhost', '127.0.0.1')}/webchuan@0.1.0/dist/elements.js"></script>
<baichuan-completion model="/models/poetry-q4f32_1/" delay="100"><textarea id="t" rows="3">登鹳雀楼->王之涣
夜雨寄北</textarea></baichuan-completion>
<baichuan-status model="/models/poetry-q4f32_1/" backend="webchuan"></baichuan-status>
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
      await p.keyboard.type('->');
      await p.waitForFunction(() => ((document.querySelector('baichuan-completion') as unknown as { ghost?: string }).ghost ?? '').length > 0, null, { timeout: 60_000 }).catch((e: Error) => {
        throw new Error(`${e.message}; page problems: ${problems.join(' | ')}; page origin requests: ${server.log.join(' ')}; CDN requests: ${cdn.log.join(' ')}`);
      });
      expect(problems).toEqual([]);
      // The completion ran on the CPU path ('auto' on SwiftShader), the status loads the WebGPU engine.
      await p.waitForFunction(() => document.querySelector('baichuan-status')?.shadowRoot?.querySelector('[data-phase="ready"]'), null, { timeout: 60_000 });
      // Both workers and their wasm came from the CDN, once each (the tokenizer's is shared through IndexedDB); the model from the page's origin.
      expect(cdn.log.filter((path) => path.endsWith('/engine-worker.js'))).toHaveLength(1);
      expect(cdn.log.filter((path) => path.endsWith('/cpu-worker.js'))).toHaveLength(1);
      expect(cdn.log.filter((path) => path.endsWith('/wllama.wasm'))).toHaveLength(1);
      expect(cdn.log.filter((path) => path.endsWith('/wllama-compat.wasm'))).toHaveLength(0);
      expect(cdn.log.filter((path) => path.endsWith('/sentencepiece.wasm')).length).toBeGreaterThanOrEqual(1);
      expect(server.log.some((path) => path.startsWith('/models/poetry-q4f32_1/params_shard_'))).toBe(true);
      await p.screenshot({ path: join(OUTPUT, '11-plain-page-cdn.png') });
    } finally {
      await browser.close();
      await server.close();
      await cdn.close();
    }
  });
  it('runs the WebLLM backend from the CDN too: dist/webllm.js registers it, its self-contained worker starts and reports a missing library by URL', async () => {
    const cdn = await serveStatic({ '/webchuan@0.1.0/dist/': SDK_DIST }, { cors: true });
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
    const server = await serveStatic({ '/': site, '/models/tiny-random/': TINY });
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
