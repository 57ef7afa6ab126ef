/**
 * What a model needs from a GPU, computed from its config alone (before anything is downloaded), and
 * whether an adapter provides it. One source of truth: the forward pass allocates exactly the
 * buffers `runStateBuffers` lists, the weights are the tensors `paramSpecs` lists, and
 * `requestModelDevice` asks for exactly the limits `checkAdapter` derives from them.
 */
import { qkvSize, type ModelConfig } from '../model/config.js';
import { paramSpecs, quantizedNames } from '../model/params.js';
import { defaultKvDtype, groupsPerRow, isQuantized, wordsPerRow, type Quantization } from '../model/quant.js';
import { DEFAULT_CHUNK, maxChunks } from './kernels/attention_split.js';
import { GEMM_TILE_N, GEMM_TILE_T } from './kernels/gemm.js';
import { ADJUSTMENT_BYTES } from './kernels/logit_processor.js';
import { kvBytes, type KvDtype } from './kernels/formats.js';

/**
 * The WebGPU limits a model depends on (names as in GPUSupportedLimits; spelled out so this module
 * needs no WebGPU types and a page can check a model before it has WebGPU at all).
 */
export type LimitName =
  | 'maxStorageBufferBindingSize'
  | 'maxBufferSize'
  | 'maxStorageBuffersPerShaderStage'
  | 'maxComputeWorkgroupStorageSize'
  | 'maxComputeInvocationsPerWorkgroup'
  | 'maxComputeWorkgroupSizeX';

/** Adapter features the engine uses when present. */
export type OptionalFeature = 'subgroups' | 'shader-f16';

const align4 = (bytes: number) => Math.max(4, Math.ceil(bytes / 4) * 4);

/** One kind of GPU buffer the model needs: `count` buffers of `bytes` each. */
export interface GpuBufferNeed {
  name: string;
  bytes: number;
  count: number;
  /** What the size depends on, for advice when it does not fit. */
  scales: 'weights' | 'context' | 'batch' | 'fixed';
  /**
   * Weight matrices only: the bytes of one row (of the matrix's larger buffer, its 4-bit codes). A
   * matrix larger than a binding may hold is split into bands of rows, each in its own buffers
   * (splitRows), so it needs only SPLIT_ROW_ALIGN rows' worth of binding.
   */
  rowBytes?: number;
  /** Weight matrices only: their rows. */
  rows?: number;
}

/**
 * Bands of a split matrix start at multiples of this many rows: a band's outputs are bound at an
 * offset of its first row × 4 bytes, and 256 bytes is the largest minStorageBufferOffsetAlignment
 * WebGPU allows an adapter.
 */
export const SPLIT_ROW_ALIGN = 64;

/** A band of consecutive rows of a matrix: rows row0 … row0 + rows − 1. */
export interface RowBand {
  row0: number;
  rows: number;
}

/**
 * How a [rows, …] matrix with `rowBytes` per row is held in buffers of at most `maxBytes`: one band
 * when it fits, else the fewest bands of near-equal size (multiples of SPLIT_ROW_ALIGN rows, the last
 * one shorter). Throws when not even SPLIT_ROW_ALIGN rows fit.
 */
export function splitRows(rows: number, rowBytes: number, maxBytes: number): RowBand[] {
  if (align4(rows * rowBytes) <= maxBytes) return [{ row0: 0, rows }];
  const maxRows = Math.floor(maxBytes / rowBytes / SPLIT_ROW_ALIGN) * SPLIT_ROW_ALIGN;
  if (maxRows === 0) throw new RangeError(`a band of ${SPLIT_ROW_ALIGN} rows of ${rowBytes} bytes exceeds the ${maxBytes}-byte buffer limit`);
  const count = Math.ceil(rows / maxRows);
  const band = Math.ceil(rows / count / SPLIT_ROW_ALIGN) * SPLIT_ROW_ALIGN;
  const bands: RowBand[] = [];
  for (let row0 = 0; row0 < rows; row0 += band) bands.push({ row0, rows: Math.min(band, rows - row0) });
  return bands;
}

/** The bytes a buffer needs at the least: all of it, or for a weight matrix one band of SPLIT_ROW_ALIGN rows. */
function leastBytes(b: GpuBufferNeed): number {
  return b.rowBytes === undefined ? b.bytes : Math.min(b.bytes, SPLIT_ROW_ALIGN * b.rowBytes);
}

export interface RequirementOptions {
  /** KV cache length in tokens (default: the model's context window). */
  contextWindow?: number;
  /** Most prompt tokens run in one batch (default 512, at most the context window). */
  maxBatchTokens?: number;
  /** KV cache precision (default: the quantization's, see defaultKvDtype). */
  kvDtype?: KvDtype;
  /** Also the buffers for reading back every position's logits (tests, scoring). */
  allLogits?: boolean;
  /** Keys per workgroup of the split decode attention. */
  attentionChunk?: number;
}

