/** Greedy decoding on the GPU: prefill the prompt as one batch, then one submission per token. */
import type { ForwardPass } from './forward.js';

export interface GreedyOptions {
  /** Most tokens to generate. */
  maxTokens: number;
  /** Generation ends (without emitting it) at any of these. */
  stopTokenIds?: readonly number[];
  /** Called with each generated id as soon as it is known. */
  onToken?: (id: number) => void;
  signal?: AbortSignal;
}

export interface GreedyResult {
  ids: number[];
  /** 'stop' when a stop token ended it, 'length' when maxTokens or the context window did. */
  finishReason: 'stop' | 'length';
  prefillTokens: number;
  prefillMs: number;
  decodeMs: number;
}

/** Runs `prompt` (already with any BOS) from position 0 and decodes greedily. */
export async function generateGreedy(forward: ForwardPass, prompt: readonly number[], options: GreedyOptions): Promise<GreedyResult> {
  if (prompt.length === 0) throw new Error('generate: the prompt has no tokens');
  const stop = new Set(options.stopTokenIds ?? []);
  const ids: number[] = [];
  const t0 = performance.now();
  let next = await forward.run(prompt, 0, 'argmax');
  const prefillMs = performance.now() - t0;
  let pos = prompt.length;
  let finishReason: GreedyResult['finishReason'] = 'length';
  const t1 = performance.now();
  while (ids.length < options.maxTokens) {
    options.signal?.throwIfAborted();
    if (stop.has(next)) {
      finishReason = 'stop';
      break;
    }
    ids.push(next);
    options.onToken?.(next);
    if (ids.length >= options.maxTokens || pos >= forward.contextWindow) break;
    next = await forward.run([next], pos, 'argmax');
    pos++;
  }
  return { ids, finishReason, prefillTokens: prompt.length, prefillMs, decodeMs: performance.now() - t1 };
}
