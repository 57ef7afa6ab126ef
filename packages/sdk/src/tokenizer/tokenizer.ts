/**
 * Text ↔ token ids with the model's own tokenizer: SentencePiece (`tokenizer.model`, Baichuan and
 * llama2.c models) or Hugging Face's `tokenizer.json` (WebLLM's LLaMA-family artifacts), both run by
 * the real C++ libraries compiled to wasm (see runtime.ts).
 */
import { InvalidRequestError, TokenizerError } from '../errors.js';
import type { NativeTokenizer, TokenizerBinding, TokenizerRuntime } from './runtime.js';

/** A tokenizer file: SentencePiece's `tokenizer.model`, or Hugging Face's `tokenizer.json`. */
export interface TokenizerFile {
  format: 'sentencepiece' | 'hf-json';
  bytes: Uint8Array;
}

/** The tokenizer file an artifact names (MLC's `tokenizer_files`), by what its name says it is. */
export function tokenizerFormat(name: string): TokenizerFile['format'] {
  return name.endsWith('.json') ? 'hf-json' : 'sentencepiece';
}

/** The wasm runtime trapped (it ran out of memory, most likely); the tokenizer restarts it before its next use. */
export class TokenizerCrashError extends Error {
  override name = 'TokenizerCrashError';
}

/**
 * `tokenizer.encode(text)` for a request: a trapped runtime becomes the typed TokenizerError the
 * caller sees (the tokenizer restarts its runtime before the next request).
 */
export function encodeForRequest(tokenizer: TextTokenizer, text: string): number[] {
  try {
    return tokenizer.encode(text);
  } catch (error) {
    if (error instanceof TokenizerCrashError) throw new TokenizerError(`${error.message} The next request restarts it.`, { cause: error });
    throw error;
  }
}

export class TextTokenizer {
  private binding!: TokenizerBinding;
  private native!: NativeTokenizer;
  /** False after a trap, until revive() has started a fresh runtime. */
  private alive = false;
  private disposed = false;
  private longestPiece?: number;
  private size?: number;

  private constructor(
    private readonly runtime: TokenizerRuntime,
    private readonly file: TokenizerFile,
  ) {}

  /** Starts a runtime and loads the tokenizer file into it. */
  static async load(runtime: TokenizerRuntime, file: TokenizerFile): Promise<TextTokenizer> {
    const tokenizer = new TextTokenizer(runtime, { format: file.format, bytes: file.bytes.slice() });
    await tokenizer.revive();
    return tokenizer;
  }

  /** True when the runtime is usable; false after it trapped, until revive(). */
  get usable(): boolean {
    return this.alive;
  }

  /** Replaces a runtime that trapped with a fresh one (a no-op when it is alive). */
  async revive(): Promise<void> {
    if (this.alive) return;
    if (this.disposed) throw new Error('The tokenizer was disposed.');
    this.binding = await this.runtime.instantiate();
    const blob = this.file.bytes.slice().buffer;
    this.native = this.file.format === 'hf-json' ? this.binding.Tokenizer.FromBlobJSON(blob) : this.binding.Tokenizer.FromBlobSentencePiece(blob);
    this.alive = true;
  }

  /** Runs `call` in the runtime; a trap marks the runtime dead (revive() restarts it) and becomes TokenizerCrashError. */
  private guard<T>(call: () => T): T {
    if (this.disposed) throw new Error('The tokenizer was disposed.');
    if (!this.alive) throw new TokenizerCrashError('The tokenizer runtime stopped after an earlier failure and has not been restarted.');
    try {
      return call();
    } catch (error) {
      if (error instanceof WebAssembly.RuntimeError) {
        this.alive = false;
        throw new TokenizerCrashError(`The tokenizer runtime failed: ${error.message}`, { cause: error });
      }
      throw error;
    }
  }

  /** Token ids of `text`, with no BOS/EOS added. */
  encode(text: string): number[] {
    if (typeof text !== 'string') throw new InvalidRequestError('text', `text: must be a string, got ${text === null ? 'null' : typeof text}`);
    return this.guard(() => {
      const vector = this.native.Encode(text);
      try {
        return Array.from(this.binding.vecIntToView(vector));
      } finally {
        vector.delete();
      }
    });
  }

