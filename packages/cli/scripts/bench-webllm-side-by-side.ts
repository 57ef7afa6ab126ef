/**
 * WebLLM and webchuan on the same artifact files, in the same Chromium, on this machine, one after
 * the other. The artifact is a WebLLM model folder (random-weight TinyLlama-1.1B q0f32 made by the
 * harness in shared/bench/webllm: `ndarray-cache.json`, bf16 shards, `tokenizer.json`).
 *
 * 1. WebLLM: the harness's own driver (`run-bench.mjs`, real @mlc-ai/web-llm with MLC's compiled
 *    library), one warm-up and one timed request; its result JSON is read back.
 * 2. webchuan: Vite serves packages/sdk/bench/side-by-side.html (the engine modules straight from
 *    packages/sdk/src) with the same model folder at /models/; headless Chromium with the same flags
 *    opens it; one warm-up and one timed greedy request of the same length.
 *
 *   npx tsx packages/cli/scripts/bench-webllm-side-by-side.ts --harness SCRATCH [--prompt 16] [--decode 4]
 *       [--ctx 1024] [--kernels fast|baseline] [--skip-webllm] [--out results.json]
 *
 * SCRATCH is a copy of the harness made by its setup.sh, with `node gen-model.mjs tinyllama-v0.4-q0f32` run.
 * On SwiftShader a TinyLlama decode step takes ~10 s and WebLLM's warm-up ~5 minutes: keep runs short.
 */
import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, normalize, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { createServer, type Plugin } from 'vite';
import { jsonObjectWith, writeOutputFile } from '../src/output-file.js';

const { values: o } = parseArgs({
  options: {
    harness: { type: 'string' },
    prompt: { type: 'string', default: '16' },
    decode: { type: 'string', default: '4' },
    ctx: { type: 'string', default: '1024' },
    kernels: { type: 'string', default: 'fast' },
    'skip-webllm': { type: 'boolean' },
    out: { type: 'string' },
    'timeout-min': { type: 'string', default: '60' },
  },
});
const harness = resolve(o.harness ?? '');
const MODEL_ID = 'TinyLlama-1.1B-Chat-v0.4-q0f32-MLC-randw';
const modelDir = join(harness, 'serve', 'models', MODEL_ID, 'resolve', 'main');
if (!o.harness || !existsSync(join(modelDir, 'ndarray-cache.json'))) {
  console.error(`no model at ${modelDir}: run the harness's setup.sh into a scratch folder, then node gen-model.mjs tinyllama-v0.4-q0f32 there`);
  process.exit(2);
}
const repo = resolve(fileURLToPath(import.meta.url), '../../../..');
const timeoutMs = Number(o['timeout-min']) * 60e3;

/** Resident memory of every Chromium process under this one (RSS, bytes). */
function chromiumRss(): number {
  const children = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    } catch {
      // the process ended while we looked
    }
  }
  let total = 0;
  const stack = [process.pid];
  while (stack.length) {
    for (const pid of children.get(stack.pop()!) ?? []) {
      stack.push(pid);
      try {
        if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('chrom')) continue;
        total += Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
      } catch {
        // gone
      }
    }
  }
  return total;
}

interface WebllmSummary {
  median?: { prefill_tok_s: number; decode_tok_s: number };
  runs?: { prompt_tokens: number; completion_tokens: number; prefill_tok_s: number; decode_tok_s: number }[];
  load_s?: number;
  warmup?: { wall_s: number };
  memory_gib?: { peak_total_rss: number };
  status?: string;
  error?: string;
}

