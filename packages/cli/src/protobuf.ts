/**
 * Just enough protobuf wire format for SentencePiece model files: writing fields (reading them is
 * the SDK's, which reads tokenizer.model in the browser too).
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

export { readFields, type RawField } from '../../sdk/src/model/protobuf.js';
