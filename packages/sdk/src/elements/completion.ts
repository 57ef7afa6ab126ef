/**
 * `<baichuan-completion model="…">` around a `<textarea>` or `<input>` (or `for="id"`):
 * - inline mode (default): when the user pauses typing, a continuation streams in as ghost text
 *   after the caret; Tab accepts it, Esc dismisses it, typing on cancels it (the request is aborted);
 * - button mode (`mode="button"`): a button streams a longer continuation into the field.
 * Model output is only ever put into the field's value or text nodes, never parsed as HTML.
 */
import { LitElement, css, html, nothing } from 'lit';
import type { Engine } from '../client/engine.js';
import type { BackendChoice, Usage } from '../client/protocol.js';
import { engineFor } from './engine-registry.js';
import { formatUsage } from './usage.js';

type Field = HTMLTextAreaElement | HTMLInputElement;

/** Styles the ghost overlay copies from the field so its text lines up with the field's. */
const MIRRORED = [
  'boxSizing', 'width', 'height', 'paddingTop', 'paddingRight', 'paddingBottom', 'paddingLeft',
  'borderTopWidth', 'borderRightWidth', 'borderBottomWidth', 'borderLeftWidth', 'borderStyle',
  'fontFamily', 'fontSize', 'fontWeight', 'fontStyle', 'lineHeight', 'letterSpacing', 'wordSpacing',
  'textIndent', 'textTransform', 'tabSize',
] as const;

export class BaichuanCompletion extends LitElement {
  static override properties = {
    model: { type: String },
    backend: { type: String },
    modelLib: { type: String, attribute: 'model-lib' },
    for: { type: String },
    mode: { type: String },
    delay: { type: Number },
    maxTokens: { type: Number, attribute: 'max-tokens' },
    temperature: { type: Number },
    repetitionPenalty: { type: Number, attribute: 'repetition-penalty' },
    logitBias: { type: Object, attribute: 'logit-bias' },
    ghost: { state: true },
    running: { state: true },
    lastUsage: { state: true },
  };

  static override styles = css`
    :host { display: block; position: relative; }
    .wrap { position: relative; }
    .mirror {
      position: absolute; inset: 0; pointer-events: none; overflow: hidden;
      white-space: pre-wrap; overflow-wrap: break-word; border-color: transparent; color: transparent;
    }
    .ghost { color: var(--baichuan-ghost-color, #9ca3af); }
    .hint { font-size: 0.85em; color: var(--baichuan-muted, #555); min-block-size: 1.2em; }
    .usage { font-size: 0.8em; color: var(--baichuan-muted, #555); }
    .sr { position: absolute; inline-size: 1px; block-size: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
    button {
      font: inherit; padding: 0.4em 0.9em; border-radius: 6px; cursor: pointer;
      border: 1px solid var(--baichuan-accent, #1d4ed8); background: var(--baichuan-accent, #1d4ed8); color: var(--baichuan-on-accent, #fff);
    }
  `;

  declare model: string;
  /** 'webchuan' (default) or 'webllm' (with `model-lib`; the page imports webchuan/webllm). */
  declare backend: BackendChoice | '';
  declare modelLib: string;
  declare for: string;
  declare mode: 'inline' | 'button';
  declare delay: number;
  declare maxTokens: number;
  declare temperature: number;
  /** Unset: 1.1 on webchuan's engine; none on WebLLM, which cannot apply it (it refuses any other value). */
  declare repetitionPenalty: number | undefined;
  declare logitBias: Record<string, number> | undefined;
  declare ghost: string;
  declare running: boolean;
  /** The last finished request's figures, shown in the hint line. */
  declare lastUsage: Usage | undefined;

  private field?: Field;
  private timer?: ReturnType<typeof setTimeout>;
  private controller?: AbortController;
  private announcement = '';
  /** The last request's error, shown in the hint line until the next request. */
  private problem = '';

