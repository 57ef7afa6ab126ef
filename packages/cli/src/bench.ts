/**
 * `webchuan bench`: how fast the engine runs on this machine's GPU and how close decoding gets to
 * the GPU's memory bandwidth. Decode streams every weight once per token, so its ceiling is
 * bandwidth ÷ weight bytes per token; the benchmark measures that bandwidth on the same adapter in
 * the same run (a plain streaming-read kernel) and reports
 *
 *   bandwidth_fraction = weight bytes per token × decode tokens/s ÷ measured bandwidth
 *
 * with a per-kernel time breakdown from GPU timestamps (where the adapter has timestamp-query) for
 * one decode step and one prefill. Either an artifact (`--model`) or a model of a known shape with
 * random weights generated straight into GPU memory (`--shape baichuan-7b`: all of Baichuan-7B's
 * real shapes, 3.9 GB of q4f16_1 weights, no file); `--kernels both` measures the portable
 * (baseline) and the fast kernels one after the other in one run, on the same weights.
 */
import { BAICHUAN_7B, type ModelConfig } from '../../sdk/src/model/config.js';
import { EMBED_NAME } from '../../sdk/src/model/params.js';
import { defaultKvDtype, type Quantization } from '../../sdk/src/model/quant.js';
import { openArtifact } from '../../sdk/src/model/artifact.js';
import { readBuffer, storageBuffer, uniformBuffer } from '../../sdk/src/gpu/buffers.js';
import { requestModelDevice } from '../../sdk/src/gpu/device.js';
import { KernelCache } from '../../sdk/src/gpu/kernel.js';
import { fillArgs, fillRandom, streamRead, streamThreads } from '../../sdk/src/gpu/kernels/bench.js';
import { modelGpuRequirements } from '../../sdk/src/gpu/limits.js';
import type { KernelChoice, KernelPreference } from '../../sdk/src/gpu/variants.js';
import { GpuWeights } from '../../sdk/src/gpu/weights.js';
import { ForwardPass, type KernelTiming } from '../../sdk/src/engine/forward.js';
import { loadModel } from '../../sdk/src/engine/model.js';
import { directorySource } from './fs-source.js';
import { nodeAdapter } from './gpu.js';

/** Model shapes the benchmark can generate. */
export const SHAPES: Record<string, ModelConfig> = { 'baichuan-7b': BAICHUAN_7B };

export interface BenchOptions {
  /** An artifact directory, or… */
  model?: string;
  /** …a known shape with random weights. */
  shape?: string;
  /** Decoder layers of the shape (default: all). */
  layers?: number;
  quantization?: Quantization;
  /** KV cache length (default 4,096 for a shape, the artifact's otherwise). */
  contextWindow?: number;
  promptTokens: number;
  decodeTokens: number;
  /** Position of the first timed decode step (default: right after the prompt). */
  decodeAt?: number;
  kernels: KernelPreference | 'both';
  /** Bytes the bandwidth probe reads (default 256 MiB, or the largest buffer allowed). */
  probeBytes?: number;
  log?: (line: string) => void;
  /** Told the device before anything runs on it (the CLI prints its adapter line). */
  onDevice?: (device: GPUDevice) => void;
}

/** Time per kernel, summed over the dispatches of one step. */
export interface KernelShare {
  kernel: string;
  ms: number;
  dispatches: number;
  share: number;
}

export interface Breakdown {
  tokens: number;
  start_pos: number;
  total_ms: number;
  per_layer_ms: number;
  kernels: KernelShare[];
}

export interface KernelSetResult {
  kernels: KernelPreference;
  choice: KernelChoice;
  prefill_tokens_per_s: number;
  decode_tokens_per_s: number;
  decode_ms_per_token: number;
  /** Decode time per decoder layer: (ms per token − the embedding, head and readback) ÷ layers, from timestamps. */
  decode_ms_per_layer?: number;
  bandwidth_fraction: number;
  /** Decode tokens/s the measured bandwidth would allow: the roofline. */
  roofline_tokens_per_s: number;
  decode_breakdown?: Breakdown;
  prefill_breakdown?: Breakdown;
}

export interface BenchResult {
  device: string;
  features: string[];
  /** The device's maxStorageBufferBindingSize, and the matrices larger than it: bands of rows each. */
  max_storage_binding_bytes: number;
  split_matrices: Record<string, number>;
  model: string;
  quantization: Quantization;
  layers: number;
  context_window: number;
  prompt_tokens: number;
  decode_tokens: number;
  decode_at: number;
  /** Bytes of weights each decoded token reads: every matrix and norm once, one embedding row. */
  weight_bytes_per_token: number;
  /** What the streaming-read kernel achieved on this adapter, GB/s (10⁹ bytes). */
  measured_bandwidth_gb_s: number;
  bandwidth_probe_bytes: number;
  results: KernelSetResult[];
}

