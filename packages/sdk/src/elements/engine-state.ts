/**
 * What an element shows about its model, computed from what the engine reports: a pure reducer (no
 * DOM, no worker), so the rules are tested in Node.
 *
 * Phases: 'downloading' while bytes are still arriving; once every byte is in the cache the weights
 * go onto the GPU, which takes a while too: 'cached' when the files all came from the cache, and
 * 'loading' when they were just downloaded. 'ready' only when createEngine() has resolved, and a
 * progress report arriving late never takes it back.
 */
import { WebchuanError, type WebchuanErrorCode } from '../errors.js';
import type { DownloadProgress } from '../store/progress.js';

export type Phase = 'starting' | 'downloading' | 'cached' | 'loading' | 'ready' | 'error';

export interface EngineState {
  phase: Phase;
  progress?: DownloadProgress;
  error?: { name: string; code?: WebchuanErrorCode; message: string; hint: string };
}

export type EngineEvent = { type: 'progress'; progress: DownloadProgress } | { type: 'ready' } | { type: 'error'; error: unknown };

export const INITIAL_STATE: EngineState = { phase: 'starting' };

/** What a person can do about each kind of failure. */
const HINTS: Partial<Record<WebchuanErrorCode, string>> = {
  'webgpu-unavailable': 'Open this page in a browser with WebGPU (a recent Chrome, Edge or Safari) with hardware acceleration turned on, or leave the backend on auto to run on the CPU.',
  'cpu-unavailable': 'This model is too big for the CPU path here (or the browser is too old for it): try a smaller model, or a device with a GPU.',
  // The error's own message already says to check the URL: the hint says what should be there.
  'model-not-found': 'A model URL names a folder holding mlc-chat-config.json, tensor-cache.json and the weight shards (what `npx webchuan convert` writes).',
  'bad-artifact': 'The model files are not a model webchuan can run; convert it again with `npx webchuan convert`.',
  integrity: 'The server keeps sending a damaged file. Try again later or use another copy of the model.',
  quota: 'Free some storage: delete cached models you no longer need, or clear this site’s data.',
  network: 'Check your connection and try again; the download resumes where it stopped.',
  'device-lost': 'The GPU was reset. Try again; the model reloads by itself.',
  'invalid-request': 'Check the element’s model attribute: it must be the http(s) URL of a model folder.',
};

export function errorState(error: unknown): EngineState {
  const e = error as Error;
  const code = error instanceof WebchuanError ? error.code : (e as { code?: WebchuanErrorCode })?.code;
  return { phase: 'error', error: { name: e?.name ?? 'Error', code, message: e?.message ?? String(error), hint: (code && HINTS[code]) || 'Reload the page to try again.' } };
}

/** The phase while the engine is still starting, from its latest download progress. */
function loadingPhase(p: DownloadProgress): Phase {
  if (p.loadedBytes < p.totalBytes) return 'downloading';
  return p.cachedBytes >= p.totalBytes ? 'cached' : 'loading';
}

export function nextState(state: EngineState, event: EngineEvent): EngineState {
  switch (event.type) {
    case 'progress':
      // A report that arrives after the engine resolved does not take 'ready' back.
      if (state.phase === 'ready') return { ...state, progress: event.progress };
      return { phase: loadingPhase(event.progress), progress: event.progress };
    case 'ready':
      return { phase: 'ready', progress: state.progress };
    case 'error':
      return { ...errorState(event.error), progress: state.progress };
  }
}

/** The words `<baichuan-status>` shows for a state. */
export function phaseLabel(state: EngineState): string {
  const p = state.progress;
  switch (state.phase) {
    case 'starting':
      return 'Starting…';
    case 'downloading':
      return 'Downloading the model';
    case 'cached':
      return 'Loading onto the GPU (from the cache)…';
    case 'loading':
      return 'Loading onto the GPU…';
    case 'ready':
      return p && p.totalBytes > 0 && p.cachedBytes >= p.totalBytes ? 'Ready (loaded from the cache)' : 'Ready';
    case 'error':
      return 'Cannot run the model';
  }
}
