/**
 * The elements' state logic in Node: the phase reducer behind <baichuan-status> and the controller
 * that keeps an element subscribed to its engine while it is in the document.
 *
 * Still to add as a Chromium test once the browser build lands (it needs the real worker): a
 * <baichuan-status> removed and re-inserted keeps updating; <baichuan-chat model=""> shows the
 * InvalidRequestError in its part="error"; a cached reload shows "Loading onto the GPU (from the
 * cache)…" until createEngine resolves, then "Ready (loaded from the cache)".
 */
import type { ReactiveController, ReactiveControllerHost } from 'lit';
import { describe, expect, it } from 'vitest';
import { InvalidRequestError, NetworkError } from '../src/errors.js';
import { formatUsage } from '../src/elements/usage.js';
import type { Usage } from '../src/client/protocol.js';
import { INITIAL_STATE, nextState, phaseLabel, type EngineState } from '../src/elements/engine-state.js';
import { EngineSubscription, type StateSource } from '../src/elements/engine-subscription.js';
import { modelId } from '../src/model/identity.js';
import type { DownloadProgress } from '../src/store/progress.js';

const progress = (loadedBytes: number, totalBytes: number, cachedBytes: number): DownloadProgress => ({
  loadedBytes, totalBytes, cachedBytes, bytesPerSecond: 0, etaSeconds: undefined, file: undefined,
});

const run = (...events: Parameters<typeof nextState>[1][]) => events.reduce(nextState, INITIAL_STATE);

describe('engine state', () => {
  it('downloading while bytes arrive, then loading onto the GPU, ready only when the engine resolved', () => {
    const downloading = run({ type: 'progress', progress: progress(10, 100, 0) });
    expect(downloading.phase).toBe('downloading');
    const uploading = nextState(downloading, { type: 'progress', progress: progress(100, 100, 0) });
    expect(uploading.phase).toBe('loading');
    expect(phaseLabel(uploading)).toBe('Loading onto the GPU…');
    const ready = nextState(uploading, { type: 'ready' });
    expect(phaseLabel(ready)).toBe('Ready');
  });

  it('all files from the cache: "Loading onto the GPU (from the cache)…" while the upload runs, never "Loaded"', () => {
    const cached = run({ type: 'progress', progress: progress(100, 100, 100) });
    expect(cached.phase).toBe('cached');
    expect(phaseLabel(cached)).toBe('Loading onto the GPU (from the cache)…');
    expect(phaseLabel(cached)).not.toMatch(/Loaded|Ready/);
    expect(phaseLabel(nextState(cached, { type: 'ready' }))).toBe('Ready (loaded from the cache)');
  });

  it('after the upload, "preparing" while the kernels of the first reply are timed and compiled; still "from the cache" when ready', () => {
    const kernels = (stage: 'measuring' | 'compiling', done: number, total: number) => ({ ...progress(100, 100, 100), kernels: { stage, done, total } });
    const measuring = run({ type: 'progress', progress: progress(100, 100, 100) }, { type: 'progress', progress: kernels('measuring', 0, 1) });
    expect(measuring.phase).toBe('preparing');
    expect(phaseLabel(measuring)).toMatch(/Preparing GPU kernels: timing which run fastest on this device \(first visit only\)/);
    const compiling = nextState(measuring, { type: 'progress', progress: kernels('compiling', 3, 27) });
    expect(phaseLabel(compiling)).toMatch(/Preparing GPU kernels for the first reply: 3 of 27 compiled/);
    expect(phaseLabel(nextState(compiling, { type: 'ready' }))).toBe('Ready (loaded from the cache)');
  });

  it('a progress report that arrives after the engine resolved does not take "ready" back', () => {
    const ready = run({ type: 'progress', progress: progress(100, 100, 100) }, { type: 'ready' }, { type: 'progress', progress: progress(100, 100, 100) });
    expect(ready.phase).toBe('ready');
  });

  it('an error shows its message and what to do; a new attempt starts over', () => {
    const failed = run({ type: 'progress', progress: progress(10, 100, 0) }, { type: 'error', error: new NetworkError('cut off') });
    expect(failed).toMatchObject({ phase: 'error', error: { name: 'NetworkError', code: 'network', message: 'cut off' } });
    expect(failed.error!.hint).toMatch(/resumes/);
    expect(nextState(failed, { type: 'progress', progress: progress(20, 100, 10) }).phase).toBe('downloading');
    const invalid = run({ type: 'error', error: new InvalidRequestError('model', 'The model URL is empty.') });
    expect(invalid.error!.hint).toMatch(/model attribute/);
  });
});

