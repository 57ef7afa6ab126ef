/**
 * SentencePiece tokenization through `@mlc-ai/web-tokenizers` (the real SentencePiece compiled to
 * wasm). The library is handed in rather than imported, because it loads differently in a bundled
 * browser worker (plain import) and in Node (as CommonJS, see node/web-tokenizers.ts).
 */

/** The part of `@mlc-ai/web-tokenizers`' Tokenizer that we use. */
export interface RawTokenizer {
  encode(text: string): Int32Array;
  decode(ids: Int32Array): string;
  getVocabSize(): number;
  idToToken(id: number): string;
  dispose(): void;
}

/** The `@mlc-ai/web-tokenizers` module (or anything shaped like it). */
export interface TokenizerLibrary {
  Tokenizer: { fromSentencePiece(model: ArrayBuffer): Promise<RawTokenizer> };
}

export class TextTokenizer {
  private constructor(private readonly raw: RawTokenizer) {}

  /** Loads a SentencePiece `tokenizer.model`. */
  static async fromSentencePiece(model: Uint8Array, library: TokenizerLibrary): Promise<TextTokenizer> {
    const copy = model.slice().buffer;
    return new TextTokenizer(await library.Tokenizer.fromSentencePiece(copy));
  }

  /** Token ids of `text`, with no BOS/EOS added. */
  encode(text: string): number[] {
    return Array.from(this.raw.encode(text));
  }

  /** Text of `ids`; control tokens (BOS, EOS) decode to nothing. */
  decode(ids: readonly number[]): string {
    return this.raw.decode(Int32Array.from(ids));
  }

  get vocabSize(): number {
    return this.raw.getVocabSize();
  }

  /** The piece of one id, e.g. `▁Hello` or `<0x0A>`. */
  idToToken(id: number): string {
    return this.raw.idToToken(id);
  }

  dispose(): void {
    this.raw.dispose();
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
    private readonly tokenizer: Pick<TextTokenizer, 'decode'>,
    context: readonly number[],
  ) {
    this.ids = [...context];
    this.readOffset = this.ids.length;
    this.prefixOffset = Math.max(0, this.ids.length - 6);
  }

  /** Adds one id; returns the text it completes ('' while a character is still partial). */
  push(id: number): string {
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
