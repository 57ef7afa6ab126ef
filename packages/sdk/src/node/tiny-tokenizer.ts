/**
 * Writes a small, valid SentencePiece `tokenizer.model` (BPE, byte fallback), so the demo's default
 * model can be generated on any machine without downloading or shipping a third-party tokenizer.
 * Its pieces are the special tokens, the 256 byte pieces, `▁`, printable ASCII and one markup
 * piece: every text encodes (characters outside ASCII through byte fallback), and decoding is exact.
 *
 * The file is SentencePiece's ModelProto in protobuf wire format; only the fields the tokenizer
 * reads are written.
 */

function varint(value: number | bigint): number[] {
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
const int = (field: number, value: number) => [...tag(field, 0), ...varint(value)];
const bytesField = (field: number, bytes: number[] | Uint8Array) => [...tag(field, 2), ...varint(bytes.length), ...bytes];
const str = (field: number, s: string) => bytesField(field, new TextEncoder().encode(s));
const float = (field: number, f: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, f, true);
  return [...tag(field, 5), ...b];
};

const enum PieceType {
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Byte = 6,
}

/**
 * A piece of markup, user-defined (as Baichuan-7B's vocabulary has HTML tags), so tests can force
 * the model to emit it with logit_bias and check that every surface shows it as text.
 */
export const MARKUP_PIECE = '<img src=x onerror="window.pwned=1">';

/** The pieces of the tiny tokenizer, in id order. */
export function tinyTokenizerPieces(): { piece: string; type: PieceType }[] {
  const pieces = [
    { piece: '<unk>', type: PieceType.Unknown },
    { piece: '<s>', type: PieceType.Control },
    { piece: '</s>', type: PieceType.Control },
  ];
  for (let b = 0; b < 256; b++) pieces.push({ piece: `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, type: PieceType.Byte });
  pieces.push({ piece: '▁', type: PieceType.Normal });
  for (let c = 0x21; c < 0x7f; c++) pieces.push({ piece: String.fromCharCode(c), type: PieceType.Normal });
  pieces.push({ piece: MARKUP_PIECE, type: PieceType.UserDefined });
  return pieces;
}

/** The bytes of a SentencePiece model file. */
export function tinyTokenizerModel(): Uint8Array {
  const pieces = tinyTokenizerPieces();
  const out: number[] = [];
  pieces.forEach((p, i) => {
    const score = p.type === PieceType.Normal ? -i : 0;
    out.push(...bytesField(1, [...str(1, p.piece), ...float(2, score), ...int(3, p.type)]));
  });
  const trainer = [
    ...int(3, 2), // model_type: BPE
    ...int(4, pieces.length), // vocab_size
    ...int(35, 1), // byte_fallback
    ...int(40, 0), // unk_id
    ...int(41, 1), // bos_id
    ...int(42, 2), // eos_id
    ...int(43, -1), // pad_id: none
  ];
  out.push(...bytesField(2, trainer));
  const normalizer = [...str(1, 'identity'), ...int(3, 1), ...int(4, 0), ...int(5, 1)];
  out.push(...bytesField(3, normalizer));
  return Uint8Array.from(out);
}
