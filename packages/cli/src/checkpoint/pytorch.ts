/**
 * Reads PyTorch checkpoints (`torch.save` zip format): the pickle `data.pkl` gives each tensor's
 * storage key, dtype, offset, shape and stride; the storages are stored uncompressed in the zip as
 * `<archive>/data/<key>` and are read straight from disk, one block of rows at a time.
 */
import { readPickle, type TensorRef } from './pickle.js';
import { DTYPE_BYTES, FileCheckpointReader, type SourceDtype } from './tensor-file.js';
import { entryDataOffset, readZipDirectory } from './zip.js';

const STORAGE_DTYPES: Record<string, SourceDtype> = {
  FloatStorage: 'float32',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
};

export class PyTorchReader extends FileCheckpointReader {
  static async open(files: string[]): Promise<PyTorchReader> {
    const [entries, handles] = await FileCheckpointReader.openFiles(files, async (file, handle, add) => {
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
        const offsetBytes = t.offset * DTYPE_BYTES[dtype];
        if (offsetBytes + expected * DTYPE_BYTES[dtype] > entry.size) throw new Error(`${file}: tensor ${name} runs past its storage`);
        let dataOffset: number | undefined;
        add({
          name,
          dtype,
          shape: t.shape,
          file,
          handle,
          dataOffset: async () => (dataOffset ??= (await entryDataOffset(handle, entry, file)) + offsetBytes),
        });
      }
    });
    return new PyTorchReader(entries, handles);
  }
}