class Host implements ReactiveControllerHost {
  controllers: ReactiveController[] = [];
  updates = 0;
  readonly updateComplete = Promise.resolve(true);
  addController(c: ReactiveController) {
    this.controllers.push(c);
  }
  removeController() {}
  requestUpdate() {
    this.updates++;
  }
  connect() {
    for (const c of this.controllers) c.hostConnected?.();
  }
  disconnect() {
    for (const c of this.controllers) c.hostDisconnected?.();
  }
}

/** An engine handle's observable side: a state and 'change' events. */
class Source extends EventTarget implements StateSource {
  state: EngineState = INITIAL_STATE;
  started = 0;
  get(): Promise<unknown> {
    this.started++;
    return Promise.resolve();
  }
  emit(state: EngineState) {
    this.state = state;
    this.dispatchEvent(new Event('change'));
  }
}

describe('EngineSubscription', () => {
  const setup = (model: { value: string }) => {
    const host = new Host();
    const sources = new Map<string, Source>();
    const seen: EngineState[] = [];
    const lookup = (m: string) => {
      const id = modelId(m, 'https://example.org/');
      if (!sources.has(id)) sources.set(id, new Source());
      return sources.get(id)!;
    };
    const sub = new EngineSubscription(host, lookup, () => model.value, (s) => seen.push(s));
    return { host, sources, seen, sub };
  };

  it('keeps updating after the element is removed and inserted again', () => {
    const model = { value: '/m/' };
    const { host, sources, sub } = setup(model);
    host.connect();
    const source = sources.get('https://example.org/m/')!;
    expect(source.started).toBe(1);
    source.emit({ phase: 'downloading' });
    expect(sub.state.phase).toBe('downloading');
    host.disconnect();
    const updates = host.updates;
    source.emit({ phase: 'loading' });
    expect(host.updates).toBe(updates); // detached: no updates for an element out of the document
    host.connect();
    expect(sub.state.phase).toBe('loading'); // picks up what happened meanwhile
    source.emit({ phase: 'ready' });
    expect(sub.state.phase).toBe('ready');
    expect(host.updates).toBeGreaterThan(updates);
  });

  it('follows a new model and stops listening to the old one', () => {
    const model = { value: '/a' };
    const { host, sources, sub } = setup(model);
    host.connect();
    model.value = '/b';
    sub.modelChanged();
    const a = sources.get('https://example.org/a/')!;
    const b = sources.get('https://example.org/b/')!;
    b.emit({ phase: 'cached' });
    a.emit({ phase: 'error' });
    expect(sub.state.phase).toBe('cached');
  });

  it('an empty model is an error with its message, not the page’s own URL', () => {
    const model = { value: '' };
    const { host, sources, sub, seen } = setup(model);
    host.connect();
    expect(sources.size).toBe(0);
    expect(sub.state.phase).toBe('error');
    expect(sub.state.error).toMatchObject({ name: 'InvalidRequestError', code: 'invalid-request', message: expect.stringMatching(/model URL is empty/) });
    expect(seen.at(-1)?.phase).toBe('error');
  });
});

describe('engineFor', () => {
  it('keys engines by model identity, and refuses an empty or non-http model instead of using the page URL', async () => {
    // The registry only reads location.href; importing it starts no worker.
    (globalThis as { location?: { href: string } }).location ??= { href: 'https://example.org/app/chat.html' };
    const { engineFor } = await import('../src/elements/engine-registry.js');
    expect(engineFor('/m')).toBe(engineFor('/m/'));
    expect(engineFor('../m')).toBe(engineFor('https://example.org/m'));
    expect(engineFor('/m').url).toBe('https://example.org/m/');
    for (const bad of ['', 'javascript:alert(1)', 'data:,x']) expect(() => engineFor(bad)).toThrow(InvalidRequestError);
  });
});

describe('the figures under a reply', () => {
  const usage = (extra: Partial<Usage['extra']>): Usage => ({
    prompt_tokens: 12,
    completion_tokens: 8,
    total_tokens: 20,
    prompt_tokens_details: { cached_tokens: 0 },
    extra: { e2e_latency_s: 2, prefill_tokens_per_s: 40, decode_tokens_per_s: 5, time_to_first_token_s: 0.3, time_per_output_token_s: 0.2, ...extra },
  });

  it('say how much of the first token went to preparing GPU kernels, and only when a request waited for them', () => {
    expect(formatUsage(usage({}))).toBe('8 tokens · first token 0.30 s · prefill 40.0 tok/s · decode 5.0 tok/s');
    expect(formatUsage(usage({ time_to_first_token_s: 21.3, gpu_kernel_prepare_s: 20.96 }))).toBe(
      '8 tokens · first token 21.30 s (21.0 s of it preparing GPU kernels, once) · prefill 40.0 tok/s · decode 5.0 tok/s',
    );
  });
});