  /**
   * Text of `ids`; control tokens (BOS, EOS) decode to nothing. Every id must be a token of this
   * vocabulary: the runtime would turn -1, 1.5 or 10⁹ into an empty string (or another token, through
   * Int32Array's wrap-around), which reads as "the model said nothing". An InvalidRequestError names
   * the first id at fault instead.
   */
  decode(ids: readonly number[]): string {
    if (!Array.isArray(ids)) throw new InvalidRequestError('ids', `ids: must be a list of token ids, got ${ids === null ? 'null' : typeof ids}`);
    const size = this.vocabSize;
    const bad = ids.findIndex((id) => !(typeof id === 'number' && Number.isInteger(id) && id >= 0 && id < size));
    if (bad >= 0) {
      const id: unknown = ids[bad];
      throw new InvalidRequestError('ids', `ids[${bad}]: ${typeof id === 'number' ? String(id) : JSON.stringify(id) ?? String(id)} is not a token id of this tokenizer (integers 0…${size - 1})`);
    }
    return this.guard(() => {
      const vector = this.binding.vecIntFromJSArray(Int32Array.from(ids));
      try {
        return this.native.Decode(vector);
      } finally {
        vector.delete();
      }
    });
  }

  /** Read once: Hugging Face tokenizers count their vocabulary by building it (O(V) a call). */
  get vocabSize(): number {
    this.size ??= this.guard(() => this.native.GetVocabSize());
    return this.size;
  }

  /** The piece of one id, e.g. `▁Hello` or `<0x0A>`. */
  idToToken(id: number): string {
    return this.guard(() => this.native.IdToToken(id));
  }

  /**
   * The most characters one token can stand for: the longest piece (byte pieces such as `<0xE4>` stand
   * for one byte). A text of n characters has at least n / this many tokens, which bounds the work
   * of a prompt before it is tokenized.
   */
  get maxCharsPerToken(): number {
    if (this.longestPiece === undefined) {
      let longest = 1;
      const size = this.vocabSize;
      for (let id = 0; id < size; id++) {
        const piece = this.idToToken(id);
        if (!/^<0x[0-9A-F]{2}>$/.test(piece)) longest = Math.max(longest, [...piece].length);
      }
      this.longestPiece = longest;
    }
    return this.longestPiece;
  }

  dispose(): void {
    if (this.alive) this.native.delete();
    this.alive = false;
    this.disposed = true;
  }
}

/**
 * Turns a stream of generated ids into a stream of text, never splitting a UTF-8 character:
 * byte-fallback pieces (`<0xE4>` `<0xBD>` `<0xA0>` = 你) are held back until they decode to a whole
 * character. It decodes a short window that starts a few tokens back, so each token costs O(1) and
 * SentencePiece's leading-space rules see the same context as in a full decode.
 */
export class StreamingDetokenizer {
  private readonly ids: number[];
  private prefixOffset: number;
  private readOffset: number;

  /** `context`: the ids that precede the generated ones (the prompt, with BOS if any). */
  constructor(
    private readonly tokenizer: Pick<TextTokenizer, 'decode' | 'vocabSize'>,
    context: readonly number[],
  ) {
    this.ids = [...context];
    this.readOffset = this.ids.length;
    this.prefixOffset = Math.max(0, this.ids.length - 6);
  }

  /**
   * Adds one id; returns the text it completes ('' while a character is still partial). An id the
   * model has but the tokenizer does not (the padding rows of a vocabulary rounded up for the GPU)
   * has no text.
   */
  push(id: number): string {
    if (!(Number.isInteger(id) && id >= 0 && id < this.tokenizer.vocabSize)) return '';
    this.ids.push(id);
    return this.emit(false);
  }

  /** Text still held back at the end of generation (a partial character decodes as U+FFFD). */
  flush(): string {
    return this.emit(true);
  }

  private emit(final: boolean): string {
    const prefixText = this.tokenizer.decode(this.ids.slice(this.prefixOffset, this.readOffset));
    const fullText = this.tokenizer.decode(this.ids.slice(this.prefixOffset));
    if (fullText.length <= prefixText.length || (!final && fullText.endsWith('\uFFFD'))) return '';
    this.prefixOffset = this.readOffset;
    this.readOffset = this.ids.length;
    return fullText.slice(prefixText.length);
  }
}
