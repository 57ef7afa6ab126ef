/**
 * Writing GGUF, llama.cpp's model file (ggml's docs/gguf.md, version 3): a header of typed key/value
 * metadata, a table of tensors (name, shape, type, offset) and the tensors' bytes, each at an offset
 * that is a multiple of `general.alignment` (32). Only the parts llama.cpp needs to load a model are
 * here; the values' encodings follow the spec exactly (little-endian, u64 lengths).
 *
 * No maintained npm package writes GGUF with its tensors (`@huggingface/gguf` reads it, and edits
 * metadata only), and the format is small: this file is the writer, and the tests read what it
 * writes back with `@huggingface/gguf`.
 */

/** GGUF's value types (gguf_type) that webchuan writes. */
const GgufValueType = { UINT16: 2, UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7, STRING: 8, ARRAY: 9 } as const;

/** ggml's tensor types that webchuan writes, with their numbers (ggml_type). */
export type GgmlType = 'F32' | 'F16' | 'Q4_0' | 'Q8_0';
const GGML_TYPE_ID: Record<GgmlType, number> = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8 };

/** Bytes of a block and values per block of each type (ggml's type traits). */
const BLOCK: Record<GgmlType, { values: number; bytes: number }> = {
  F32: { values: 1, bytes: 4 },
  F16: { values: 1, bytes: 2 },
  // struct block_q4_0 { ggml_half d; uint8_t qs[16]; }: 32 values
  Q4_0: { values: 32, bytes: 18 },
  // struct block_q8_0 { ggml_half d; int8_t qs[32]; }: 32 values
  Q8_0: { values: 32, bytes: 34 },
};

export const GGUF_ALIGNMENT = 32;

/** Bytes a tensor of `type` with `dims` (ne0 first: the length of a row) takes. */
export function ggmlTensorBytes(type: GgmlType, dims: readonly number[]): number {
  const { values, bytes } = BLOCK[type];
  if (dims[0]! % values !== 0) throw new Error(`GGUF: a ${type} row holds whole blocks of ${values} values, this one has ${dims[0]}`);
  return (dims.reduce((a, b) => a * b, 1) / values) * bytes;
}