  constructor() {
    super();
    this.model = '';
    this.backend = '';
    this.modelLib = '';
    this.for = '';
    this.mode = 'inline';
    this.delay = 400;
    this.maxTokens = 0;
    this.temperature = 0;
    this.repetitionPenalty = undefined;
    this.logitBias = undefined;
    this.ghost = '';
    this.running = false;
    this.lastUsage = undefined;
  }

  /** The text field this element completes. */
  get target(): Field | undefined {
    return this.field;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    queueMicrotask(() => this.bind());
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.cancel();
    this.unbind();
  }

  private bind(): void {
    const field = (this.for ? document.getElementById(this.for) : this.querySelector('textarea, input')) as Field | null;
    if (!field || field === this.field) return;
    this.unbind();
    this.field = field;
    field.addEventListener('input', this.onInput);
    (field as HTMLElement).addEventListener('keydown', this.onKeyDown);
    field.addEventListener('scroll', this.onScroll);
    field.addEventListener('blur', this.onBlur);
    if (this.mode === 'inline' && !field.hasAttribute('aria-description')) {
      field.setAttribute('aria-description', 'Suggestions appear as you pause; Tab accepts, Escape dismisses.');
    }
  }

  private unbind(): void {
    const f = this.field;
    if (!f) return;
    f.removeEventListener('input', this.onInput);
    (f as HTMLElement).removeEventListener('keydown', this.onKeyDown);
    f.removeEventListener('scroll', this.onScroll);
    f.removeEventListener('blur', this.onBlur);
    this.field = undefined;
  }

  private async engine(): Promise<Engine> {
    // An empty or non-http model is an InvalidRequestError from engineFor, shown like any failure.
    return engineFor(this.model, { backend: this.backend || undefined, modelLib: this.modelLib || undefined }).get();
  }

  /** Aborts any request and clears the suggestion. */
  cancel(): void {
    clearTimeout(this.timer);
    this.controller?.abort();
    this.controller = undefined;
    this.ghost = '';
    this.running = false;
  }

  private readonly onInput = (): void => {
    if (this.mode !== 'inline') return;
    this.cancel(); // typing on cancels the suggestion and its request
    this.timer = setTimeout(() => void this.suggest(), this.delay);
  };

  private readonly onBlur = (): void => {
    if (this.mode === 'inline') this.cancel();
  };

  private readonly onScroll = (): void => this.requestUpdate();

  private readonly onKeyDown = (event: KeyboardEvent): void => {
    if (this.mode !== 'inline' || !this.ghost) return;
    if (event.key === 'Tab' && !event.shiftKey) {
      event.preventDefault();
      this.accept();
    } else if (event.key === 'Escape') {
      event.preventDefault();
      this.cancel();
    }
  };

  /** Inserts the suggestion at the caret. */
  accept(): void {
    const f = this.field;
    const text = this.ghost;
    if (!f || !text) return;
    this.cancel();
    const at = f.selectionEnd ?? f.value.length;
    f.setRangeText(text, at, at, 'end');
    this.dispatchEvent(new CustomEvent('webchuan-accept', { detail: { text }, bubbles: true, composed: true }));
  }

  private caretAtEnd(): boolean {
    const f = this.field!;
    return f.selectionStart === f.selectionEnd && f.selectionEnd === f.value.length;
  }

  /**
   * Asks for a suggestion now, as a pause in typing does (inline mode): e.g. for text a page
   * pre-fills, so its visitor sees one without typing. Nothing happens unless the caret is at the
   * end of non-empty text; a request already running is replaced.
   */
  async suggest(): Promise<void> {
    const f = this.field;
    if (this.mode !== 'inline' || !f || !f.value.trim() || !this.caretAtEnd()) return;
    this.cancel();
    await this.stream(f.value, this.maxTokens || 16, (piece) => {
      this.ghost += piece;
    });
    if (this.ghost) this.announce(`Suggestion: ${this.ghost}. Press Tab to accept.`);
  }

