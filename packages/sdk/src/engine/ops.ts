/**
 * The operations of the forward pass's step list, and how each becomes GPU dispatches on this
 * device. An op names its input and output buffers; compiling it picks the kernels (by batch size
 * and by what the device supports, see gpu/variants.ts) and binds them once.
 */
import type { ModelConfig } from '../model/config.js';
import type { Dispatch, Kernel, KernelCache, StepShape } from '../gpu/kernel.js';
import type { GpuMatrix, GpuMatrixBand } from '../gpu/weights.js';
import type { KernelChoice } from '../gpu/variants.js';
import type { KvDtype } from '../gpu/kernels/formats.js';
import { attention } from '../gpu/kernels/attention.js';
import { attentionCombine, attentionSplit, type SplitAttentionParams } from '../gpu/kernels/attention_split.js';
import { embedding } from '../gpu/kernels/embedding.js';
import { gemm, gemmFits } from '../gpu/kernels/gemm.js';
import { matmul } from '../gpu/kernels/matmul.js';
import { matvec, type LinearParams } from '../gpu/kernels/matvec.js';
import { BATCH_TMAX, matvecBatch } from '../gpu/kernels/matvec_batch.js';
import { matvecSubgroup, subgroupMatvecFits, type SubgroupMatvecParams } from '../gpu/kernels/matvec_subgroup.js';
import { rmsnorm } from '../gpu/kernels/rmsnorm.js';
import { rope, type HeadParams } from '../gpu/kernels/rope.js';
import { swiglu } from '../gpu/kernels/swiglu.js';

/** One step of the forward pass: what it computes, from which buffers, into which. */
export type Op = { name: string } & (
  | { op: 'embed'; ids: GPUBuffer; table: GpuMatrix; out: GPUBuffer }
  /** out = x / rms(x) · weight, per token (or only the step's last token, into row 0). */
  | { op: 'rmsnorm'; x: GPUBuffer; weight: GPUBuffer; out: GPUBuffer; lastRow?: boolean }
  /** out = W·x, or with `residual` out += W·x (the residual adds of a decoder layer). */
  | { op: 'matmul'; x: GPUBuffer; w: GpuMatrix; out: GPUBuffer; residual?: boolean }
  /** q = RoPE(q part of qkv); the k part rotated and the v part are appended to the caches. */
  | { op: 'rope'; qkv: GPUBuffer; q: GPUBuffer; kCache: GPUBuffer; vCache: GPUBuffer }
  /** out = softmax(q·Kᵀ/√d)·V over the cached positions, causal. */
  | { op: 'attention'; q: GPUBuffer; kCache: GPUBuffer; vCache: GPUBuffer; out: GPUBuffer }
  /** out = silu(gate) · up, from the fused gate|up rows. */
  | { op: 'swiglu'; gateUp: GPUBuffer; out: GPUBuffer }
);

/** What compiling an op needs besides the op: the device's kernels and the model's fixed buffers. */
export interface OpContext {
  kernels: KernelCache;
  choice: KernelChoice;
  config: ModelConfig;
  kvDtype: KvDtype;
  contextWindow: number;
  attentionChunk: number;
  step: GPUBuffer;
  ropeCos: GPUBuffer;
  ropeSin: GPUBuffer;
  /** Scratch for the split decode attention's per-chunk results (shared by every layer). */
  attentionPartials: GPUBuffer;
}

const oneToken = (s: StepShape) => s.tokens === 1;
const smallBatch = (s: StepShape) => s.tokens > 1 && s.tokens <= BATCH_TMAX;
const largeBatch = (s: StepShape) => s.tokens > BATCH_TMAX;

