/**
 * XGrammar's runtime (C++ compiled to wasm by MLC, split out of `@mlc-ai/web-xgrammar` by
 * wasm-build/xgrammar.mjs). It starts once per worker, the first time a request asks for structured
 * output: requests without `response_format` or `tools` never fetch its wasm.
 */
import type { WasmAsset } from '../tokenizer/wasm-asset.js';
import { setRuntimeOptions, wasmBytes, wasmSha256 } from './xgrammar-glue.js';

/** Where XGrammar's wasm is: beside this module in the sources, beside the worker in a build. */
export function xgrammarWasm(): WasmAsset {
  return { url: new URL('./xgrammar.wasm', import.meta.url).href, sha256: wasmSha256, bytes: wasmBytes };
}

let started: Promise<void> | undefined;

/**
 * Compiles XGrammar's wasm (from `bytes()`, called once) and hands it to the runtime, which
 * instantiates it on first use. A failure (the fetch, say) is retried by the next call.
 */
export function startGrammarRuntime(bytes: () => Promise<Uint8Array>): Promise<void> {
  started ??= (async () => {
    // Compiled before the runtime can ask for it: Emscripten waits forever on an instantiateWasm
    // that never calls back, so nothing that can fail happens inside the hook.
    const module = await WebAssembly.compile((await bytes()) as Uint8Array<ArrayBuffer>);
    setRuntimeOptions({
      instantiateWasm(imports, receive) {
        void WebAssembly.instantiate(module, imports).then(receive);
        return {};
      },
      print: () => undefined,
      printErr: () => undefined,
    });
  })();
  started.catch(() => (started = undefined));
  return started;
}
