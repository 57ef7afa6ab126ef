/**
 * `<baichuan-chat model="…">`: a transcript and an input; replies stream in as text, a Stop button
 * aborts them. Enter sends, Shift+Enter adds a line.
 */
import { LitElement, css, html, nothing } from 'lit';
import type { ChatTemplate } from '../client/chat-template.js';
import type { BackendChoice, ChatMessage, Usage } from '../client/protocol.js';
import { engineFor } from './engine-registry.js';
import { formatUsage } from './usage.js';

export class BaichuanChat extends LitElement {
  static override properties = {
    model: { type: String },
    backend: { type: String },
    modelLib: { type: String, attribute: 'model-lib' },
    maxTokens: { type: Number, attribute: 'max-tokens' },
    temperature: { type: Number },
    system: { type: String },
    logitBias: { type: Object, attribute: 'logit-bias' },
    template: { attribute: false },
    placeholder: { type: String },
    messages: { state: true },
    running: { state: true },
    lastUsage: { state: true },
  };

  static override styles = css`
    :host { display: block; border: 1px solid var(--baichuan-border, #d1d5db); border-radius: 8px; padding: 0.75em; }
    /* Focusable (tabindex 0), so keyboard users can scroll a long conversation too. */
    ol { list-style: none; margin: 0 0 0.75em; padding: 0; max-block-size: var(--baichuan-chat-height, 20em); overflow-y: auto; }
    ol:focus-visible { outline: 2px solid var(--baichuan-accent, #1d4ed8); outline-offset: 2px; }
    li { margin: 0.4em 0; white-space: pre-wrap; }
    .role { font-weight: 600; margin-inline-end: 0.4em; }
    .assistant .text { color: var(--baichuan-assistant-color, inherit); }
    form { display: flex; gap: 0.5em; align-items: flex-end; }
    textarea { flex: 1; font: inherit; resize: vertical; }
    button {
      font: inherit; padding: 0.4em 0.9em; border-radius: 6px; cursor: pointer;
      border: 1px solid var(--baichuan-accent, #1d4ed8); background: var(--baichuan-accent, #1d4ed8); color: var(--baichuan-on-accent, #fff);
    }
    button:disabled { cursor: default; background: transparent; color: var(--baichuan-muted, #555); border-color: var(--baichuan-border, #d1d5db); }
    .usage { display: block; font-size: 0.85em; color: var(--baichuan-muted, #555); }
    .problem { color: var(--baichuan-error, #b91c1c); }
    .sr { position: absolute; inline-size: 1px; block-size: 1px; overflow: hidden; clip-path: inset(50%); }
  `;

  declare model: string;
  /** 'webchuan' (default) or 'webllm' (with `model-lib`; the page imports webchuan/webllm). */
  declare backend: BackendChoice | '';
  declare modelLib: string;
  declare maxTokens: number;
  declare temperature: number;
  declare system: string;
  declare logitBias: Record<string, number> | undefined;
  /** How the conversation becomes a prompt (a property, not an attribute): default, the engine's chat template. */
  declare template: ChatTemplate | undefined;
  /** The input's placeholder, e.g. what a model expects to be given. */
  declare placeholder: string;
  declare messages: ChatMessage[];
  declare running: boolean;
  declare lastUsage: Usage | undefined;
  private controller?: AbortController;
  /** Each finished reply's figures, shown under it. */
  private readonly usages = new WeakMap<ChatMessage, Usage>();
  private announcement = '';
  private problem = '';
  /**
   * Whether the transcript follows new text: true until the reader scrolls up from the bottom, and
   * again once they scroll back down or send a message.
   */
  private followTail = true;

  constructor() {
    super();
    this.model = '';
    this.backend = '';
    this.modelLib = '';
    this.maxTokens = 128;
    this.temperature = 0;
    this.system = '';
    this.logitBias = undefined;
    this.template = undefined;
    this.placeholder = 'Message';
    this.messages = [];
    this.running = false;
    this.lastUsage = undefined;
  }

  /** Stops the reply being streamed. */
  stop(): void {
    this.controller?.abort();
  }

