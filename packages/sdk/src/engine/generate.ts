/**
 * The generation loop: prefill the prompt as one batch (skipping positions already in the KV
 * cache), then one command submission per token. Greedy decoding applies penalties, biases and a
 * grammar's mask and takes the argmax on the GPU, reading back 4 bytes; sampling reads the adjusted
 * logits back.
 */
import type { TokenConstraint } from '../grammar/constraint.js';
import { argmax, logSoftmaxAt, topLogSoftmax } from '../model/arrays.js';
import type { ForwardPass } from './forward.js';
import { adjustments, Sampler, samplingDistribution, type SamplingParams } from './sampler.js';

/** A chosen token's log-probability, and the most likely alternatives at its position (with `topLogprobs`). */
export interface TokenLogprob {
  logprob: number;
  top: { id: number; logprob: number }[];
}

export interface GenerateOptions extends SamplingParams {
  /** Most tokens to generate (Infinity: until a stop or the end of the context window). */
  maxTokens: number;
  /** Generation ends (without emitting it) at any of these. */
  stopTokenIds?: readonly number[];
  /** Generate past the stop tokens (they are emitted like any other token). */
  ignoreEos?: boolean;
  /** Leading positions of the prompt whose keys and values are already in the cache. */
  cachedTokens?: number;
  /** Called with each generated id (and its log-probability, with `logprobs`); returning false ends generation (a stop string matched). */
  onToken?: (id: number, logprob?: TokenLogprob) => boolean | void;
  signal?: AbortSignal;
  /** Also return each chosen token's log-probability (reads the logits back even when greedy). */
  logprobs?: boolean;
  /** With `logprobs`: this many most likely tokens at each position too. */
  topLogprobs?: number;
  /** Holds every token to a grammar: its mask is applied on the GPU before the choice. */
  constraint?: TokenConstraint;
  /** Draws the sampled tokens (default: a new one seeded with `seed`); several choices of one request share one. */
  sampler?: Sampler;
}

export interface GenerateResult {
  ids: number[];
  /** 'stop': a stop token or string; 'length': maxTokens or the context window; 'abort': the signal. */
  finishReason: 'stop' | 'length' | 'abort';
  promptTokens: number;
  /** Prompt positions that were reused from the KV cache instead of recomputed. */
  cachedTokens: number;
  /** Time to the first token: the prefill and its readback. */
  prefillMs: number;
  decodeMs: number;
  /**
   * Of prefillMs and decodeMs, the time spent waiting for GPU pipelines to compile (the first use of
   * a step size whose kernels were not compiled before "ready"): 0 on a warmed load's first request.
   */
  compileMs: { prefill: number; decode: number };
  /** The tokens whose keys and values the KV cache now holds, at positions 0…: reusable by the next request. */
  kvTokens: number[];
  /** log p(chosen token) under the adjusted logits, when `logprobs` was asked for. */
  tokenLogprobs?: TokenLogprob[];
}

/** Runs `prompt` (with any BOS already in it) and generates after it. */
export async function generate(forward: ForwardPass, prompt: readonly number[], options: GenerateOptions): Promise<GenerateResult> {
  if (prompt.length === 0) throw new Error('generate: the prompt has no tokens');
  const greedy = (options.temperature ?? 1) === 0;
  const sampler = greedy ? undefined : (options.sampler ?? new Sampler(options.seed));
  const stop = new Set(options.ignoreEos ? [] : (options.stopTokenIds ?? []));
  const constraint = options.constraint;
  // At least the last prompt token runs, because its logits choose the first new token.
  const cached = Math.max(0, Math.min(options.cachedTokens ?? 0, prompt.length - 1));
  const context = [...prompt];
  const ids: number[] = [];
  const t0 = performance.now();
  const compiled0 = forward.compileWaitMs;
  const tokenLogprobs: TokenLogprob[] | undefined = options.logprobs ? [] : undefined;
  const mask = constraint ? () => constraint.allowedTokens() : undefined;
  const step = async (tokens: readonly number[], pos: number): Promise<number> => {
    const adjust = { list: adjustments(options, context, ids), params: options, ...(mask ? { mask } : {}) };
    if (greedy && !tokenLogprobs) return forward.run(tokens, pos, 'argmax', adjust);
    const logits = await forward.run(tokens, pos, 'logits', adjust);
    const id = greedy ? argmax(logits) : sampler!.sample(samplingDistribution(logits, options));
    tokenLogprobs?.push({ logprob: logSoftmaxAt(logits, id), top: topLogSoftmax(logits, options.topLogprobs ?? 0) });
    return id;
  };
  const aborted = () => options.signal?.aborted === true;
  let finishReason: GenerateResult['finishReason'] = 'length';
  // Prompt positions [0, cached) are already in the cache; this request writes the rest.
  const kvTokens = prompt.slice(0, cached);
  let next = -1;
  if (!aborted()) {
    next = await step(prompt.slice(cached), cached);
    kvTokens.push(...prompt.slice(cached));
  }
  const prefillMs = performance.now() - t0;
  const compiled1 = forward.compileWaitMs;
  const t1 = performance.now();
  let pos = prompt.length;
  while (ids.length < options.maxTokens) {
    if (aborted() || next < 0) {
      finishReason = 'abort';
      break;
    }
    if (stop.has(next)) {
      finishReason = 'stop';
      break;
    }
    if (constraint && !constraint.accept(next)) throw new Error(`generate: the grammar refused token ${next} (generated token ${ids.length}), which its own mask allowed`);
    ids.push(next);
    context.push(next);
    if (options.onToken?.(next, tokenLogprobs?.[ids.length - 1]) === false) {
      finishReason = 'stop';
      break;
    }
    if (ids.length >= options.maxTokens || pos >= forward.contextWindow) break;
    next = await step([next], pos);
    kvTokens.push(ids.at(-1)!);
    pos++;
  }
  return {
    ids,
    finishReason,
    promptTokens: prompt.length,
    cachedTokens: cached,
    prefillMs,
    decodeMs: performance.now() - t1,
    compileMs: { prefill: compiled1 - compiled0, decode: forward.compileWaitMs - compiled1 },
    kvTokens,
    tokenLogprobs: tokenLogprobs?.slice(0, ids.length),
  };
}

export type GreedyOptions = Omit<GenerateOptions, keyof SamplingParams>;
export type GreedyResult = GenerateResult;

/** Greedy decoding with no penalties: argmax on the GPU every step. */
export function generateGreedy(forward: ForwardPass, prompt: readonly number[], options: GreedyOptions): Promise<GenerateResult> {
  return generate(forward, prompt, { ...options, temperature: 0 });
}
