/**
 * Reads PyTorch checkpoints (`torch.save` zip format): the pickle `data.pkl` gives each tensor's
 * storage key, dtype, offset, shape and stride; the storages are stored uncompressed in the zip as
 * `<archive>/data/<key>` and are read straight from disk, one block of rows at a time.
 *
 * Nothing the pickle or the zip directory says is trusted: data.pkl must fit the file (and its
 * CRC-32 must match), and every tensor's offset, shape and stride must describe bytes inside its own
 * storage, so a broken or hostile file fails with a BadCheckpointError instead of becoming weights.
 */
import { crc32 } from 'node:zlib';
import { BadCheckpointError } from '../../../sdk/src/errors.js';
import { readPickle, type TensorRef } from './pickle.js';
import { DTYPE_BYTES, FileCheckpointReader, type SourceDtype } from './tensor-file.js';
import { entryDataOffset, readZipDirectory } from './zip.js';

const STORAGE_DTYPES: Record<string, SourceDtype> = {
  FloatStorage: 'float32',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
};

/** A state dict's pickle is ~100 bytes per tensor; anything near this is not a checkpoint we can use. */
const MAX_PICKLE_BYTES = 256 * 1024 * 1024;

export class PyTorchReader extends FileCheckpointReader {
  static async open(files: string[]): Promise<PyTorchReader> {
    const [entries, handles] = await FileCheckpointReader.openFiles(files, async (file, handle, add) => {
      const fail = (problem: string): never => {
        throw new BadCheckpointError(file, problem);
      };
      const zip = await readZipDirectory(handle, file);
      const pklName = [...zip.keys()].find((n) => n.endsWith('/data.pkl') || n === 'data.pkl');
      if (!pklName) fail('no data.pkl inside: not a torch.save checkpoint');
      const prefix = pklName!.slice(0, -'data.pkl'.length);
      const pklEntry = zip.get(pklName!)!;
      if (pklEntry.method !== 0) fail(`${pklName} is compressed; torch.save stores it uncompressed`);
      if (pklEntry.size > MAX_PICKLE_BYTES) fail(`${pklName} claims ${pklEntry.size} bytes, more than any state dict's`);
      const start = await entryDataOffset(handle, pklEntry, file);
      const pkl = Buffer.alloc(pklEntry.size);
      const { bytesRead } = await handle.read(pkl, 0, pkl.length, start);
      if (bytesRead !== pkl.length) fail(`${pklName} is cut short (truncated file)`);
      if (crc32(pkl) >>> 0 !== pklEntry.crc32 >>> 0) fail(`${pklName} fails its CRC-32 check: the file is corrupt`);
      const state = readPickle(pkl, `${file}: ${pklName}`);
      if (!(state instanceof Map)) fail('the pickle is not a state dict');
      const located = new Map<string, number>(); // storages shared by several tensors are located once
      for (const [name, value] of state as Map<string, unknown>) {
        const t = value as TensorRef;
        if (!t || typeof t !== 'object' || !('kind' in t) || t.kind !== 'tensor') continue;
        const dtype = STORAGE_DTYPES[t.storage.storageType];
        if (!dtype) fail(`tensor ${name} has dtype ${t.storage.storageType}, expected Float, Half or BFloat16`);
        const bytesPer = DTYPE_BYTES[dtype!];
        if (t.offset < 0) fail(`tensor ${name} has a negative storage offset (${t.offset})`);
        if (t.shape.some((d) => d < 0)) fail(`tensor ${name} has a negative dimension in its shape [${t.shape}]`);
        if (t.stride.some((s) => s < 0)) fail(`tensor ${name} has a negative stride (${t.stride})`);
        const entry = zip.get(`${prefix}data/${t.storage.key}`);
        if (!entry) fail(`storage ${t.storage.key} of ${name} is missing (truncated zip?)`);
        if (entry!.method !== 0) fail(`storage of ${name} is compressed`);
        // Dimensions are multiplied only while they still fit the storage, so no product overflows.
        const capacity = entry!.size / bytesPer;
        let elements = t.shape.includes(0) ? 0 : 1;
        for (let d = t.shape.length - 1; d >= 0 && elements > 0 && elements <= capacity; d--) {
          if (t.shape[d]! > 1 && t.stride[d] !== elements) fail(`tensor ${name} is not contiguous`);
          elements *= t.shape[d]!;
        }
        if (t.offset + elements > capacity) {
          fail(`tensor ${name} (shape [${t.shape}] at offset ${t.offset}) runs past its storage ${entry!.name} of ${entry!.size} bytes`);
        }
        // Located now, not on first read: a directory that lies about this storage fails before any conversion.
        let base = located.get(entry!.name);
        if (base === undefined) located.set(entry!.name, (base = await entryDataOffset(handle, entry!, file)));
        const dataOffset = base + t.offset * bytesPer;
        add({ name, dtype: dtype!, shape: t.shape, file, handle, dataOffset: async () => dataOffset });
      }
    });
    return new PyTorchReader(entries, handles);
  }
}
