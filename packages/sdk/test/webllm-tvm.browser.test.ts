/**
 * The anchor: WebLLM itself — `CreateMLCEngine` of @mlc-ai/web-llm 0.2.85 (installed as the
 * `web-llm-0.2.85` alias; not webchuan's SDK) — given the committed poetry artifact
 * (models/poetry/q4f32_1) and a library compiled here from it by `webchuan compile-lib` (TVM 0.27),
 * completes the seed prompt greedily with the same text as webchuan's own engine (`webchuan generate`,
 * WGSL on Dawn in Node). One artifact, two compilers, one answer. And webchuan's own 'webllm' backend
 * (createEngine({ backend: 'webllm', modelLib }), its worker, WebLLM 0.2.85 as the app's
 * `@mlc-ai/web-llm`) runs the same library on the same artifact with the same answer. The library's
 * sampling functions are checked too: a top-p nucleus of one token at temperature 1 is greedy, and a
 * logit bias against the greedy first token changes the answer.
 *
 * Compiling needs the toolchain (wasm-build/tvm/toolchain.sh: python3-venv, Debian's emscripten, PyPI);
 * without them the file is skipped with a notice, except under CI=true. The first run on a machine
 * makes the toolchain (minutes); then the library compiles in about a minute (`--quick` link).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileLib, ensureToolchain } from '../../cli/src/compile-lib.js';
import { BIN } from '../../cli/test/cli-run.js';
import { haveChromium, launchChromium, startHarness, type Harness } from './browser/launch.js';
import { REPO_ROOT, tempDir } from './helpers.js';

const POETRY = join(REPO_ROOT, 'models/poetry/q4f32_1');
const SEED_PROMPT = '登鹳雀楼->王之涣\n夜雨寄北->';
const WEBLLM = join(REPO_ROOT, 'node_modules/web-llm-0.2.85/lib/index.js');

/** What the toolchain needs from the system; a missing piece is named (and fails the run under CI=true). */
function toolchainPrerequisites(): boolean {
  const missing = [
    spawnSync('python3', ['-m', 'venv', '--help']).status === 0 ? undefined : 'python3 -m venv (apt-get install python3-venv)',
    spawnSync('emcc', ['--version']).status === 0 ? undefined : 'emcc (apt-get install emscripten)',
  ].filter(Boolean);
  if (missing.length === 0) return true;
  if (process.env['CI'] === 'true') throw new Error(`CI=true but the TVM toolchain cannot be made: no ${missing.join(', no ')}`);
  console.warn(`[skip] webllm-tvm: no ${missing.join(', no ')}: the TVM-compiled library tests are skipped`);
  return false;
}

const MIME: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };

/** Serves `routes` (URL path → file) on localhost; WebLLM's `<model>resolve/main/<file>` maps to `<model><file>`. */
function serve(routes: (path: string) => string | undefined): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname.replace('/resolve/main/', '/');
    const file = routes(path);
    let body: Buffer;
    try {
      if (!file) throw new Error('no route');
      body = readFileSync(file);
    } catch {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': MIME[extname(path)] ?? 'application/octet-stream' }).end(body);
  });
  return new Promise((resolve) => server.listen(0, 'localhost', () => resolve({ server, origin: `http://localhost:${(server.address() as { port: number }).port}` })));
}

const PAGE = `<!doctype html><meta charset="utf-8"><script type="module">
import { CreateMLCEngine } from '/webllm.js';
let engine, readyMs;
window.complete = async (prompt, params) => {
  if (!engine) {
    const appConfig = { model_list: [{ model: location.origin + '/model/', model_id: 'poetry', model_lib: location.origin + '/lib.wasm' }] };
    const started = performance.now();
    engine = await CreateMLCEngine('poetry', { appConfig, logLevel: 'WARN' });
    readyMs = performance.now() - started;
  }
  const r = await engine.completions.create({ prompt, ...params });
  return { text: r.choices[0].text, finish: r.choices[0].finish_reason, usage: r.usage, readyMs };
};
window.loaded = true;
</script>`;

interface WebLLMAnswer {
  text: string;
  finish: string;
  readyMs: number;
  usage: { extra: Record<string, number> };
}

/** One completion by WebLLM on the page (the engine is created by the first). */
function complete(page: Page, prompt: string, params: Record<string, unknown>): Promise<WebLLMAnswer> {
  return page.evaluate(([p, o]) => (window as unknown as { complete(p: string, o: unknown): Promise<WebLLMAnswer> }).complete(p, o), [prompt, params] as const);
}

const ready = haveChromium() && toolchainPrerequisites();

