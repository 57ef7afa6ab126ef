/**
 * MLC's 4-bit group quantization (`q4f16_1`, `q4f32_1`) and the unquantized `q0f32`.
 *
 * Groups of 32 along the input dimension, symmetric: scale = max|w| / 7, stored
 * q = clamp(round(w / scale) + 7, 0, 14), dequantized w ≈ (q − 7) · scale. Eight 4-bit values
 * per u32, element j of a word in bits [4j, 4j + 4). Rows whose length is not a multiple of 32 are
 * zero-padded to the next group, as MLC does, so q_weight is [out, ceil(in/32)·4] and
 * q_scale [out, ceil(in/32)].
 */
import { f16BitsToF32, f32ToF16Bits } from './half.js';

/** The quantization schemes we read and write, by MLC's names. */
export type Quantization = 'q0f32' | 'q4f32_1' | 'q4f16_1';
export const QUANTIZATIONS: readonly Quantization[] = ['q0f32', 'q4f32_1', 'q4f16_1'];

export const GROUP_SIZE = 32;
export const MAX_INT = 7;
export const VALUES_PER_WORD = 8;

export function isQuantization(q: string): q is Quantization {
  return (QUANTIZATIONS as readonly string[]).includes(q);
}

/** True when the scheme stores linear and embedding weights as 4-bit groups. */
export function isQuantized(q: Quantization): boolean {
  return q !== 'q0f32';
}

/** dtype of scales and of unquantized float tensors (norm weights) under a scheme. */
export function floatDtypeOf(q: Quantization): 'float16' | 'float32' {
  return q === 'q4f16_1' ? 'float16' : 'float32';
}

/**
 * KV cache precision a scheme implies, as in MLC: half floats with f16 scales (q4f16_1), float32
 * otherwise (q0f32 stays exact against float32 references).
 */
export function defaultKvDtype(q: Quantization): 'f32' | 'f16' {
  return q === 'q4f16_1' ? 'f16' : 'f32';
}

/** A [rows, cols] matrix in 4-bit groups. `scales` are the stored values (already f16-rounded for q4f16_1). */
export interface Q4Matrix {
  rows: number;
  cols: number;
  /** [rows, groupsPerRow(cols) · 4] */
  qWeight: Uint32Array;
  /** [rows, groupsPerRow(cols)] as float32 values */
  scales: Float32Array;
  scaleDtype: 'float16' | 'float32';
}

export function groupsPerRow(cols: number): number {
  return Math.ceil(cols / GROUP_SIZE);
}

export function wordsPerRow(cols: number): number {
  return groupsPerRow(cols) * (GROUP_SIZE / VALUES_PER_WORD);
}

/** Round half to even, as TVM and numpy round. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function storedScale(value: number, dtype: 'float16' | 'float32'): number {
  return dtype === 'float16' ? f16BitsToF32(f32ToF16Bits(value)) : Math.fround(value);
}

/** Quantizes a row-major [rows, cols] float matrix. */
export function quantizeQ4(w: Float32Array, rows: number, cols: number, scaleDtype: 'float16' | 'float32'): Q4Matrix {
  if (w.length !== rows * cols) throw new Error(`quantize: expected ${rows}×${cols} values, got ${w.length}`);
  const groups = groupsPerRow(cols);
  const words = wordsPerRow(cols);
  const qWeight = new Uint32Array(rows * words);
  const scales = new Float32Array(rows * groups);
  for (let r = 0; r < rows; r++) {
    const row = r * cols;
    for (let g = 0; g < groups; g++) {
      const start = g * GROUP_SIZE;
      const end = Math.min(start + GROUP_SIZE, cols);
      let maxAbs = 0;
      for (let k = start; k < end; k++) maxAbs = Math.max(maxAbs, Math.abs(w[row + k]!));
      const scale = storedScale(maxAbs / MAX_INT, scaleDtype);
      scales[r * groups + g] = scale;
      for (let k = start; k < start + GROUP_SIZE; k++) {
        // Padding past `cols` stores q = 7, which dequantizes to exactly 0.
        const value = k < end && scale > 0 ? w[row + k]! / scale : 0;
        const q = Math.min(2 * MAX_INT, Math.max(0, roundHalfEven(value) + MAX_INT));
        const word = r * words + (k >>> 3);
        qWeight[word] = (qWeight[word]! | (q << ((k & 7) * 4))) >>> 0;
      }
    }
  }
  return { rows, cols, qWeight, scales, scaleDtype };
}

/** The 4-bit code of element (r, k). */
export function q4Code(m: Q4Matrix, r: number, k: number): number {
  return (m.qWeight[r * wordsPerRow(m.cols) + (k >>> 3)]! >>> ((k & 7) * 4)) & 0xf;
}

/** Dequantizes back to a row-major [rows, cols] float32 matrix (the values the GPU computes with). */
export function dequantizeQ4(m: Q4Matrix): Float32Array {
  const out = new Float32Array(m.rows * m.cols);
  const groups = groupsPerRow(m.cols);
  for (let r = 0; r < m.rows; r++) {
    for (let k = 0; k < m.cols; k++) {
      out[r * m.cols + k] = Math.fround((q4Code(m, r, k) - MAX_INT) * m.scales[r * groups + (k >>> 5)]!);
    }
  }
  return out;
}
