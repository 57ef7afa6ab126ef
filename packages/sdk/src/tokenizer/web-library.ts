/**
 * `@mlc-ai/web-tokenizers` in a bundled page or worker. The package is a UMD bundle: depending on
 * how the bundler wraps it, its exports arrive on the namespace itself or on `default`.
 */
import type { TokenizerLibrary } from './tokenizer.js';

export async function loadWebTokenizers(): Promise<TokenizerLibrary> {
  const module = (await import('@mlc-ai/web-tokenizers')) as unknown as TokenizerLibrary & { default?: TokenizerLibrary };
  const library = module.Tokenizer ? module : module.default;
  if (!library?.Tokenizer) throw new Error('@mlc-ai/web-tokenizers did not load: no Tokenizer export');
  return library;
}
