/**
 * The models this origin has loaded through WebLLM. WebLLM keeps the files themselves in its own
 * IndexedDB databases (`webllm/model`, `webllm/config`, `webllm/wasm`) and can answer "is this model
 * complete?" (`hasModelInCache`) and delete one (`deleteModelAllInfoInCache`), but it cannot list
 * them. So we remember each model we load — its library, size, chat config and tokenizer — which also
 * lets a later visit start from the cache with no network at all.
 */
import { deleteModelAllInfoInCache, hasModelInCache, type AppConfig } from '@mlc-ai/web-llm';
import { createStore, del, get, set, values, type UseStore } from 'idb-keyval';
import { InvalidRequestError } from '../errors.js';
import type { ChatConfigJson } from '../model/artifact.js';
import type { CachedModelSummary } from '../store/cache.js';
import type { TokenizerFile } from '../tokenizer/tokenizer.js';
import type { ModelStore } from '../worker/worker-engine.js';

export interface WebLLMModelRecord {
  /** The artifact's identity (model/identity.ts), also WebLLM's model_id. */
  id: string;
  modelLib: string;
  totalBytes: number;
  chatConfig: ChatConfigJson;
  /** Our own copy of the tokenizer file (encode/decode, prompt lengths), once loaded. */
  tokenizer?: TokenizerFile;
}

/** WebLLM's description of one model: where it is, its library, our options, its IndexedDB cache. */
export function appConfigFor(id: string, modelLib: string, contextWindow?: number): AppConfig {
  const config: AppConfig & { cacheBackend: 'indexeddb' } = {
    model_list: [{ model: id, model_id: id, model_lib: modelLib, ...(contextWindow ? { overrides: { context_window_size: contextWindow } } : {}) }],
    // IndexedDB, which WebLLM fills through the worker's fetch (ours: artifact-fetch.ts), not the Cache
    // API, whose `add` fetches natively. WebLLM up to 0.2.79 says so with useIndexedDBCache, 0.2.80 on
    // with cacheBackend (0.2.85 runs TVM 0.27 libraries such as `webchuan compile-lib`'s).
    useIndexedDBCache: true,
    cacheBackend: 'indexeddb',
  };
  return config;
}

export class WebLLMModels implements ModelStore {
  private db?: UseStore;

  private store(): UseStore {
    this.db ??= createStore('webchuan-webllm', 'models');
    return this.db;
  }

  get(id: string): Promise<WebLLMModelRecord | undefined> {
    return get<WebLLMModelRecord>(id, this.store());
  }

  remember(record: WebLLMModelRecord): Promise<void> {
    return set(record.id, record, this.store());
  }

  /** True when WebLLM holds every file of the model (its library is not needed to ask). */
  async complete(id: string, modelLib = ''): Promise<boolean> {
    return hasModelInCache(id, appConfigFor(id, modelLib)).catch(() => false);
  }

  async list(): Promise<CachedModelSummary[]> {
    const records = await values<WebLLMModelRecord>(this.store());
    return Promise.all(
      records.map(async (r) => {
        // WebLLM stores a model shard by shard but answers only "all of it or not".
        const complete = await this.complete(r.id, r.modelLib);
        return { id: r.id, bytes: complete ? r.totalBytes : 0, totalBytes: r.totalBytes, complete };
      }),
    );
  }

  has(id: string): Promise<boolean> {
    return this.complete(id);
  }

  async delete(id: string): Promise<void> {
    const record = await this.get(id);
    await deleteModelAllInfoInCache(id, appConfigFor(id, record?.modelLib ?? ''));
    await del(id, this.store());
  }

  async clear(): Promise<void> {
    for (const r of await values<WebLLMModelRecord>(this.store())) await this.delete(r.id);
  }

  prefetch(): Promise<void> {
    return Promise.reject(new InvalidRequestError('prefetch', "prefetch: WebLLM downloads a model only while it loads it onto the GPU; on the 'webllm' backend, load it with createEngine() or reload()."));
  }
}
