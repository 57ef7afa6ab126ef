/**
 * Checks a completion request before any work: every bad value ends in an InvalidRequestError that
 * names the parameter, so a page can show it next to the field that caused it.
 */
import type { WorkerCompletionRequest } from '../client/protocol.js';
import { checkSamplingParams } from '../engine/sampler.js';
import { InvalidRequestError } from '../errors.js';

/** Most caller stop strings per request, as in OpenAI's API (a chat template may add its own). */
export const MAX_STOP_STRINGS = 4;

/** A request whose fields were checked, with defaults filled in. */
export interface CheckedRequest extends WorkerCompletionRequest {
  max_tokens: number;
  temperature: number;
  stops: string[];
}

export function checkRequest(r: WorkerCompletionRequest, vocabSize: number): CheckedRequest {
  const fail = (param: string, message: string): never => {
    throw new InvalidRequestError(param, `${param}: ${message}`);
  };
  if (typeof r.prompt !== 'string') fail('prompt', `must be a string, got ${typeof r.prompt}`);
  checkSamplingParams(r, vocabSize);
  if (r.max_tokens !== undefined && !(Number.isSafeInteger(r.max_tokens) && r.max_tokens >= 0)) fail('max_tokens', `must be a non-negative integer, got ${String(r.max_tokens)}`);
  if (r.truncation !== undefined && r.truncation !== 'none' && r.truncation !== 'left') fail('truncation', `must be 'none' or 'left', got ${JSON.stringify(r.truncation)}`);
  if (r.logprobs !== undefined && typeof r.logprobs !== 'boolean') fail('logprobs', `must be true or false, got ${String(r.logprobs)}`);
  const stops = r.stop === undefined ? [] : Array.isArray(r.stop) ? r.stop : [r.stop];
  if (stops.length > MAX_STOP_STRINGS || stops.some((s) => typeof s !== 'string' || s.length === 0)) {
    fail('stop', `must be up to ${MAX_STOP_STRINGS} non-empty strings`);
  }
  const templateStops = r.template_stop ?? [];
  if (!Array.isArray(templateStops) || templateStops.some((s) => typeof s !== 'string' || s.length === 0)) fail('template_stop', 'must be non-empty strings');
  return { ...r, max_tokens: r.max_tokens ?? 16, temperature: r.temperature ?? 1, stops: [...stops, ...templateStops] };
}
