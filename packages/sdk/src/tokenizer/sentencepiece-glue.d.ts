// Types of the Emscripten factory that wasm-build/sentencepiece.mjs generates as sentencepiece-glue.js.
import type { EmscriptenModuleOptions, TokenizerBinding } from './runtime.js';

/** SHA-256 (hex) and size of the sentencepiece.wasm this glue was generated with. */
export declare const wasmSha256: string;
export declare const wasmBytes: number;
declare const createSentencePiece: (options: EmscriptenModuleOptions) => Promise<TokenizerBinding>;
export default createSentencePiece;
