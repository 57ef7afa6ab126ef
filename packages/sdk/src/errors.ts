/**
 * Typed errors of webchuan. Every error a user can act on has its own class and a stable `code`,
 * so a page can tell "no WebGPU" from "not enough disk" without parsing messages.
 */

export type WebchuanErrorCode =
  | 'webgpu-unavailable'
  | 'cpu-unavailable'
  | 'model-not-found'
  | 'bad-artifact'
  | 'integrity'
  | 'quota'
  | 'network'
  | 'context-overflow'
  | 'device-lost'
  | 'aborted'
  | 'invalid-request'
  | 'tokenizer'
  | 'bad-checkpoint'
  | 'output-path';

export class WebchuanError extends Error {
  constructor(
    readonly code: WebchuanErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
  // new.target.name is whatever a minifier renamed the class to: each subclass below also names
  // itself with a literal, since callers (the elements, apps) tell an abort from a failure by
  // `error.name === 'AbortError'`.
}

/** The artifact (or one of its files) is not at the URL given. */
export class ModelNotFoundError extends WebchuanError {
  override name = 'ModelNotFoundError';
  constructor(
    readonly url: string,
    readonly status: number,
    /** What the server sent instead, when it was not a plain 404 (an HTML page, say). */
    detail?: string,
  ) {
    super('model-not-found', detail ? `No model artifact at ${url}: ${detail}.` : `No model artifact at ${url} (HTTP ${status}). Check the model URL.`);
  }
}

/** The artifact's files are malformed or do not describe a model we can run. */
export class BadArtifactError extends WebchuanError {
  override name = 'BadArtifactError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('bad-artifact', message, options);
  }
}

/** A shard kept failing its integrity check after re-fetching (or, on disk, failed it once). */
export class IntegrityError extends WebchuanError {
  override name = 'IntegrityError';
  constructor(
    readonly file: string,
    attempts: number,
    /** Replaces the download-oriented message, e.g. for a file on disk. */
    message?: string,
  ) {
    super('integrity', message ?? `${file} failed its integrity check ${attempts} times; the server may hold a corrupt copy.`);
  }
}

/** Not enough browser storage for what is still to be downloaded. */
export class QuotaExceededError extends WebchuanError {
  override name = 'QuotaExceededError';
  constructor(
    readonly neededBytes: number,
    readonly freeBytes: number,
  ) {
    super(
      'quota',
      `The model needs ${formatBytes(neededBytes)} more storage but only ${formatBytes(freeBytes)} is free for this site. ` +
        'Free some space (delete cached models or other site data) and try again.',
    );
  }
}

/** The network failed repeatedly without progress. */
export class NetworkError extends WebchuanError {
  override name = 'NetworkError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('network', message, options);
  }
}

/** There is no usable WebGPU: no navigator.gpu, no adapter, or limits too small for the model. */
export class WebGPUUnavailableError extends WebchuanError {
  override name = 'WebGPUUnavailableError';
  constructor(message: string) {
    super('webgpu-unavailable', message);
  }
}

/**
 * The CPU path (llama.cpp in WebAssembly) cannot run here: the browser lacks a WebAssembly feature
 * every build needs (SIMD, exception handling), or the model does not fit llama.cpp's wasm memory
 * (`neededBytes` against `limitBytes`; 0 when the problem is not memory).
 */
export class CpuUnavailableError extends WebchuanError {
  override name = 'CpuUnavailableError';
  constructor(
    message: string,
    readonly neededBytes = 0,
    readonly limitBytes = 0,
  ) {
    super('cpu-unavailable', message);
  }
}

/**
 * The prompt and the requested output do not fit the context window. `bound` says what promptTokens
 * is: the exact count, a lower bound (a prompt too long to be worth tokenizing), or — when max_tokens
 * alone fills the window, so the prompt was not even counted — only the tokens the model puts before
 * every prompt (its BOS). The message names the real cause in each case.
 */
export class ContextOverflowError extends WebchuanError {
  override name = 'ContextOverflowError';
  constructor(
    readonly promptTokens: number,
    readonly maxTokens: number,
    readonly contextWindow: number,
    bound: 'exactly' | 'at least' | 'max_tokens alone' = 'exactly',
  ) {
    super(
      'context-overflow',
      bound === 'max_tokens alone'
        ? `max_tokens is ${maxTokens}, but the context window holds ${contextWindow} tokens in all, the prompt included${promptTokens > 0 ? ` (and ${promptTokens} of them start every prompt)` : ''}: ` +
            `no room is left for the prompt, whatever it is. Lower max_tokens to at most ${Math.max(0, contextWindow - promptTokens - 1)}.`
        : `The prompt has ${bound === 'at least' ? 'at least ' : ''}${promptTokens} tokens and asks for up to ${maxTokens} more, but the context window holds ${contextWindow}. ` +
            "Shorten the prompt, lower max_tokens, or pass truncation: 'left'.",
    );
  }
}