  /** Button mode: streams a longer continuation into the field itself. */
  private async continueText(): Promise<void> {
    const f = this.field;
    if (!f) return;
    if (this.running) {
      this.cancel();
      return;
    }
    await this.stream(f.value, this.maxTokens || 64, (piece) => {
      f.value += piece;
    });
    this.announce('Continuation finished.');
  }

  private async stream(prompt: string, maxTokens: number, onPiece: (text: string) => void): Promise<void> {
    const controller = (this.controller = new AbortController());
    this.running = true;
    this.problem = '';
    let text = '';
    try {
      const engine = await this.engine();
      const chunks = engine.completions.create({
        prompt,
        max_tokens: maxTokens,
        temperature: this.temperature,
        repetition_penalty: this.repetitionPenalty ?? (this.backend === 'webllm' ? undefined : 1.1),
        logit_bias: this.logitBias,
        truncation: 'left', // a long document keeps its most recent text in the window
        stream: true,
        signal: controller.signal,
      });
      let usage: Usage | undefined;
      for await (const chunk of chunks) {
        const piece = chunk.choices[0]!.text;
        if (chunk.usage) usage = chunk.usage;
        if (!piece) continue;
        text += piece;
        onPiece(piece);
        this.dispatchEvent(new CustomEvent('webchuan-token', { detail: { text: piece }, bubbles: true, composed: true }));
      }
      this.lastUsage = usage;
      this.dispatchEvent(new CustomEvent('webchuan-done', { detail: { text, usage }, bubbles: true, composed: true }));
    } catch (error) {
      if ((error as Error).name === 'AbortError') return;
      // Loading failures already show in <baichuan-status>; this request's own failure shows here.
      this.problem = (error as Error).message;
      this.dispatchEvent(new CustomEvent('webchuan-error', { detail: { error }, bubbles: true, composed: true }));
    } finally {
      if (this.controller === controller) {
        this.controller = undefined;
        this.running = false;
      }
    }
  }

  private announce(text: string): void {
    this.announcement = text;
    this.requestUpdate();
  }

  private mirrorStyle(): string {
    const f = this.field;
    if (!f) return '';
    const cs = getComputedStyle(f);
    const props = MIRRORED.map((p) => `${p.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}:${cs[p]}`);
    if (this.for) {
      // The field is elsewhere on the page: put the overlay over it.
      const r = f.getBoundingClientRect();
      props.push(`position:fixed`, `left:${r.left}px`, `top:${r.top}px`, `inset:auto`);
    }
    if (f instanceof HTMLInputElement) props.push('white-space:pre', 'overflow-wrap:normal');
    return props.join(';');
  }

  override updated(): void {
    const mirror = this.renderRoot.querySelector<HTMLElement>('.mirror');
    if (mirror && this.field) mirror.scrollTop = this.field.scrollTop;
  }

  override render() {
    const f = this.field;
    return html`<div class="wrap" part="wrap">
        <slot @slotchange=${() => this.bind()}></slot>
        ${this.mode === 'inline' && this.ghost && f
          ? html`<div class="mirror" part="mirror" aria-hidden="true" style=${this.mirrorStyle()}><span>${f.value}</span><span class="ghost" part="ghost">${this.ghost}</span></div>`
          : nothing}
      </div>
      ${this.mode === 'button'
        ? html`<button part="button" @click=${() => void this.continueText()}>${this.running ? 'Stop' : 'Continue writing'}</button>
            ${this.problem ? html`<div class="hint" part="hint" role="alert">${this.problem}</div>` : nothing}
            ${this.lastUsage && !this.running ? html`<div class="usage" part="usage">${formatUsage(this.lastUsage)}</div>` : nothing}`
        : html`<div class="hint" part="hint">${this.ghost ? 'Tab to accept · Esc to dismiss' : this.running ? 'Thinking…' : this.problem}</div>
            ${this.ghost && this.lastUsage && !this.running ? html`<div class="usage" part="usage">${formatUsage(this.lastUsage)}</div>` : nothing}`}
      <div class="sr" role="status" aria-live="polite">${this.announcement}</div>`;
  }
}
