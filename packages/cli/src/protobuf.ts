/**
 * Just enough protobuf wire format for SentencePiece model files: writing fields, and walking the
 * top-level fields of a message so one can be replaced.
 */

export function varint(value: number | bigint): number[] {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return out;
}

const tag = (field: number, wire: number) => varint((field << 3) | wire);
export const intField = (field: number, value: number) => [...tag(field, 0), ...varint(value)];
export const bytesField = (field: number, bytes: ArrayLike<number>) => [...tag(field, 2), ...varint(bytes.length), ...Array.from(bytes)];
export const stringField = (field: number, s: string) => bytesField(field, new TextEncoder().encode(s));
export function floatField(field: number, f: number): number[] {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, f, true);
  return [...tag(field, 5), ...b];
}

export interface RawField {
  field: number;
  wire: number;
  /** The whole field, tag included, as it appears in the message. */
  bytes: Uint8Array;
  /** For length-delimited fields, the payload. */
  payload?: Uint8Array;
}

function readVarint(data: Uint8Array, at: number): [bigint, number] {
  let value = 0n;
  let shift = 0n;
  for (;;) {
    if (at >= data.length) throw new Error('protobuf: truncated varint');
    const byte = data[at++]!;
    value |= BigInt(byte & 0x7f) << shift;
    if (!(byte & 0x80)) return [value, at];
    shift += 7n;
  }
}

/** The top-level fields of a message, in order. */
export function readFields(data: Uint8Array): RawField[] {
  const fields: RawField[] = [];
  let at = 0;
  while (at < data.length) {
    const start = at;
    const [key, afterKey] = readVarint(data, at);
    at = afterKey;
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    let payload: Uint8Array | undefined;
    if (wire === 0) at = readVarint(data, at)[1];
    else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else if (wire === 2) {
      const [length, afterLength] = readVarint(data, at);
      payload = data.subarray(afterLength, afterLength + Number(length));
      at = afterLength + Number(length);
    } else throw new Error(`protobuf: unsupported wire type ${wire}`);
    if (at > data.length) throw new Error('protobuf: truncated message');
    fields.push({ field, wire, bytes: data.subarray(start, at), payload });
  }
  return fields;
}
