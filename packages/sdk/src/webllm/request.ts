/**
 * Our request fields as WebLLM's. Each field keeps webchuan's meaning or is refused with an
 * InvalidRequestError naming it: a page that switches engines must never get different sampling
 * silently. What WebLLM 0.2.79 cannot do as webchuan does:
 * - `top_k`: WebLLM samples with temperature and top_p only;
 * - `repetition_penalty`: WebLLM penalises only the tokens it generated (Hugging Face's penalty, ours,
 *   covers the prompt too), and skips it whenever presence/frequency penalties are set, which MLC's
 *   mlc-chat-config.json always does (0.0);
 * - `top_p: 0`: WebLLM needs top_p > 0 (`temperature: 0` is greedy on both engines).
 * Stop strings are not handed to WebLLM: the worker matches them across token boundaries as
 * webchuan's engine does, and interrupts WebLLM when one is found.
 */
import type { CompletionCreateParamsBase, ResponseFormat } from '@mlc-ai/web-llm';
import type { GrammarSpec } from '../client/protocol.js';
import { InvalidRequestError } from '../errors.js';
import type { CheckedRequest } from '../worker/request.js';

/** The sampling fields WebLLM takes, in the shape its completion and chat requests share. */
export type WebLLMSampling = Pick<CompletionCreateParamsBase, 'max_tokens' | 'temperature' | 'top_p' | 'logit_bias' | 'logprobs' | 'top_logprobs' | 'seed' | 'presence_penalty' | 'frequency_penalty' | 'ignore_eos'> & {
  response_format?: ResponseFormat;
};

/** Most alternatives per position WebLLM returns with `top_logprobs`. */
const WEBLLM_TOP_LOGPROBS = 5;

/** A grammar as WebLLM's `response_format` (its own XGrammar runs it). */
function webllmResponseFormat(grammar: GrammarSpec): ResponseFormat {
  if (grammar.kind === 'ebnf') return { type: 'grammar', grammar: grammar.grammar };
  if (grammar.kind === 'json_or_text') {
    throw new InvalidRequestError('tool_choice', "tool_choice: 'auto' (a call or text) is not held by WebLLM's grammar support; on the 'webllm' backend use tool_choice 'required' or a named tool, or the 'webchuan' backend.");
  }
  if (grammar.schema === undefined) return { type: 'json_object', schema: JSON.stringify({ type: 'object' }) };
  if (!grammar.strict) throw new InvalidRequestError('response_format.json_schema.strict', "response_format.json_schema.strict: WebLLM holds replies to a schema strictly; leave strict unset or true on the 'webllm' backend.");
  return { type: 'json_object', schema: grammar.schema };
}

export function webllmSampling(r: CheckedRequest): WebLLMSampling {
  if (r.top_k !== undefined && r.top_k !== 0) {
    throw new InvalidRequestError('top_k', "top_k: WebLLM samples with temperature and top_p only; leave top_k unset (or 0) on the 'webllm' backend, or use the 'webchuan' backend.");
  }
  if (r.repetition_penalty !== undefined && r.repetition_penalty !== 1) {
    throw new InvalidRequestError(
      'repetition_penalty',
      "repetition_penalty: WebLLM penalises only generated tokens, and not at all when presence/frequency penalties are configured, so it cannot apply webchuan's (Hugging Face's) penalty over prompt + output; use presence_penalty / frequency_penalty, or the 'webchuan' backend.",
    );
  }
  if (r.top_p === 0) throw new InvalidRequestError('top_p', 'top_p: WebLLM needs top_p > 0; use temperature: 0 for greedy decoding.');
  if (r.top_logprobs > WEBLLM_TOP_LOGPROBS) throw new InvalidRequestError('top_logprobs', `top_logprobs: WebLLM returns at most ${WEBLLM_TOP_LOGPROBS} alternatives per position; ask for fewer on the 'webllm' backend.`);
  return {
    ...(r.max_tokens !== undefined ? { max_tokens: r.max_tokens } : {}),
    // Our defaults, not the model config's: the same request samples the same way on both engines.
    temperature: r.temperature,
    top_p: r.top_p ?? 1,
    ...(r.logit_bias ? { logit_bias: r.logit_bias } : {}),
    ...(r.logprobs ? { logprobs: true, top_logprobs: r.top_logprobs } : {}),
    ...(r.ignore_eos ? { ignore_eos: true } : {}),
    ...(r.grammar ? { response_format: webllmResponseFormat(r.grammar) } : {}),
    ...(r.seed !== undefined ? { seed: r.seed } : {}),
    // Always both: WebLLM applies the two together or not at all, and would otherwise take the model
    // config's values; unset means 0 in our API.
    presence_penalty: r.presence_penalty ?? 0,
    frequency_penalty: r.frequency_penalty ?? 0,
  };
}
