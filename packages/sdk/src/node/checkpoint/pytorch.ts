/**
 * Reads PyTorch checkpoints (`torch.save` zip format): the pickle `data.pkl` gives each tensor's
 * storage key, dtype, offset, shape and stride; the storages are stored uncompressed in the zip as
 * `<archive>/data/<key>` and are read straight from disk, one tensor at a time.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { readPickle, type TensorRef } from './pickle.js';
import { DTYPE_BYTES, readRowsAt, type CheckpointReader, type SourceDtype, type TensorEntry } from './tensor-file.js';
import { entryDataOffset, readZipDirectory, type ZipEntry } from './zip.js';

const STORAGE_DTYPES: Record<string, SourceDtype> = {
  FloatStorage: 'float32',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
};

interface Located extends TensorEntry {
  handle: FileHandle;
  entry: ZipEntry;
  offsetBytes: number;
  /** File offset of the tensor's first byte, found on first read. */
  dataOffset?: number;
}

export class PyTorchReader implements CheckpointReader {
  private constructor(private readonly entries: Map<string, Located>, private readonly handles: FileHandle[]) {}

  static async open(files: string[]): Promise<PyTorchReader> {
    const entries = new Map<string, Located>();
    const handles: FileHandle[] = [];
    try {
      for (const file of files) {
        const handle = await open(file, 'r');
        handles.push(handle);
        const zip = await readZipDirectory(handle, file);
        const pklName = [...zip.keys()].find((n) => n.endsWith('/data.pkl') || n === 'data.pkl');
        if (!pklName) throw new Error(`${file}: no data.pkl inside: not a torch.save checkpoint`);
        const prefix = pklName.slice(0, -'data.pkl'.length);
        const pklEntry = zip.get(pklName)!;
        if (pklEntry.method !== 0) throw new Error(`${file}: data.pkl is compressed; torch.save stores it uncompressed`);
        const pkl = Buffer.alloc(pklEntry.size);
        await handle.read(pkl, 0, pkl.length, await entryDataOffset(handle, pklEntry, file));
        const state = readPickle(pkl);
        if (!(state instanceof Map)) throw new Error(`${file}: the pickle is not a state dict`);
        for (const [name, value] of state) {
          const t = value as TensorRef;
          if (!t || typeof t !== 'object' || !('kind' in t) || t.kind !== 'tensor') continue;
          const dtype = STORAGE_DTYPES[t.storage.storageType];
          if (!dtype) throw new Error(`${file}: tensor ${name} has dtype ${t.storage.storageType}, expected Float, Half or BFloat16`);
          let expected = 1;
          for (let d = t.shape.length - 1; d >= 0; d--) {
            if (t.shape[d]! > 1 && t.stride[d] !== expected) throw new Error(`${file}: tensor ${name} is not contiguous`);
            expected *= t.shape[d]!;
          }
          const entry = zip.get(`${prefix}data/${t.storage.key}`);
          if (!entry) throw new Error(`${file}: storage ${t.storage.key} of ${name} is missing (truncated zip?)`);
          if (entry.method !== 0) throw new Error(`${file}: storage of ${name} is compressed`);
          const count = t.shape.reduce((a, b) => a * b, 1);
          const offsetBytes = t.offset * DTYPE_BYTES[dtype];
          if (offsetBytes + count * DTYPE_BYTES[dtype] > entry.size) throw new Error(`${file}: tensor ${name} runs past its storage`);
          entries.set(name, { name, dtype, shape: t.shape, file, handle, entry, offsetBytes });
        }
      }
    } catch (error) {
      await Promise.all(handles.map((h) => h.close()));
      throw error;
    }
    return new PyTorchReader(entries, handles);
  }

  tensors(): TensorEntry[] {
    return [...this.entries.values()].map(({ name, dtype, shape, file }) => ({ name, dtype, shape, file }));
  }

  async readRows(name: string, start: number, count: number): Promise<Float32Array> {
    const t = this.entries.get(name);
    if (!t) throw new Error(`no tensor ${name}`);
    t.dataOffset ??= (await entryDataOffset(t.handle, t.entry, t.file)) + t.offsetBytes;
    return readRowsAt(t.handle, t, t.dataOffset, start, count);
  }

  async close(): Promise<void> {
    await Promise.all(this.handles.map((h) => h.close()));
  }
}
