// Types of the ES module that wasm-build/xgrammar.mjs generates from @mlc-ai/web-xgrammar as
// xgrammar-glue.js: the package's own classes, plus how webchuan hands the runtime its wasm.
export { CompiledGrammar, Grammar, GrammarCompiler, GrammarMatcher, Testings, TokenizerInfo } from '@mlc-ai/web-xgrammar';

/** SHA-256 (hex) and size of the xgrammar.wasm this glue was generated with. */
export declare const wasmSha256: string;
export declare const wasmBytes: number;

/** Emscripten's hook: instantiate the module with `imports` and hand the instance to `receive`. */
export interface XGrammarModuleOptions {
  instantiateWasm(imports: WebAssembly.Imports, receive: (instance: WebAssembly.Instance) => void): object;
  print?(text: string): void;
  printErr?(text: string): void;
}

/** Sets the options the runtime starts with; call before the first use of any class. */
export declare function setRuntimeOptions(options: XGrammarModuleOptions): void;
