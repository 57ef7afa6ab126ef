/**
 * What sampling needs of a grammar, whatever runs the model: which tokens may come next, and
 * advancing past the one chosen. webchuan's GPU engine applies the mask in its logit processor (on
 * the GPU, so greedy decoding still reads back 4 bytes a token); an engine that samples on the CPU
 * sets the disallowed logits to the lowest float itself (`applyTokenMask` in reference/kernels.ts).
 */
export interface TokenConstraint {
  /**
   * The tokens allowed next, as a bitmask over the model's vocabulary: token `id` is allowed when
   * bit `id & 31` of word `id >>> 5` is set (⌈vocab / 32⌉ words).
   */
  allowedTokens(): Promise<Uint32Array>;
  /** Advances past the chosen token; false when the grammar does not allow it (the request then fails). */
  accept(id: number): boolean;
  /** True once the grammar is complete and has accepted an end-of-sequence token. */
  readonly finished: boolean;
  /** Seconds spent on masks and accepted tokens so far (usage.extra.grammar_per_token_s). */
  readonly seconds: number;
  dispose(): void;
}
