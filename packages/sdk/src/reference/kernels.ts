import { f16BitsToF32, f32ToF16Bits } from '../model/half.js';

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

/** matvec.wgsl / matmul.wgsl: Y[t, n] = Σ_k X[t, k] · W[n, k], W row-major [N, K]. */
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
