/**
 * The SentencePiece / Hugging Face tokenizers runtime (C++ compiled to wasm by MLC, split out of
 * `@mlc-ai/web-tokenizers` by wasm-build/sentencepiece.mjs). The wasm is compiled once; each
 * `instantiate()` starts a fresh runtime with its own memory, so a runtime that aborted (a wasm trap
 * poisons it for good) is replaced instead of taking the tokenizer down for the worker's life.
 */
import createSentencePiece from './sentencepiece-glue.js';

/** An embind `std::vector<int>`: memory inside the wasm heap, freed with delete(). */
export interface NativeVector {
  delete(): void;
}

/** An embind `tokenizers::Tokenizer`. */
export interface NativeTokenizer {
  Encode(text: string): NativeVector;
  Decode(ids: NativeVector): string;
  GetVocabSize(): number;
  IdToToken(id: number): string;
  delete(): void;
}

/** What the runtime exports (the names `@mlc-ai/web-tokenizers` binds in C++). */
export interface TokenizerBinding {
  Tokenizer: {
    FromBlobSentencePiece(model: ArrayBuffer): NativeTokenizer;
    FromBlobJSON(json: ArrayBuffer): NativeTokenizer;
  };
  vecIntToView(vector: NativeVector): Int32Array;
  vecIntFromJSArray(ids: Int32Array): NativeVector;
}

/** The Emscripten options webchuan passes: the module is always instantiated from our compiled wasm. */
export interface EmscriptenModuleOptions {
  instantiateWasm(imports: WebAssembly.Imports, receive: (instance: WebAssembly.Instance) => void): object;
  print?(text: string): void;
  printErr?(text: string): void;
}

export class TokenizerRuntime {
  private constructor(private readonly wasm: WebAssembly.Module) {}

  /** Compiles the runtime's wasm (the bytes of `sentencepiece.wasm`). */
  static async compile(bytes: Uint8Array): Promise<TokenizerRuntime> {
    return new TokenizerRuntime(await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>));
  }

  /** A fresh runtime with its own memory. */
  instantiate(): Promise<TokenizerBinding> {
    const wasm = this.wasm;
    return new Promise((resolve, reject) => {
      createSentencePiece({
        instantiateWasm(imports, receive) {
          WebAssembly.instantiate(wasm, imports).then(receive, reject);
          return {};
        },
        // The runtime reports its aborts here before throwing; the thrown error carries the same text.
        printErr: () => undefined,
      }).then(resolve, reject);
    });
  }
}
