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
 * (baseline) and the fast kernels one after the other in one run, on the same weights; `--kernels all`
 * every candidate set (each combination of the options of each step kind) and the set the engine's
 * own measurement (`auto`) picks, with auto's tokens/s against the fastest set's in each phase.
 */
import { BAICHUAN_7B, type ModelConfig } from '../../sdk/src/model/config.js';
import { EMBED_NAME } from '../../sdk/src/model/params.js';
import { defaultKvDtype, type Quantization } from '../../sdk/src/model/quant.js';
import { openArtifact, readTensors } from '../../sdk/src/model/artifact.js';
import { readBuffer, storageBuffer, uniformBuffer } from '../../sdk/src/gpu/buffers.js';
import { requestModelDevice } from '../../sdk/src/gpu/device.js';
import { KernelCache } from '../../sdk/src/gpu/kernel.js';
import { fillArgs, fillRandom, streamRead, streamThreads } from '../../sdk/src/gpu/kernels/bench.js';
import { modelGpuRequirements } from '../../sdk/src/gpu/limits.js';
import { candidateSelections, choiceOf, chooseKernels, selectionName, selectionOf, type KernelChoice, type KernelSelection } from '../../sdk/src/gpu/variants.js';
import { GpuWeights } from '../../sdk/src/gpu/weights.js';
import { ForwardPass, type ForwardOptions, type KernelTiming } from '../../sdk/src/engine/forward.js';
import { KernelPreparation } from '../../sdk/src/engine/kernel-preparation.js';
import type { KernelEstimates } from '../../sdk/src/engine/kernel-tuning.js';
import { directorySource } from './fs-source.js';
import { nodeAdapter } from './gpu.js';

/** TinyLlama-1.1B's shapes (LLaMA, 2048 wide, grouped-query attention): a second, smaller real shape. */
const TINYLLAMA_1_1B: ModelConfig = {
  modelType: 'llama',
  hiddenSize: 2048,
  intermediateSize: 5632,
  numLayers: 22,
  numHeads: 32,
  numKvHeads: 4,
  headDim: 64,
  vocabSize: 32000,
  contextWindow: 2048,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  tieWordEmbeddings: false,
  bosTokenId: 1,
  promptPrefixTokenIds: [1],
  stopTokenIds: [2],
};

/** Model shapes the benchmark can generate. */
export const SHAPES: Record<string, ModelConfig> = { 'baichuan-7b': BAICHUAN_7B, 'tinyllama-1.1b': TINYLLAMA_1_1B };

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
  /**
   * `baseline`, `fast`; `both`: the two; `auto`: what the engine's measurement picks on this adapter
   * (measured afresh, not stored); `all`: every candidate set (each combination of the options of
   * each step kind) and `auto`.
   */
  kernels: 'baseline' | 'fast' | 'both' | 'auto' | 'all';
  /** Timed runs of each phase, interleaving the sets; each keeps its best (default 1). */
  rounds?: number;
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
  /** `baseline`, `fast`, `auto`, or (with `all`) the set's selection. */
  kernels: string;
  /** The option of each step kind: decode matvec / decode attention / prefill. */
  selection: string;
  choice: KernelChoice;
  prefill_tokens_per_s: number;
  decode_tokens_per_s: number;
  /** The median decode step (all rounds), so a burst of load elsewhere does not move it much. */
  decode_ms_per_token: number;
  /** Each round's prefill (the figure above is the fastest), and the decode steps' quartiles: the noise. */
  prefill_runs_ms: number[];
  decode_step_quartiles_ms: [number, number, number];
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
  /** With `auto` and `all`: what the engine's measurement chose, and how it fares against the other sets. */
  auto?: AutoChoice;
}

