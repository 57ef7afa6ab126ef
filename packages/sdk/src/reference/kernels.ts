import { f16BitsToF32, f32ToF16Bits } from '../model/half.js';
import { groupsPerRow, MAX_INT, wordsPerRow, type Q4Matrix } from '../model/quant.js';

/**
 * The CPU twin of every GPU kernel, in plain TypeScript: the same arithmetic on the same float32
 * (dequantized) weights, written for clarity. Tests compare each kernel, and the whole forward pass,
 * against these.
 */

/** embedding.wgsl: rows of the table [vocab, H] for each token. */
export function embedding(table: Float32Array, H: number, tokens: readonly number[]): Float32Array {
  const out = new Float32Array(tokens.length * H);
  tokens.forEach((id, t) => out.set(table.subarray(id * H, (id + 1) * H), t * H));
  return out;
}

/** rmsnorm.wgsl: per row, x / sqrt(mean(x²) + eps) · weight. */
export function rmsNorm(x: Float32Array, weight: Float32Array, eps: number): Float32Array {
  const H = weight.length;
  const out = new Float32Array(x.length);
  for (let base = 0; base < x.length; base += H) {
    let ss = 0;
    for (let k = 0; k < H; k++) ss += x[base + k]! * x[base + k]!;
    const inv = 1 / Math.sqrt(ss / H + eps);
    for (let k = 0; k < H; k++) out[base + k] = weight[k]! * (inv * x[base + k]!);
  }
  return out;
}

/**
 * Every matrix-product kernel (matvec, matvec_batch, matvec_subgroup in f32, matmul, gemm):
 * Y[t, n] = Σ_k X[t, k] · W[n, k], W row-major [N, K]. The kernels differ only in summation order.
 */
export function matmul(x: Float32Array, w: Float32Array, N: number, K: number): Float32Array {
  const T = x.length / K;
  const y = new Float32Array(T * N);
  for (let t = 0; t < T; t++) {
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += x[t * K + k]! * w[n * K + k]!;
      y[t * N + n] = acc;
    }
  }
  return y;
}

export interface HeadShape {
  headDim: number;
  numHeads: number;
  numKvHeads: number;
}

/**
 * rope.wgsl: rotate-half RoPE on the q and k parts of q|k|v rows; returns rotated q and appends
 * rotated k and plain v into the caches ([context, numKvHeads · headDim]) at startPos….
 */
export function ropeAndCache(
  qkv: Float32Array,
  s: HeadShape,
  startPos: number,
  cos: Float32Array,
  sin: Float32Array,
  kCache: Float32Array,
  vCache: Float32Array,
  kvDtype: 'f32' | 'f16' = 'f32',
): Float32Array {
  // A half-float cache (kv_store_f16.wgsl) keeps each value rounded to f16.
  const store = kvDtype === 'f16' ? (x: number) => f16BitsToF32(f32ToF16Bits(x)) : (x: number) => x;
  const { headDim, numHeads, numKvHeads } = s;
  const half = headDim / 2;
  const width = (numHeads + 2 * numKvHeads) * headDim;
  const T = qkv.length / width;
  const kvWidth = numKvHeads * headDim;
  const q = new Float32Array(T * numHeads * headDim);
  const rotate = (src: number, dst: Float32Array, dstBase: number, pos: number, round: (x: number) => number) => {
    for (let j = 0; j < half; j++) {
      const x1 = qkv[src + j]!;
      const x2 = qkv[src + j + half]!;
      const c = cos[pos * half + j]!;
      const sn = sin[pos * half + j]!;
      dst[dstBase + j] = round(x1 * c - x2 * sn);
      dst[dstBase + j + half] = round(x2 * c + x1 * sn);
    }
  };
  for (let t = 0; t < T; t++) {
    const pos = startPos + t;
    const row = t * width;
    for (let h = 0; h < numHeads; h++) rotate(row + h * headDim, q, (t * numHeads + h) * headDim, pos, (x) => x);
    for (let g = 0; g < numKvHeads; g++) {
      rotate(row + (numHeads + g) * headDim, kCache, pos * kvWidth + g * headDim, pos, store);
      const v = row + (numHeads + numKvHeads + g) * headDim;
      for (let d = 0; d < headDim; d++) vCache[pos * kvWidth + g * headDim + d] = store(qkv[v + d]!);
    }
  }
  return q;
}

