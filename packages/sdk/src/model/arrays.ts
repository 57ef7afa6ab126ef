/** Small helpers over typed arrays: joining them end to end, finding the largest element. */

function joined<T extends Uint8Array | Float32Array>(make: (length: number) => T, parts: readonly ArrayLike<number>[]): T {
  const out = make(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export const concatBytes = (parts: readonly ArrayLike<number>[]): Uint8Array => joined((n) => new Uint8Array(n), parts);
export const concatFloat32 = (parts: readonly ArrayLike<number>[]): Float32Array => joined((n) => new Float32Array(n), parts);

/** The index of the largest value, the lowest among equals (as torch.argmax and llama2.c pick). */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/** log softmax(logits)[id], computed stably (the largest logit subtracted first). */
export function logSoftmaxAt(logits: Float32Array, id: number): number {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  return logits[id]! - max - Math.log(sum);
}

/** The `k` most likely ids under softmax(logits), most likely first (lowest id among equals), with their log-probabilities. */
export function topLogSoftmax(logits: Float32Array, k: number): { id: number; logprob: number }[] {
  if (k <= 0) return [];
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  const logZ = max + Math.log(sum);
  // One pass keeping the best k in order: k is at most 20, the vocabulary tens of thousands.
  const best: number[] = [];
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i]!;
    if (best.length === k && v <= logits[best[k - 1]!]!) continue;
    let at = best.length;
    while (at > 0 && v > logits[best[at - 1]!]!) at--;
    best.splice(at, 0, i);
    if (best.length > k) best.pop();
  }
  return best.map((id) => ({ id, logprob: logits[id]! - logZ }));
}
