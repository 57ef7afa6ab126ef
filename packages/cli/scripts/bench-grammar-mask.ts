/**
 * What holding a reply to a JSON schema costs per token, on Baichuan-7B's real 64,000-token
 * vocabulary, against a decode step:
 *
 *   npx tsx packages/cli/scripts/bench-grammar-mask.ts [--tokenizer ../shared/data/baichuan-7b/tokenizer.model] [--layers 1] [--steps 6]
 *
 * - XGrammar on the CPU: its tables for the vocabulary (once per model), compiling the schema (once
 *   per schema; cached), and per token the next-token mask and accepting the chosen token, along a
 *   real reply tokenized with the real tokenizer;
 * - on the GPU: uploading the mask (⌈64,000 / 32⌉ = 2,000 words, 8 KB) and token_mask.wgsl over the
 *   logits, timed with GPU timestamps where the adapter has them;
 * - greedy decode steps of a Baichuan-7B-shaped model (random weights, `--layers` of its 32 layers, its
 *   full 64,000-row classifier) with and without the mask, in place: the engine works the mask out on
 *   the CPU while the GPU computes the logits, so only what is left over adds to a step.
 *
 * Prints one JSON object. On SwiftShader (a CPU emulation of a GPU) the decode step is far slower than
 * on a GPU; the CPU-side figures are what a real GPU's step would be compared with.
 */
import { register } from 'node:module';
import { parseArgs } from 'node:util';

register('../src/wgsl-loader.mjs', import.meta.url);
const { nodeAdapter } = await import('../src/gpu.js');
const { loadNodeTokenizer, nodeGrammarRuntime } = await import('../src/runtime.js');
const { ModelGrammars } = await import('../../sdk/src/grammar/compiler.js');
const { ForwardPass } = await import('../../sdk/src/engine/forward.js');
const { GpuWeights } = await import('../../sdk/src/gpu/weights.js');
const { requestModelDevice } = await import('../../sdk/src/gpu/device.js');
const { modelGpuRequirements } = await import('../../sdk/src/gpu/limits.js');
const { BAICHUAN_7B } = await import('../../sdk/src/model/config.js');
const { KernelCache } = await import('../../sdk/src/gpu/kernel.js');
const { maskWords, tokenMask } = await import('../../sdk/src/gpu/kernels/token_mask.js');
const { storageBuffer } = await import('../../sdk/src/gpu/buffers.js');
const { SHARED } = await import('../../sdk/test/helpers.js');

const { values: o } = parseArgs({
  options: {
    tokenizer: { type: 'string', default: `${SHARED}/data/baichuan-7b/tokenizer.model` },
    layers: { type: 'string', default: '1' },
    steps: { type: 'string', default: '6' },
  },
});

const SCHEMA = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    house: { enum: ['Gryffindor', 'Hufflepuff', 'Ravenclaw', 'Slytherin'] },
    wand: { type: 'object', properties: { wood: { type: 'string' }, core: { type: 'string' }, length: { type: 'number' } }, required: ['wood', 'core', 'length'] },
    alive: { type: 'boolean' },
    patronus: { type: 'string' },
  },
  required: ['name', 'house', 'wand', 'alive', 'patronus'],
};
/** A reply the schema allows, in the layout the engine holds replies to; Chinese text too, for multi-byte tokens. */
const REPLY = JSON.stringify({ name: 'Hermione Granger 赫敏', house: 'Gryffindor', wand: { wood: 'vine', core: 'dragon heartstring', length: 10.75 }, alive: true, patronus: 'otter 水獭' }).replaceAll(',"', ', "').replaceAll('":', '": ');

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const r = (x: number) => Number(x.toFixed(4));
  return { mean_ms: r(xs.reduce((a, b) => a + b, 0) / xs.length), median_ms: r(s[Math.floor(s.length / 2)]!), p95_ms: r(s[Math.min(s.length - 1, Math.floor(s.length * 0.95))]!), max_ms: r(s.at(-1)!) };
};

