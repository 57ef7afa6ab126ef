/**
 * The request fields the page handles itself (the stream, the signal, the chat template), checked
 * before anything reaches the worker: a bad one is an InvalidRequestError naming it, thrown at once
 * (a `stream: 'yes'` must not quietly stream, nor quietly not).
 */
import { InvalidRequestError } from '../errors.js';
import type { ChatCompletionStreamOptions } from './protocol.js';

/** What the page needs of a request's streaming fields. */
export interface StreamFields {
  stream: boolean;
  /** true: usage in a last chunk of its own; false: no usage; undefined (no stream_options): usage on the last chunk with a finish_reason (webchuan's default). */
  includeUsage: boolean | undefined;
}

const fail = (param: string, message: string): never => {
  throw new InvalidRequestError(param, `${param}: ${message}`);
};

/**
 * Fields the SDK itself puts on a request on its way to the worker. A caller's would slip past the
 * checks of the public ones (a grammar without `response_format`, stop strings past the limit of 4).
 */
const SDK_OWN_FIELDS = ['requestId', 'template_stop', 'grammar'];

export function checkStreamFields(params: { stream?: unknown; stream_options?: unknown; signal?: unknown; template?: unknown }, kind: 'chat' | 'completion'): StreamFields {
  if (params === null || typeof params !== 'object') fail('request', 'must be an object');
  for (const key of SDK_OWN_FIELDS) {
    if (Object.hasOwn(params, key)) fail(key, 'is not a request field (webchuan sets it itself on the way to the worker); see the README for the fields a request takes');
  }
  if (kind === 'completion' && Object.hasOwn(params, 'template')) fail('template', 'is a chat request\'s field (chat.completions.create): a completion\'s prompt is already text');
  const { stream, stream_options: options, signal, template } = params;
  if (stream !== undefined && stream !== null && typeof stream !== 'boolean') fail('stream', `must be true or false, got ${JSON.stringify(stream)}`);
  if (signal !== undefined && !(typeof AbortSignal !== 'undefined' && signal instanceof AbortSignal)) fail('signal', 'must be an AbortSignal');
  if (template !== undefined && typeof template !== 'function') fail('template', 'must be a function (messages → { prompt, stop })');
  let includeUsage: boolean | undefined;
  if (options !== undefined && options !== null) {
    if (stream !== true) fail('stream_options', 'applies to streamed requests only (stream: true)');
    if (typeof options !== 'object' || Array.isArray(options)) fail('stream_options', 'must be an object such as { include_usage: true }');
    for (const [key, value] of Object.entries(options as ChatCompletionStreamOptions)) {
      if (key !== 'include_usage') fail(`stream_options.${key}`, 'is not a stream option (include_usage is)');
      if (value !== undefined && value !== null && typeof value !== 'boolean') fail('stream_options.include_usage', 'must be true or false');
    }
    includeUsage = (options as ChatCompletionStreamOptions).include_usage ?? false;
  }
  return { stream: stream === true, includeUsage };
}
