/**
 * Writes a small, valid SentencePiece `tokenizer.model` (BPE, byte fallback), so the demo's default
 * model can be generated on any machine without downloading or shipping a third-party tokenizer.
 * Its pieces are the special tokens, the 256 byte pieces, `▁`, printable ASCII and one markup
 * piece: every text encodes (characters outside ASCII through byte fallback), and decoding is exact.
 *
 * The file is SentencePiece's ModelProto in protobuf wire format; only the fields the tokenizer
 * reads are written.
 */
import { bytesField, floatField, intField, stringField } from './protobuf.js';

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
    out.push(...bytesField(1, [...stringField(1, p.piece), ...floatField(2, score), ...intField(3, p.type)]));
  });
  const trainer = [
    ...intField(3, 2), // model_type: BPE
    ...intField(4, pieces.length), // vocab_size
    ...intField(35, 1), // byte_fallback
    ...intField(40, 0), // unk_id
    ...intField(41, 1), // bos_id
    ...intField(42, 2), // eos_id
    ...intField(43, -1), // pad_id: none
  ];
  out.push(...bytesField(2, trainer));
  const normalizer = [...stringField(1, 'identity'), ...intField(3, 1), ...intField(4, 0), ...intField(5, 1)];
  out.push(...bytesField(3, normalizer));
  return Uint8Array.from(out);
}