// XGrammar on the CPU.
const tokenizer = await loadNodeTokenizer(o.tokenizer);
await nodeGrammarRuntime();
const tokens = Array.from({ length: tokenizer.vocabSize }, (_, id) => tokenizer.idToToken(id));
let t = performance.now();
const grammars = await ModelGrammars.create({ tokens, vocabSize: BAICHUAN_7B.vocabSize, stopTokenIds: BAICHUAN_7B.stopTokenIds, postproc: 'byte_fallback' });
const tablesS = (performance.now() - t) / 1000;
const spec = { kind: 'json' as const, schema: JSON.stringify(SCHEMA), strict: true };
const first = await grammars.constraint(spec);
const cached = await grammars.constraint(spec);
cached.constraint.dispose();
// The reply's tokens as a model would produce them under the grammar: at each step, of the tokens the
// mask allows, the longest that the rest of the reply begins with (SentencePiece's own encoding starts
// with `▁{`, a space the grammar does not allow).
const tokenBytes = tokens.map((piece) => {
  const byte = /^<0x([0-9A-F]{2})>$/.exec(piece);
  return byte ? Uint8Array.of(parseInt(byte[1]!, 16)) : new TextEncoder().encode(piece.replaceAll('▁', ' '));
});
const target = new TextEncoder().encode(REPLY);
const ids: number[] = [];
const maskMs: number[] = [];
const acceptMs: number[] = [];
const masks: Uint32Array[] = [];
for (let at = 0; at < target.length; ) {
  t = performance.now();
  const mask = await first.constraint.allowedTokens();
  maskMs.push(performance.now() - t);
  masks.push(mask);
  let best = -1;
  for (let id = 0; id < tokens.length; id++) {
    if (((mask[id >>> 5]! >>> (id & 31)) & 1) === 0) continue;
    const b = tokenBytes[id]!;
    if (b.length === 0 || at + b.length > target.length || (best >= 0 && b.length <= tokenBytes[best]!.length)) continue;
    if (b.every((x, k) => x === target[at + k])) best = id;
  }
  if (best < 0) throw new Error(`no allowed token continues the reply at byte ${at}`);
  t = performance.now();
  if (!first.constraint.accept(best)) throw new Error(`XGrammar refused token ${best}, which its mask allowed`);
  acceptMs.push(performance.now() - t);
  ids.push(best);
  at += tokenBytes[best]!.length;
}
const allowed = masks.map((m) => m.reduce((n, w) => n + popcount(w), 0));
first.constraint.dispose();

function popcount(w: number): number {
  let n = 0;
  for (let x = w >>> 0; x; x &= x - 1) n++;
  return n;
}

