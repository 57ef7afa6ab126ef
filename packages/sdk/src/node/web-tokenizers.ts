/**
 * `@mlc-ai/web-tokenizers` ships a UMD bundle inside a `"type": "module"` package: bundlers take it
 * as is, but Node's ESM loader rejects it. Node loads a `.cjs` copy of the same file instead.
 */
import { copyFileSync, existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TokenizerLibrary } from '../tokenizer/tokenizer.js';

let library: TokenizerLibrary | undefined;

export function loadTokenizerLibrary(): TokenizerLibrary {
  if (library) return library;
  const require = createRequire(import.meta.url);
  const bundle = require.resolve('@mlc-ai/web-tokenizers');
  const dir = join(tmpdir(), 'webchuan-web-tokenizers');
  const copy = join(dir, `index-${statSync(bundle).size}.cjs`);
  if (!existsSync(copy)) {
    mkdirSync(dir, { recursive: true });
    const partial = `${copy}.${process.pid}`;
    copyFileSync(bundle, partial);
    renameSync(partial, copy);
  }
  library = require(copy) as TokenizerLibrary;
  return library;
}
