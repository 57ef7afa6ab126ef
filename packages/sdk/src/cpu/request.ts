/**
 * A checked completion request as llama.cpp's server takes it (wllama runs llama-server's request
 * handling in the tab), with our meanings kept wherever llama.cpp can express them:
 *
 * - the sampler chain is set to Hugging Face's order — penalties, temperature, top-k, top-p — where
 *   llama.cpp's default applies temperature last and adds min-p (0.05) and top-k 40 of its own;
 * - `repetition_penalty` is Hugging Face's (llama.cpp's `repeat_penalty` divides positive logits and
 *   multiplies negative ones, the same rule) over the whole context (`repeat_last_n`: the window);
 * - `logit_bias` is added to the logits before the chain, as OpenAI's;
 * - temperature 0 is greedy (llama.cpp takes the argmax).
 *
 * What differs, and the README says so: `presence_penalty` and `frequency_penalty` count the prompt's
 * tokens as well as the generated ones (llama.cpp keeps one window for all penalties); a `seed`
 * reproduces the CPU path's own samples, drawn with llama.cpp's generator, not the WebGPU engine's.
 * Each streamed piece carries llama.cpp's counts (`timings_per_token`): tokens decoded, prompt tokens
 * computed and reused from its cache (`cache_prompt`), which become the usage figures.
 */
import type { WorkerCompletionRequest } from '../client/protocol.js';
import { InvalidRequestError } from '../errors.js';
import { checkRequest, refuseEnableThinking, type CheckedRequest } from '../worker/request.js';

/** The body of one llama-server completion request (the fields webchuan sets). */
export interface LlamaCompletionBody {
  prompt: string;
  max_tokens: number;
  temperature: number;
  top_k: number;
  top_p: number;
  min_p: number;
  typical_p: number;
  repeat_penalty: number;
  repeat_last_n: number;
  presence_penalty: number;
  frequency_penalty: number;
  /** llama-server's pair form, `[[id, bias], …]`. */
  logit_bias: [number, number][];
  samplers: string[];
  seed?: number;
  /** Keep generating past the end-of-text token (`ignore_eos`). */
  ignore_eos?: boolean;
  timings_per_token: boolean;
  cache_prompt: boolean;
}

export function llamaCompletionBody(request: CheckedRequest, prompt: string, maxTokens: number, contextWindow: number): LlamaCompletionBody {
  return {
    prompt,
    max_tokens: maxTokens,
    temperature: request.temperature,
    top_k: request.top_k ?? 0,
    top_p: request.top_p ?? 1,
    min_p: 0,
    typical_p: 1,
    repeat_penalty: request.repetition_penalty ?? 1,
    repeat_last_n: contextWindow,
    presence_penalty: request.presence_penalty ?? 0,
    frequency_penalty: request.frequency_penalty ?? 0,
    logit_bias: Object.entries(request.logit_bias ?? {}).map(([id, bias]): [number, number] => [Number(id), bias]),
    samplers: ['penalties', 'temperature', 'top_k', 'top_p'],
    ...(request.seed === undefined ? {} : { seed: llamaSeed(request.seed) }),
    ...(request.ignore_eos ? { ignore_eos: true } : {}),
    timings_per_token: true,
    cache_prompt: true,
  };
}

/** A seed as llama.cpp's uint32; its 0xFFFFFFFF means "pick one at random", so that one value moves down by one. */
function llamaSeed(seed: number): number {
  const u = seed >>> 0;
  return u === 0xffffffff ? 0xfffffffe : u;
}

/**
 * A request checked as on every backend, then what the CPU path cannot honour refused, naming the
 * field (nothing is quietly dropped):
 *
 * - `logprobs`/`top_logprobs`: llama-server's JSON writer fails on a token that is part of a
 *   character (a byte of UTF-8), so the CPU path does not ask for them;
 * - structured output (`response_format`, and `tools`, whose replies are held to a JSON schema):
 *   llama.cpp samples inside wllama, so XGrammar's mask (what the other backends apply) cannot reach
 *   it, and llama.cpp's own GBNF engine would misread this GGUF: its byte-fallback pieces are written
 *   as the text `<0xNN>` (see byte-escapes.ts), so a grammar needing `{` finds no token for it in a
 *   vocabulary that has `{` only as a byte, as the poetry model's does.
 */
export function checkCpuRequest(raw: WorkerCompletionRequest, vocabSize: number): CheckedRequest {
  const request = checkRequest(raw, vocabSize);
  refuseEnableThinking(request);
  if (request.logprobs) {
    throw new InvalidRequestError('logprobs', "logprobs: the 'cpu' backend does not return them: llama.cpp's server fails on a token that is part of a character (a byte of UTF-8). Use the 'webchuan' backend for logprobs.");
  }
  if (request.grammar) {
    const field = raw.response_format !== undefined && raw.response_format !== null ? 'response_format' : 'tools';
    throw new InvalidRequestError(
      field,
      `${field}: the 'cpu' backend does not hold replies to a grammar (llama.cpp's grammars are not XGrammar's, which the other backends use). Load the model with backend 'webchuan' (WebGPU) for ${field === 'tools' ? 'tools' : 'structured output'}.`,
    );
  }
  return request;
}