// The GPU: upload + kernel, then decode steps with and without the mask.
const layers = Number(o.layers);
const config = { ...BAICHUAN_7B, numLayers: layers };
const contextWindow = 256;
const needs = modelGpuRequirements(config, 'q4f16_1', { contextWindow, maxBatchTokens: 1, kvDtype: 'f16' });
const device = await requestModelDevice(await nodeAdapter(), needs, { optionalFeatures: ['timestamp-query'], label: 'bench-grammar-mask' });
const V = config.vocabSize;
const kernels = new KernelCache(device);
const logits = storageBuffer(device, V * 4, 'logits');
const maskBuffer = storageBuffer(device, maskWords(V) * 4, 'mask');
const dispatch = kernels.compile(tokenMask, { vocab: V }).bind({ mask: maskBuffer, logits }, 'mask');
const uploadAndKernelMs: number[] = [];
for (let i = 0; i < 20; i++) {
  const mask = masks[i % masks.length]!;
  t = performance.now();
  device.queue.writeBuffer(maskBuffer, 0, mask as Uint32Array<ArrayBuffer>);
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  dispatch.encode(pass, { tokens: 1, startPos: 0 });
  pass.end();
  device.queue.submit([encoder.finish()]);
  await device.queue.onSubmittedWorkDone();
  uploadAndKernelMs.push(performance.now() - t);
}
let kernelGpuMs: number | undefined;
if (device.features.has('timestamp-query')) {
  const runs = 20;
  const querySet = device.createQuerySet({ type: 'timestamp', count: runs * 2 });
  const resolved = device.createBuffer({ size: runs * 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  const read = device.createBuffer({ size: runs * 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const encoder = device.createCommandEncoder();
  for (let i = 0; i < runs; i++) {
    const pass = encoder.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
    dispatch.encode(pass, { tokens: 1, startPos: 0 });
    pass.end();
  }
  encoder.resolveQuerySet(querySet, 0, runs * 2, resolved, 0);
  encoder.copyBufferToBuffer(resolved, 0, read, 0, runs * 16);
  device.queue.submit([encoder.finish()]);
  await read.mapAsync(GPUMapMode.READ);
  const ns = new BigUint64Array(read.getMappedRange().slice(0));
  read.unmap();
  kernelGpuMs = Array.from({ length: runs }, (_, i) => Number(ns[2 * i + 1]! - ns[2 * i]!) / 1e6).reduce((a, b) => a + b, 0) / runs;
}

const weights = await GpuWeights.random(device, config, 'q4f16_1', 1);
const forward = new ForwardPass(device, config, weights, { contextWindow, maxBatchTokens: 1, kvDtype: 'f16' });
await forward.prepare([1]);
await forward.run([3], 0, 'argmax');
const steps = Number(o.steps);
const plainMs: number[] = [];
const heldMs: number[] = [];
const live = await grammars.constraint(spec);
for (let i = 0; i < steps; i++) {
  t = performance.now();
  await forward.run([3 + i], 1 + 2 * i, 'argmax', { list: [], params: {} });
  plainMs.push(performance.now() - t);
  t = performance.now();
  await forward.run([3 + i], 2 + 2 * i, 'argmax', { list: [], params: {}, mask: () => live.constraint.allowedTokens() });
  heldMs.push(performance.now() - t);
  live.constraint.accept(ids[i]!);
}
live.constraint.dispose();
forward.destroy();
weights.destroy();
device.destroy();

const matcher = stats(maskMs.map((m, i) => m + acceptMs[i]!));
const plain = stats(plainMs);
const held = stats(heldMs);
console.log(
  JSON.stringify(
    {
      device: `${device.adapterInfo.vendor} ${device.adapterInfo.description || device.adapterInfo.architecture}`.trim(),
      vocabulary: { tokens: tokens.length, logits: V, mask_words: maskWords(V), mask_bytes: maskWords(V) * 4 },
      once_per_model: { xgrammar_tables_s: Number(tablesS.toFixed(3)) },
      once_per_schema: { compile_s: Number(first.compileSeconds.toFixed(3)), cached_s: Number(cached.compileSeconds.toFixed(4)) },
      per_token_cpu: { reply_tokens: ids.length, allowed_tokens_median: allowed.sort((a, b) => a - b)[Math.floor(allowed.length / 2)], mask: stats(maskMs), accept: stats(acceptMs), mask_plus_accept: matcher },
      per_token_gpu: { upload_and_kernel_wall: stats(uploadAndKernelMs), kernel_gpu_ms: kernelGpuMs === undefined ? null : Number(kernelGpuMs.toFixed(4)) },
      decode_step: { layers, of_layers: BAICHUAN_7B.numLayers, steps, plain, held_to_schema: held, added_ms_median: Number((held.median_ms - plain.median_ms).toFixed(3)) },
      share_of_a_step: {
        matcher_vs_this_step: Number((matcher.mean_ms / plain.mean_ms).toFixed(5)),
        note: 'the matcher runs on the CPU while the GPU computes the step; on a real GPU a Baichuan-7B q4f16_1 step reads 3.9 GB of weights (about 20–40 ms at 100–200 GB/s), against which compare per_token_cpu.mask_plus_accept',
      },
    },
    null,
    2,
  ),
);
grammars.dispose();
tokenizer.dispose();
