/** What every checkpoint reader offers: tensor metadata, and one tensor's values on demand. */
import type { FileHandle } from 'node:fs/promises';
import { BadCheckpointError } from '../../../sdk/src/errors.js';
import { bf16ArrayToF32, f16ArrayToF32 } from '../../../sdk/src/model/half.js';
import { openRegularFile } from '../input-file.js';

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
  /**
   * Rows [start, start + count) of a tensor (its first dimension; a 1-D tensor is one row) as
   * float32, read from disk on demand: nothing else is kept in memory.
   */
  readRows(name: string, start: number, count: number): Promise<Float32Array>;
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

/** Elements per row: the product of all dimensions but the first (a 1-D tensor is a single row). */
export function rowLength(shape: readonly number[]): number {
  return shape.length <= 1 ? (shape[0] ?? 1) : shape.slice(1).reduce((a, b) => a * b, 1);
}

export function rowCount(shape: readonly number[]): number {
  return shape.length <= 1 ? 1 : shape[0]!;
}

/** Reads rows of a contiguous row-major tensor that starts at byte `base` of `handle`. */
export async function readRowsAt(
  handle: { read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }> },
  entry: TensorEntry,
  base: number,
  start: number,
  count: number,
): Promise<Float32Array> {
  const rows = rowCount(entry.shape);
  if (start < 0 || count < 0 || start + count > rows) throw new Error(`${entry.name}: rows ${start}..${start + count} outside 0..${rows}`);
  const rowBytes = rowLength(entry.shape) * DTYPE_BYTES[entry.dtype];
  const bytes = new Uint8Array(count * rowBytes);
  const { bytesRead } = await handle.read(bytes, 0, bytes.byteLength, base + start * rowBytes);
  if (bytesRead !== bytes.byteLength) throw new BadCheckpointError(entry.file, `truncated while reading ${entry.name}`);
  return toFloat32(bytes, entry.dtype);
}

/** A tensor whose bytes lie contiguously in an open file, from an offset found when first needed. */
export interface LocatedTensor extends TensorEntry {
  handle: FileHandle;
  dataOffset(): Promise<number>;
}

/** A checkpoint made of files whose tensors each lie contiguously at a known place. */
export class FileCheckpointReader implements CheckpointReader {
  protected constructor(
    private readonly entries: Map<string, LocatedTensor>,
    private readonly handles: FileHandle[],
  ) {}

  /** Opens every file and lets `index` list its tensors; closes them all if any fails. A name may appear once. */
  protected static async openFiles(
    files: string[],
    index: (file: string, handle: FileHandle, add: (t: LocatedTensor) => void) => Promise<void>,
  ): Promise<[Map<string, LocatedTensor>, FileHandle[]]> {
    const entries = new Map<string, LocatedTensor>();
    const handles: FileHandle[] = [];
    try {
      for (const file of files) {
        // A FIFO or a device among the weight files would block or never end: refused, not read.
        const handle = await openRegularFile(file, (problem) => new BadCheckpointError(file, problem));
        handles.push(handle);
        await index(file, handle, (t) => {
          const earlier = entries.get(t.name);
          // Two copies of one tensor: which one is meant is unknowable, and silently taking either is wrong.
          if (earlier) throw new BadCheckpointError(file, `tensor ${t.name} is also in ${earlier.file}`);
          entries.set(t.name, t);
        });
      }
    } catch (error) {
      await Promise.all(handles.map((h) => h.close()));
      throw error;
    }
    return [entries, handles];
  }

  tensors(): TensorEntry[] {
    return [...this.entries.values()].map(({ name, dtype, shape, file }) => ({ name, dtype, shape, file }));
  }

  async readRows(name: string, start: number, count: number): Promise<Float32Array> {
    const t = this.entries.get(name);
    if (!t) throw new Error(`no tensor ${name}`);
    return readRowsAt(t.handle, t, await t.dataOffset(), start, count);
  }

  async close(): Promise<void> {
    await Promise.all(this.handles.map((h) => h.close()));
  }
}