/** One metadata value, with the type it is written as. */
export type GgufValue =
  | { type: 'string'; value: string }
  | { type: 'u32'; value: number }
  | { type: 'i32'; value: number }
  | { type: 'u16'; value: number }
  | { type: 'f32'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string[]'; value: readonly string[] }
  | { type: 'f32[]'; value: ArrayLike<number> }
  | { type: 'i32[]'; value: ArrayLike<number> };

/** What the table of tensors says of one tensor. */
export interface GgufTensorInfo {
  name: string;
  /** ne0 first: for a [rows, cols] matrix, [cols, rows]. */
  dims: number[];
  type: GgmlType;
}

/** A GGUF file's layout: its header bytes, and where each tensor's data goes. */
export interface GgufLayout {
  header: Uint8Array;
  /** Byte offset of each tensor's data in the file, by name. */
  offsets: Map<string, number>;
  /** Bytes of each tensor's data, by name. */
  sizes: Map<string, number>;
  /** Size of the whole file. */
  totalBytes: number;
}

/** A growable little-endian byte buffer. */
class ByteWriter {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void {
    this.room(1);
    this.view.setUint8(this.length, v);
    this.length += 1;
  }
  u16(v: number): void {
    this.room(2);
    this.view.setUint16(this.length, v, true);
    this.length += 2;
  }
  u32(v: number): void {
    this.room(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
  }
  i32(v: number): void {
    this.room(4);
    this.view.setInt32(this.length, v, true);
    this.length += 4;
  }
  f32(v: number): void {
    this.room(4);
    this.view.setFloat32(this.length, v, true);
    this.length += 4;
  }
  u64(v: number): void {
    this.room(8);
    this.view.setBigUint64(this.length, BigInt(v), true);
    this.length += 8;
  }
  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  string(s: string): void {
    const b = new TextEncoder().encode(s);
    this.u64(b.length);
    this.bytes(b);
  }
  padTo(alignment: number): void {
    while (this.length % alignment !== 0) this.u8(0);
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

function writeValue(w: ByteWriter, v: GgufValue): void {
  const array = (itemType: number, count: number) => {
    w.u32(GgufValueType.ARRAY);
    w.u32(itemType);
    w.u64(count);
  };
  switch (v.type) {
    case 'string':
      w.u32(GgufValueType.STRING);
      return w.string(v.value);
    case 'u32':
      w.u32(GgufValueType.UINT32);
      return w.u32(v.value);
    case 'i32':
      w.u32(GgufValueType.INT32);
      return w.i32(v.value);
    case 'u16':
      w.u32(GgufValueType.UINT16);
      return w.u16(v.value);
    case 'f32':
      w.u32(GgufValueType.FLOAT32);
      return w.f32(v.value);
    case 'bool':
      w.u32(GgufValueType.BOOL);
      return w.u8(v.value ? 1 : 0);
    case 'string[]':
      array(GgufValueType.STRING, v.value.length);
      for (const s of v.value) w.string(s);
      return;
    case 'f32[]':
      array(GgufValueType.FLOAT32, v.value.length);
      for (let i = 0; i < v.value.length; i++) w.f32(v.value[i]!);
      return;
    case 'i32[]':
      array(GgufValueType.INT32, v.value.length);
      for (let i = 0; i < v.value.length; i++) w.i32(v.value[i]!);
      return;
  }
}

/**
 * The header of a GGUF file holding `tensors` (in this order) with `metadata`, and the offset of
 * every tensor's data. The data section starts at the first aligned offset after the header, and
 * each tensor at the next aligned offset after the previous one; the gaps are zeros.
 */
export function ggufLayout(metadata: ReadonlyMap<string, GgufValue>, tensors: readonly GgufTensorInfo[]): GgufLayout {
  const w = new ByteWriter();
  w.bytes(new TextEncoder().encode('GGUF'));
  w.u32(3);
  w.u64(tensors.length);
  w.u64(metadata.size);
  for (const [key, value] of metadata) {
    w.string(key);
    writeValue(w, value);
  }
  const sizes = new Map<string, number>();
  const relative = new Map<string, number>();
  let at = 0;
  for (const t of tensors) {
    if (sizes.has(t.name)) throw new Error(`GGUF: tensor ${t.name} appears twice`);
    const bytes = ggmlTensorBytes(t.type, t.dims);
    sizes.set(t.name, bytes);
    relative.set(t.name, at);
    w.string(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(GGML_TYPE_ID[t.type]);
    w.u64(at);
    at = alignUp(at + bytes);
  }
  w.padTo(GGUF_ALIGNMENT);
  const header = w.result();
  const offsets = new Map([...relative].map(([name, offset]) => [name, header.length + offset]));
  const last = tensors.at(-1);
  const totalBytes = last ? offsets.get(last.name)! + sizes.get(last.name)! : header.length;
  return { header, offsets, sizes, totalBytes };
}

export const alignUp = (n: number, alignment = GGUF_ALIGNMENT): number => Math.ceil(n / alignment) * alignment;

/**
 * File names of a model split into `count` GGUF files, as `llama-gguf-split` names them and
 * llama.cpp finds them (`<prefix>-00001-of-00003.gguf`); one file keeps `<prefix>.gguf`.
 */
export function ggufFileNames(prefix: string, count: number): string[] {
  if (count === 1) return [`${prefix}.gguf`];
  const pad = (n: number) => String(n).padStart(5, '0');
  return Array.from({ length: count }, (_, i) => `${prefix}-${pad(i + 1)}-of-${pad(count)}.gguf`);
}

/** The metadata keys a split file carries (llama.cpp's LLM_KV_SPLIT_*). */
export function splitMetadata(index: number, count: number, totalTensors: number): [string, GgufValue][] {
  return [
    ['split.no', { type: 'u16', value: index }],
    ['split.count', { type: 'u16', value: count }],
    ['split.tensors.count', { type: 'i32', value: totalTensors }],
  ];
}
