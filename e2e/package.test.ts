/**
 * The `webchuan` package as a newcomer gets it: `npm pack`, then installed into fresh apps made in a
 * temp folder — the current create-vite vanilla-ts template (its strict flags as they come), and a
 * webpack 5 app — with zero config of our own. Each app type-checks, builds, and in Chromium
 * generates text through `createEngine` on the WebGPU engine and through `<baichuan-completion>`
 * (backend 'auto': on SwiftShader, the CPU path, so both workers and all their wasm are emitted and
 * run); the Vite app does so on its dev server too, and, in Chromium without WebGPU and in Firefox
 * with WebGPU off, answers the seed prompt with 李商隐 from the converter's default output of the
 * poetry checkpoint. Sizes of what a page loads are printed for the README.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveChromium, launchChromium } from '../packages/sdk/test/browser/launch.js';
import { haveFirefox, launchFirefox } from '../packages/sdk/test/browser/firefox.js';
import { tinyBaichuanConfig, writeRandomModel } from '../packages/cli/src/random-model.js';
import { tinyTokenizerPieces } from '../packages/cli/src/tiny-tokenizer.js';
import { REPO_ROOT, tempDir } from '../packages/sdk/test/helpers.js';
import { serveStatic } from './static-server.js';

/** A newcomer's shell: vitest's NODE_ENV=test would make Vite build the apps in development mode. */
const { NODE_ENV: _vitest, ...shellEnv } = process.env;
const npm = (cwd: string, ...args: string[]) => execFileSync('npm', [...args, '--no-audit', '--no-fund', '--prefer-offline'], { cwd, env: shellEnv, stdio: 'pipe', encoding: 'utf8' });
const npx = (cwd: string, ...args: string[]) => execFileSync('npx', ['--no-install', ...args], { cwd, env: shellEnv, stdio: 'pipe', encoding: 'utf8' });

/** What an app page does with the SDK: one completion through the API, then ghost text from the element. */
const APP_CODE = `import { createEngine, WebchuanError } from 'webchuan';
import 'webchuan/elements';

async function generate(): Promise<string> {
  const engine = await createEngine({ model: '/model/', backend: 'webchuan' });
  const completion = await engine.completions.create({ prompt: 'Hello', max_tokens: 8, temperature: 0 });
  const element = document.querySelector('baichuan-completion');
  return JSON.stringify({ text: completion.choices[0].text, tokens: completion.usage.completion_tokens, kind: engine.workerKind, element: element?.localName });
}

async function seed(): Promise<string> {
  const engine = await createEngine({ model: '/poetry/' });
  const completion = await engine.completions.create({ prompt: '登鹳雀楼->王之涣\\n夜雨寄北->', max_tokens: 8, temperature: 0, stop: ['\\n'] });
  return JSON.stringify({ text: completion.choices[0].text, backend: engine.backend });
}

declare global {
  interface Window {
    generate(): Promise<string>;
    seed(): Promise<string>;
  }
}
const failure = (error: unknown) => JSON.stringify({ error: error instanceof WebchuanError ? error.code : String(error) });
window.generate = () => generate().catch(failure);
window.seed = () => seed().catch(failure);
document.body.dataset.ready = 'yes';
`;

const APP_BODY = `<baichuan-completion model="/model/" delay="100"><textarea id="field" rows="3">Hello</textarea></baichuan-completion>`;

