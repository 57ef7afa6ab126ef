/**
 * Just enough protobuf wire format to walk a message's fields: SentencePiece's `tokenizer.model`
 * (its pieces, scores and types, and its normalizer flags) is read this way.
 */

export interface RawField {
  field: number;
  wire: number;
  /** The whole field, tag included, as it appears in the message. */
  bytes: Uint8Array;
  /** For length-delimited fields, the payload; for 32-bit fields (floats), their 4 bytes. */
  payload?: Uint8Array;
  /** For varint fields (integers, enums, booleans), the value. */
  varint?: bigint;
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
    let value: bigint | undefined;
    if (wire === 0) [value, at] = readVarint(data, at);
    else if (wire === 1) at += 8;
    else if (wire === 5) {
      payload = data.subarray(at, at + 4);
      at += 4;
    }
    else if (wire === 2) {
      const [length, afterLength] = readVarint(data, at);
      payload = data.subarray(afterLength, afterLength + Number(length));
      at = afterLength + Number(length);
    } else throw new Error(`protobuf: unsupported wire type ${wire}`);
    if (at > data.length) throw new Error('protobuf: truncated message');
    fields.push({ field, wire, bytes: data.subarray(start, at), payload, varint: value });
  }
  return fields;
}