  /** Sends a user message and streams the reply. */
  async send(content: string): Promise<void> {
    if (!content.trim() || this.running) return;
    const history: ChatMessage[] = [...(this.system ? [{ role: 'system' as const, content: this.system }] : []), ...this.messages, { role: 'user', content }];
    const reply: ChatMessage = { role: 'assistant', content: '' };
    this.messages = [...this.messages, { role: 'user', content }, reply];
    this.followTail = true; // one's own message and its reply come into view
    this.running = true;
    this.problem = '';
    const controller = (this.controller = new AbortController());
    try {
      const engine = await engineFor(this.model, { backend: this.backend || undefined, modelLib: this.modelLib || undefined }).get();
      const stream = engine.chat.completions.create({ messages: history, max_tokens: this.maxTokens, temperature: this.temperature, logit_bias: this.logitBias, truncation: 'left', stream: true, signal: controller.signal, template: this.template });
      for await (const chunk of stream) {
        const piece = chunk.choices[0]!.delta.content ?? '';
        if (chunk.usage) {
          this.lastUsage = chunk.usage;
          this.usages.set(reply, chunk.usage);
        }
        if (!piece) continue;
        reply.content += piece;
        this.messages = [...this.messages];
        this.dispatchEvent(new CustomEvent('webchuan-token', { detail: { text: piece }, bubbles: true, composed: true }));
      }
      this.dispatchEvent(new CustomEvent('webchuan-done', { detail: { text: reply.content, usage: this.lastUsage }, bubbles: true, composed: true }));
    } catch (error) {
      if ((error as Error).name !== 'AbortError') {
        // Loading failures already show in <baichuan-status>; this reply's own failure shows here.
        this.problem = (error as Error).message;
        this.dispatchEvent(new CustomEvent('webchuan-error', { detail: { error }, bubbles: true, composed: true }));
      }
    } finally {
      this.running = false;
      this.controller = undefined;
      this.announcement = `Assistant: ${reply.content}`;
      this.requestUpdate();
    }
  }

  private onSubmit(event: Event): void {
    event.preventDefault();
    const input = this.renderRoot.querySelector('textarea')!;
    const text = input.value;
    input.value = '';
    void this.send(text);
  }

  private onTranscriptScroll(event: Event): void {
    const list = event.currentTarget as HTMLElement;
    // A line's height of slack: a reader a few pixels short of the bottom still wants to follow.
    this.followTail = list.scrollHeight - list.scrollTop - list.clientHeight <= 24;
  }

  override updated(): void {
    if (!this.followTail) return;
    const list = this.renderRoot.querySelector<HTMLElement>('ol');
    if (list) list.scrollTop = list.scrollHeight;
  }

  private onKeyDown(event: KeyboardEvent): void {
    if (event.key === 'Enter' && !event.shiftKey) this.onSubmit(event);
  }

  override render() {
    return html`<ol part="transcript" aria-label="Conversation" tabindex="0" @scroll=${this.onTranscriptScroll}>
        ${this.messages.map(
          (m) => {
            const usage = this.usages.get(m);
            return html`<li class=${m.role} part="message ${m.role}"><span class="role">${m.role === 'user' ? 'You' : 'Model'}:</span><span class="text">${m.content}</span>${usage
              ? html`<span class="usage" part="usage">${formatUsage(usage)}</span>`
              : nothing}</li>`;
          },
        )}
      </ol>
      <form part="form" @submit=${this.onSubmit}>
        <textarea part="input" rows="2" aria-label="Message" placeholder=${this.placeholder} @keydown=${this.onKeyDown}></textarea>
        <button part="send" type="submit" ?disabled=${this.running}>Send</button>
        <button part="stop" type="button" ?disabled=${!this.running} @click=${() => this.stop()}>Stop</button>
      </form>
      ${this.problem ? html`<p class="problem" part="error" role="alert">${this.problem}</p>` : nothing}
      <div class="sr" role="status" aria-live="polite">${this.running ? '' : this.announcement}</div>`;
  }
}