/** attention.wgsl: causal softmax(q·kᵀ/√d)·v per head; token t of the batch sits at startPos + t. */
export function attention(
  q: Float32Array,
  s: HeadShape,
  startPos: number,
  kCache: Float32Array,
  vCache: Float32Array,
): Float32Array {
  const { headDim, numHeads, numKvHeads } = s;
  const T = q.length / (numHeads * headDim);
  const kvWidth = numKvHeads * headDim;
  const group = numHeads / numKvHeads;
  const out = new Float32Array(q.length);
  const scale = 1 / Math.sqrt(headDim);
  for (let t = 0; t < T; t++) {
    const keys = startPos + t + 1;
    for (let h = 0; h < numHeads; h++) {
      const qBase = (t * numHeads + h) * headDim;
      const kv = Math.floor(h / group) * headDim;
      const scores = new Float64Array(keys);
      let max = -Infinity;
      for (let j = 0; j < keys; j++) {
        let dot = 0;
        for (let d = 0; d < headDim; d++) dot += q[qBase + d]! * kCache[j * kvWidth + kv + d]!;
        scores[j] = dot * scale;
        max = Math.max(max, scores[j]!);
      }
      let sum = 0;
      for (let j = 0; j < keys; j++) {
        scores[j] = Math.exp(scores[j]! - max);
        sum += scores[j]!;
      }
      for (let d = 0; d < headDim; d++) {
        let acc = 0;
        for (let j = 0; j < keys; j++) acc += scores[j]! * vCache[j * kvWidth + kv + d]!;
        out[qBase + d] = acc / sum;
      }
    }
  }
  return out;
}

/** swiglu.wgsl: silu(gate) · up, with gate_up rows laid out [gate (I) | up (I)]. */
export function swiglu(gateUp: Float32Array, I: number): Float32Array {
  const T = gateUp.length / (2 * I);
  const out = new Float32Array(T * I);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < I; i++) {
      const g = gateUp[t * 2 * I + i]!;
      out[t * I + i] = (g / (1 + Math.exp(-g))) * gateUp[t * 2 * I + I + i]!;
    }
  }
  return out;
}

/** argmax.wgsl's twin: the index of the largest value, the lowest among equals. */
export { argmax } from '../model/arrays.js';

/** x += y, element by element (the residual adds that the GPU fuses into its projections). */
export function addInPlace(x: Float32Array, y: Float32Array): void {
  for (let i = 0; i < x.length; i++) x[i]! += y[i]!;
}

/** Rounds to the nearest IEEE half (ties to even), as f16 arithmetic rounds each result. */
export function roundF16(x: number): number {
  return f16BitsToF32(f32ToF16Bits(x));
}

/**
 * matvec_subgroup.wgsl with f16 arithmetic (q4f16 weights, shader-f16): x is rounded to half; each
 * group's 32 columns are eight four-term dots computed in half precision (every product and every
 * partial sum rounded to half, in index order); the eight dots add up in f32 and the group's scale
 * multiplies in f32. A GPU may fuse or reorder within a dot, so results agree to a few half ulps of
 * each dot, not bit for bit.
 */
export function matvecQ4F16(x: Float32Array, m: Q4Matrix): Float32Array {
  const words = wordsPerRow(m.cols);
  const groups = groupsPerRow(m.cols);
  const xh = Float32Array.from({ length: groups * 32 }, (_, k) => (k < m.cols ? roundF16(x[k]!) : 0));
  const f = Math.fround;
  const y = new Float32Array(m.rows);
  for (let n = 0; n < m.rows; n++) {
    let acc = 0;
    for (let g = 0; g < groups; g++) {
      let s = 0;
      for (let quad = 0; quad < 8; quad++) {
        let d = 0;
        for (let j = 0; j < 4; j++) {
          const k = g * 32 + quad * 4 + j;
          const code = ((m.qWeight[n * words + (k >>> 3)]! >>> ((k & 7) * 4)) & 0xf) - MAX_INT;
          d = roundF16(d + roundF16(code * xh[k]!));
        }
        s = f(s + d);
      }
      acc = f(acc + f(s * m.scales[n * groups + g]!));
    }
    y[n] = acc;
  }
  return y;
}

/**
 * attention_split.wgsl for one query token at position `pos`: per head and chunk of `chunk` keys,
 * [Σ_j e^(s_j - m)·v_j (headDim values), m, Σ_j e^(s_j - m)], laid out [heads, maxChunks, headDim + 2];
 * chunks past the last key are left as zeros.
 */