/** The dispatches of `op` (each with the steps it applies to), in order. */
export function compileOp(op: Op, ctx: OpContext): Dispatch[] {
  const { kernels, config: c, step } = ctx;
  const heads: HeadParams = { headDim: c.headDim, numHeads: c.numHeads, numKvHeads: c.numKvHeads, kvDtype: ctx.kvDtype };
  switch (op.op) {
    case 'embed': {
      // One dispatch per band of a split table; each writes the tokens whose rows it holds.
      const t = op.table;
      return t.bands.map((b) => {
        const params = t.bands.length === 1 ? { format: t.format, cols: t.cols } : { format: t.format, cols: t.cols, band: { row0: b.row0, rows: b.rows } };
        return kernels.compile(embedding, params).bind({ ids: op.ids, out: op.out, weights: b.weights, scales: b.scales, step }, op.name);
      });
    }
    case 'rmsnorm':
      return [
        kernels
          .compile(rmsnorm, { hidden: c.hiddenSize, eps: c.rmsNormEps, lastRow: op.lastRow === true })
          .bind({ x: op.x, out: op.out, weight: op.weight, step }, op.name),
      ];
    case 'matmul':
      return linear(op.w, op.x, op.out, op.residual === true, op.name, ctx);
    case 'rope':
      return [
        kernels.compile(rope, heads).bind({ qkv: op.qkv, q: op.q, kCache: op.kCache, vCache: op.vCache, step, cos: ctx.ropeCos, sin: ctx.ropeSin }, op.name),
      ];
    case 'attention': {
      const caches = { q: op.q, kCache: op.kCache, vCache: op.vCache, step };
      if (ctx.choice.decodeAttention === 'per-head') return [kernels.compile(attention, heads).bind({ ...caches, out: op.out }, op.name)];
      const split: SplitAttentionParams = { ...heads, chunk: ctx.attentionChunk, contextWindow: ctx.contextWindow };
      return [
        kernels.compile(attentionSplit, split).bind({ ...caches, partials: ctx.attentionPartials }, op.name, oneToken),
        kernels.compile(attentionCombine, split).bind({ partials: ctx.attentionPartials, out: op.out, step }, op.name, oneToken),
        kernels.compile(attention, heads).bind({ ...caches, out: op.out }, op.name, (s) => s.tokens > 1),
      ];
    }
    case 'swiglu':
      return [kernels.compile(swiglu, { intermediate: c.intermediateSize }).bind({ gateUp: op.gateUp, out: op.out, step }, op.name)];
  }
}

/**
 * y (+)= W·x: one set of dispatches per band of rows of W (one band unless W is larger than the
 * device binds at once), each writing its rows of y.
 */
function linear(w: GpuMatrix, x: GPUBuffer, y: GPUBuffer, residual: boolean, name: string, ctx: OpContext): Dispatch[] {
  if (w.bands.length === 1) {
    const only = w.bands[0]!;
    return linearBand({ format: w.format, rows: w.rows, cols: w.cols, accumulate: residual }, only, x, y, name, ctx);
  }
  return w.bands.flatMap((band) => {
    const p: LinearParams = { format: w.format, rows: band.rows, cols: w.cols, accumulate: residual, outRows: w.rows };
    // The band's outputs start at its first row: y bound from there (band rows are multiples of 64, so
    // the offset is a multiple of 256 bytes, the largest offset alignment WebGPU allows).
    return linearBand(p, band, x, { buffer: y, offset: band.row0 * 4 }, `${name} [rows ${band.row0}..]`, ctx);
  });
}

/**
 * y (+)= W·x for one band of W by batch size: the decode matvec for one token, the batched matvec for
 * 2–8 tokens (weights read once for all), a tiled matrix product beyond. All share one bind group.
 */
function linearBand(p: LinearParams, w: GpuMatrixBand, x: GPUBuffer, y: GPUBuffer | GPUBufferBinding, name: string, ctx: OpContext): Dispatch[] {
  const { kernels, choice } = ctx;
  const fast: SubgroupMatvecParams = { ...p, arithmetic: choice.f16Arithmetic && p.format === 'q4f16' ? 'f16' : 'f32' };
  const decode = choice.decodeMatvec === 'subgroup' && subgroupMatvecFits(fast) ? kernels.compile(matvecSubgroup, fast) : kernels.compile(matvec, p);
  const group = decode.bindGroup({ x, y, weights: w.weights, scales: w.scales, step: ctx.step }, name);
  const shared = (k: Pick<Kernel<unknown, string>, 'layoutKey' | 'descriptor' | 'with'>, when: (s: StepShape) => boolean): Dispatch => {
    if (k.layoutKey !== decode.layoutKey) throw new Error(`${name}: ${k.descriptor.name} does not bind like ${decode.descriptor.name}`);
    return k.with(group, when);
  };
  const dispatches = [decode.with(group, oneToken), shared(kernels.compile(matvecBatch, p), smallBatch)];
  if (choice.prefill === 'gemm' && gemmFits(p)) {
    // 16-token tiles up to 16 tokens (a 32-token tile would be half padding), 32-token tiles beyond.
    dispatches.push(
      shared(kernels.compile(gemm, { ...p, tileTokens: 16 as const }), (s) => largeBatch(s) && s.tokens <= 16),
      shared(kernels.compile(gemm, { ...p, tileTokens: 32 as const }), (s) => s.tokens > 16),
    );
  } else dispatches.push(shared(kernels.compile(matmul, p), largeBatch));
  return dispatches;
}
