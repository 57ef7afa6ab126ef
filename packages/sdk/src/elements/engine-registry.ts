/**
 * One engine per model for the whole page: every element that names the same model shares it (and,
 * through the SharedWorker, every tab does). Models are keyed by their identity (model/identity.ts),
 * so `/m`, `/m/` and `./m` share one engine, and an empty or non-http `model` is an
 * InvalidRequestError instead of the page's own URL. Elements watch its state through events.
 */
import { createEngine, type Engine } from '../client/engine.js';
import { modelId } from '../model/identity.js';
import { INITIAL_STATE, nextState, type EngineEvent, type EngineState } from './engine-state.js';

export type { EngineState, Phase } from './engine-state.js';

export class EngineHandle extends EventTarget {
  state: EngineState = INITIAL_STATE;
  private engine?: Promise<Engine>;

  constructor(readonly url: string) {
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
      onProgress: (progress) => this.apply({ type: 'progress', progress }),
    }).then(
      (engine) => {
        this.apply({ type: 'ready' });
        return engine;
      },
      (error: unknown) => {
        this.apply({ type: 'error', error });
        this.engine = undefined; // a later attempt may succeed (space freed, network back)
        throw error;
      },
    );
    return this.engine;
  }
}

const handles = new Map<string, EngineHandle>();

/** The shared handle for a model URL (relative to the page); throws InvalidRequestError for a URL that cannot name a model. */
export function engineFor(url: string): EngineHandle {
  const id = modelId(url, location.href);
  let handle = handles.get(id);
  if (!handle) handles.set(id, (handle = new EngineHandle(id)));
  return handle;
}
