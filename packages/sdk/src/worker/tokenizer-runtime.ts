/**
 * The worker's wasm runtimes, each compiled once per worker: the tokenizer's (at the first load) and
 * XGrammar's (at the first request with a grammar). A failed fetch is retried by the next call.
 */
import { startGrammarRuntime, xgrammarWasm } from '../grammar/runtime.js';
import { cachedAsset, loadTokenizerRuntime } from '../store/assets.js';
import type { TokenizerRuntime } from '../tokenizer/runtime.js';

let runtime: Promise<TokenizerRuntime> | undefined;

export function tokenizerRuntime(): Promise<TokenizerRuntime> {
  runtime ??= loadTokenizerRuntime();
  runtime.catch(() => (runtime = undefined));
  return runtime;
}

export function grammarRuntime(): Promise<void> {
  return startGrammarRuntime(() => cachedAsset(xgrammarWasm()));
}