/** Per-kernel totals of one profiled step. */
export function breakdown(timings: KernelTiming[], tokens: number, startPos: number, layers: number): Breakdown {
  const byKernel = new Map<string, { ms: number; dispatches: number }>();
  let layerMs = 0;
  for (const t of timings) {
    const k = byKernel.get(t.kernel) ?? { ms: 0, dispatches: 0 };
    k.ms += t.ms;
    k.dispatches++;
    byKernel.set(t.kernel, k);
    if (t.step.startsWith('layer ')) layerMs += t.ms;
  }
  const total = timings.reduce((n, t) => n + t.ms, 0);
  const round = (x: number) => Number(x.toFixed(3));
  return {
    tokens,
    start_pos: startPos,
    total_ms: round(total),
    per_layer_ms: round(layerMs / layers),
    kernels: [...byKernel.entries()]
      .map(([kernel, k]) => ({ kernel, ms: round(k.ms), dispatches: k.dispatches, share: Number((k.ms / total).toFixed(4)) }))
      .sort((a, b) => b.ms - a.ms),
  };
}

/** Reads `bytes` with stream_read.wgsl several times; the best pass's GB/s (timestamps when available). */
export async function measureBandwidth(device: GPUDevice, bytes: number): Promise<number> {
  const kernels = new KernelCache(device);
  const words = Math.floor(bytes / 16);
  const data = storageBuffer(device, words * 16, 'bandwidth probe');
  const args = uniformBuffer(device, 8, 'fill args');
  device.queue.writeBuffer(args, 0, fillArgs(1, words * 4));
  const out = storageBuffer(device, streamThreads({ words }) * 4, 'probe sums');
  const fill = kernels.compile(fillRandom, { mode: 'bits', lo: 0, hi: 0, count: words * 4 }).bind({ out: data, args });
  const probe = kernels.compile(streamRead, { words }).bind({ data, out });
  const step = { tokens: 0, startPos: 0 };
  const timestamps = device.features.has('timestamp-query');
  const querySet = timestamps ? device.createQuerySet({ type: 'timestamp', count: 2 }) : undefined;
  const resolved = timestamps ? device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC }) : undefined;
  let encoder = device.createCommandEncoder();
  let pass = encoder.beginComputePass();
  fill.encode(pass, step);
  probe.encode(pass, step); // warm-up: compiles and touches every page
  pass.end();
  device.queue.submit([encoder.finish()]);
  await device.queue.onSubmittedWorkDone();
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    encoder = device.createCommandEncoder();
    pass = encoder.beginComputePass(querySet ? { timestampWrites: { querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } } : {});
    probe.encode(pass, step);
    pass.end();
    if (querySet && resolved) encoder.resolveQuerySet(querySet, 0, 2, resolved, 0);
    const t0 = performance.now();
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
    let seconds = (performance.now() - t0) / 1000;
    if (resolved) {
      const ns = new BigUint64Array(await readBuffer(device, resolved, 16));
      seconds = Number(ns[1]! - ns[0]!) / 1e9;
    }
    best = Math.min(best, seconds);
  }
  data.destroy();
  out.destroy();
  args.destroy();
  resolved?.destroy();
  querySet?.destroy();
  return (words * 16) / best / 1e9;
}

async function timeRun(forward: ForwardPass, prompt: number[], decodeAt: number, decodeTokens: number): Promise<{ prefillMs: number; decodeMs: number }> {
  const t0 = performance.now();
  let next = await forward.run(prompt, 0, 'argmax');
  const prefillMs = performance.now() - t0;
  const t1 = performance.now();
  for (let i = 0; i < decodeTokens; i++) next = await forward.run([next], decodeAt + i, 'argmax');
  return { prefillMs, decodeMs: performance.now() - t1 };
}