/** The GPU device was lost (driver reset, another tab took the memory…); the next request reloads the model. */
export class DeviceLostError extends WebchuanError {
  override name = 'DeviceLostError';
  constructor(reason: string) {
    super('device-lost', `The GPU device was lost (${reason}). The next request will reload the model.`);
  }
}

/** The request was cancelled through its AbortSignal. */
export class AbortError extends WebchuanError {
  override name = 'AbortError';
  constructor(message = 'The operation was aborted.') {
    super('aborted', message);
  }
}

/** A request or option the SDK cannot accept (a bad parameter value, a malformed model URL). */
export class InvalidRequestError extends WebchuanError {
  override name = 'InvalidRequestError';
  constructor(
    /** The parameter at fault, e.g. `temperature` or `logit_bias`. */
    readonly param: string,
    message: string,
  ) {
    super('invalid-request', message);
  }
}

/** The tokenizer's wasm runtime failed on this request; it restarts by itself for the next one. */
export class TokenizerError extends WebchuanError {
  override name = 'TokenizerError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('tokenizer', message, options);
  }
}

/** A checkpoint being converted is malformed, truncated or hostile (CLI). `file` names the file at fault. */
export class BadCheckpointError extends WebchuanError {
  override name = 'BadCheckpointError';
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super('bad-checkpoint', `${file}: ${problem}`);
  }
}

/**
 * An output path the CLI refuses to write: it holds something that is not one of our artifacts, or
 * it is (or holds) the input. Nothing a user owns is ever replaced.
 */
export class OutputPathError extends WebchuanError {
  override name = 'OutputPathError';
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super('output-path', `${path}: ${problem}`);
  }
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/** The fields of an error that survive a trip between worker and page. */
export interface SerializedError {
  name: string;
  message: string;
  code?: WebchuanErrorCode;
  stack?: string;
  /** A WebchuanError's own fields (`neededBytes`, `param`, …), restored on the other side. */
  details?: Record<string, string | number | boolean>;
}

export function serializeError(error: unknown): SerializedError {
  const e = error instanceof Error ? error : new Error(String(error));
  const serialized: SerializedError = { name: e.name, message: e.message, stack: e.stack };
  if (error instanceof WebchuanError) {
    serialized.code = error.code;
    serialized.details = {};
    for (const [key, value] of Object.entries(error)) {
      if (!['code', 'name', 'message', 'stack'].includes(key) && ['string', 'number', 'boolean'].includes(typeof value)) serialized.details[key] = value as string | number | boolean;
    }
  }
  return serialized;
}

const ERROR_CLASSES: Record<WebchuanErrorCode, abstract new (...args: never[]) => WebchuanError> = {
  'webgpu-unavailable': WebGPUUnavailableError,
  'cpu-unavailable': CpuUnavailableError,
  'model-not-found': ModelNotFoundError,
  'bad-artifact': BadArtifactError,
  integrity: IntegrityError,
  quota: QuotaExceededError,
  network: NetworkError,
  'context-overflow': ContextOverflowError,
  'device-lost': DeviceLostError,
  aborted: AbortError,
  'invalid-request': InvalidRequestError,
  tokenizer: TokenizerError,
  'bad-checkpoint': BadCheckpointError,
  'output-path': OutputPathError,
};

/** Rebuilds an error from the worker as the matching class, so `instanceof` works in the page. */
export function deserializeError(s: SerializedError): Error {
  const cls = s.code ? ERROR_CLASSES[s.code] : undefined;
  const error: Error = cls ? Object.create(cls.prototype) : new Error(s.message);
  if (cls) {
    Object.defineProperty(error, 'message', { value: s.message, writable: true, configurable: true });
    Object.defineProperty(error, 'code', { value: s.code, enumerable: true });
    for (const [key, value] of Object.entries(s.details ?? {})) Object.defineProperty(error, key, { value, enumerable: true });
  }
  error.name = s.name;
  if (s.stack) error.stack = s.stack;
  return error;
}
