/**
 * `<baichuan-status model="…">`: the model's state for a person: download progress (bytes, rate,
 * time left), loading onto the GPU (from the cache or just downloaded), ready, or the error with what
 * to do about it. It follows its engine while it is in the document (EngineSubscription), also after
 * being removed and inserted again.
 */
import { LitElement, css, html, nothing } from 'lit';
import { formatBytes } from '../errors.js';
import type { BackendChoice } from '../client/protocol.js';
import { engineFor } from './engine-registry.js';
import { phaseLabel } from './engine-state.js';
import { EngineSubscription } from './engine-subscription.js';

export class BaichuanStatus extends LitElement {
  static override properties = { model: { type: String }, backend: { type: String }, modelLib: { type: String, attribute: 'model-lib' } };
  static override styles = css`
    :host { display: block; font: inherit; color: var(--baichuan-text, inherit); }
    .row { display: flex; gap: 0.5em; align-items: center; flex-wrap: wrap; }
    progress { inline-size: var(--baichuan-progress-width, 12em); accent-color: var(--baichuan-accent, #2563eb); }
    .error { color: var(--baichuan-error, #b91c1c); }
    .hint { color: var(--baichuan-muted, #555); }
  `;

  // Reactive properties are declared, not initialised as class fields, so Lit's accessors stay in
  // place whatever the compiler's class-field semantics.
  declare model: string;
  /** 'webchuan' (default) or 'webllm' (with `model-lib`; the page imports webchuan/webllm). */
  declare backend: BackendChoice | '';
  declare modelLib: string;
  private readonly engine = new EngineSubscription(
    this,
    () => engineFor(this.model, { backend: this.backend || undefined, modelLib: this.modelLib || undefined }),
    () => [this.model, this.backend, this.modelLib].join('\n'),
    (state) => this.dispatchEvent(new CustomEvent('webchuan-progress', { detail: state, bubbles: true, composed: true })),
  );

  constructor() {
    super();
    this.model = '';
    this.backend = '';
    this.modelLib = '';
  }

  /** The state shown, as the `webchuan-progress` events carry it. */
  get state() {
    return this.engine.state;
  }

  override willUpdate(changed: Map<string, unknown>): void {
    if (changed.has('model') || changed.has('backend') || changed.has('modelLib')) this.engine.modelChanged();
  }

  override render() {
    const s = this.engine.state;
    const p = s.progress;
    return html`<div class="row" role="status" aria-live="polite" part="status" data-phase=${s.phase}>
        <span part="label">${phaseLabel(s)}</span>
        ${s.phase === 'downloading' && p
          ? html`<progress part="bar" max=${p.totalBytes} value=${p.loadedBytes}></progress>
              <span part="bytes">${formatBytes(p.loadedBytes)} / ${formatBytes(p.totalBytes)}${p.bytesPerSecond > 0 ? html`, ${formatBytes(p.bytesPerSecond)}/s` : nothing}${p.etaSeconds !== undefined ? html`, ${Math.ceil(p.etaSeconds)} s left` : nothing}</span>`
          : nothing}
      </div>
      ${s.error
        ? html`<p class="error" part="error" role="alert">${s.error.message}</p>
            <p class="hint" part="hint">${s.error.hint}</p>`
        : nothing}`;
  }
}