export interface ModelGpuRequirements {
  config: ModelConfig;
  quantization: Quantization;
  contextWindow: number;
  maxBatchTokens: number;
  kvDtype: KvDtype;
  buffers: GpuBufferNeed[];
  /** The largest single buffer (a weight matrix larger than the adapter allows is split by rows). */
  largestBuffer: GpuBufferNeed;
  /**
   * The buffer that sets the least maxBufferSize and maxStorageBufferBindingSize the model can run
   * with: the largest that cannot be split (KV cache, activations, tables), or one band of the
   * widest weight matrix's rows where that is larger.
   */
  bindingNeed: GpuBufferNeed;
  /** Sum of every buffer: the GPU memory the loaded model occupies. */
  totalBytes: number;
  /** Limits beyond buffer sizes, at their needed values. */
  limits: Partial<Record<LimitName, number>>;
  /** Features used when the adapter has them (never required). */
  optionalFeatures: OptionalFeature[];
}

/**
 * The GPU buffers of each stored tensor, by name, as GpuWeights.upload creates them before any split;
 * a matrix's buffers carry the row bytes of its widest buffer, by which all of them split alike.
 */
export function weightBuffers(config: ModelConfig, quantization: Quantization): { name: string; bytes: number; rowBytes?: number; rows?: number }[] {
  const out: { name: string; bytes: number; rowBytes?: number; rows?: number }[] = [];
  for (const spec of paramSpecs(config)) {
    const count = spec.shape.reduce((a, b) => a * b, 1);
    const [rows, cols] = spec.shape as [number, number | undefined];
    if (!spec.quantizable || !isQuantized(quantization)) {
      // Float tensors are widened to float32.
      out.push({ name: spec.name, bytes: align4(count * 4), ...(cols === undefined ? {} : { rowBytes: matrixRowBytes('f32', cols), rows }) });
      continue;
    }
    const names = quantizedNames(spec.name);
    const rowBytes = matrixRowBytes('q4', cols!);
    out.push({ name: names.qWeight, bytes: rows * wordsPerRow(cols!) * 4, rowBytes, rows });
    out.push({ name: names.qScale, bytes: align4(rows * groupsPerRow(cols!) * (quantization === 'q4f16_1' ? 2 : 4)), rowBytes, rows });
  }
  return out;
}

/** Bytes of one row of a matrix's widest buffer: float32 values, or 4-bit codes (wider than their scales). */
export function matrixRowBytes(storage: 'f32' | 'q4', cols: number): number {
  return storage === 'f32' ? cols * 4 : wordsPerRow(cols) * 4;
}

/** Byte sizes of the forward pass's own buffers (activations, KV cache, tables), by role. */
export interface RunStateSizes {
  tokenIds: number;
  x: number;
  xb: number;
  qkv: number;
  q: number;
  att: number;
  gateUp: number;
  act: number;
  xbLast: number;
  logits: number;
  argmax: number;
  attentionPartials: number;
  ropeTable: number;
  kvCache: number;
  logitAdjustments: number;
  allLogits: number;
}

export function runStateSizes(
  c: ModelConfig,
  contextWindow: number,
  maxBatchTokens: number,
  kvDtype: KvDtype,
  attentionChunk = DEFAULT_CHUNK,
): RunStateSizes {
  const T = maxBatchTokens;
  const attnWidth = c.numHeads * c.headDim;
  return {
    tokenIds: align4(T * 4),
    x: T * c.hiddenSize * 4,
    xb: T * c.hiddenSize * 4,
    qkv: T * qkvSize(c) * 4,
    q: T * attnWidth * 4,
    att: T * attnWidth * 4,
    gateUp: T * 2 * c.intermediateSize * 4,
    act: T * c.intermediateSize * 4,
    xbLast: c.hiddenSize * 4,
    logits: c.vocabSize * 4,
    argmax: 4,
    attentionPartials: c.numHeads * maxChunks({ chunk: attentionChunk, contextWindow }) * (c.headDim + 2) * 4,
    ropeTable: contextWindow * (c.headDim / 2) * 4,
    kvCache: align4(contextWindow * c.numKvHeads * c.headDim * kvBytes(kvDtype)),
    logitAdjustments: 256 * ADJUSTMENT_BYTES,
    allLogits: T * c.vocabSize * 4,
  };
}

