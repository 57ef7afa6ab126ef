#!/usr/bin/env node
// Builds what the `webchuan` package publishes, into dist/:
//
//   dist/engine-worker.js    the engine's worker (Worker and SharedWorker alike), self-contained
//   dist/sentencepiece.wasm  the tokenizer runtime, fetched once by the worker and cached
//   dist/xgrammar.wasm       XGrammar (structured output), fetched by the worker at the first request
//                            with response_format or tools, and cached
//   dist/cpu-worker.js       the CPU path's worker, self-contained like engine-worker.js: llama.cpp through
//                            @wllama/wllama (bundled in: its JS must match the wasm files shipped here),
//                            started only where that path runs
//   dist/wllama.wasm, dist/wllama-compat.wasm, dist/wllama-compat-glue.txt
//                            llama.cpp's wasm builds (default, and compat for browsers without Memory64
//                            or JSPI), fetched by the CPU worker only, only the one the browser runs
//   dist/index.js            the SDK, self-contained: for pages without a build step (a CDN)
//   dist/elements.js         the elements, self-contained and self-registering (a CDN's <script>)
//   dist/eval.js             C-Eval/MMLU-style evaluation of a loaded model (webchuan/eval)
//   dist/esm/*.js            the same entries for bundlers: lit, comlink, idb-keyval and papaparse
//                            stay imports, so an app that has them shares one copy
//   dist/types/              declarations (tsc), for both
//
// and the optional WebLLM backend, referenced by nothing above:
//
//   dist/webllm.js           `webchuan/webllm` for pages without a build step (registers the backend)
//   dist/webllm-worker.js    its worker, self-contained: @mlc-ai/web-llm 0.2.79 bundled in (a CDN
//                            page has no node_modules to take it from); minified
//   dist/esm/webllm.js       the entry for bundlers
//   dist/esm/webllm-worker.js  its worker for bundlers: @mlc-ai/web-llm stays an import, resolved to
//                            the app's own copy (the optional peer dependency), so the app picks the
//                            WebLLM version its model libraries were built for
//
// Code that starts the worker names it as `new URL('./engine-worker.js', import.meta.url)`: the
// literal form every bundler recognises (Vite, webpack 5), relative to the built file that holds it.
// That is why this is a plain rolldown build and not Vite's library mode, which would bundle the
// worker a second time; the esm/ chunks sit one folder down, so their literal is rewritten to '../'.
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import MagicString from 'magic-string';
import { rolldown } from 'rolldown';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');

/** `import text from './x.wgsl?raw'`: the file's text, as Vite gives it. */
const rawText = {
  name: 'raw-text',
  resolveId(source, importer) {
    if (source.endsWith('?raw') && importer) return resolve(here, dirname(importer), source);
  },
  load(id) {
    if (id.endsWith('?raw')) return `export default ${JSON.stringify(readFileSync(id.slice(0, -'?raw'.length), 'utf8'))};`;
  },
};

/** Rewrites URL literals of files in dist/ for chunks that live in `esm/`, one folder below it. */
const oneFolderUp = (file) => ({
  name: `one-folder-up:${file}`,
  renderChunk(code) {
    const s = new MagicString(code);
    const literal = new RegExp(`(["'])\\./${file.replaceAll('.', '\\.')}\\1`, 'g');
    for (const match of code.matchAll(literal)) s.overwrite(match.index, match.index + match[0].length, `"../${file}"`);
    return { code: s.toString(), map: s.generateMap({ hires: true }) };
  },
});

// Only the CDN files are minified: bundlers minify the rest themselves, and must be able to read the
// worker's and the wasm's `new URL('…', import.meta.url)` as written.
const output = { format: 'es', sourcemap: true, entryFileNames: '[name].js', chunkFileNames: 'chunk-[hash].js' };
const entries = {
  index: join(here, 'src/index.ts'),
  elements: join(here, 'src/elements/index.ts'),
  eval: join(here, 'src/eval/index.ts'),
  webllm: join(here, 'src/webllm/index.ts'),
};
const webllmWorker = { 'webllm-worker': join(here, 'src/webllm/worker.ts') };
const shared = { platform: 'browser', tsconfig: join(here, 'tsconfig.json'), plugins: [rawText] };
const external = (id) => /^(lit|lit-html|lit-element|@lit\/[^/]+|@lit-labs\/[^/]+|comlink|idb-keyval|papaparse)(\/|$)/.test(id);
const webllm = (id) => /^@mlc-ai\/web-llm(\/|$)/.test(id);

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });

async function build(input, options, out) {
  const bundle = await rolldown({ input, ...shared, ...options });
  await bundle.write({ ...output, ...out });
  await bundle.close();
}

await build({ 'engine-worker': join(here, 'src/worker/engine-worker.ts') }, {}, { dir: dist, codeSplitting: false });
copyFileSync(join(here, 'src/tokenizer/sentencepiece.wasm'), join(dist, 'sentencepiece.wasm'));
copyFileSync(join(here, 'src/grammar/xgrammar.wasm'), join(dist, 'xgrammar.wasm'));
const cpuWorker = { 'cpu-worker': join(here, 'src/cpu/worker.ts') };
const cpuFiles = ['wllama.wasm', 'wllama-compat.wasm', 'wllama-compat-glue.txt'];
await build(cpuWorker, {}, { dir: dist, codeSplitting: false });
for (const file of cpuFiles) copyFileSync(join(here, 'src/cpu', file), join(dist, file));
await build(entries, {}, { dir: dist, minify: true });
await build(entries, { external, plugins: [rawText, oneFolderUp('engine-worker.js'), oneFolderUp('cpu-worker.js')] }, { dir: join(dist, 'esm') });
await build(webllmWorker, {}, { dir: dist, codeSplitting: false, minify: true });
await build(webllmWorker, { external: (id) => external(id) || webllm(id), plugins: [rawText, oneFolderUp('sentencepiece.wasm')] }, { dir: join(dist, 'esm'), codeSplitting: false });
execFileSync(process.execPath, [join(here, '../../node_modules/typescript/bin/tsc'), '-p', join(here, 'tsconfig.build.json')], { stdio: 'inherit' });
console.log('webchuan: built dist/');
