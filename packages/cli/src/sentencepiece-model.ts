/** Edits of SentencePiece model files (ModelProto), done on the protobuf fields directly. */
import { concatBytes as concat } from '../../sdk/src/model/arrays.js';
import { intField, readFields, varint } from './protobuf.js';

const NORMALIZER_SPEC = 3;
const REMOVE_EXTRA_WHITESPACES = 4;

/**
 * The same model with `normalizer_spec.remove_extra_whitespaces` set. llama2.c's encoder keeps runs
 * of spaces and leading/trailing spaces; SentencePiece collapses them when this flag is on (the
 * trainer's default), so llama2.c models are imported with it off to tokenize exactly as run.c does.
 */
export function withRemoveExtraWhitespaces(model: Uint8Array, value: boolean): Uint8Array {
  const flag = intField(REMOVE_EXTRA_WHITESPACES, value ? 1 : 0);
  const normalizer = (payload: Uint8Array) => concat([varint((NORMALIZER_SPEC << 3) | 2), varint(payload.length), payload]);
  const parts: ArrayLike<number>[] = [];
  let found = false;
  for (const f of readFields(model)) {
    if (f.field !== NORMALIZER_SPEC || f.wire !== 2) {
      parts.push(f.bytes);
      continue;
    }
    found = true;
    const inner = readFields(f.payload!).filter((g) => g.field !== REMOVE_EXTRA_WHITESPACES).map((g) => g.bytes);
    parts.push(normalizer(concat([...inner, flag])));
  }
  if (!found) parts.push(normalizer(Uint8Array.from(flag)));
  return concat(parts);
}
