/** A request's usage figures, under WebLLM's names, from what its choices measured. */
import type { Usage } from '../client/protocol.js';
import { InvalidRequestError } from '../errors.js';
import { modelId } from '../model/identity.js';

/** What the choices of one request measured. */
export interface Timings {
  /** performance.now() when the request reached the engine. */
  received: number;
  /** The first choice's prefill (later choices reuse its prompt from the KV cache). */
  prefillMs: number;
  decodeMs: number;
  /** Prompt positions the first choice reused from the KV cache. */
  cached: number;
  completionTokens: number;
  /**
   * Of prefillMs and decodeMs, the time spent waiting for GPU pipelines to compile (a step size whose
   * kernels were not compiled before "ready"): reported apart, and left out of the speeds.
   */
  compileMs: number;
  /** …of which in the first choice's prefill. */
  prefillCompileMs: number;
  /** Whether a grammar held the reply (the two grammar figures are reported then). */
  grammar: boolean;
  grammarInitS: number;
  /** Seconds of masks and accepted tokens, over all choices. */
  grammarS: number;
}

/** OpenAI's counts (prompt_tokens: the whole prompt) and WebLLM's figures. */
export function usageOf(promptTokens: number, t: Timings, choices = 1): Usage {
  const computed = promptTokens - t.cached;
  // The first token of each choice comes out of its prefill; the rest are decode steps.
  const decoded = Math.max(0, t.completionTokens - choices);
  // The speeds are the model's: a wait for kernels compiling at their first use is reported apart.
  const prefillRunMs = t.prefillMs - t.prefillCompileMs;
  const decodeRunMs = t.decodeMs - (t.compileMs - t.prefillCompileMs);
  const decodeRate = decoded > 0 && decodeRunMs > 0 ? (decoded / decodeRunMs) * 1000 : 0;
  return {
    prompt_tokens: promptTokens,
    completion_tokens: t.completionTokens,
    total_tokens: promptTokens + t.completionTokens,
    prompt_tokens_details: { cached_tokens: t.cached },
    extra: {
      e2e_latency_s: (performance.now() - t.received) / 1000,
      prefill_tokens_per_s: prefillRunMs > 0 ? (computed / prefillRunMs) * 1000 : 0,
      decode_tokens_per_s: decodeRate,
      time_to_first_token_s: t.prefillMs / 1000,
      time_per_output_token_s: decodeRate > 0 ? 1 / decodeRate : 0,
      ...(t.compileMs >= 1 ? { gpu_kernel_prepare_s: t.compileMs / 1000 } : {}),
      ...(t.grammar ? { grammar_init_s: t.grammarInitS, grammar_per_token_s: t.completionTokens > 0 ? t.grammarS / t.completionTokens : 0 } : {}),
    },
  };
}

/** A request's `model` field must name the model it reached (the page maps WebLLM's model ids to URLs). */
export function checkModelField(model: string | undefined, id: string): void {
  if (model === undefined) return;
  let named: string | undefined;
  try {
    named = modelId(model);
  } catch {
    named = undefined;
  }
  if (named !== id) throw new InvalidRequestError('model', `model: ${JSON.stringify(model)} is not the loaded model (${id}); load it with reload() or an engine of its own.`);
}
