/**
 * Reads `*.safetensors`: an 8-byte little-endian header length, a JSON header mapping names to
 * {dtype, shape, data_offsets}, then the raw bytes. Tensors are read one block of rows at a time.
 */
import { DTYPE_BYTES, FileCheckpointReader, type SourceDtype } from './tensor-file.js';

const DTYPES: Record<string, SourceDtype> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

export class SafetensorsReader extends FileCheckpointReader {
  /** Opens one or more safetensors files (the shards of one checkpoint). */
  static async open(files: string[]): Promise<SafetensorsReader> {
    const [entries, handles] = await FileCheckpointReader.openFiles(files, async (file, handle, add) => {
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
        const [begin, end] = t.data_offsets;
        const count = t.shape.reduce((x, y) => x * y, 1);
        if (end - begin !== count * DTYPE_BYTES[dtype]) throw new Error(`${file}: tensor ${name}: ${end - begin} bytes for shape [${t.shape}]`);
        if (dataStart + end > size) throw new Error(`${file}: truncated: tensor ${name} ends past the end of the file`);
        add({ name, dtype, shape: t.shape, file, handle, dataOffset: async () => dataStart + begin });
      }
    });
    return new SafetensorsReader(entries, handles);
  }
}
