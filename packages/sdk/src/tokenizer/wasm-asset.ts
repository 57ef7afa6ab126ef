/**
 * Where the tokenizer runtime's wasm is: beside this module in the sources, beside the worker in a
 * build (the `new URL(…, import.meta.url)` form lets every bundler find, copy and rename it).
 */
import { wasmBytes, wasmSha256 } from './sentencepiece-glue.js';

export interface WasmAsset {
  url: string;
  sha256: string;
  bytes: number;
}

export function sentencepieceWasm(): WasmAsset {
  return { url: new URL('./sentencepiece.wasm', import.meta.url).href, sha256: wasmSha256, bytes: wasmBytes };
}
