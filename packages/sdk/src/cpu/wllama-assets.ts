/**
 * Where llama.cpp's wasm builds are: beside this module in the sources, beside the CPU worker in a
 * build. Each URL is written as a literal `new URL('./x', import.meta.url)` so every bundler finds,
 * copies and renames the file; the worker fetches only the one build this browser runs, and only
 * when the CPU path runs.
 */
import type { WasmAsset } from '../tokenizer/wasm-asset.js';
import { compatGlue, compatWasm, wasm } from './wllama-files.js';

/** The default build: 64-bit memory (Memory64), JSPI for async file reads where the browser has it. */
export function wllamaWasm(): WasmAsset {
  return { url: new URL('./wllama.wasm', import.meta.url).href, ...wasm };
}

/** The build for browsers without Memory64 or JSPI (Safari, older engines): 32-bit memory, Asyncify. */
export function wllamaCompatWasm(): WasmAsset {
  return { url: new URL('./wllama-compat.wasm', import.meta.url).href, ...compatWasm };
}

/** The compat build's Emscripten glue, which wllama runs from its text. */
export function wllamaCompatGlue(): WasmAsset {
  return { url: new URL('./wllama-compat-glue.txt', import.meta.url).href, ...compatGlue };
}