describe.skipIf(!ready)('a TVM-compiled Baichuan library on WebLLM 0.2.85 in Chromium', () => {
  const dir = tempDir('webchuan-tvm-');
  let browser: Browser;
  let page: Page;
  let site: { server: Server; origin: string };
  let lib: string;
  let harness: Harness;
  /** `webchuan generate`'s greedy continuation of the seed prompt. */
  let ours: { ids: number[]; text: string };

  beforeAll(async () => {
    const started = performance.now();
    await ensureToolchain({ onProgress: (line) => console.log(line) });
    const toolchainS = (performance.now() - started) / 1000;
    lib = (await compileLib(POETRY, { out: join(dir.path, 'poetry-q4f32_1.wasm'), quick: true })).out;
    console.log(`[webllm-tvm] toolchain ${toolchainS.toFixed(0)} s, poetry library ${((performance.now() - started) / 1000 - toolchainS).toFixed(0)} s`);
    site = await serve((path) => {
      if (path === '/') return undefined;
      if (path === '/page.html') return join(dir.path, 'page.html');
      if (path === '/webllm.js') return WEBLLM;
      if (path === '/lib.wasm') return lib;
      if (path.startsWith('/model/')) return join(POETRY, path.slice('/model/'.length));
      return undefined;
    });
    writeFileSync(join(dir.path, 'page.html'), PAGE);
    browser = await launchChromium();
    page = await browser.newPage();
    page.on('pageerror', (e) => console.warn(`[page] ${e.message}`));
    await page.goto(`${site.origin}/page.html`);
    await page.waitForFunction(() => (window as unknown as { loaded?: boolean }).loaded === true);
    ours = JSON.parse(execFileSync(process.execPath, [BIN, 'generate', '--model', POETRY, '--prompt', SEED_PROMPT, '--max-tokens', '8', '--json'], { encoding: 'utf8' })) as { ids: number[]; text: string };
  }, 1_800_000);

  afterAll(async () => {
    await browser?.close();
    site?.server.close();
    await harness?.close();
    dir.remove();
  });

  it("WebLLM's CreateMLCEngine completes the seed prompt greedily with webchuan generate's text", async () => {
    const theirs = await complete(page, SEED_PROMPT, { max_tokens: 8, temperature: 0 });
    console.log(`[webllm-tvm] WebLLM: ${JSON.stringify(theirs.text)} (${theirs.finish}), ready in ${(theirs.readyMs / 1000).toFixed(1)} s, prefill ${theirs.usage.extra['prefill_tokens_per_s']?.toFixed(2)} tok/s; webchuan: ${JSON.stringify(ours.text)}`);
    expect(ours.text).toMatch(/^李商隐/);
    expect(theirs.text).toBe(ours.text);
  }, 600_000);

  it('samples through the library: a nucleus of one token is greedy at temperature 1, and logit_bias edits the logits', async () => {
    // top_p tiny keeps only the most likely token of the sorted distribution (argsort_probs, then
    // sample_with_top_p), whatever the uniform draw: the greedy text again, from a distribution that is
    // no longer one-hot.
    const nucleus = await complete(page, SEED_PROMPT, { max_tokens: 8, temperature: 1, top_p: 1e-4, seed: 7 });
    expect(nucleus.text).toBe(ours.text);
    // apply_logit_bias_inplace: the greedy first token, pushed down, is not the first token any more.
    const banned = await complete(page, SEED_PROMPT, { max_tokens: 4, temperature: 0, logit_bias: { [String(ours.ids[0])]: -100 } });
    expect(banned.text.length).toBeGreaterThan(0);
    expect(banned.text.startsWith(ours.text.slice(0, 3))).toBe(false);
  }, 600_000);

  it("webchuan's 'webllm' backend runs the compiled library on the artifact, with the same answer", async () => {
    mkdirSync(join(dir.path, 'site'));
    symlinkSync(POETRY, join(dir.path, 'site', 'poetry'));
    symlinkSync(lib, join(dir.path, 'site', 'poetry.wasm'));
    harness = await startHarness(join(dir.path, 'site'), ['web-llm-0.2.85'], { alias: { '@mlc-ai/web-llm': 'web-llm-0.2.85' } });
    const sdk = await browser.newPage();
    sdk.on('pageerror', (e) => console.warn(`[page] ${e.message}`));
    await sdk.goto(`${harness.origin}/webllm.html`);
    await sdk.waitForFunction(() => document.querySelector('#state')?.textContent === 'ready');
    await sdk.evaluate(() => window.webllm.enable());
    const started = await sdk.evaluate(([m, l]) => window.webllm.start(m, l), [`${harness.origin}/artifacts/poetry/`, `${harness.origin}/artifacts/poetry.wasm`] as const);
    expect(started.error).toBeUndefined();
    expect(started.model).toMatchObject({ backend: 'webllm', modelType: 'baichuan', quantization: 'q4f32_1' });
    const r = await sdk.evaluate((p) => window.webllm.complete({ prompt: p, max_tokens: 8, temperature: 0 }), SEED_PROMPT);
    expect(r.error).toBeUndefined();
    expect(r.result!.choices[0]!.text).toBe(ours.text);
    await sdk.close();
  }, 600_000);
});
