/**
 * WebLLM's errors as webchuan's typed ones. WebLLM throws plain Error subclasses told apart by
 * `name`; the page should see the same classes and codes whichever engine runs its model.
 */
import { BadArtifactError, ContextOverflowError, DeviceLostError, InvalidRequestError, NetworkError, WebchuanError, WebGPUUnavailableError } from '../errors.js';

/** WebLLM's own argument checks (names of its classes) that mean a bad request parameter. */
const PARAMETER_ERRORS = new Set(['RangeError', 'MinValueError', 'NonNegativeError', 'InvalidNumberStringError', 'DependencyError', 'SeedTypeError', 'UnsupportedFieldsError', 'MessageOrderError', 'SystemMessageOrderError', 'ContentTypeError', 'UserMessageContentErrorForNonVLM', 'UnsupportedRoleError']);

/** `ContextWindowSizeExceededError`'s figures: "number of prompt tokens: N; context window size: W". */
export function contextWindowFigures(error: unknown): { promptTokens: number; contextWindow: number } | undefined {
  if ((error as Error)?.name !== 'ContextWindowSizeExceededError') return undefined;
  const m = /prompt tokens: (\d+); context window size: (\d+)/.exec((error as Error).message);
  return m ? { promptTokens: Number(m[1]), contextWindow: Number(m[2]) } : undefined;
}

/** A WebLLM failure while loading `id` with `modelLib`. */
export function loadError(error: unknown, id: string, modelLib: string): Error {
  if (error instanceof WebchuanError) return error;
  const e = error as Error;
  switch (e?.name) {
    case 'WebGPUNotAvailableError':
    case 'ShaderF16SupportError':
    case 'FeatureSupportError':
      return new WebGPUUnavailableError(e.message);
    case 'DeviceLostError':
      return new DeviceLostError(`while WebLLM loaded ${id}: ${e.message}`);
    case 'CompileError':
    case 'LinkError':
    case 'RuntimeError':
      // A library built for another TVM runtime than this WebLLM's fails to link or traps at once.
      return new BadArtifactError(`WebLLM could not run the model library ${modelLib} (${e.name}: ${e.message}); it may be built for another WebLLM version.`, { cause: e });
    case 'TypeError':
      if (/fetch/i.test(e.message)) return new NetworkError(`WebLLM could not download ${id}: ${e.message}`, { cause: e });
  }
  if (/fetch/i.test(e?.message ?? '')) return new NetworkError(`WebLLM could not download ${id}: ${e.message}`, { cause: e });
  return new BadArtifactError(`WebLLM could not load ${id}: ${e?.message ?? String(error)}`, { cause: e });
}

/** A WebLLM failure during a request that asked for up to `maxTokens` tokens. */
export function requestError(error: unknown, maxTokens: number): Error {
  if (error instanceof WebchuanError) return error;
  const window = contextWindowFigures(error);
  if (window) return new ContextOverflowError(window.promptTokens, maxTokens, window.contextWindow);
  const e = error as Error;
  if (e?.name === 'DeviceLostError') return new DeviceLostError(e.message);
  if (PARAMETER_ERRORS.has(e?.name)) return new InvalidRequestError('request', `WebLLM refused the request: ${e.message}`);
  return e instanceof Error ? e : new Error(String(error));
}
