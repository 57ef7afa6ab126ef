/** The tokenizer's wasm runtime, compiled once per worker; a failed fetch is retried by the next load. */
import { loadTokenizerRuntime } from '../store/assets.js';
import type { TokenizerRuntime } from '../tokenizer/runtime.js';

let runtime: Promise<TokenizerRuntime> | undefined;

export function tokenizerRuntime(): Promise<TokenizerRuntime> {
  runtime ??= loadTokenizerRuntime();
  runtime.catch(() => (runtime = undefined));
  return runtime;
}