function runWebllm(): WebllmSummary {
  const started = Date.now();
  const run = spawnSync(
    process.execPath,
    ['run-bench.mjs', 'tinyllama-v0.4-q0f32', '--prompt', o.prompt!, '--decode', o.decode!, '--runs', '1', '--ctx', o.ctx!, '--timeout-min', o['timeout-min']!],
    { cwd: harness, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const results = join(harness, 'results');
  const newest = readdirSync(results)
    .filter((f) => f.startsWith('tinyllama-v0.4-q0f32-'))
    .map((f) => join(results, f))
    .filter((f) => statSync(f).mtimeMs >= started)
    .sort()
    .at(-1);
  if (!newest) throw new Error(`WebLLM's run wrote no result (exit ${run.status})`);
  return JSON.parse(readFileSync(newest, 'utf8')) as WebllmSummary;
}

interface OurState {
  status: string;
  error?: string;
  load_s?: number;
  warmup_s?: number;
  kernels?: unknown;
  run?: { prompt_tokens: number; completion_tokens: number; prefill_tok_s: number; decode_tok_s: number };
}

/** Serves the model folder at /models/ from the same origin as the page. */
function modelsFolder(): Plugin {
  return {
    name: 'webllm-models',
    configureServer(server) {
      server.middlewares.use('/models', (req, res, next) => {
        const file = normalize(join(modelDir, decodeURIComponent((req.url ?? '/').split('?')[0]!)));
        if (!file.startsWith(modelDir) || !existsSync(file) || !statSync(file).isFile()) return next();
        res.setHeader('content-length', statSync(file).size);
        createReadStream(file).pipe(res);
      });
    },
  };
}

async function runOurs(): Promise<OurState & { peak_rss_gib: number; wall_s: number }> {
  const server = await createServer({
    configFile: false,
    root: join(repo, 'packages/sdk/bench'),
    logLevel: 'warn',
    server: { port: 0, host: '127.0.0.1', fs: { allow: [repo] } },
    plugins: [modelsFolder()],
  });
  await server.listen();
  const address = server.httpServer!.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const context = await chromium.launchPersistentContext('', {
    executablePath: process.env['CHROMIUM'] ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--enable-unsafe-webgpu', '--enable-unsafe-swiftshader'],
  });
  const started = Date.now();
  let peak = 0;
  let state: OurState = { status: 'starting' };
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (m) => {
      if (m.text().startsWith('[bench]') || m.type() === 'error') console.log(`[ours] ${m.text()}`);
    });
    const query = new URLSearchParams({ model: `/models/`, prompt: o.prompt!, decode: o.decode!, ctx: o.ctx!, kernels: o.kernels! });
    await page.goto(`http://127.0.0.1:${port}/side-by-side.html?${query}`);
    let last = '';
    while (Date.now() - started < timeoutMs) {
      await new Promise((r) => setTimeout(r, 2000));
      peak = Math.max(peak, chromiumRss());
      state = (await page.evaluate(() => (window as unknown as { __bench?: OurState }).__bench)) ?? state;
      if (state.status !== last) {
        console.log(`[ours ${((Date.now() - started) / 1000).toFixed(0)} s] ${state.status}, Chromium RSS ${(peak / 2 ** 30).toFixed(2)} GiB`);
        last = state.status;
      }
      if (state.status === 'done' || state.status === 'error') break;
    }
  } finally {
    await context.close();
    await server.close();
  }
  return { ...state, peak_rss_gib: Number((peak / 2 ** 30).toFixed(2)), wall_s: (Date.now() - started) / 1000 };
}

const webllm = o['skip-webllm'] ? undefined : runWebllm();
const ours = await runOurs();
const w = webllm?.runs?.[0];
const summary = {
  artifact: modelDir,
  prompt_tokens: Number(o.prompt),
  decode_tokens: Number(o.decode),
  webllm: webllm && {
    status: webllm.status,
    error: webllm.error,
    prefill_tok_s: w?.prefill_tok_s,
    decode_tok_s: w?.decode_tok_s,
    prompt_tokens: w?.prompt_tokens,
    completion_tokens: w?.completion_tokens,
    load_s: webllm.load_s,
    warmup_s: webllm.warmup?.wall_s,
    peak_rss_gib: webllm.memory_gib?.peak_total_rss,
  },
  webchuan: {
    status: ours.status,
    error: ours.error,
    kernels: ours.kernels,
    prefill_tok_s: ours.run?.prefill_tok_s,
    decode_tok_s: ours.run?.decode_tok_s,
    prompt_tokens: ours.run?.prompt_tokens,
    completion_tokens: ours.run?.completion_tokens,
    load_s: ours.load_s,
    warmup_s: ours.warmup_s,
    peak_rss_gib: ours.peak_rss_gib,
  },
  when: new Date().toISOString(),
};
console.log(JSON.stringify(summary, null, 2));
if (o.out) writeOutputFile(o.out, `${JSON.stringify(summary, null, 2)}\n`, { inputs: [harness], isOurs: (t) => jsonObjectWith(t, ['webllm', 'webchuan', 'when']), ours: 'a result of this script' });
process.exit(ours.status === 'done' ? 0 : 1);
