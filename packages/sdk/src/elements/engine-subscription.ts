/**
 * A Lit ReactiveController that keeps an element subscribed to its model's engine state while the
 * element is in the document: it subscribes in hostConnected and unsubscribes in hostDisconnected,
 * so an element removed and inserted again (moved in the DOM, re-rendered by a framework) keeps
 * updating. It holds no DOM code and takes the handle lookup as a parameter, so it is tested in Node.
 */
import type { ReactiveController, ReactiveControllerHost } from 'lit';
import { errorState, INITIAL_STATE, type EngineState } from './engine-state.js';

/** What the controller needs of an engine handle (engine-registry.ts's EngineHandle). */
export interface StateSource extends EventTarget {
  readonly state: EngineState;
  /** Starts the engine if it is not started; failures show through `state`. */
  get(): Promise<unknown>;
}

export class EngineSubscription implements ReactiveController {
  state: EngineState = INITIAL_STATE;
  private model = '';
  private connected = false;
  private source?: StateSource;

  constructor(
    private readonly host: ReactiveControllerHost,
    private readonly lookup: (model: string) => StateSource,
    /**
     * The host's current `model`, or any string that changes when the engine it names does (model,
     * backend and library together); read when connected and when it may have changed.
     */
    private readonly currentModel: () => string,
    /** Called after every state change (the element dispatches its event there). */
    private readonly onChange: (state: EngineState) => void = () => undefined,
  ) {
    host.addController(this);
  }

  /** Follows the host's `model` if it changed (call from the host's willUpdate). */
  modelChanged(): void {
    if (!this.connected || this.currentModel() === this.model) return;
    this.subscribe();
  }

  hostConnected(): void {
    this.connected = true;
    this.subscribe();
  }

  hostDisconnected(): void {
    this.connected = false;
    this.unsubscribe();
  }

  private readonly changed = (): void => {
    if (!this.source) return;
    this.update(this.source.state);
  };

  private update(state: EngineState): void {
    this.state = state;
    this.host.requestUpdate();
    this.onChange(state);
  }

  private subscribe(): void {
    this.unsubscribe();
    this.model = this.currentModel();
    try {
      this.source = this.lookup(this.model);
    } catch (error) {
      this.update(errorState(error)); // no model, or a URL that cannot name one (javascript:, …)
      return;
    }
    this.source.addEventListener('change', this.changed);
    this.update(this.source.state);
    this.source.get().catch(() => undefined); // the failure shows through the state
  }

  private unsubscribe(): void {
    this.source?.removeEventListener('change', this.changed);
    this.source = undefined;
  }
}