/** Every GPU buffer a model needs for a context window and batch size, and the limits that follow. */
export function modelGpuRequirements(config: ModelConfig, quantization: Quantization, options: RequirementOptions = {}): ModelGpuRequirements {
  const c = config;
  const contextWindow = Math.min(options.contextWindow ?? c.contextWindow, c.contextWindow);
  const maxBatchTokens = Math.max(1, Math.min(options.maxBatchTokens ?? 512, contextWindow));
  const kvDtype = options.kvDtype ?? defaultKvDtype(quantization);
  const s = runStateSizes(c, contextWindow, maxBatchTokens, kvDtype, options.attentionChunk);
  const buffers: GpuBufferNeed[] = weightBuffers(c, quantization).map((w) => ({ ...w, count: 1, scales: 'weights' as const }));
  const add = (name: string, bytes: number, scales: GpuBufferNeed['scales'], count = 1) => buffers.push({ name, bytes, count, scales });
  add('k cache (per layer)', s.kvCache, 'context', c.numLayers);
  add('v cache (per layer)', s.kvCache, 'context', c.numLayers);
  add('rope cos/sin tables', s.ropeTable, 'context', 2);
  add('attention partials', s.attentionPartials, 'context');
  add('token ids', s.tokenIds, 'batch');
  add('hidden (x)', s.x, 'batch');
  add('normed (xb)', s.xb, 'batch');
  add('q|k|v', s.qkv, 'batch');
  add('q (rotated)', s.q, 'batch');
  add('attention out', s.att, 'batch');
  add('gate|up', s.gateUp, 'batch');
  add('swiglu out', s.act, 'batch');
  add('last normed', s.xbLast, 'fixed');
  add('logits (+ readback)', s.logits, 'fixed', 2);
  add('argmax (+ readback)', s.argmax, 'fixed', 2);
  add('logit adjustments', s.logitAdjustments, 'fixed');
  if (options.allLogits) add('all logits (+ readback)', s.allLogits, 'batch', 2);
  const largestBuffer = buffers.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  const bindingNeed = buffers.reduce((a, b) => (leastBytes(b) > leastBytes(a) ? b : a));
  const bindingBytes = leastBytes(bindingNeed);
  const workgroupStorage = Math.max(
    (GEMM_TILE_N + GEMM_TILE_T) * 8 * 16, // gemm.wgsl's staged group (32-token tiles)
    (2 * c.headDim + 2 * 64) * 4, // attention.wgsl
    (c.headDim + (options.attentionChunk ?? DEFAULT_CHUNK) + 64) * 4, // attention_split.wgsl
    32 * 32 * 4 * 2, // matmul.wgsl
  );
  return {
    config: c,
    quantization,
    contextWindow,
    maxBatchTokens,
    kvDtype,
    buffers,
    largestBuffer,
    bindingNeed: bindingBytes === bindingNeed.bytes ? bindingNeed : { ...bindingNeed, name: `${SPLIT_ROW_ALIGN} rows of ${bindingNeed.name}`, bytes: bindingBytes },
    totalBytes: buffers.reduce((n, b) => n + b.bytes * b.count, 0),
    limits: {
      maxStorageBufferBindingSize: bindingBytes,
      maxBufferSize: bindingBytes,
      maxStorageBuffersPerShaderStage: 6, // rope.wgsl: q|k|v, q, k cache, v cache, cos, sin
      maxComputeWorkgroupStorageSize: workgroupStorage,
      maxComputeInvocationsPerWorkgroup: 256, // argmax.wgsl
      maxComputeWorkgroupSizeX: 256,
    },
    optionalFeatures: quantization === 'q4f16_1' ? ['subgroups', 'shader-f16'] : ['subgroups'],
  };
}

/** Bytes of GPU memory a loaded model occupies (weights, KV cache, activations, tables). */
export function gpuMemoryBytes(config: ModelConfig, quantization: Quantization, contextWindow = config.contextWindow, maxBatchTokens = 512): number {
  return modelGpuRequirements(config, quantization, { contextWindow, maxBatchTokens }).totalBytes;
}

/** An adapter as far as fitting a model goes: its limits and features (a GPUAdapter, or plain objects in tests). */
export interface AdapterCapabilities {
  limits: Partial<Record<LimitName, number>>;
  features: Iterable<string>;
}

/** One way the model does not fit, with the numbers. */
export interface LimitProblem {
  limit: LimitName;
  needed: number;
  allowed: number;
  /** The buffer (or kernel) that needs it. */
  what: string;
  message: string;
}

/** A weight matrix held in several buffers because the device binds less than all of it at once. */
export interface SplitMatrix {
  /** The tensor's name as stored (`lm_head.weight`, `lm_head.q_weight`). */
  name: string;
  bytes: number;
  bands: number;
}

export type AdapterFit =
  | {
      ok: true;
      requiredLimits: Record<string, number>;
      features: OptionalFeature[];
      /** Weight matrices larger than the requested binding size: each is split into bands of rows. */
      split: SplitMatrix[];
    }
  | { ok: false; problems: LimitProblem[]; /** Settings that would fit, when changing them can help. */ suggestion: { contextWindow?: number; maxBatchTokens?: number } };

