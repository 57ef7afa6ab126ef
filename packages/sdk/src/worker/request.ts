/**
 * Checks a completion request before any work: every bad value ends in an InvalidRequestError that
 * names the parameter, so a page can show it next to the field that caused it. Every field of
 * OpenAI's and WebLLM's requests is honoured or refused here: an unknown field is refused too (a
 * misspelt `max_token` must not silently generate with the default).
 */
import type { GrammarSpec, WorkerCompletionRequest } from '../client/protocol.js';
import { checkSamplingParams, type SamplingParams } from '../engine/sampler.js';
import { InvalidRequestError } from '../errors.js';
import { grammarOfResponseFormat } from '../grammar/response-format.js';

/** Most caller stop strings per request, as in OpenAI's API (a chat template may add its own). */
export const MAX_STOP_STRINGS = 4;
/** Most choices per request (OpenAI's limit). */
export const MAX_CHOICES = 128;
/** Most alternatives per position with `top_logprobs` (OpenAI's limit). */
export const MAX_TOP_LOGPROBS = 20;

/** A request whose fields were checked, with defaults filled in. */
export interface CheckedRequest extends SamplingParams {
  requestId: string;
  prompt: string;
  /** Undefined: until a stop token or string, or the end of the context window (WebLLM's default). */
  max_tokens: number | undefined;
  temperature: number;
  /** The caller's stop strings and the chat template's. */
  stops: string[];
  n: number;
  logprobs: boolean;
  top_logprobs: number;
  echo: boolean;
  ignore_eos: boolean;
  truncation: 'none' | 'left';
  /** The grammar the reply is held to, if any. */
  grammar?: GrammarSpec;
  /** The model the request names (checked against the loaded one by the engine). */
  model?: string;
  /** WebLLM's `extra_body.enable_thinking` (only WebLLM's templates know it). */
  enable_thinking?: boolean;
}

/** Fields of OpenAI's requests that webchuan does not have, each with what to do instead. */
const REFUSED: Record<string, string> = {
  best_of: 'webchuan returns every choice it generates: use n, and pick among the choices yourself',
  suffix: 'webchuan completes after the prompt only (no fill-in-the-middle)',
  user: 'webchuan runs on the user\'s own device and keeps no per-user records; leave it out',
  functions: 'use tools (the current form of function calling)',
  function_call: 'use tool_choice (the current form of function calling)',
  audio: 'webchuan\'s models read and write text only',
  modalities: 'webchuan\'s models read and write text only',
  prediction: 'webchuan has no predicted outputs',
  store: 'webchuan stores nothing of a request',
  metadata: 'webchuan stores nothing of a request',
  service_tier: 'webchuan runs on this device, with no tiers',
  reasoning_effort: 'webchuan\'s models do not reason in a separate channel',
  web_search_options: 'webchuan does not search the web',
  logit_processor: 'webchuan applies its own logit processing on the GPU',
};

/** The fields a completion request may have when it reaches the worker. */
const COMPLETION_FIELDS = new Set([
  'requestId', 'prompt', 'template_stop', 'grammar',
  'max_tokens', 'max_completion_tokens', 'temperature', 'top_p', 'top_k', 'repetition_penalty', 'presence_penalty', 'frequency_penalty',
  'logit_bias', 'seed', 'stop', 'n', 'logprobs', 'top_logprobs', 'echo', 'ignore_eos', 'response_format', 'model', 'truncation',
  'extra_body', 'parallel_tool_calls',
]);

const fail = (param: string, message: string): never => {
  throw new InvalidRequestError(param, `${param}: ${message}`);
};

/** Refuses `value` unless it is a boolean (or unset). */
function optionalBoolean(param: string, value: unknown): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') fail(param, `must be true or false, got ${JSON.stringify(value) ?? String(value)}`);
  return value as boolean;
}

/** `T` with `null` taken out of every field's type. */
type WithoutNulls<T> = { [K in keyof T]: Exclude<T[K], null> };

