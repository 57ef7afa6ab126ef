// Types of the module wasm-build/wllama.mjs generates as wllama-files.js.

/** SHA-256 (hex) and size of one file of llama.cpp's wasm builds shipped beside the CPU worker. */
export interface WllamaFileDigest {
  sha256: string;
  bytes: number;
}

/** The `@wllama/wllama` release the files come from (the worker's bundled wllama is the same one). */
export declare const wllamaVersion: string;
/** wllama.wasm: the default build (Memory64). */
export declare const wasm: WllamaFileDigest;
/** wllama-compat.wasm: the build for browsers without Memory64 or JSPI. */
export declare const compatWasm: WllamaFileDigest;
/** wllama-compat-glue.txt: the compat build's Emscripten glue. */
export declare const compatGlue: WllamaFileDigest;
