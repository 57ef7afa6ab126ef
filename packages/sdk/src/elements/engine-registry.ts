/**
 * One engine per model and backend for the whole page: every element that names the same model (on
 * the same engine: `backend`, `model-lib`) shares it, and through the SharedWorker every tab does.
 * Models are keyed by their identity (model/identity.ts), so `/m`, `/m/` and `./m` share one engine,
 * and an empty or non-http `model` is an InvalidRequestError instead of the page's own URL. Elements
 * watch its state through events.
 */
import { isBackendMissing, whenRegistered } from '../client/backends.js';
import { createEngine, type Engine } from '../client/engine.js';
import type { BackendChoice } from '../client/protocol.js';
import { modelId } from '../model/identity.js';
import { INITIAL_STATE, nextState, type EngineEvent, type EngineState } from './engine-state.js';

export type { EngineState, Phase } from './engine-state.js';

export class EngineHandle extends EventTarget {
  state: EngineState = INITIAL_STATE;
  private engine?: Promise<Engine>;

  constructor(
    readonly url: string,
    /** Which engine runs the model, and (WebLLM) its model library's URL. */
    readonly engineOptions: EngineChoice = {},
  ) {
    super();
  }

  private apply(event: EngineEvent): void {
    this.state = nextState(this.state, event);
    this.dispatchEvent(new Event('change'));
  }

  /** The engine, started on first use. */
  get(): Promise<Engine> {
    this.engine ??= createEngine({
      model: this.url,
      ...(this.engineOptions.backend ? { backend: this.engineOptions.backend } : {}),
      ...(this.engineOptions.modelLib ? { modelLib: this.engineOptions.modelLib } : {}),
      onProgress: (progress) => this.apply({ type: 'progress', progress }),
    }).then(
      (engine) => {
        this.apply({ type: 'ready' });
        return engine;
      },
      (error: unknown) => {
        this.apply({ type: 'error', error });
        this.engine = undefined; // a later attempt may succeed (space freed, network back)
        // The backend's script may simply not have run yet: start again once it registers.
        const backend = this.engineOptions.backend;
        if (backend && isBackendMissing(error)) void whenRegistered(backend).then(() => this.get().catch(() => undefined));
        throw error;
      },
    );
    return this.engine;
  }
}

/** The elements' `backend` and `model-lib` attributes. */
export interface EngineChoice {
  backend?: BackendChoice;
  modelLib?: string;
}

const handles = new Map<string, EngineHandle>();

/**
 * The shared handle for a model URL (relative to the page) on a backend (`'auto'`, the SDK's
 * default, unless `choice` names one); throws InvalidRequestError for a URL that cannot name a model.
 */
export function engineFor(url: string, choice: EngineChoice = {}): EngineHandle {
  const id = modelId(url, location.href);
  const backend = choice.backend || 'auto';
  const modelLib = choice.modelLib ? new URL(choice.modelLib, location.href).href : undefined;
  const key = backend === 'auto' ? id : `${id} ${backend} ${modelLib ?? ''}`;
  let handle = handles.get(key);
  if (!handle) handles.set(key, (handle = new EngineHandle(id, backend === 'auto' ? {} : { backend, modelLib })));
  return handle;
}