export interface AutoChoice {
  selection: KernelSelection;
  set: string;
  /** The measurement's estimate of each option's milliseconds per step of the whole model. */
  estimates_ms: KernelEstimates;
  clock: 'gpu-timestamps' | 'wall-clock';
  /** How long the measurement took, compiling the candidates included. */
  measure_ms: number;
  /** With `all`: auto's tokens/s ÷ the fastest candidate set's, per phase. */
  prefill_vs_fastest?: number;
  decode_vs_fastest?: number;
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

/** Prefill and decode milliseconds of each kernel set, by name. */
interface PhaseTimes {
  prefillMs: number;
  decodeMs: number;
  /** Every timed prefill (one per round) and the quartiles of the decode steps: how noisy the figures are. */
  prefillRunsMs: number[];
  decodeStepQuartilesMs: [number, number, number];
}

/**
 * Times the prefill of `prompt` and `decodeTokens` decode steps for every set. Sets that dispatch the
 * same pipelines in a phase (the prefill does not use the decode attention; decode does not use the
 * GEMM) share one measurement of it: the same GPU work. Each round runs every distinct phase once, one
 * after the other, on a pass whose pipelines and buffers were all used once first (compiled, and on
 * lavapipe JIT-compiled; buffers zeroed); so a burst of load elsewhere on the machine falls on a round
 * of all of them, not on one set. A prefill's time is its fastest round; decode's is `decodeTokens` ×
 * the median step of all rounds.
 */
async function measurePhases(
  device: GPUDevice,
  config: ModelConfig,
  weights: GpuWeights,
  options: Omit<ForwardOptions, 'kernels'>,
  sets: readonly { name: string; choice: KernelChoice }[],
  prompt: number[],
  decodeAt: number,
  o: BenchOptions,
  log: (line: string) => void,
): Promise<Map<string, PhaseTimes>> {
  const pass = (choice: KernelChoice) => new ForwardPass(device, config, weights, { ...options, kernels: choice });
  const prefills = new Map<string, KernelChoice>();
  const decodes = new Map<string, KernelChoice>();
  const keys = new Map<string, { prefill: string; decode: string }>();
  for (const { name, choice } of sets) {
    const forward = pass(choice);
    const key = { prefill: forward.pipelineKeys(prompt.length).join('\n'), decode: forward.pipelineKeys(1).join('\n') };
    forward.destroy();
    keys.set(name, key);
    if (!prefills.has(key.prefill)) prefills.set(key.prefill, choice);
    if (!decodes.has(key.decode)) decodes.set(key.decode, choice);
  }
  const rounds = o.rounds ?? 1;
  log(`${sets.length} kernel set(s): ${prefills.size} distinct prefill(s), ${decodes.size} distinct decode(s), ${rounds} round(s)`);
  const runs = new Map<string, number[]>();
  const keep = (key: string, ms: number) => runs.set(key, [...(runs.get(key) ?? []), ms]);
  const warmed = async (choice: KernelChoice) => {
    const forward = pass(choice);
    await forward.warm([prompt.length, 1]);
    return forward;
  };
  for (let round = 0; round < rounds; round++) {
    for (const [key, choice] of prefills) {
      const forward = await warmed(choice);
      try {
        const t0 = performance.now();
        await forward.run(prompt, 0, 'argmax');
        keep(`prefill ${key}`, performance.now() - t0);
      } finally {
        forward.destroy();
      }
    }
    for (const [key, choice] of decodes) {
      const forward = await warmed(choice);
      try {
        let next = await forward.run([prompt[0]!], decodeAt, 'argmax'); // settles first-dispatch costs
        for (let i = 0; i < o.decodeTokens; i++) {
          const t0 = performance.now();
          next = await forward.run([next], decodeAt + i, 'argmax');
          keep(`decode ${key}`, performance.now() - t0);
        }
      } finally {
        forward.destroy();
      }
    }
  }
  const quantile = (key: string, q: number) => {
    const sorted = [...(runs.get(key) ?? [0])].sort((a, b) => a - b);
    return sorted[Math.floor(q * (sorted.length - 1) + 0.5)]!;
  };
  const round = (ms: number) => Number(ms.toFixed(1));
  return new Map(sets.map(({ name }) => {
    const key = keys.get(name)!;
    const prefill = `prefill ${key.prefill}`;
    const decode = `decode ${key.decode}`;
    return [name, {
      prefillMs: Math.min(...runs.get(prefill)!),
      decodeMs: quantile(decode, 0.5) * o.decodeTokens,
      prefillRunsMs: runs.get(prefill)!.map(round),
      decodeStepQuartilesMs: [round(quantile(decode, 0.25)), round(quantile(decode, 0.5)), round(quantile(decode, 0.75))],
    }];
  }));
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
      const source = directorySource(o.model!);
      const { cache } = await openArtifact(source);
      weights = await GpuWeights.upload(device, config, readTensors(source, cache));
    }
    log(`weights: ${(weights.bytes / 1e9).toFixed(2)} GB in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    // Matrices larger than one binding holds are split into bands of rows (limits.ts splitRows).
    const split = Object.fromEntries(weights.splitMatrices.map((m) => [m.name, m.bands.length]));
    if (weights.splitMatrices.length > 0) {
      log(`split into bands (bindings of at most ${(device.limits.maxStorageBufferBindingSize / 2 ** 20).toFixed(0)} MiB): ${Object.entries(split).map(([n, b]) => `${n} ×${b}`).join(', ')}`);
    }
    const bytesPerToken = weights.bytesPerToken(EMBED_NAME, config.vocabSize, config.tieWordEmbeddings);
    const preparation = new KernelPreparation(device, { config, quantization, kvDtype, contextWindow, maxBatchTokens, kernels: 'auto', compileAhead: 'blocking' });
    const options = preparation.kernelOptions;
    let auto: AutoChoice | undefined;
    const sets: { name: string; choice: KernelChoice }[] = [];
    const fixed = (preference: 'baseline' | 'fast') => ({ name: preference, choice: chooseKernels(device.features, preference) });
    if (o.kernels === 'baseline' || o.kernels === 'fast') sets.push(fixed(o.kernels));
    if (o.kernels === 'both') sets.push(fixed('baseline'), fixed('fast'));
    if (o.kernels === 'all') for (const selection of candidateSelections(options)) sets.push({ name: selectionName(selection), choice: choiceOf(selection, options, 'fast') });
    if (o.kernels === 'auto' || o.kernels === 'all') {
      const measured = await preparation.measure();
      const record = measured.record!;
      auto = { selection: record.selection, set: selectionName(record.selection), estimates_ms: record.estimates, clock: record.clock, measure_ms: record.measureMs };
      log(`auto: chose ${auto.set} in ${(record.measureMs / 1000).toFixed(1)} s (${record.clock}); estimated ms per step: ${JSON.stringify(record.estimates)}`);
      sets.push({ name: 'auto', choice: measured.choice });
    }
    const results: KernelSetResult[] = [];
    try {
      const measured = await measurePhases(device, config, weights, { contextWindow, maxBatchTokens, kvDtype, kernelCache: preparation.cache }, sets, prompt, decodeAt, o, log);
      for (const { name, choice } of sets) {
        const { prefillMs, decodeMs, prefillRunsMs, decodeStepQuartilesMs } = measured.get(name)!;
        const decodeRate = o.decodeTokens ? (o.decodeTokens / decodeMs) * 1000 : 0;
        const result: KernelSetResult = {
          kernels: name,
          selection: selectionName(selectionOf(choice)),
          choice,
          prefill_tokens_per_s: Number(((prompt.length / prefillMs) * 1000).toFixed(4)),
          decode_tokens_per_s: Number(decodeRate.toFixed(4)),
          decode_ms_per_token: Number((decodeMs / Math.max(1, o.decodeTokens)).toFixed(2)),
          prefill_runs_ms: prefillRunsMs,
          decode_step_quartiles_ms: decodeStepQuartilesMs,
          bandwidth_fraction: Number(((bytesPerToken * decodeRate) / (bandwidth * 1e9)).toFixed(4)),
          roofline_tokens_per_s: Number(((bandwidth * 1e9) / bytesPerToken).toFixed(3)),
        };
        log(`${name} (${result.selection}): prefill ${result.prefill_tokens_per_s} tok/s, decode ${result.decode_tokens_per_s} tok/s (${result.decode_ms_per_token} ms/token), ${(result.bandwidth_fraction * 100).toFixed(1)}% of the measured bandwidth`);
        // Per-kernel GPU times: for every set, except in `all` (there, for auto's set only).
        if (device.features.has('timestamp-query') && (o.kernels !== 'all' || name === 'auto')) {
          const forward = new ForwardPass(device, config, weights, { contextWindow, maxBatchTokens, kvDtype, kernels: choice, kernelCache: preparation.cache });
          try {
            result.decode_breakdown = breakdown(await forward.profile([prompt[0]!], decodeAt), 1, decodeAt, config.numLayers);
            result.prefill_breakdown = breakdown(await forward.profile(prompt, 0), prompt.length, 0, config.numLayers);
            result.decode_ms_per_layer = result.decode_breakdown.per_layer_ms;
            log(`${name}: decode ${result.decode_breakdown.per_layer_ms} ms per layer (GPU); prefill ${result.prefill_breakdown.per_layer_ms} ms per layer`);
          } finally {
            forward.destroy();
          }
        }
        results.push(result);
      }
    } finally {
      weights.destroy();
    }
    if (auto) {
      const mine = results.find((r) => r.kernels === 'auto')!;
      const candidates = results.filter((r) => r.kernels !== 'auto');
      if (candidates.length > 0) {
        const fastestPrefill = Math.max(...candidates.map((r) => r.prefill_tokens_per_s));
        const fastestDecode = Math.max(...candidates.map((r) => r.decode_tokens_per_s));
        auto.prefill_vs_fastest = Number((mine.prefill_tokens_per_s / fastestPrefill).toFixed(3));
        auto.decode_vs_fastest = Number((mine.decode_tokens_per_s / fastestDecode).toFixed(3));
        log(`auto (${auto.set}): prefill ${(auto.prefill_vs_fastest * 100).toFixed(0)}% and decode ${(auto.decode_vs_fastest * 100).toFixed(0)}% of the fastest candidate set's tokens/s`);
      }
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
      ...(auto ? { auto } : {}),
    };
  } finally {
    device.destroy();
  }
}
