/** What every checkpoint reader offers: tensor metadata, and one tensor's values on demand. */
import { bf16ArrayToF32, f16ArrayToF32 } from '../../model/half.js';

export type SourceDtype = 'float32' | 'float16' | 'bfloat16';

export interface TensorEntry {
  name: string;
  dtype: SourceDtype;
  shape: number[];
  /** The file holding the bytes, for error messages. */
  file: string;
}

export interface CheckpointReader {
  tensors(): TensorEntry[];
  /** The tensor's values as float32 (read from disk on demand; nothing else is kept). */
  read(name: string): Promise<Float32Array>;
  close(): Promise<void>;
}

export const DTYPE_BYTES: Record<SourceDtype, number> = { float32: 4, float16: 2, bfloat16: 2 };

/** Decodes little-endian bytes of `dtype` to float32. */
export function toFloat32(bytes: Uint8Array, dtype: SourceDtype): Float32Array {
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  if (dtype === 'float32') return new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4).slice();
  const halves = new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 2);
  return dtype === 'bfloat16' ? bf16ArrayToF32(halves) : f16ArrayToF32(halves);
}