export function attentionPartials(
  q: Float32Array,
  s: HeadShape,
  pos: number,
  kCache: Float32Array,
  vCache: Float32Array,
  chunk: number,
  maxChunks: number,
): Float32Array {
  const { headDim, numHeads, numKvHeads } = s;
  const kvWidth = numKvHeads * headDim;
  const group = numHeads / numKvHeads;
  const stride = headDim + 2;
  const out = new Float32Array(numHeads * maxChunks * stride);
  const scale = 1 / Math.sqrt(headDim);
  const keys = pos + 1;
  for (let h = 0; h < numHeads; h++) {
    const kv = Math.floor(h / group) * headDim;
    for (let c = 0; c * chunk < keys; c++) {
      const first = c * chunk;
      const count = Math.min(chunk, keys - first);
      const scores = new Float64Array(count);
      let max = -Infinity;
      for (let i = 0; i < count; i++) {
        let dot = 0;
        for (let d = 0; d < headDim; d++) dot += q[h * headDim + d]! * kCache[(first + i) * kvWidth + kv + d]!;
        scores[i] = dot * scale;
        max = Math.max(max, scores[i]!);
      }
      let sum = 0;
      for (let i = 0; i < count; i++) {
        scores[i] = Math.exp(scores[i]! - max);
        sum += scores[i]!;
      }
      const base = (h * maxChunks + c) * stride;
      for (let d = 0; d < headDim; d++) {
        let acc = 0;
        for (let i = 0; i < count; i++) acc += scores[i]! * vCache[(first + i) * kvWidth + kv + d]!;
        out[base + d] = acc;
      }
      out[base + headDim] = max;
      out[base + headDim + 1] = sum;
    }
  }
  return out;
}

/** attention_combine.wgsl: merges the first `chunks` partials of each head into [heads · headDim]. */
export function attentionCombine(partials: Float32Array, numHeads: number, headDim: number, chunks: number, maxChunks: number): Float32Array {
  const stride = headDim + 2;
  const out = new Float32Array(numHeads * headDim);
  for (let h = 0; h < numHeads; h++) {
    const at = (c: number, i: number) => partials[(h * maxChunks + c) * stride + i]!;
    let max = -Infinity;
    for (let c = 0; c < chunks; c++) max = Math.max(max, at(c, headDim));
    let sum = 0;
    for (let c = 0; c < chunks; c++) sum += Math.exp(at(c, headDim) - max) * at(c, headDim + 1);
    for (let d = 0; d < headDim; d++) {
      let acc = 0;
      for (let c = 0; c < chunks; c++) acc += Math.exp(at(c, headDim) - max) * at(c, d);
      out[h * headDim + d] = acc / sum;
    }
  }
  return out;
}

/** stream_read.wgsl: thread `id` of `threads` sums (mod 2³²) the u32s of vec4 words id, id + threads, … (perThread of them). */
export function streamReadSums(data: Uint32Array, threads: number, perThread: number): Uint32Array {
  const words = data.length / 4;
  const out = new Uint32Array(threads);
  for (let id = 0; id < threads; id++) {
    let acc = 0;
    for (let i = 0; i < perThread; i++) {
      const j = id + i * threads;
      if (j < words) for (let c = 0; c < 4; c++) acc = (acc + data[j * 4 + c]!) >>> 0;
    }
    out[id] = acc;
  }
  return out;
}

/** fill_random.wgsl's hash: the PCG output permutation of a 32-bit LCG step. */
export function pcgHash(v: number): number {
  const state = (Math.imul(v, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** fill_random.wgsl: `count` u32 words: raw hashes, two f16 in [lo, hi) packed, or one f32 in [lo, hi). */
export function fillRandomWords(mode: 'bits' | 'f16' | 'f32', seed: number, lo: number, hi: number, count: number): Uint32Array {
  const f = Math.fround;
  const out = new Uint32Array(count);
  const value = (v: number) => f(f(lo) + f(f(f(hi) - f(lo)) * f((pcgHash(v) >>> 8) / 16777216)));
  const f32 = new Float32Array(1);
  const bits = new Uint32Array(f32.buffer);
  for (let i = 0; i < count; i++) {
    const s = (i * 2 + seed) >>> 0;
    if (mode === 'bits') out[i] = pcgHash(s);
    else if (mode === 'f16') out[i] = (f32ToF16Bits(value(s)) | (f32ToF16Bits(value((s + 1) >>> 0)) << 16)) >>> 0;
    else {
      f32[0] = value(s);
      out[i] = bits[0]!;
    }
  }
  return out;
}

/** The logit token_mask.wgsl gives a disallowed token: the lowest finite float32. */
export const MASKED_LOGIT = -3.4028234663852886e38;

/** token_mask.wgsl: every token whose bit is clear in `mask` (bit id & 31 of word id >> 5) gets MASKED_LOGIT, in place. */
export function applyTokenMask(logits: Float32Array, mask: Uint32Array): void {
  for (let id = 0; id < logits.length; id++) {
    if (((mask[id >>> 5]! >>> (id & 31)) & 1) === 0) logits[id] = MASKED_LOGIT;
  }
}
