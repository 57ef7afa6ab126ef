/**
 * A SentencePiece model's vocabulary as llama.cpp's GGUF stores it: every piece with its score and
 * type, the special ids, and whether the normalizer puts a space before the text
 * (`normalizer_spec.add_dummy_prefix`, which GGUF calls `tokenizer.ggml.add_space_prefix`). Read
 * from `tokenizer.model` (a ModelProto) field by field, with proto2's defaults where a field is absent.
 */
import { readFields, type RawField } from './protobuf.js';

/** SentencePiece's piece types; GGUF's `tokenizer.ggml.token_type` uses the same numbers. */
export const PIECE_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

export interface SentencePieceVocab {
  pieces: string[];
  scores: Float32Array;
  types: Int32Array;
  /** `normalizer_spec.add_dummy_prefix` (proto default: true). */
  addDummyPrefix: boolean;
  /** `trainer_spec.model_type`: 'bpe' or 'unigram' (others are refused). */
  modelType: 'bpe' | 'unigram';
  unkId: number;
  bosId: number;
  eosId: number;
  /** -1: none. */
  padId: number;
}

// ModelProto's field numbers (sentencepiece_model.proto).
const PIECES = 1;
const TRAINER_SPEC = 2;
const NORMALIZER_SPEC = 3;
const PIECE = { text: 1, score: 2, type: 3 };
const TRAINER = { modelType: 3, unkId: 40, bosId: 41, eosId: 42, padId: 43 };
const NORMALIZER = { addDummyPrefix: 3 };
const MODEL_TYPES: Record<number, 'bpe' | 'unigram' | undefined> = { 1: 'unigram', 2: 'bpe' };

/** The last value of a varint field (proto2: the last one wins), as a signed 32-bit integer. */
function intOf(fields: RawField[], field: number, fallback: number): number {
  const f = fields.findLast((x) => x.field === field && x.varint !== undefined);
  return f ? Number(BigInt.asIntN(32, f.varint!)) : fallback;
}

export function readSentencePieceVocab(model: Uint8Array): SentencePieceVocab {
  const top = readFields(model);
  const pieceFields = top.filter((f) => f.field === PIECES && f.payload);
  if (pieceFields.length === 0) throw new Error('tokenizer.model: no pieces (not a SentencePiece model?)');
  const pieces: string[] = [];
  const scores = new Float32Array(pieceFields.length);
  const types = new Int32Array(pieceFields.length);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  pieceFields.forEach((f, i) => {
    const fields = readFields(f.payload!);
    const text = fields.findLast((x) => x.field === PIECE.text)?.payload;
    const score = fields.findLast((x) => x.field === PIECE.score)?.payload;
    pieces.push(text ? decoder.decode(text) : '');
    scores[i] = score ? new DataView(score.buffer, score.byteOffset, 4).getFloat32(0, true) : 0;
    types[i] = intOf(fields, PIECE.type, PIECE_TYPE.NORMAL);
  });
  const sub = (field: number) => {
    const f = top.findLast((x) => x.field === field && x.payload);
    return f ? readFields(f.payload!) : [];
  };
  const trainer = sub(TRAINER_SPEC);
  const normalizer = sub(NORMALIZER_SPEC);
  const modelTypeNumber = intOf(trainer, TRAINER.modelType, 1);
  const modelType = MODEL_TYPES[modelTypeNumber];
  if (!modelType) throw new Error(`tokenizer.model: model_type ${modelTypeNumber} is not BPE or unigram, which llama.cpp's SentencePiece tokenizer reads`);
  return {
    pieces,
    scores,
    types,
    addDummyPrefix: intOf(normalizer, NORMALIZER.addDummyPrefix, 1) !== 0,
    modelType,
    unkId: intOf(trainer, TRAINER.unkId, 0),
    bosId: intOf(trainer, TRAINER.bosId, 1),
    eosId: intOf(trainer, TRAINER.eosId, 2),
    padId: intOf(trainer, TRAINER.padId, -1),
  };
}
