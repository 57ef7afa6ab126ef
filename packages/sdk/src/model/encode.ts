/** Turns float parameters into the tensors an artifact stores under a quantization scheme. */
import { f32ToF16Bits } from './half.js';
import type { ParamSpec } from './params.js';
import { quantizedNames } from './params.js';
import { floatDtypeOf, groupsPerRow, isQuantized, quantizeQ4, wordsPerRow, type Quantization } from './quant.js';

/** A tensor ready to be written into a shard. */
export interface EncodedTensor {
  name: string;
  shape: number[];
  dtype: 'float32' | 'float16' | 'uint32';
  bytes: Uint8Array;
}

function asBytes(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

function toF16(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32ToF16Bits(values[i]!);
  return out;
}

function floats(name: string, shape: number[], values: Float32Array, dtype: 'float32' | 'float16'): EncodedTensor {
  return { name, shape, dtype, bytes: asBytes(dtype === 'float16' ? toF16(values) : values) };
}

/** The stored tensors of one parameter: `.weight`, or `.q_weight` + `.q_scale` when quantized. */
export function encodeParam(spec: ParamSpec, values: Float32Array, quantization: Quantization): EncodedTensor[] {
  const count = spec.shape.reduce((a, b) => a * b, 1);
  if (values.length !== count) throw new Error(`${spec.name}: ${values.length} values for shape [${spec.shape}]`);
  const dtype = floatDtypeOf(quantization);
  if (!spec.quantizable || !isQuantized(quantization)) {
    // q0f32 keeps every weight in float32; quantized schemes keep norms in their float dtype.
    return [floats(spec.name, spec.shape, values, spec.quantizable ? 'float32' : dtype)];
  }
  const [rows, cols] = spec.shape as [number, number];
  const q = quantizeQ4(values, rows, cols, dtype);
  const names = quantizedNames(spec.name);
  return [
    { name: names.qWeight, shape: [rows, wordsPerRow(cols)], dtype: 'uint32', bytes: asBytes(q.qWeight) },
    floats(names.qScale, [rows, groupsPerRow(cols)], q.scales, dtype),
  ];
}