/** WebGPU's default limits for the ones we check: a device gets these unless it asks for more. */
export const DEFAULT_LIMITS: Partial<Record<LimitName, number>> = {
  maxStorageBufferBindingSize: 134217728,
  maxBufferSize: 268435456,
  maxStorageBuffersPerShaderStage: 8,
  maxComputeWorkgroupStorageSize: 16384,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
};

const MB = (bytes: number) => `${(bytes / 1e6).toFixed(bytes < 1e7 ? 1 : 0)} MB`;

function problemsOf(needs: ModelGpuRequirements, adapter: AdapterCapabilities): LimitProblem[] {
  const problems: LimitProblem[] = [];
  for (const [key, needed] of Object.entries(needs.limits) as [LimitName, number][]) {
    const allowed = adapter.limits[key] ?? DEFAULT_LIMITS[key] ?? 0;
    if (needed <= allowed) continue;
    const isBuffer = key === 'maxStorageBufferBindingSize' || key === 'maxBufferSize';
    const what = isBuffer ? needs.bindingNeed.name : 'a kernel';
    const message = isBuffer
      ? `needs a ${MB(needed)} buffer (${what}), this GPU allows ${MB(allowed)} (${key})`
      : `needs ${key} ≥ ${needed}, this GPU allows ${allowed}`;
    problems.push({ limit: key, needed, allowed, what, message });
  }
  return problems;
}

/** The largest value in [1, hi] for which `fits` holds, or 0 (fits is monotone). */
function largestFitting(hi: number, fits: (n: number) => boolean): number {
  let lo = 0;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi + 1) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * Whether `adapter` can run the model as `needs` describes: the limits to request (and the optional
 * features it has), or every problem with its numbers and, when a smaller context window or batch
 * would fit, the largest such values.
 */
export function checkAdapter(needs: ModelGpuRequirements, adapter: AdapterCapabilities): AdapterFit {
  const features = new Set(adapter.features);
  const problems = problemsOf(needs, adapter);
  if (problems.length === 0) {
    const requiredLimits: Record<string, number> = {};
    for (const [key, needed] of Object.entries(needs.limits)) requiredLimits[key] = Math.max(needed, DEFAULT_LIMITS[key as LimitName] ?? 0);
    // Buffer limits: as much as helps, up to what the adapter allows — whole matrices where it can
    // bind them, bands of rows where it cannot.
    for (const key of ['maxStorageBufferBindingSize', 'maxBufferSize'] as const) {
      const allowed = adapter.limits[key] ?? DEFAULT_LIMITS[key]!;
      requiredLimits[key] = Math.max(requiredLimits[key]!, Math.min(needs.largestBuffer.bytes, allowed));
    }
    const bindable = Math.min(requiredLimits['maxStorageBufferBindingSize']!, requiredLimits['maxBufferSize']!);
    const split = needs.buffers
      .filter((b) => b.rowBytes !== undefined && b.rows !== undefined && b.bytes > bindable)
      .map((b) => ({ name: b.name, bytes: b.bytes, bands: splitRows(b.rows!, b.rowBytes!, bindable).length }));
    return { ok: true, requiredLimits, features: needs.optionalFeatures.filter((f) => features.has(f)), split };
  }
  const { config, quantization, kvDtype } = needs;
  const allLogits = needs.buffers.some((b) => b.name.startsWith('all logits'));
  const fitsWith = (contextWindow: number, maxBatchTokens: number) =>
    problemsOf(modelGpuRequirements(config, quantization, { contextWindow, maxBatchTokens, kvDtype, allLogits }), adapter).length === 0;
  const suggestion: { contextWindow?: number; maxBatchTokens?: number } = {};
  const batch = largestFitting(needs.maxBatchTokens, (t) => fitsWith(needs.contextWindow, t));
  if (batch > 0) suggestion.maxBatchTokens = batch;
  else {
    const context = largestFitting(needs.contextWindow, (n) => fitsWith(n, Math.min(needs.maxBatchTokens, n)));
    if (context > 0) {
      suggestion.contextWindow = context;
      const t = largestFitting(Math.min(needs.maxBatchTokens, context), (b) => fitsWith(context, b));
      if (t < Math.min(needs.maxBatchTokens, context)) suggestion.maxBatchTokens = t;
    }
  }
  const advice = [
    suggestion.contextWindow !== undefined ? `contextWindow ≤ ${suggestion.contextWindow}` : '',
    suggestion.maxBatchTokens !== undefined ? `maxBatchTokens ≤ ${suggestion.maxBatchTokens}` : '',
  ].filter(Boolean);
  for (const p of problems) {
    if (advice.length > 0) p.message += `; try ${advice.join(' and ')}`;
    else if (needs.bindingNeed.scales === 'weights') p.message += '; no smaller setting helps (it is a weight tensor)';
  }
  return { ok: false, problems, suggestion };
}
