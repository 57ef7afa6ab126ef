/**
 * Reads `*.safetensors`: an 8-byte little-endian header length, a JSON header mapping names to
 * {dtype, shape, data_offsets}, then the raw bytes. Tensors are read one block of rows at a time.
 *
 * The header is checked as the format's own reference implementation checks it: offsets are
 * non-negative integers inside the data section, each tensor's byte count matches its shape, and no
 * two tensors share bytes.
 */
import { BadCheckpointError } from '../../../sdk/src/errors.js';
import { DTYPE_BYTES, FileCheckpointReader, type SourceDtype } from './tensor-file.js';

const DTYPES: Record<string, SourceDtype> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

/** Larger than any real header (a few hundred bytes per tensor). */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

export class SafetensorsReader extends FileCheckpointReader {
  /** Opens one or more safetensors files (the shards of one checkpoint). */
  static async open(files: string[]): Promise<SafetensorsReader> {
    const [entries, handles] = await FileCheckpointReader.openFiles(files, async (file, handle, add) => {
      const fail = (problem: string): never => {
        throw new BadCheckpointError(file, problem);
      };
      const { size } = await handle.stat();
      if (size < 8) fail('not a safetensors file (shorter than its 8-byte header length)');
      const lengthBytes = Buffer.alloc(8);
      await handle.read(lengthBytes, 0, 8, 0);
      const headerLength = Number(lengthBytes.readBigUInt64LE(0));
      if (headerLength > size - 8 || headerLength > MAX_HEADER_BYTES) fail('not a safetensors file (bad header length)');
      const headerBytes = Buffer.alloc(headerLength);
      await handle.read(headerBytes, 0, headerLength, 8);
      let header: unknown;
      try {
        header = JSON.parse(headerBytes.toString('utf8'));
      } catch {
        fail('not a safetensors file (header is not JSON)');
      }
      if (!header || typeof header !== 'object' || Array.isArray(header)) fail('not a safetensors file (header is not a JSON object)');
      const dataStart = 8 + headerLength;
      const dataBytes = size - dataStart;
      const spans: { name: string; begin: number; end: number }[] = [];
      for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
        if (name === '__metadata__') continue;
        const t = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
        if (!t || typeof t !== 'object') fail(`tensor ${name}: not an object in the header`);
        const dtype = DTYPES[String(t!.dtype)];
        if (!dtype) fail(`tensor ${name} has dtype ${String(t!.dtype)}, expected F32, F16 or BF16`);
        const shape = t!.shape;
        if (!Array.isArray(shape) || !shape.every(isCount)) fail(`tensor ${name}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
        const offsets = t!.data_offsets;
        if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0]! > offsets[1]!) {
          fail(`tensor ${name}: data_offsets ${JSON.stringify(offsets)} are not two non-negative integers in order`);
        }
        const [begin, end] = offsets as [number, number];
        if (end > dataBytes) fail(`truncated: tensor ${name} ends past the end of the file (data_offsets ${begin}..${end}, ${dataBytes} data bytes)`);
        const count = (shape as number[]).reduce((x, y) => x * y, 1);
        if (end - begin !== count * DTYPE_BYTES[dtype!]) fail(`tensor ${name}: ${end - begin} bytes for shape [${shape as number[]}]`);
        spans.push({ name, begin, end });
        add({ name, dtype: dtype!, shape: shape as number[], file, handle, dataOffset: async () => dataStart + begin });
      }
      spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
      for (let i = 1; i < spans.length; i++) {
        const [a, b] = [spans[i - 1]!, spans[i]!];
        if (b.begin < a.end) fail(`tensors ${a.name} and ${b.name} overlap (data_offsets ${a.begin}..${a.end} and ${b.begin}..${b.end})`);
      }
    });
    return new SafetensorsReader(entries, handles);
  }
}
