/**
 * Memory the CPU path needs for a model, from its shape alone, so a model that cannot fit llama.cpp's
 * wasm memory (4 GiB at most) is refused before a byte is downloaded, with the numbers: the weights
 * as GGUF, the KV cache for the context window, llama.cpp's compute buffers and the runtime itself.
 */
import { CpuUnavailableError, formatBytes } from '../errors.js';
import type { ModelConfig } from '../model/config.js';
import { ggmlTensorBytes } from '../model/gguf.js';
import { ggufWeightBytes } from '../model/gguf-artifact.js';
import { isQuantized } from '../model/quant.js';
import { defaultKvDtype, type Quantization } from '../model/quant.js';
import { WASM_MEMORY_LIMIT_BYTES } from './capabilities.js';

/** Prompt tokens llama.cpp computes in one batch: bounds its compute buffers. */
export const CPU_BATCH_TOKENS = 256;
/** The smallest context window worth loading a model with. */
export const MIN_CPU_CONTEXT = 256;
/** The wasm runtime's own heap (code, stacks, allocator slack), as measured on the poetry model. */
const RUNTIME_BYTES = 160 * 1024 * 1024;

export interface CpuMemoryNeeds {
  weightBytes: number;
  kvCacheBytes: number;
  computeBytes: number;
  totalBytes: number;
  contextWindow: number;
}

/** KV cache precision on the CPU path: float32 for q0f32 (exact against float32 references), f16 otherwise, as our engine. */
export function cpuKvDtype(q: Quantization): 'f32' | 'f16' {
  return defaultKvDtype(q);
}

export function cpuMemoryNeeds(c: ModelConfig, quantization: Quantization, contextWindow: number): CpuMemoryNeeds {
  const weightBytes = ggufWeightBytes(c, quantization);
  const kvBytesPerToken = 2 * c.numLayers * c.numKvHeads * c.headDim * (cpuKvDtype(quantization) === 'f32' ? 4 : 2);
  const kvCacheBytes = kvBytesPerToken * contextWindow;
  // One batch of activations: logits, attention scores over the window, and the widest layer activations.
  const computeBytes = CPU_BATCH_TOKENS * 4 * (c.vocabSize + c.numHeads * contextWindow + 4 * c.hiddenSize + 3 * c.intermediateSize);
  return { weightBytes, kvCacheBytes, computeBytes, totalBytes: weightBytes + kvCacheBytes + computeBytes + RUNTIME_BYTES, contextWindow };
}

/**
 * The context window the CPU path loads `c` with: the one asked for (or the model's), checked against
 * the 4 GiB limit; without an explicit request, the largest window that fits. Throws
 * CpuUnavailableError with the numbers when nothing from MIN_CPU_CONTEXT up fits.
 */
export function cpuContextWindow(c: ModelConfig, quantization: Quantization, requested: number | undefined, limitBytes = WASM_MEMORY_LIMIT_BYTES): CpuMemoryNeeds {
  const wanted = Math.min(requested ?? c.contextWindow, c.contextWindow);
  const needs = cpuMemoryNeeds(c, quantization, wanted);
  if (needs.totalBytes <= limitBytes) return needs;
  let lo = Math.min(MIN_CPU_CONTEXT, wanted);
  let hi = wanted;
  const fits = (n: number) => cpuMemoryNeeds(c, quantization, n).totalBytes <= limitBytes;
  if (fits(lo) && requested === undefined) return cpuMemoryNeeds(c, quantization, largestFitting(fits, lo, hi));
  // Nothing fits without a request: the numbers at the smallest window, the least the model needs.
  const shown = requested === undefined ? cpuMemoryNeeds(c, quantization, lo) : needs;
  const parts = `${formatBytes(shown.weightBytes)} of weights, ${formatBytes(shown.kvCacheBytes)} of KV cache for ${shown.contextWindow} tokens, ${formatBytes(shown.computeBytes)} of compute buffers`;
  const hint = fits(lo)
    ? ` A contextWindow of ${largestFitting(fits, lo, wanted)} tokens or fewer fits.`
    : quantization === 'q0f32'
      ? ' Its 4-bit conversion (q4f16_1) needs about an eighth of the weight memory.'
      : ' Its weights alone are too many for this path: it needs a GPU, or a smaller model.';
  const even = requested === undefined ? ` even with a context window of ${shown.contextWindow} tokens` : '';
  throw new CpuUnavailableError(`The CPU path cannot hold this model: it needs ${formatBytes(shown.totalBytes)}${even} (${parts}), and llama.cpp's wasm memory holds ${formatBytes(limitBytes)}.${hint}`, shown.totalBytes, limitBytes);
}

function largestFitting(fits: (n: number) => boolean, lo: number, hi: number): number {
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** Weight bytes a decode step reads: every matrix but the embedding, of which it reads one row. */
export function cpuDecodeBytesPerToken(c: ModelConfig, quantization: Quantization): number {
  // A tied embedding is the classifier too, read whole every step.
  if (c.tieWordEmbeddings) return ggufWeightBytes(c, quantization);
  const type = isQuantized(quantization) && c.hiddenSize % 32 === 0 ? 'Q4_0' : 'F32';
  return ggufWeightBytes(c, quantization) - ggmlTensorBytes(type, [c.hiddenSize, c.vocabSize]);
}
