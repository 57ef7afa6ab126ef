/** Finds stop strings in streamed text, even when one spans token boundaries. */
export class StopStringMatcher {
  private text = '';
  private emitted = 0;

  constructor(private readonly stops: readonly string[]) {}

  /**
   * Adds decoded text; returns the text that is safe to emit now and whether a stop string was
   * found (text from the stop string on is never returned).
   */
  push(piece: string): { text: string; stopped: boolean } {
    this.text += piece;
    let cut = -1;
    for (const s of this.stops) {
      const at = this.text.indexOf(s, Math.max(0, this.emitted - s.length + 1));
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      const out = this.text.slice(this.emitted, cut);
      this.emitted = cut;
      return { text: out, stopped: true };
    }
    // Hold back the longest tail that could still become a stop string.
    let hold = 0;
    for (const s of this.stops) {
      for (let k = Math.min(s.length - 1, this.text.length); k > hold; k--) {
        if (this.text.endsWith(s.slice(0, k))) {
          hold = k;
          break;
        }
      }
    }
    const safe = this.text.length - hold;
    const out = safe > this.emitted ? this.text.slice(this.emitted, safe) : '';
    this.emitted = Math.max(this.emitted, safe);
    return { text: out, stopped: false };
  }

  /** Whatever was held back, at the end of generation. */
  flush(): string {
    const out = this.text.slice(this.emitted);
    this.emitted = this.text.length;
    return out;
  }
}
