/** Turns float parameters into the tensors an artifact stores under a quantization scheme, a block of rows at a time. */
import { f32ToF16Bits } from './half.js';
import type { ParamSpec } from './params.js';
import { quantizedNames } from './params.js';
import { floatDtypeOf, groupsPerRow, isQuantized, quantizeQ4, wordsPerRow, type Quantization } from './quant.js';

export interface StoredTensorMeta {
  name: string;
  shape: number[];
  dtype: 'float32' | 'float16' | 'uint32';
  nbytes: number;
}

/** How one parameter is stored: `.weight` alone, or `.q_weight` followed by `.q_scale`. */
export interface ParamLayout {
  /** The tensor whose bytes are produced row block by row block. */
  main: StoredTensorMeta;
  /** The scales, written after `main` (4-bit schemes only). */
  scales?: StoredTensorMeta;
  /** Encodes a block of whole rows into `main`'s bytes; returns the block's scales too when quantized. */
  encode(rows: Float32Array): { bytes: Uint8Array; scales?: Float32Array };
  /** The bytes of all scales, once every block was encoded. */
  scaleBytes(scales: Float32Array): Uint8Array;
}

export function asBytes(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

export function toF16(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32ToF16Bits(values[i]!);
  return out;
}

export function paramLayout(spec: ParamSpec, quantization: Quantization): ParamLayout {
  const count = spec.shape.reduce((a, b) => a * b, 1);
  const dtype = floatDtypeOf(quantization);
  if (!spec.quantizable || !isQuantized(quantization)) {
    // q0f32 keeps every weight in float32; quantized schemes keep norms in their float dtype.
    const stored = spec.quantizable ? 'float32' : dtype;
    return {
      main: { name: spec.name, shape: spec.shape, dtype: stored, nbytes: count * (stored === 'float16' ? 2 : 4) },
      encode: (rows) => ({ bytes: asBytes(stored === 'float16' ? toF16(rows) : rows) }),
      scaleBytes: () => new Uint8Array(0),
    };
  }
  const [rows, cols] = spec.shape as [number, number];
  const names = quantizedNames(spec.name);
  const groups = groupsPerRow(cols);
  return {
    main: { name: names.qWeight, shape: [rows, wordsPerRow(cols)], dtype: 'uint32', nbytes: rows * wordsPerRow(cols) * 4 },
    scales: { name: names.qScale, shape: [rows, groups], dtype, nbytes: rows * groups * (dtype === 'float16' ? 2 : 4) },
    encode: (block) => {
      const q = quantizeQ4(block, block.length / cols, cols, dtype);
      return { bytes: asBytes(q.qWeight), scales: q.scales };
    },
    scaleBytes: (scales) => asBytes(dtype === 'float16' ? toF16(scales) : scales),
  };
}
