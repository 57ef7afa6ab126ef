/**
 * One engine per model URL and backend for the whole page: every element that names the same model
 * (on the same engine: `backend`, `model-lib`) shares it, and through the SharedWorker every tab
 * does. Elements watch its state through events.
 */
import { isBackendMissing, whenRegistered } from '../client/backends.js';
import { createEngine, type Engine } from '../client/engine.js';
import type { BackendName } from '../client/protocol.js';
import { WebchuanError, type WebchuanErrorCode } from '../errors.js';
import type { DownloadProgress } from '../store/progress.js';

export type Phase = 'starting' | 'downloading' | 'cached' | 'loading' | 'ready' | 'error';

export interface EngineState {
  phase: Phase;
  progress?: DownloadProgress;
  error?: { name: string; code?: WebchuanErrorCode; message: string; hint: string };
}

/** What a person can do about each kind of failure. */
const HINTS: Partial<Record<WebchuanErrorCode, string>> = {
  'webgpu-unavailable': 'Open this page in a browser with WebGPU (a recent Chrome, Edge or Safari) with hardware acceleration turned on.',
  'model-not-found': 'Check the model URL: it should point at a folder with mlc-chat-config.json.',
  'bad-artifact': 'The model files are not a model webchuan can run; convert it again with `npx webchuan convert`.',
  integrity: 'The server keeps sending a damaged file. Try again later or use another copy of the model.',
  quota: 'Free some storage: delete cached models you no longer need, or clear this site’s data.',
  network: 'Check your connection and try again; the download resumes where it stopped.',
  'device-lost': 'The GPU was reset. Try again; the model reloads by itself.',
};

export class EngineHandle extends EventTarget {
  state: EngineState = { phase: 'starting' };
  private engine?: Promise<Engine>;

  constructor(
    readonly url: string,
    /** Which engine runs the model, and (WebLLM) its model library's URL. */
    readonly engineOptions: EngineChoice = {},
  ) {
    super();
  }

  private set(state: EngineState): void {
    this.state = state;
    this.dispatchEvent(new Event('change'));
  }

  /** The engine, started on first use. */
  get(): Promise<Engine> {
    this.engine ??= createEngine({
      model: this.url,
      ...(this.engineOptions.backend ? { backend: this.engineOptions.backend } : {}),
      ...(this.engineOptions.modelLib ? { modelLib: this.engineOptions.modelLib } : {}),
      onProgress: (progress) => {
        const fromCache = progress.cachedBytes === progress.totalBytes;
        this.set({ phase: progress.loadedBytes >= progress.totalBytes ? (fromCache ? 'cached' : 'loading') : 'downloading', progress });
      },
    }).then(
      (engine) => {
        this.set({ phase: 'ready', progress: this.state.progress });
        return engine;
      },
      (error: unknown) => {
        this.fail(error);
        this.engine = undefined; // a later attempt may succeed (space freed, network back)
        // The backend's script may simply not have run yet: start again once it registers.
        const backend = this.engineOptions.backend;
        if (backend && isBackendMissing(error)) void whenRegistered(backend).then(() => this.get().catch(() => undefined));
        throw error;
      },
    );
    return this.engine;
  }

  private fail(error: unknown): void {
    const e = error as Error;
    const code = error instanceof WebchuanError ? error.code : undefined;
    this.set({ phase: 'error', error: { name: e.name, code, message: e.message, hint: (code && HINTS[code]) || 'Reload the page to try again.' } });
  }
}

/** The elements' `backend` and `model-lib` attributes. */
export interface EngineChoice {
  backend?: BackendName;
  modelLib?: string;
}

const handles = new Map<string, EngineHandle>();

/** The shared handle for a model URL on a backend (webchuan's engine unless `choice` names another). */
export function engineFor(url: string, choice: EngineChoice = {}): EngineHandle {
  const absolute = new URL(url, location.href).href;
  const backend = choice.backend || 'webchuan';
  const modelLib = choice.modelLib ? new URL(choice.modelLib, location.href).href : undefined;
  const key = backend === 'webchuan' ? absolute : `${absolute} ${backend} ${modelLib ?? ''}`;
  let handle = handles.get(key);
  if (!handle) handles.set(key, (handle = new EngineHandle(absolute, backend === 'webchuan' ? {} : { backend, modelLib })));
  return handle;
}
