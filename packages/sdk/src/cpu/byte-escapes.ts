/**
 * Text from llama.cpp with the model's byte pieces printed by name (`<0xE6><0x9D><0x8E>`: the CPU
 * path's GGUF writes them as normal pieces, see gguf-artifact.ts `bytePieces`), turned back into the
 * characters they spell, as SentencePiece's decoder does: consecutive bytes form UTF-8, a sequence
 * that is not valid UTF-8 becomes U+FFFD. Streaming: a name cut between two pieces, or a character
 * whose bytes have not all arrived, is held back until it is whole.
 *
 * Model text that spells `<0x4A>` with ordinary pieces would read as the byte it names: the price of
 * never handing llama-server a lone byte, which its JSON writer throws on.
 */
const ESCAPE = /<0x([0-9A-F]{2})>/g;
/** A tail that may still become a complete `<0xHH>`. */
const PARTIAL = /<(0(x([0-9A-F]([0-9A-F])?)?)?)?$/;

export class ByteEscapes {
  private pending = '';
  private bytes: number[] = [];
  private readonly decoder = new TextDecoder('utf-8', { fatal: false });

  /** Adds text from llama.cpp; returns what is certain now. */
  push(piece: string): string {
    this.pending += piece;
    let out = '';
    let at = 0;
    for (const m of this.pending.matchAll(ESCAPE)) {
      if (m.index! > at) out += this.flushBytes() + this.pending.slice(at, m.index);
      this.bytes.push(parseInt(m[1]!, 16));
      at = m.index! + m[0].length;
    }
    let rest = this.pending.slice(at);
    const partial = PARTIAL.exec(rest);
    const keep = partial ? partial[0] : '';
    rest = rest.slice(0, rest.length - keep.length);
    if (rest) out += this.flushBytes() + rest;
    else out += this.completeCharacters();
    this.pending = keep;
    return out;
  }

  /** Whatever is held back, at the end of the text. */
  flush(): string {
    const out = this.flushBytes() + this.pending;
    this.pending = '';
    return out;
  }

  /** All collected bytes as text (an unfinished character becomes U+FFFD). */
  private flushBytes(): string {
    if (this.bytes.length === 0) return '';
    const text = this.decoder.decode(Uint8Array.from(this.bytes));
    this.bytes = [];
    return text;
  }

  /** The collected bytes that form whole characters; the bytes of an unfinished last one stay. */
  private completeCharacters(): string {
    const b = this.bytes;
    let end = b.length;
    // Walk back over continuation bytes to the last lead byte: is its character complete?
    let i = b.length - 1;
    while (i >= 0 && i > b.length - 4 && (b[i]! & 0xc0) === 0x80) i--;
    if (i >= 0) {
      const lead = b[i]!;
      const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
      if (b.length - i < need && lead >= 0xc0) end = i;
    }
    if (end === 0) return '';
    const text = this.decoder.decode(Uint8Array.from(b.slice(0, end)));
    this.bytes = b.slice(end);
    return text;
  }
}