export async function benchmark(o: BenchOptions): Promise<BenchResult> {
  const log = o.log ?? (() => undefined);
  const adapter = await nodeAdapter();
  let config: ModelConfig;
  let quantization: Quantization;
  let name: string;
  let contextWindow: number;
  if (o.shape) {
    const shape = SHAPES[o.shape];
    if (!shape) throw new Error(`unknown shape "${o.shape}" (known: ${Object.keys(SHAPES).join(', ')})`);
    config = { ...shape, numLayers: o.layers ?? shape.numLayers };
    quantization = o.quantization ?? 'q4f16_1';
    name = `${o.shape} shape (random weights)`;
    contextWindow = Math.min(o.contextWindow ?? shape.contextWindow, shape.contextWindow);
  } else if (o.model) {
    const { info } = await openArtifact(directorySource(o.model));
    config = info.config;
    quantization = info.quantization;
    name = o.model;
    contextWindow = Math.min(o.contextWindow ?? config.contextWindow, config.contextWindow);
  } else throw new Error('bench needs --model <dir> or --shape <name>');
  const prompt = Array.from({ length: Math.max(1, o.promptTokens) }, (_, i) => 3 + (i % Math.max(1, config.vocabSize - 3)));
  const decodeAt = o.decodeAt ?? prompt.length;
  if (decodeAt + o.decodeTokens > contextWindow) throw new Error(`decode positions ${decodeAt}..${decodeAt + o.decodeTokens} exceed the context window of ${contextWindow}`);
  const maxBatchTokens = Math.max(prompt.length, 1);
  const kvDtype = defaultKvDtype(quantization);
  const needs = modelGpuRequirements(config, quantization, { contextWindow, maxBatchTokens, kvDtype });
  const device = await requestModelDevice(adapter, needs, { optionalFeatures: ['timestamp-query'], label: 'webchuan bench' });
  try {
    o.onDevice?.(device);
    const probeBytes = Math.min(o.probeBytes ?? 256 * 2 ** 20, device.limits.maxBufferSize, device.limits.maxStorageBufferBindingSize);
    const bandwidth = await measureBandwidth(device, probeBytes);
    log(`streaming read: ${bandwidth.toFixed(2)} GB/s over ${(probeBytes / 2 ** 20).toFixed(0)} MiB`);
    const t0 = performance.now();
    let weights: GpuWeights;
    if (o.shape) {
      weights = await GpuWeights.random(device, config, quantization, 1);
    } else {
      const model = await loadModel(device, directorySource(o.model!), { contextWindow, maxBatchTokens });
      model.forward.destroy(); // each kernel set below builds its own
      weights = model.weights;
    }
    log(`weights: ${(weights.bytes / 1e9).toFixed(2)} GB in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    // Matrices larger than one binding holds are split into bands of rows (limits.ts splitRows).
    const split = Object.fromEntries(weights.splitMatrices.map((m) => [m.name, m.bands.length]));
    if (weights.splitMatrices.length > 0) {
      log(`split into bands (bindings of at most ${(device.limits.maxStorageBufferBindingSize / 2 ** 20).toFixed(0)} MiB): ${Object.entries(split).map(([n, b]) => `${n} ×${b}`).join(', ')}`);
    }
    const bytesPerToken = weights.bytesPerToken(EMBED_NAME, config.vocabSize, config.tieWordEmbeddings);
    const sets: KernelPreference[] = o.kernels === 'both' ? ['baseline', 'fast'] : [o.kernels];
    const results: KernelSetResult[] = [];
    try {
      for (const kernels of sets) {
        const forward = new ForwardPass(device, config, weights, { contextWindow, maxBatchTokens, kvDtype, kernels });
        try {
          log(`${kernels}: ${JSON.stringify(forward.choice)}`);
          // Compile the pipelines of both paths outside the timings; one decode step settles
          // first-dispatch costs (a warm-up prefill would cost as much as the timed one on SwiftShader).
          forward.prepare(prompt.length);
          forward.prepare(1);
          await forward.run([prompt[0]!], decodeAt, 'argmax');
          const { prefillMs, decodeMs } = await timeRun(forward, prompt, decodeAt, o.decodeTokens);
          const decodeRate = o.decodeTokens ? (o.decodeTokens / decodeMs) * 1000 : 0;
          const result: KernelSetResult = {
            kernels,
            choice: forward.choice,
            prefill_tokens_per_s: Number(((prompt.length / prefillMs) * 1000).toFixed(4)),
            decode_tokens_per_s: Number(decodeRate.toFixed(4)),
            decode_ms_per_token: Number((decodeMs / Math.max(1, o.decodeTokens)).toFixed(2)),
            bandwidth_fraction: Number(((bytesPerToken * decodeRate) / (bandwidth * 1e9)).toFixed(4)),
            roofline_tokens_per_s: Number(((bandwidth * 1e9) / bytesPerToken).toFixed(3)),
          };
          log(`${kernels}: prefill ${result.prefill_tokens_per_s} tok/s, decode ${result.decode_tokens_per_s} tok/s (${result.decode_ms_per_token} ms/token), ${(result.bandwidth_fraction * 100).toFixed(1)}% of the measured bandwidth`);
          if (device.features.has('timestamp-query')) {
            result.decode_breakdown = breakdown(await forward.profile([prompt[0]!], decodeAt), 1, decodeAt, config.numLayers);
            result.prefill_breakdown = breakdown(await forward.profile(prompt, 0), prompt.length, 0, config.numLayers);
            result.decode_ms_per_layer = result.decode_breakdown.per_layer_ms;
            log(`${kernels}: decode ${result.decode_breakdown.per_layer_ms} ms per layer (GPU); prefill ${result.prefill_breakdown.per_layer_ms} ms per layer`);
          }
          results.push(result);
        } finally {
          forward.destroy();
        }
      }
    } finally {
      weights.destroy();
    }
    return {
      device: `${device.adapterInfo.vendor} ${device.adapterInfo.description || device.adapterInfo.architecture}`.trim(),
      features: [...device.features].sort(),
      max_storage_binding_bytes: device.limits.maxStorageBufferBindingSize,
      split_matrices: split,
      model: name,
      quantization,
      layers: config.numLayers,
      context_window: contextWindow,
      prompt_tokens: prompt.length,
      decode_tokens: o.decodeTokens,
      decode_at: decodeAt,
      weight_bytes_per_token: bytesPerToken,
      measured_bandwidth_gb_s: Number(bandwidth.toFixed(3)),
      bandwidth_probe_bytes: probeBytes,
      results,
    };
  } finally {
    device.destroy();
  }
}