describe.skipIf(!haveChromium())('the packed package in fresh apps', () => {
  const dir = tempDir('webchuan-pack-');
  let tarball: string;
  let browser: Browser;
  const model = join(dir.path, 'model');
  const poetry = join(dir.path, 'poetry');

  beforeAll(async () => {
    execFileSync('npm', ['pack', '--pack-destination', dir.path], { cwd: join(REPO_ROOT, 'packages/sdk'), stdio: 'pipe' });
    tarball = join(dir.path, readdirSync(dir.path).find((f) => f.endsWith('.tgz'))!);
    await writeRandomModel(model, tinyBaichuanConfig({ vocabSize: tinyTokenizerPieces().length, contextWindow: 128 }), 'q4f32_1', 5, 'tiny', 64 * 1024);
    // The converter's default output (q4f16_1) of the poetry checkpoint.
    execFileSync(join(REPO_ROOT, 'node_modules/.bin/webchuan'), ['convert', join(REPO_ROOT, 'models/poetry/checkpoint'), '--out', poetry], { stdio: 'pipe' });
    browser = await launchChromium();
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
    if (!process.env['WEBCHUAN_KEEP_TEMP']) dir.remove();
  });

  /** Opens `origin`, runs the API and the element, and returns what they produced. */
  async function drive(origin: string): Promise<{ api: { text?: string; tokens?: number; kind?: string; element?: string; error?: string }; ghost: string; problems: string[] }> {
    const page = await (await browser.newContext()).newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('console', (m) => (m.type() === 'error' || m.type() === 'warning') && problems.push(`${m.text()} (${m.location().url})`));
    try {
      await page.goto(origin);
      await page.waitForFunction(() => document.body.dataset['ready'] === 'yes', null, { timeout: 60_000 });
      const api = JSON.parse(await page.evaluate(() => window.generate())) as { text?: string; error?: string };
      await page.locator('#field').click();
      await page.keyboard.press('Control+End');
      await page.keyboard.type(' world');
      await page.waitForFunction(() => ((document.querySelector('baichuan-completion') as unknown as { ghost?: string }).ghost ?? '').length > 0, null, { timeout: 60_000 });
      const ghost = await page.evaluate(() => (document.querySelector('baichuan-completion') as unknown as { ghost: string }).ghost);
      return { api, ghost, problems };
    } finally {
      await page.context().close();
    }
  }

  it('create-vite vanilla-ts: tsc with the template\'s strict flags, build, dev server and production build generate text', async () => {
    const app = join(dir.path, 'vite-app');
    cpSync(join(REPO_ROOT, 'node_modules/create-vite/template-vanilla-ts'), app, { recursive: true });
    renameSync(join(app, '_gitignore'), join(app, '.gitignore'));
    writeFileSync(join(app, 'src/main.ts'), APP_CODE);
    const html = readFileSync(join(app, 'index.html'), 'utf8').replace('<div id="app"></div>', APP_BODY);
    writeFileSync(join(app, 'index.html'), html);
    cpSync(model, join(app, 'public/model'), { recursive: true });
    cpSync(poetry, join(app, 'public/poetry'), { recursive: true });
    npm(app, 'install');
    npm(app, 'install', tarball);
    // The template's own check: `tsc` (its tsconfig, skipLibCheck as it comes), then the same with our
    // declarations checked too, so they need nothing the app does not have (no WebGPU types).
    npx(app, 'tsc');
    npx(app, 'tsc', '--skipLibCheck', 'false');
    npx(app, 'vite', 'build');

    const assets = readdirSync(join(app, 'dist/assets'));
    expect(assets.filter((f) => f.startsWith('engine-worker'))).toHaveLength(1);
    expect(assets.filter((f) => f.startsWith('cpu-worker'))).toHaveLength(1);
    // The tokenizer's, XGrammar's (fetched only by a request with response_format or tools), and
    // llama.cpp's two builds (each browser fetches one, only on the CPU path).
    expect(assets.filter((f) => f.endsWith('.wasm')).map((f) => f.replace(/-[\w-]{8}\./, '.')).sort()).toEqual(['sentencepiece.wasm', 'wllama-compat.wasm', 'wllama.wasm', 'xgrammar.wasm']);
    expect(assets.filter((f) => f.startsWith('wllama-compat-glue'))).toHaveLength(1);
    // The optional WebLLM backend is not installed here, and nothing of it was bundled.
    expect(readdirSync(join(app, 'node_modules')).includes('@mlc-ai')).toBe(false);
    expect(assets.filter((f) => f.startsWith('webllm') || readFileSync(join(app, 'dist/assets', f), 'latin1').includes('Fetching param cache'))).toEqual([]);
    const sizes = Object.fromEntries(
      assets.map((f) => {
        const bytes = readFileSync(join(app, 'dist/assets', f));
        return [f.replace(/-[\w-]{8}\./, '.'), { bytes: bytes.byteLength, gzip: gzipSync(bytes).byteLength }];
      }),
    );
    console.log(`[sizes] vite app dist/assets: ${JSON.stringify(sizes)}`);

    const built = await serveStatic({ '/': join(app, 'dist') });
    try {
      const result = await drive(built.origin);
      expect(result.api.error).toBeUndefined();
      expect(result.api.tokens).toBe(8);
      expect(result.api.kind).toBe('shared');
      expect(result.ghost.length).toBeGreaterThan(0);
      expect(result.problems).toEqual([]);
      // No WebGPU at all: Chromium with it switched off, and Firefox with it off.
      const noGpu = await launchChromium(false);
      try {
        const page = await (await noGpu.newContext()).newPage();
        await page.goto(built.origin);
        await page.waitForFunction(() => document.body.dataset['ready'] === 'yes', null, { timeout: 60_000 });
        expect(JSON.parse(await page.evaluate(() => window.seed()))).toEqual({ text: '李商隐', backend: 'cpu' });
      } finally {
        await noGpu.close();
      }
      if (haveFirefox()) {
        const firefox = await launchFirefox({ webgpu: false });
        try {
          const page = await firefox.newPage();
          await page.goto(built.origin);
          await page.waitForFunction(() => document.body.dataset['ready'] === 'yes', { timeout: 60_000 });
          expect(JSON.parse(await page.evaluate(() => window.seed()))).toEqual({ text: '李商隐', backend: 'cpu' });
        } finally {
          await firefox.close();
        }
      }
    } finally {
      await built.close();
    }

    const dev = await startDevServer(app);
    try {
      const result = await drive(dev.origin);
      expect(result.api.error).toBeUndefined();
      expect(result.api.tokens).toBe(8);
      expect(result.ghost.length).toBeGreaterThan(0);
    } finally {
      dev.process.kill();
    }
  }, 600_000);

  it('webpack 5: an app with no config for workers or wasm builds and generates text', async () => {
    const app = join(dir.path, 'webpack-app');
    mkdirSync(join(app, 'src'), { recursive: true });
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'webpack-app', private: true, type: 'module', scripts: { build: 'webpack' } }, null, 2));
    writeFileSync(join(app, 'webpack.config.js'), `export default { mode: 'production', entry: './src/index.js', output: { path: new URL('./dist', import.meta.url).pathname, clean: true } };\n`);
    writeFileSync(join(app, 'src/index.js'), APP_CODE.replace(/^declare global[\s\S]*?^}\n/m, '').replaceAll('(): Promise<string>', '()').replace('(error: unknown)', '(error)'));
    const webpackVersion = JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules/webpack/package.json'), 'utf8')).version as string;
    const cliVersion = JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules/webpack-cli/package.json'), 'utf8')).version as string;
    npm(app, 'install', tarball, `webpack@${webpackVersion}`, `webpack-cli@${cliVersion}`);
    npx(app, 'webpack');
    writeFileSync(join(app, 'dist/index.html'), `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,">${APP_BODY}<script src="main.js"></script>\n`);
    cpSync(model, join(app, 'dist/model'), { recursive: true });
    const files = readdirSync(join(app, 'dist'));
    expect(files.filter((f) => f.endsWith('.wasm'))).toHaveLength(4); // the tokenizer's, XGrammar's, llama.cpp's two builds
    console.log(`[sizes] webpack app dist: ${JSON.stringify(Object.fromEntries(files.filter((f) => statSync(join(app, 'dist', f)).isFile()).map((f) => [f, statSync(join(app, 'dist', f)).size])))}`);
    const server = await serveStatic({ '/': join(app, 'dist') });
    try {
      const result = await drive(server.origin);
      expect(result.api.error).toBeUndefined();
      expect(result.api.tokens).toBe(8);
      expect(result.ghost.length).toBeGreaterThan(0);
      expect(result.problems).toEqual([]);
    } finally {
      await server.close();
    }
  }, 600_000);

  it('an app that imports webchuan/webllm, with @mlc-ai/web-llm installed, type-checks and builds its WebLLM worker apart', () => {
    const app = join(dir.path, 'webllm-app');
    cpSync(join(REPO_ROOT, 'node_modules/create-vite/template-vanilla-ts'), app, { recursive: true });
    renameSync(join(app, '_gitignore'), join(app, '.gitignore'));
    writeFileSync(
      join(app, 'src/main.ts'),
      `import { createEngine } from 'webchuan';
import { checkModelLib } from 'webchuan/webllm';

document.querySelector('button')?.addEventListener('click', async () => {
  const differences = await checkModelLib('/lib.wasm', '/model/');
  if (differences.length > 0) throw new Error(differences[0]);
  const engine = await createEngine({ model: '/model/', backend: 'webllm', modelLib: '/lib.wasm' });
  console.log(engine.backend);
});
`,
    );
    const webllmVersion = JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules/@mlc-ai/web-llm/package.json'), 'utf8')).version as string;
    npm(app, 'install');
    npm(app, 'install', tarball, `@mlc-ai/web-llm@${webllmVersion}`);
    npx(app, 'tsc');
    npx(app, 'vite', 'build');
    const assets = readdirSync(join(app, 'dist/assets'));
    const workers = assets.filter((f) => f.startsWith('webllm-worker'));
    expect(workers).toHaveLength(1);
    expect(readFileSync(join(app, 'dist/assets', workers[0]!), 'utf8')).toContain('Fetching param cache');
    const entry = assets.filter((f) => f.startsWith('index') && f.endsWith('.js'));
    expect(entry.map((f) => readFileSync(join(app, 'dist/assets', f), 'utf8').includes('Fetching param cache'))).toEqual(entry.map(() => false)); // WebLLM stays in its worker
    console.log(`[sizes] vite app with webchuan/webllm: ${JSON.stringify(Object.fromEntries(assets.map((f) => [f.replace(/-[\w-]{8}\./, '.'), statSync(join(app, 'dist/assets', f)).size])))}`);
  }, 600_000);

  it('installs into an empty folder with only browser dependencies', () => {
    const empty = join(dir.path, 'empty');
    mkdirSync(empty);
    writeFileSync(join(empty, 'package.json'), '{"name":"empty","private":true}');
    npm(empty, 'install', tarball);
    const installed = readdirSync(join(empty, 'node_modules')).flatMap((d) => (d.startsWith('@') ? readdirSync(join(empty, 'node_modules', d)).map((s) => `${d}/${s}`) : [d])).filter((d) => !d.startsWith('.'));
    // Lit (and its own dependencies: reactive-element, lit-html, ssr-dom-shim, trusted-types' typings), Comlink, idb-keyval,
    // papaparse (webchuan/eval's CSV parser, the CLI's too); llama.cpp's wasm and wllama's JS ship inside webchuan's dist/, not as dependencies.
    expect(installed.sort()).toEqual(['@lit-labs/ssr-dom-shim', '@lit/reactive-element', '@types/trusted-types', 'comlink', 'idb-keyval', 'lit', 'lit-element', 'lit-html', 'papaparse', 'webchuan'].sort());
    // webchuan/eval imports papaparse from that dependency: a spreadsheet's `;` file parses as the CLI parses it.
    const script = `const { parseCsv } = await import('webchuan/eval'); console.log(JSON.stringify(parseCsv(${JSON.stringify('a;b\n"1;""";2\n')})));`;
    const rows = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: empty, encoding: 'utf8' });
    expect(JSON.parse(rows)).toEqual([['a', 'b'], ['1;"', '2']]);
    const du = execFileSync('du', ['-sk', join(empty, 'node_modules')], { encoding: 'utf8' });
    console.log(`[sizes] npm install webchuan: node_modules ${Number(du.split('\t')[0]) / 1024} MiB, packages: ${installed.join(', ')}`);
  }, 300_000);
});

/** Starts `vite` (the app's dev server, zero config) and resolves once it listens. */
async function startDevServer(app: string): Promise<{ origin: string; process: ChildProcess }> {
  // The app's own vite binary, not through npx: killing npx would leave vite running.
  const child = spawn(join(app, 'node_modules/.bin/vite'), ['--host', 'localhost', '--port', '0'], { cwd: app, env: shellEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const origin = await new Promise<string>((resolve, reject) => {
    let output = '';
    const onData = (data: Buffer) => {
      output += data.toString();
      // eslint-disable-next-line no-control-regex
      const match = output.replace(/\x1b\[[0-9;]*m/g, '').match(/Local:\s+(http:\/\/localhost:\d+)/);
      if (match) resolve(match[1]!);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`vite exited with ${code}: ${output}`)));
    setTimeout(() => reject(new Error(`vite did not start: ${output}`)), 60_000);
  });
  return { origin, process: child };
}
