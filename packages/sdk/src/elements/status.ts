/**
 * `<baichuan-status model="…">`: the model's state for a person: download progress (bytes, rate,
 * time left), cached / loading / ready, or the error with what to do about it.
 */
import { LitElement, css, html, nothing } from 'lit';
import { formatBytes } from '../errors.js';
import type { BackendName } from '../client/protocol.js';
import { engineFor, type EngineHandle, type EngineState } from './engine-registry.js';

export class BaichuanStatus extends LitElement {
  static override properties = { model: { type: String }, backend: { type: String }, modelLib: { type: String, attribute: 'model-lib' }, state: { state: true } };
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
  declare backend: BackendName | '';
  declare modelLib: string;
  declare state: EngineState;
  private handle?: EngineHandle;

  constructor() {
    super();
    this.model = '';
    this.backend = '';
    this.modelLib = '';
    this.state = { phase: 'starting' };
  }

  private readonly onChange = () => {
    this.state = this.handle!.state;
    this.dispatchEvent(new CustomEvent('webchuan-progress', { detail: this.state, bubbles: true, composed: true }));
  };

  override updated(changed: Map<string, unknown>): void {
    if (changed.has('model') || changed.has('backend') || changed.has('modelLib')) this.attach();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.handle?.removeEventListener('change', this.onChange);
  }

  private attach(): void {
    this.handle?.removeEventListener('change', this.onChange);
    if (!this.model) return;
    this.handle = engineFor(this.model, { backend: this.backend || undefined, modelLib: this.modelLib || undefined });
    this.handle.addEventListener('change', this.onChange);
    this.state = this.handle.state;
    this.handle.get().catch(() => undefined); // the failure shows through the state
  }

  override render() {
    const s = this.state;
    const p = s.progress;
    const label: Record<EngineState['phase'], string> = {
      starting: 'Starting…',
      downloading: 'Downloading the model',
      cached: 'Loaded from the cache (no download)',
      loading: 'Loading onto the GPU…',
      ready: p && p.cachedBytes === p.totalBytes ? 'Ready (from the cache)' : 'Ready',
      error: 'Cannot run the model',
    };
    return html`<div class="row" role="status" aria-live="polite" part="status" data-phase=${s.phase}>
        <span part="label">${label[s.phase]}</span>
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
