/**
 * Writes checkpoints in the format of PyTorch's `torch.save` (a ZIP64 archive holding a protocol-2
 * pickle of an OrderedDict of tensors, and one stored entry per storage), streaming each storage
 * block by block. For benchmarks and converter tests that need checkpoints larger than memory or
 * deliberately broken ones; real PyTorch-made files are in ../shared/reference.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';

export interface TensorToSave {
  name: string;
  shape: number[];
  dtype: 'bfloat16' | 'float16' | 'float32';
  /** Yields the tensor's little-endian bytes, in order. */
  chunks(): AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
}

const STORAGE_CLASS = { bfloat16: 'BFloat16Storage', float16: 'HalfStorage', float32: 'FloatStorage' } as const;
const ELEMENT_BYTES = { bfloat16: 2, float16: 2, float32: 4 } as const;

class PickleWriter {
  private readonly bytes: number[] = [0x80, 2];
  private op(...b: number[]) {
    this.bytes.push(...b);
  }
  private u32(v: number) {
    this.op(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  }
  str(s: string) {
    const b = new TextEncoder().encode(s);
    this.op(0x58);
    this.u32(b.length);
    this.op(...b);
  }
  int(v: number) {
    this.op(0x4a);
    this.u32(v >>> 0);
  }
  global(module: string, name: string) {
    this.op(0x63, ...new TextEncoder().encode(`${module}\n${name}\n`));
  }
  mark() { this.op(0x28); }
  tuple() { this.op(0x74); }
  emptyTuple() { this.op(0x29); }
  reduce() { this.op(0x52); }
  persid() { this.op(0x51); }
  newFalse() { this.op(0x89); }
  setItems() { this.op(0x75); }
  stop() { this.op(0x2e); }
  orderedDict() {
    this.global('collections', 'OrderedDict');
    this.emptyTuple();
    this.reduce();
  }
  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

/** The pickle `torch.save(state_dict)` writes, storages named "0", "1", … in order. */
export function stateDictPickle(tensors: Pick<TensorToSave, 'name' | 'shape' | 'dtype'>[]): Uint8Array {
  const p = new PickleWriter();
  p.orderedDict();
  p.mark();
  tensors.forEach((t, i) => {
    p.str(t.name);
    p.global('torch._utils', '_rebuild_tensor_v2');
    p.mark();
    p.mark();
    p.str('storage');
    p.global('torch', STORAGE_CLASS[t.dtype]);
    p.str(String(i));
    p.str('cpu');
    p.int(t.shape.reduce((a, b) => a * b, 1));
    p.tuple();
    p.persid();
    p.int(0);
    p.mark();
    t.shape.forEach((d) => p.int(d));
    p.tuple();
    p.mark();
    t.shape.forEach((_, d) => p.int(t.shape.slice(d + 1).reduce((a, b) => a * b, 1)));
    p.tuple();
    p.newFalse();
    p.orderedDict();
    p.tuple();
    p.reduce();
  });
  p.setItems();
  p.stop();
  return p.finish();
}

class ZipWriter {
  private offset = 0;
  private readonly central: Buffer[] = [];
  private count = 0;
  constructor(private readonly handle: FileHandle) {}

  private async write(b: Uint8Array) {
    await this.handle.write(b, 0, b.byteLength, this.offset);
    this.offset += b.byteLength;
  }

  /** A stored (uncompressed) entry with ZIP64 sizes, streamed from `chunks`. */
  async add(name: string, chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>) {
    const nameBytes = Buffer.from(name);
    const headerAt = this.offset;
    const local = Buffer.alloc(30 + nameBytes.length + 20);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(45, 4);
    local.writeUInt16LE(0x21, 12); // 1980-01-01
    local.writeUInt32LE(0xffffffff, 18);
    local.writeUInt32LE(0xffffffff, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(20, 28);
    nameBytes.copy(local, 30);
    local.writeUInt16LE(0x0001, 30 + nameBytes.length);
    local.writeUInt16LE(16, 32 + nameBytes.length);
    await this.write(local);
    let crc = 0;
    let size = 0;
    for await (const chunk of chunks) {
      crc = crc32(chunk, crc);
      size += chunk.byteLength;
      await this.write(chunk);
    }
    const patch = Buffer.alloc(4);
    patch.writeUInt32LE(crc >>> 0, 0);
    await this.handle.write(patch, 0, 4, headerAt + 14);
    const sizes = Buffer.alloc(16);
    sizes.writeBigUInt64LE(BigInt(size), 0);
    sizes.writeBigUInt64LE(BigInt(size), 8);
    await this.handle.write(sizes, 0, 16, headerAt + 34 + nameBytes.length);
    const c = Buffer.alloc(46 + nameBytes.length + 28);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(45, 4);
    c.writeUInt16LE(45, 6);
    c.writeUInt16LE(0x21, 14);
    c.writeUInt32LE(crc >>> 0, 16);
    c.writeUInt32LE(0xffffffff, 20);
    c.writeUInt32LE(0xffffffff, 24);
    c.writeUInt16LE(nameBytes.length, 28);
    c.writeUInt16LE(28, 30);
    c.writeUInt32LE(0xffffffff, 42);
    nameBytes.copy(c, 46);
    const x = 46 + nameBytes.length;
    c.writeUInt16LE(0x0001, x);
    c.writeUInt16LE(24, x + 2);
    c.writeBigUInt64LE(BigInt(size), x + 4);
    c.writeBigUInt64LE(BigInt(size), x + 12);
    c.writeBigUInt64LE(BigInt(headerAt), x + 20);
    this.central.push(c);
    this.count++;
  }

  async finish() {
    const cdAt = this.offset;
    for (const c of this.central) await this.write(c);
    const cdSize = this.offset - cdAt;
    const zip64At = this.offset;
    const end64 = Buffer.alloc(56);
    end64.writeUInt32LE(0x06064b50, 0);
    end64.writeBigUInt64LE(44n, 4);
    end64.writeUInt16LE(45, 12);
    end64.writeUInt16LE(45, 14);
    end64.writeBigUInt64LE(BigInt(this.count), 24);
    end64.writeBigUInt64LE(BigInt(this.count), 32);
    end64.writeBigUInt64LE(BigInt(cdSize), 40);
    end64.writeBigUInt64LE(BigInt(cdAt), 48);
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(0x07064b50, 0);
    locator.writeBigUInt64LE(BigInt(zip64At), 8);
    locator.writeUInt32LE(1, 16);
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(0xffff, 8);
    end.writeUInt16LE(0xffff, 10);
    end.writeUInt32LE(0xffffffff, 12);
    end.writeUInt32LE(0xffffffff, 16);
    await this.write(Buffer.concat([end64, locator, end]));
  }
}

/**
 * A ZIP64 archive of stored entries, laid out as torch.save lays them out, holding exactly the bytes
 * given: for tests that need checkpoints broken in a precise way (a cut pickle, a missing storage).
 */
export async function writeZip(file: string, entries: { name: string; bytes: Uint8Array }[]): Promise<void> {
  const handle = await open(file, 'w');
  try {
    const zip = new ZipWriter(handle);
    for (const e of entries) await zip.add(e.name, [e.bytes]);
    await zip.finish();
  } finally {
    await handle.close();
  }
}

/** Writes `tensors` to `file` as `torch.save` would. */
export async function torchSave(file: string, tensors: TensorToSave[]): Promise<void> {
  const handle = await open(file, 'w');
  try {
    const zip = new ZipWriter(handle);
    await zip.add('archive/data.pkl', [stateDictPickle(tensors)]);
    for (const [i, t] of tensors.entries()) {
      const expected = t.shape.reduce((a, b) => a * b, 1) * ELEMENT_BYTES[t.dtype];
      let written = 0;
      await zip.add(`archive/data/${i}`, (async function* () {
        for await (const c of t.chunks()) {
          written += c.byteLength;
          yield c;
        }
      })());
      if (written !== expected) throw new Error(`${t.name}: ${written} bytes for ${expected}`);
    }
    await zip.add('archive/version', [new TextEncoder().encode('3\n')]);
    await zip.finish();
  } finally {
    await handle.close();
  }
}
