/**
 * What a worker hosts: one engine per model, shared by every page connected to the worker, and one
 * Session per connection (a tab, or the page of a dedicated worker). Every call names its model, so
 * two models loaded side by side never answer each other's requests. Which engine runs a model
 * (ours, or WebLLM's) is the worker entry's choice: the hub only holds them.
 */
import type { Completion, LoadOptions, ModelInfo, WorkerChatRequest, WorkerCompletionRequest, WorkerDelta } from '../client/protocol.js';
import { InvalidRequestError } from '../errors.js';
import { modelId } from '../model/identity.js';
import type { CachedModelSummary } from '../store/cache.js';
import type { DownloadProgress } from '../store/progress.js';
import type { EngineBackend, WorkerEngine } from './worker-engine.js';

export class EngineHub {
  private readonly engines = new Map<string, { engine: WorkerEngine; holders: Set<Session> }>();

  constructor(readonly backend: EngineBackend) {}

  /** A new connection's view of the hub. */
  session(): Session {
    return new Session(this);
  }

  /** The engine of a model, created on first use; `holder` keeps it alive until it lets go. */
  hold(id: string, holder: Session): WorkerEngine {
    let entry = this.engines.get(id);
    if (!entry) this.engines.set(id, (entry = { engine: this.backend.engine(id), holders: new Set() }));
    entry.holders.add(holder);
    return entry.engine;
  }

  /** The engine of a model `holder` holds. */
  held(id: string, holder: Session): WorkerEngine {
    const entry = this.engines.get(id);
    if (!entry?.holders.has(holder)) throw new InvalidRequestError('model', `model: ${id} is not loaded on this page (it was unloaded): load it again with engine.reload() or createEngine().`);
    return entry.engine;
  }

  /** `holder` lets go of a model; the last one to let go frees its GPU memory. */
  async release(id: string, holder: Session): Promise<void> {
    const entry = this.engines.get(id);
    if (!entry?.holders.delete(holder) || entry.holders.size > 0) return;
    this.engines.delete(id);
    await entry.engine.unload();
  }
}

/** The calls one page makes, exposed to it through Comlink. Model URLs arrive absolute. */
export class Session {
  private readonly held = new Set<string>();

  constructor(private readonly hub: EngineHub) {}

  /** Downloads (or finds in the cache) and loads a model for this page. */
  async load(model: string, options: LoadOptions = {}, onProgress?: (p: DownloadProgress) => void): Promise<ModelInfo> {
    const id = modelId(model);
    const engine = this.hub.hold(id, this);
    this.held.add(id);
    try {
      return await engine.load(options, onProgress);
    } catch (error) {
      // A model that failed to load is not held: the next load() starts over.
      this.held.delete(id);
      await this.hub.release(id, this);
      throw error;
    }
  }

  complete(model: string, request: WorkerCompletionRequest, onDelta?: (delta: WorkerDelta) => void): Promise<Completion> {
    return this.hub.held(modelId(model), this).complete(request, onDelta);
  }

  /** A chat through the model's own template, on engines that have one (the page applies its template otherwise). */
  chat(model: string, request: WorkerChatRequest, onDelta?: (delta: WorkerDelta) => void): Promise<Completion> {
    const engine = this.hub.held(modelId(model), this);
    if (!engine.chat) return Promise.reject(new InvalidRequestError('messages', 'messages: this engine takes chat as a prompt made by the page\'s chat template.'));
    return engine.chat(request, onDelta);
  }

  /** Cancels one of this page's requests, queued or running. */
  cancel(model: string, requestId: string): void {
    const id = modelId(model);
    if (this.held.has(id)) this.hub.held(id, this).cancel(requestId);
  }

  encode(model: string, text: string): Promise<number[]> {
    return this.hub.held(modelId(model), this).encodeText(text);
  }

  decode(model: string, ids: number[]): Promise<string> {
    return this.hub.held(modelId(model), this).decodeIds(ids);
  }

  /** This page stops using a model; its GPU memory is freed once no page uses it. */
  async unload(model: string): Promise<void> {
    const id = modelId(model);
    if (!this.held.delete(id)) return;
    await this.hub.release(id, this);
  }

  /** Destroys the device of a loaded model, as a driver reset would. For tests. */
  loseDevice(model: string): void {
    this.hub.held(modelId(model), this).loseDevice();
  }

  listCachedModels(): Promise<CachedModelSummary[]> {
    return this.hub.backend.store.list();
  }
  isModelCached(model: string): Promise<boolean> {
    return this.hub.backend.store.has(modelId(model));
  }
  deleteCachedModel(model: string): Promise<void> {
    return this.hub.backend.store.delete(modelId(model));
  }
  deleteAllCachedModels(): Promise<void> {
    return this.hub.backend.store.clear();
  }
  /** Downloads into the cache without loading onto the GPU. */
  prefetch(model: string, onProgress?: (p: DownloadProgress) => void): Promise<void> {
    return this.hub.backend.store.prefetch(modelId(model), onProgress);
  }
}
