/**
 * Reads `*.safetensors`: an 8-byte little-endian header length, a JSON header mapping names to
 * {dtype, shape, data_offsets}, then the raw bytes. Tensors are read one at a time from disk.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { DTYPE_BYTES, readRowsAt, type CheckpointReader, type SourceDtype, type TensorEntry } from './tensor-file.js';

const DTYPES: Record<string, SourceDtype> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

interface Located extends TensorEntry {
  handle: FileHandle;
  begin: number;
  end: number;
}

export class SafetensorsReader implements CheckpointReader {
  private constructor(private readonly entries: Map<string, Located>, private readonly handles: FileHandle[]) {}

  /** Opens one or more safetensors files (the shards of one checkpoint). */
  static async open(files: string[]): Promise<SafetensorsReader> {
    const entries = new Map<string, Located>();
    const handles: FileHandle[] = [];
    try {
      for (const file of files) {
        const handle = await open(file, 'r');
        handles.push(handle);
        const { size } = await handle.stat();
        const lengthBytes = Buffer.alloc(8);
        await handle.read(lengthBytes, 0, 8, 0);
        const headerLength = Number(lengthBytes.readBigUInt64LE(0));
        if (size < 8 || headerLength > size - 8 || headerLength > 100 * 1024 * 1024) throw new Error(`${file}: not a safetensors file (bad header length)`);
        const headerBytes = Buffer.alloc(headerLength);
        await handle.read(headerBytes, 0, headerLength, 8);
        let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
        try {
          header = JSON.parse(headerBytes.toString('utf8'));
        } catch {
          throw new Error(`${file}: not a safetensors file (header is not JSON)`);
        }
        const dataStart = 8 + headerLength;
        for (const [name, t] of Object.entries(header)) {
          if (name === '__metadata__') continue;
          const dtype = DTYPES[t.dtype];
          if (!dtype) throw new Error(`${file}: tensor ${name} has dtype ${t.dtype}, expected F32, F16 or BF16`);
          const [b, e] = t.data_offsets;
          const count = t.shape.reduce((x, y) => x * y, 1);
          if (e - b !== count * DTYPE_BYTES[dtype]) throw new Error(`${file}: tensor ${name}: ${e - b} bytes for shape [${t.shape}]`);
          if (dataStart + e > size) throw new Error(`${file}: truncated: tensor ${name} ends past the end of the file`);
          entries.set(name, { name, dtype, shape: t.shape, file, handle, begin: dataStart + b, end: dataStart + e });
        }
      }
    } catch (error) {
      await Promise.all(handles.map((h) => h.close()));
      throw error;
    }
    return new SafetensorsReader(entries, handles);
  }

  tensors(): TensorEntry[] {
    return [...this.entries.values()].map(({ name, dtype, shape, file }) => ({ name, dtype, shape, file }));
  }

  async readRows(name: string, start: number, count: number): Promise<Float32Array> {
    const t = this.entries.get(name);
    if (!t) throw new Error(`no tensor ${name}`);
    return readRowsAt(t.handle, t, t.begin, start, count);
  }

  async close(): Promise<void> {
    await Promise.all(this.handles.map((h) => h.close()));
  }
}
