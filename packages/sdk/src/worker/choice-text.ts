/**
 * One choice's text as it is generated from token ids: decoded without splitting a character, cut at
 * the first stop string (which may span tokens), streamed to the page as deltas, each with the
 * log-probabilities of the tokens whose text it completes. Engines that sample token ids on the
 * worker (webchuan's GPU engine, a CPU engine) share it.
 */
import type { ChatCompletionTokenLogprob, CompletionLogprobs, TopLogprob, WorkerDelta } from '../client/protocol.js';
import type { TokenLogprob } from '../engine/generate.js';
import { StreamingDetokenizer, type TextTokenizer } from '../tokenizer/tokenizer.js';
import { StopStringMatcher } from './stop-strings.js';

/** A token's text and UTF-8 bytes, from its piece: `▁` is a space, `<0xNN>` one byte (SentencePiece's byte fallback). */
export function tokenText(piece: string): { token: string; bytes: number[] } {
  const byte = /^<0x([0-9A-Fa-f]{2})>$/.exec(piece);
  if (byte) {
    const b = parseInt(byte[1]!, 16);
    return { token: b < 0x80 ? String.fromCharCode(b) : `\\x${byte[1]!.toLowerCase()}`, bytes: [b] };
  }
  const token = piece.replaceAll('▁', ' ');
  return { token, bytes: [...new TextEncoder().encode(token)] };
}

export class ChoiceText {
  /** The choice's text so far (what was emitted). */
  text = '';
  /** True once a stop string ended the choice. */
  stopped = false;
  private readonly detok: StreamingDetokenizer;
  private readonly matcher: StopStringMatcher;
  /** Decoded characters before each token's text (its offset), with its logprob entry, not yet sent. */
  private readonly pending: { start: number; entry: ChatCompletionTokenLogprob }[] = [];
  private readonly entries: { start: number; entry: ChatCompletionTokenLogprob }[] = [];
  private decoded = 0;

  constructor(
    private readonly tokenizer: TextTokenizer,
    context: readonly number[],
    stops: readonly string[],
    private readonly choice: number,
    private readonly onDelta: ((delta: WorkerDelta) => void) | undefined,
    /** Text before the generated text (`echo`): emitted first, not subject to stop strings. */
    private readonly prefix = '',
  ) {
    this.detok = new StreamingDetokenizer(tokenizer, context);
    this.matcher = new StopStringMatcher(stops);
    if (prefix) this.emit(prefix, false);
  }

  /** Adds a generated token; false once a stop string has matched (generation should end). */
  push(id: number, logprob?: TokenLogprob): boolean {
    if (logprob) {
      const top: TopLogprob[] = logprob.top.map((t) => ({ ...tokenText(this.tokenizer.idToToken(t.id)), logprob: t.logprob }));
      this.pending.push({ start: this.decoded, entry: { ...tokenText(this.tokenizer.idToToken(id)), logprob: logprob.logprob, top_logprobs: top } });
    }
    const piece = this.detok.push(id);
    this.decoded += piece.length;
    const { text, stopped } = this.matcher.push(piece);
    this.emit(text, false);
    if (stopped) this.stopped = true;
    return !stopped;
  }

  /** Emits what was held back, at the end of the choice. */
  finish(): void {
    if (!this.stopped) this.emit(this.matcher.push(this.detok.flush()).text + this.matcher.flush(), true);
    else this.emit('', true);
  }

  /** The tokens' logprobs in both of a completion's shapes (tokens cut off by a stop string are left out). */
  completionLogprobs(): CompletionLogprobs {
    const kept = this.entries.map((e) => e.entry);
    return {
      tokens: kept.map((e) => e.token),
      token_logprobs: kept.map((e) => e.logprob),
      top_logprobs: kept.map((e) => Object.fromEntries(e.top_logprobs.map((t) => [t.token, t.logprob]))),
      text_offset: this.entries.map((e) => this.prefix.length + e.start),
      content: kept,
    };
  }

  /** The kept tokens' logprobs in a chat choice's shape. */
  chatLogprobs(): ChatCompletionTokenLogprob[] {
    return this.entries.map((e) => e.entry);
  }

  private emit(piece: string, final: boolean): void {
    this.text += piece;
    // A token belongs with the delta that reaches past its first character; at the end, every token
    // whose text lies before the cut.
    const generated = this.text.length - this.prefix.length;
    const ready: ChatCompletionTokenLogprob[] = [];
    while (this.pending.length > 0 && (this.pending[0]!.start < generated || (final && !this.stopped && this.pending[0]!.start <= generated))) {
      const p = this.pending.shift()!;
      this.entries.push(p);
      ready.push(p.entry);
    }
    if (final) this.pending.length = 0;
    if (!piece && ready.length === 0) return;
    this.onDelta?.({ choice: this.choice, text: piece, ...(ready.length > 0 ? { logprobs: ready } : {}) });
  }
}
