/**
 * Our engine on a WebLLM artifact in the browser, for packages/cli/scripts/bench-webllm-side-by-side.ts:
 * the engine modules straight from packages/sdk/src (no worker, no SDK client), the artifact over
 * HTTP (`httpSource`), its Hugging Face tokenizer.json through TextTokenizer. Like WebLLM's bench
 * page: one warm-up request (it compiles every pipeline), then one timed greedy request of `prompt`
 * tokens and `decode` new ones with no stop token. Results land in window.__bench.
 *
 * Query: model=<artifact URL> prompt=16 decode=4 ctx=1024 kernels=fast|baseline
 */
import { generate } from '../src/engine/generate.js';
import { loadModel } from '../src/engine/model.js';
import { requestModelDevice } from '../src/gpu/device.js';
import { modelGpuRequirements } from '../src/gpu/limits.js';
import type { KernelPreference } from '../src/gpu/variants.js';
import { openArtifact } from '../src/model/artifact.js';
import { httpSource } from '../src/store/http-source.js';
import { TokenizerRuntime } from '../src/tokenizer/runtime.js';
import { TextTokenizer, tokenizerFormat } from '../src/tokenizer/tokenizer.js';

interface BenchState {
  status: string;
  error?: string;
  adapter?: Record<string, unknown>;
  kernels?: unknown;
  load_s?: number;
  warmup_s?: number;
  run?: { prompt_tokens: number; completion_tokens: number; prefill_tok_s: number; decode_tok_s: number; prefill_s: number; decode_s: number; ids: number[] };
}

const state: BenchState = { status: 'starting' };
(window as unknown as { __bench: BenchState }).__bench = state;
const q = new URLSearchParams(location.search);
const PROMPT = Number(q.get('prompt') ?? 16);
const DECODE = Number(q.get('decode') ?? 4);
const CTX = Number(q.get('ctx') ?? 1024);
const KERNELS = (q.get('kernels') ?? 'fast') as KernelPreference;
const logEl = document.getElementById('log')!;
const log = (text: string) => {
  console.log(`[bench] ${text}`);
  logEl.textContent += `${text}\n`;
};

/** The same kind of prompt as WebLLM's bench page: distinct vocabulary words. */
const words = (n: number, salt: number) => Array.from({ length: n }, (_, i) => `w${1000 + salt * 997 + i * 13}`).join(' ');

try {
  const source = httpSource(q.get('model')!);
  const { info } = await openArtifact(source);
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('no WebGPU adapter');
  state.adapter = { vendor: adapter.info.vendor, architecture: adapter.info.architecture, features: [...adapter.features] };
  const needs = modelGpuRequirements(info.config, info.quantization, { contextWindow: CTX, maxBatchTokens: PROMPT });
  log(`needs ${(needs.totalBytes / 1e9).toFixed(2)} GB of GPU memory, largest buffer ${(needs.largestBuffer.bytes / 1e6).toFixed(0)} MB`);
  const device = await requestModelDevice(adapter, needs);
  state.status = 'loading';
  const t0 = performance.now();
  const model = await loadModel(device, source, { contextWindow: CTX, maxBatchTokens: PROMPT, kernels: KERNELS });
  state.load_s = (performance.now() - t0) / 1000;
  state.kernels = model.forward.choice;
  log(`loaded in ${state.load_s.toFixed(1)} s; kernels ${JSON.stringify(model.forward.choice)}`);
  const runtime = await TokenizerRuntime.compile(new Uint8Array(await (await fetch(new URL('../src/tokenizer/sentencepiece.wasm', import.meta.url))).arrayBuffer()));
  const file = info.tokenizerFiles[0] ?? 'tokenizer.json';
  const tokenizer = await TextTokenizer.load(runtime, { format: tokenizerFormat(file), bytes: await source.bytes(file) });
  const promptOf = (salt: number) => {
    const ids = tokenizer.encode(words(PROMPT, salt));
    if (ids.length < PROMPT) throw new Error(`the tokenizer gave ${ids.length} tokens for ${PROMPT} words`);
    return ids.slice(0, PROMPT);
  };
  log(`prompt: ${JSON.stringify(promptOf(0))} = "${tokenizer.decode(promptOf(0)).slice(0, 60)}…"`);

  state.status = 'warmup';
  const w0 = performance.now();
  await generate(model.forward, promptOf(99), { maxTokens: 2, temperature: 0, stopTokenIds: [] });
  state.warmup_s = (performance.now() - w0) / 1000;
  log(`warm-up ${state.warmup_s.toFixed(1)} s`);

  state.status = 'running';
  const r = await generate(model.forward, promptOf(0), { maxTokens: DECODE, temperature: 0, stopTokenIds: [] });
  state.run = {
    prompt_tokens: r.promptTokens,
    completion_tokens: r.ids.length,
    prefill_tok_s: (r.promptTokens / r.prefillMs) * 1000,
    decode_tok_s: r.ids.length > 1 ? ((r.ids.length - 1) / r.decodeMs) * 1000 : 0,
    prefill_s: r.prefillMs / 1000,
    decode_s: r.decodeMs / 1000,
    ids: r.ids,
  };
  log(`run ${JSON.stringify(state.run)}`);
  model.dispose();
  tokenizer.dispose();
  device.destroy();
  state.status = 'done';
} catch (error) {
  state.status = 'error';
  state.error = error instanceof Error ? (error.stack ?? error.message) : String(error);
  log(`ERROR ${state.error}`);
}