/** The request without its null fields: `null` means unset, as in OpenAI's and WebLLM's APIs. */
function withoutNulls<T extends object>(request: T): WithoutNulls<T> {
  return Object.fromEntries(Object.entries(request).filter(([, v]) => v !== null)) as WithoutNulls<T>;
}

/** Refuses fields no webchuan request has, naming the first. */
export function refuseUnknownFields(request: object, known: ReadonlySet<string>): void {
  for (const key of Object.keys(request)) {
    if (key in REFUSED) fail(key, `not supported: ${REFUSED[key]}.`);
    if (!known.has(key)) fail(key, 'is not a field of a webchuan request (see the README\'s request fields and migration table).');
  }
}

export function checkRequest(raw: WorkerCompletionRequest, vocabSize: number): CheckedRequest {
  if (raw === null || typeof raw !== 'object') fail('request', 'must be an object');
  refuseUnknownFields(raw, COMPLETION_FIELDS);
  const r = withoutNulls(raw as WorkerCompletionRequest & { max_completion_tokens?: number; parallel_tool_calls?: boolean });
  if (typeof r.prompt !== 'string') fail('prompt', `must be a string, got ${typeof r.prompt}`);
  checkSamplingParams(r as SamplingParams, vocabSize);
  if (r.max_completion_tokens !== undefined) {
    if (r.max_tokens !== undefined && r.max_tokens !== r.max_completion_tokens) fail('max_completion_tokens', 'give max_tokens or max_completion_tokens (the same limit), not two different values');
    r.max_tokens = r.max_completion_tokens;
  }
  if (r.max_tokens !== undefined && !(Number.isSafeInteger(r.max_tokens) && r.max_tokens >= 0)) fail('max_tokens', `must be a non-negative integer, got ${String(r.max_tokens)}`);
  if (r.truncation !== undefined && r.truncation !== 'none' && r.truncation !== 'left') fail('truncation', `must be 'none' or 'left', got ${JSON.stringify(r.truncation)}`);
  const n = r.n ?? 1;
  if (!(Number.isSafeInteger(n) && n >= 1 && n <= MAX_CHOICES)) fail('n', `must be an integer from 1 to ${MAX_CHOICES}, got ${String(r.n)}`);
  // OpenAI's legacy completions take `logprobs: N` for "the N most likely tokens too".
  let logprobs = false;
  let topLogprobs: number | undefined = r.top_logprobs;
  if (typeof r.logprobs === 'number') {
    if (!(Number.isSafeInteger(r.logprobs) && r.logprobs >= 0 && r.logprobs <= 5)) fail('logprobs', `as a number (OpenAI's legacy form) must be an integer from 0 to 5, got ${r.logprobs}`);
    if (topLogprobs !== undefined && topLogprobs !== r.logprobs) fail('top_logprobs', 'give logprobs: true with top_logprobs, or the legacy logprobs: N, not both');
    logprobs = true;
    topLogprobs = r.logprobs;
  } else {
    logprobs = optionalBoolean('logprobs', r.logprobs) ?? false;
  }
  if (topLogprobs !== undefined) {
    if (!(Number.isSafeInteger(topLogprobs) && topLogprobs >= 0 && topLogprobs <= MAX_TOP_LOGPROBS)) fail('top_logprobs', `must be an integer from 0 to ${MAX_TOP_LOGPROBS}, got ${String(topLogprobs)}`);
    if (!logprobs) fail('top_logprobs', 'needs logprobs: true');
  }
  const echo = optionalBoolean('echo', r.echo) ?? false;
  const ignoreEos = optionalBoolean('ignore_eos', r.ignore_eos) ?? false;
  optionalBoolean('parallel_tool_calls', r.parallel_tool_calls);
  if (r.parallel_tool_calls !== undefined && r.grammar === undefined) fail('parallel_tool_calls', 'applies to chat requests with tools only');
  const stops = r.stop === undefined ? [] : Array.isArray(r.stop) ? r.stop : [r.stop];
  if (stops.length > MAX_STOP_STRINGS || stops.some((s) => typeof s !== 'string' || s.length === 0)) {
    fail('stop', `must be up to ${MAX_STOP_STRINGS} non-empty strings`);
  }
  const templateStops = r.template_stop ?? [];
  if (!Array.isArray(templateStops) || templateStops.some((s) => typeof s !== 'string' || s.length === 0)) fail('template_stop', 'must be non-empty strings');
  if (r.model !== undefined && (typeof r.model !== 'string' || r.model === '')) fail('model', `must be the loaded model's URL or id, got ${JSON.stringify(r.model)}`);
  const extra = r.extra_body;
  if (extra !== undefined && (typeof extra !== 'object' || Array.isArray(extra))) fail('extra_body', 'must be an object');
  let enableThinking: boolean | undefined;
  for (const [key, value] of Object.entries(extra ?? {})) {
    if (value === null || value === undefined) continue;
    if (key === 'enable_thinking') enableThinking = optionalBoolean('extra_body.enable_thinking', value);
    else if (key === 'enable_latency_breakdown') {
      if (optionalBoolean('extra_body.enable_latency_breakdown', value)) fail('extra_body.enable_latency_breakdown', 'webchuan reports its timings in usage.extra; it has no per-step breakdown');
    } else fail(`extra_body.${key}`, 'is not a field webchuan knows (enable_thinking, enable_latency_breakdown)');
  }
  let grammar = r.grammar;
  if (r.response_format !== undefined) {
    if (grammar) fail('response_format', 'cannot be combined with tools: a tool call is already held to its JSON');
    grammar = grammarOfResponseFormat(r.response_format);
  }
  if (grammar && ignoreEos) fail('ignore_eos', 'cannot be combined with response_format or tools: a reply held to a grammar ends with the model\'s end-of-sequence token');
  const { max_completion_tokens: _alias, parallel_tool_calls: _parallel, template_stop: _t, response_format: _f, extra_body: _e, stop: _s, ...rest } = r;
  return {
    ...(rest as Omit<typeof rest, 'logprobs' | 'top_logprobs' | 'n' | 'echo' | 'ignore_eos' | 'truncation' | 'max_tokens' | 'temperature' | 'grammar'>),
    max_tokens: r.max_tokens,
    temperature: r.temperature ?? 1,
    stops: [...stops, ...templateStops],
    n,
    logprobs,
    top_logprobs: topLogprobs ?? 0,
    echo,
    ignore_eos: ignoreEos,
    truncation: r.truncation ?? 'none',
    ...(grammar ? { grammar } : {}),
    ...(enableThinking !== undefined ? { enable_thinking: enableThinking } : {}),
  };
}

/**
 * Refuses `extra_body.enable_thinking` on an engine whose chat templates have no thinking switch
 * (webchuan's WebGPU engine and the CPU path: only WebLLM's own templates know it).
 */
export function refuseEnableThinking(request: Pick<CheckedRequest, 'enable_thinking'>): void {
  if (request.enable_thinking !== undefined) {
    fail('extra_body.enable_thinking', "only WebLLM's own chat templates know it (the 'webllm' backend, chat without a page chatTemplate); webchuan's templates have no thinking switch");
  }
}

/**
 * Tokens to leave for the reply when fitting a prompt into the context window: `max_tokens`, or with
 * none given, one token (the prompt must leave room to answer), or with `truncation: 'left'` a
 * quarter of the window, so that cutting a long prompt still leaves a reply room to run.
 */
export function replyRoom(request: Pick<CheckedRequest, 'max_tokens' | 'truncation'>, contextWindow: number): number {
  if (request.max_tokens !== undefined) return request.max_tokens;
  return request.truncation === 'left' ? Math.ceil(contextWindow / 4) : 1;
}
