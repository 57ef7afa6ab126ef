/**
 * WebLLM's public surface under WebLLM's names, so that `import * as webllm from 'webchuan'` runs
 * code written for `@mlc-ai/web-llm`: `CreateMLCEngine`, `MLCEngine` and its methods, `AppConfig`,
 * `ModelRecord`, the cache helpers, `InitProgressReport`. Underneath, each loaded model is one of
 * webchuan's engines (`createEngine`); a record with a `model_lib` runs on the 'webllm' backend.
 *
 * Where the two APIs differ, this surface answers as WebLLM does: create() always returns a Promise
 * (of the stream, with `stream: true`), `usage.prompt_tokens` counts the tokens prefilled for the
 * request (WebLLM's meaning; webchuan's own API counts the whole prompt and reports the reused
 * positions as `cached_tokens`).
 */
import { InvalidRequestError } from '../errors.js';
import { modelId } from '../model/identity.js';
import { deleteModel, isModelCached } from '../store/cache.js';
import type { DownloadProgress } from '../store/progress.js';
import { chooseWebLLMLikeBackend } from './auto-backend.js';
import { backendFor } from './backends.js';
import type { ChatTemplate } from './chat-template.js';
import { createEngine, type Engine } from './engine.js';
import { prebuiltAppConfig } from './prebuilt.js';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequestBase,
  ChatCompletionRequestNonStreaming,
  ChatCompletionRequestStreaming,
  Completion,
  CompletionChunk,
  CompletionCreateParamsBase,
  CompletionCreateParamsNonStreaming,
  CompletionCreateParamsStreaming,
  Usage,
} from './protocol.js';

export { prebuiltAppConfig };

/** WebLLM's load progress, with webchuan's byte counts beside it. */
export interface InitProgressReport extends Partial<DownloadProgress> {
  /** 0…1. */
  progress: number;
  /** Seconds since the load began. */
  timeElapsed: number;
  text: string;
}
export type InitProgressCallback = (report: InitProgressReport) => void;

/** Options that override a model's mlc-chat-config.json (WebLLM's ChatOptions); see `chatOptionsOf` for what webchuan honours. */
export interface ChatOptions {
  context_window_size?: number;
  temperature?: number;
  top_p?: number;
  repetition_penalty?: number;
  presence_penalty?: number;
  frequency_penalty?: number;
  sliding_window_size?: number;
  attention_sink_size?: number;
  [key: string]: unknown;
}

/** One model an AppConfig offers. */
export interface ModelRecord {
  /** URL of the artifact directory (absolute, or relative to the page). */
  model: string;
  model_id: string;
  /** URL of an MLC model library: the model then runs on the 'webllm' backend (`import 'webchuan/webllm'`). */
  model_lib?: string;
  overrides?: ChatOptions;
  vram_required_MB?: number;
  low_resource_required?: boolean;
  buffer_size_required_bytes?: number;
  required_features?: string[];
  model_type?: number;
}

export interface AppConfig {
  model_list: ModelRecord[];
  /** WebLLM's storage choice. webchuan keeps models in IndexedDB whatever this says (see the README). */
  cacheBackend?: 'cache' | 'indexeddb' | 'cross-origin';
  /** WebLLM 0.2.79's older flag; as cacheBackend. */
  useIndexedDBCache?: boolean;
}

export type LogLevel = 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT';

export interface MLCEngineConfig {
  appConfig?: AppConfig;
  initProgressCallback?: InitProgressCallback;
  /** Accepted for WebLLM's sake: webchuan's worker logs nothing but its errors, which reach the page as typed errors. */
  logLevel?: LogLevel;
  /** webchuan's own: how chat messages become a prompt (default: `defaultChatTemplate`, or on WebLLM the model's own). */
  chatTemplate?: ChatTemplate;
  /** webchuan's own: one engine for all tabs (SharedWorker, the default) or this page's own worker. */
  shared?: boolean;
  /**
   * webchuan's own: the engine of a record without `model_lib`. By default the WebGPU engine wherever
   * WebGPU offers an adapter (WebLLM runs on any adapter, software ones included), and the CPU path
   * (llama.cpp) where it offers none — where WebLLM would fail, the program still gets answers, with
   * `logprobs` and structured output refused by name there. `'webchuan'`: the WebGPU engine only;
   * `'auto'`: createEngine's choice (a software adapter also takes the CPU path); `'cpu'`: llama.cpp only.
   */
  backend?: 'webchuan' | 'auto' | 'cpu';
}

/** What `MLCEngine` offers, by WebLLM's interface name. */
export interface MLCEngineInterface {
  chat: { completions: MLCChatCompletions };
  completions: MLCCompletions;
  embeddings: { create(request: unknown): Promise<never> };
  setInitProgressCallback(callback: InitProgressCallback | undefined): void;
  getInitProgressCallback(): InitProgressCallback | undefined;
  setAppConfig(appConfig: AppConfig): void;
  reload(modelId: string | string[], chatOpts?: ChatOptions | ChatOptions[]): Promise<void>;
  chatCompletion: MLCChatCompletions['create'];
  completion: MLCCompletions['create'];
  embedding(request: unknown): Promise<never>;
  runtimeStatsText(modelId?: string): Promise<string>;
  interruptGenerate(): void;
  unload(): Promise<void>;
  resetChat(keepStats?: boolean, modelId?: string): Promise<void>;
  getMessage(modelId?: string): Promise<string>;
  getMaxStorageBufferBindingSize(): Promise<number>;
  getGPUVendor(): Promise<string>;
  forwardTokensAndSample(inputIds: number[], isPrefill: boolean, modelId?: string): Promise<number>;
  setLogLevel(logLevel: LogLevel): void;
}

interface MLCChatCompletions {
  create(request: ChatCompletionRequestStreaming): Promise<AsyncIterable<ChatCompletionChunk>>;
  create(request: ChatCompletionRequestNonStreaming): Promise<ChatCompletion>;
  create(request: ChatCompletionRequestBase): Promise<AsyncIterable<ChatCompletionChunk> | ChatCompletion>;
}

interface MLCCompletions {
  create(request: CompletionCreateParamsStreaming): Promise<AsyncIterable<CompletionChunk>>;
  create(request: CompletionCreateParamsNonStreaming): Promise<Completion>;
  create(request: CompletionCreateParamsBase): Promise<AsyncIterable<CompletionChunk> | Completion>;
}

const LOG_LEVELS: readonly LogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT'];
const ENGINE_CONFIG_FIELDS: readonly string[] = ['appConfig', 'initProgressCallback', 'logLevel', 'chatTemplate', 'shared', 'backend'];
/** ModelRecord fields: the ones webchuan uses, and the informational ones it accepts (sizes, features). */
const RECORD_FIELDS: readonly string[] = ['model', 'model_id', 'model_lib', 'overrides', 'vram_required_MB', 'low_resource_required', 'buffer_size_required_bytes', 'required_features', 'model_type'];
/** ChatOptions webchuan applies as request defaults (a request's own value wins). */
const REQUEST_DEFAULTS = ['temperature', 'top_p', 'repetition_penalty', 'presence_penalty', 'frequency_penalty'] as const;

/** The record of `id` in `appConfig`, or (an id that names no record but is a URL) a record for that artifact. */
export function findModelRecord(id: string, appConfig: AppConfig = prebuiltAppConfig): ModelRecord {
  if (typeof id !== 'string' || id === '') throw new InvalidRequestError('modelId', 'modelId: give a model_id of the AppConfig, or an artifact URL.');
  if (!Array.isArray(appConfig?.model_list)) throw new InvalidRequestError('appConfig', 'appConfig: needs a model_list.');
  const record = appConfig.model_list.find((m) => m.model_id === id);
  if (record) {
    for (const key of Object.keys(record)) {
      if (RECORD_FIELDS.includes(key)) continue;
      const why = key === 'integrity' ? 'webchuan checks every shard against the SHA-256 (or MD5) its tensor-cache.json lists; SRI hashes are not supported' : `not a field of a ModelRecord (${RECORD_FIELDS.join(', ')})`;
      throw new InvalidRequestError(`model_list.${key}`, `model_list.${key}: ${why}.`);
    }
    if (typeof record.model !== 'string' || record.model === '') throw new InvalidRequestError('model_list.model', `model_list.model: the record of "${id}" needs the URL of its artifact.`);
    if (record.model_type !== undefined && record.model_type !== 0) throw new InvalidRequestError('model_list.model_type', `model_list.model_type: "${id}" is not a text-generation model (ModelType.LLM, 0); webchuan runs only those.`);
    return record;
  }
  if (/^(https?:|\.{0,2}\/)/.test(id)) return { model: id, model_id: id };
  throw new InvalidRequestError('modelId', `modelId: "${id}" is not in the AppConfig's model_list (${appConfig.model_list.map((m) => m.model_id).join(', ') || 'empty'}), nor an artifact URL.`);
}

/** A record's options as webchuan's: the context window, and request defaults; anything else is refused. */
function chatOptionsOf(options: ChatOptions | undefined): { contextWindow?: number; defaults: Partial<Record<(typeof REQUEST_DEFAULTS)[number], number>> } {
  const defaults: Partial<Record<(typeof REQUEST_DEFAULTS)[number], number>> = {};
  let contextWindow: number | undefined;
  for (const [key, value] of Object.entries(options ?? {})) {
    if (value === undefined || value === null) continue;
    if (key === 'context_window_size') {
      if (!(Number.isSafeInteger(value) && (value as number) > 0)) throw new InvalidRequestError('chatOpts.context_window_size', 'chatOpts.context_window_size: must be a positive integer.');
      contextWindow = value as number;
    } else if ((REQUEST_DEFAULTS as readonly string[]).includes(key)) {
      if (typeof value !== 'number') throw new InvalidRequestError(`chatOpts.${key}`, `chatOpts.${key}: must be a number.`);
      defaults[key as (typeof REQUEST_DEFAULTS)[number]] = value;
    } else if ((key === 'sliding_window_size' || key === 'attention_sink_size') && value === -1) {
      // -1: off, which is what webchuan does.
    } else {
      throw new InvalidRequestError(`chatOpts.${key}`, `chatOpts.${key}: webchuan takes context_window_size and the sampling defaults (${REQUEST_DEFAULTS.join(', ')}) from chatOpts; ${key} is not supported.`);
    }
  }
  return { contextWindow, defaults };
}

/** The page's URL, against which relative model URLs resolve. */
const pageUrl = () => globalThis.location?.href;

/** A loaded model: its record, its engine, its defaults and what its last request left. */
interface Loaded {
  record: ModelRecord;
  engine: Engine;
  defaults: Partial<Record<(typeof REQUEST_DEFAULTS)[number], number>>;
  lastMessage: string;
  lastUsage?: Usage;
}

/** WebLLM's usage figures from webchuan's: prompt_tokens counts what was prefilled. */
function webllmUsage(usage: Usage): Usage {
  const prefilled = usage.prompt_tokens - usage.prompt_tokens_details.cached_tokens;
  return { ...usage, prompt_tokens: prefilled, total_tokens: prefilled + usage.completion_tokens };
}

/** Creates an MLCEngine and loads `modelId` (WebLLM's CreateMLCEngine). */
export async function CreateMLCEngine(modelId: string | string[], engineConfig?: MLCEngineConfig, chatOpts?: ChatOptions | ChatOptions[]): Promise<MLCEngine> {
  const engine = new MLCEngine(engineConfig);
  await engine.reload(modelId, chatOpts);
  return engine;
}

/**
 * WebLLM's web-worker factory. webchuan's engine always runs in a worker of its own (a dedicated one
 * here, `shared: false`); `worker` is left as it is and can be terminated by its owner.
 */
export function CreateWebWorkerMLCEngine(_worker: unknown, modelId: string | string[], engineConfig?: MLCEngineConfig, chatOpts?: ChatOptions | ChatOptions[]): Promise<MLCEngine> {
  return CreateMLCEngine(modelId, { ...engineConfig, shared: false }, chatOpts);
}

/**
 * WebLLM's service-worker factory. webchuan shares one engine between tabs through a SharedWorker
 * instead (`shared: true`), which also outlives none of its pages.
 */
export function CreateServiceWorkerMLCEngine(modelId: string | string[], engineConfig?: MLCEngineConfig, chatOpts?: ChatOptions | ChatOptions[]): Promise<MLCEngine> {
  return CreateMLCEngine(modelId, { ...engineConfig, shared: true }, chatOpts);
}

/** The handler a WebLLM page runs in its own worker. webchuan starts its worker itself, so this does nothing: the worker script may stay as it is. */
export class WebWorkerMLCEngineHandler {
  onmessage(_event: unknown): void {}
}

export class MLCEngine implements MLCEngineInterface {
  private appConfig: AppConfig;
  private initProgressCallback?: InitProgressCallback;
  private readonly loaded = new Map<string, Loaded>();
  private readonly options: MLCEngineConfig;

  constructor(engineConfig: MLCEngineConfig = {}) {
    for (const key of Object.keys(engineConfig ?? {})) {
      if (!ENGINE_CONFIG_FIELDS.includes(key)) {
        const why = key === 'logitProcessorRegistry' ? 'webchuan applies its logit processing on the GPU and runs no page-supplied logit processors' : `it is not a field of MLCEngineConfig (${ENGINE_CONFIG_FIELDS.join(', ')})`;
        throw new InvalidRequestError(key, `${key}: ${why}.`);
      }
    }
    const backend = engineConfig?.backend;
    if (backend !== undefined && backend !== 'webchuan' && backend !== 'auto' && backend !== 'cpu') {
      throw new InvalidRequestError('backend', `backend: 'webchuan', 'auto' or 'cpu' (or none: WebGPU where it has an adapter), got ${JSON.stringify(backend)}; a ModelRecord's model_lib selects WebLLM.`);
    }
    this.options = engineConfig;
    this.appConfig = engineConfig.appConfig ?? prebuiltAppConfig;
    this.initProgressCallback = engineConfig.initProgressCallback;
    if (engineConfig.logLevel !== undefined) this.setLogLevel(engineConfig.logLevel);
  }

  /** webchuan's engine of a loaded model (its tokenizer, cache, model info), by model id (default: the only one). */
  engineOf(modelId?: string): Engine {
    return this.pick(modelId, 'engineOf').engine;
  }

  setInitProgressCallback(callback: InitProgressCallback | undefined): void {
    this.initProgressCallback = callback;
  }

  getInitProgressCallback(): InitProgressCallback | undefined {
    return this.initProgressCallback;
  }

  setAppConfig(appConfig: AppConfig): void {
    this.appConfig = appConfig;
  }

  setLogLevel(logLevel: LogLevel): void {
    if (!LOG_LEVELS.includes(logLevel)) throw new InvalidRequestError('logLevel', `logLevel: must be one of ${LOG_LEVELS.join(', ')}.`);
  }

  /** Loads one model (or several, each then named by `model` in requests); the ones loaded before are unloaded. */
  async reload(modelId: string | string[], chatOpts?: ChatOptions | ChatOptions[]): Promise<void> {
    const ids = Array.isArray(modelId) ? modelId : [modelId];
    const opts = chatOpts === undefined ? [] : Array.isArray(chatOpts) ? chatOpts : [chatOpts];
    if (chatOpts !== undefined && opts.length !== ids.length) throw new InvalidRequestError('chatOpts', `chatOpts: give one per model (${ids.length}), got ${opts.length}.`);
    if (new Set(ids).size !== ids.length) throw new InvalidRequestError('modelId', 'modelId: each model may be loaded once.');
    const records = ids.map((id) => findModelRecord(id, this.appConfig));
    await this.unload();
    for (const [i, record] of records.entries()) {
      const options = chatOptionsOf({ ...record.overrides, ...opts[i] });
      const started = performance.now();
      const report = this.initProgressCallback;
      report?.({ progress: 0, timeElapsed: 0, text: `Start to load ${record.model_id}` });
      const engine = await createEngine({
        model: record.model,
        ...(record.model_lib ? { backend: 'webllm' as const, modelLib: record.model_lib } : { backend: this.options.backend ?? (await chooseWebLLMLikeBackend()).backend }),
        ...(options.contextWindow ? { contextWindow: options.contextWindow } : {}),
        ...(this.options.chatTemplate ? { chatTemplate: this.options.chatTemplate } : {}),
        ...(this.options.shared !== undefined ? { shared: this.options.shared } : {}),
        onProgress: (p) => this.initProgressCallback?.(progressReport(p, started)),
      });
      this.loaded.set(record.model_id, { record, engine, defaults: options.defaults, lastMessage: '' });
      const a = engine.model.adapter;
      this.initProgressCallback?.({ progress: 1, timeElapsed: (performance.now() - started) / 1000, text: `Finish loading ${record.model_id} on ${engine.backend === 'cpu' ? 'the CPU' : 'WebGPU'} - ${a.vendor || 'unknown vendor'} ${a.description || a.architecture}`.trim() });
    }
  }

  readonly chat = {
    completions: {
      create: ((request: ChatCompletionRequestBase) => this.chatCompletion(request)) as MLCChatCompletions['create'],
    },
  };

  readonly completions = {
    create: ((request: CompletionCreateParamsBase) => this.completion(request)) as MLCCompletions['create'],
  };

  readonly embeddings = {
    create: (request: unknown): Promise<never> => this.embedding(request),
  };

  chatCompletion(request: ChatCompletionRequestStreaming): Promise<AsyncIterable<ChatCompletionChunk>>;
  chatCompletion(request: ChatCompletionRequestNonStreaming): Promise<ChatCompletion>;
  chatCompletion(request: ChatCompletionRequestBase): Promise<AsyncIterable<ChatCompletionChunk> | ChatCompletion>;
  async chatCompletion(request: ChatCompletionRequestBase): Promise<AsyncIterable<ChatCompletionChunk> | ChatCompletion> {
    const model = this.pick(request?.model ?? undefined, 'ChatCompletionRequest');
    const params = { ...model.defaults, ...request, model: model.engine.model.url };
    const last = (request.n ?? 1) - 1;
    if (params.stream === true) return this.track(model, model.engine.chat.completions.create(params as ChatCompletionRequestStreaming), (c) => (c.choices[0]?.index === last ? (c.choices[0].delta.content ?? '') : ''));
    const reply = await model.engine.chat.completions.create(params as ChatCompletionRequestNonStreaming);
    const message = reply.choices.at(-1)?.message;
    model.lastMessage = message?.content ?? JSON.stringify(message?.tool_calls ?? []);
    model.lastUsage = reply.usage;
    return { ...reply, model: model.record.model_id, usage: webllmUsage(reply.usage) };
  }

  completion(request: CompletionCreateParamsStreaming): Promise<AsyncIterable<CompletionChunk>>;
  completion(request: CompletionCreateParamsNonStreaming): Promise<Completion>;
  completion(request: CompletionCreateParamsBase): Promise<AsyncIterable<CompletionChunk> | Completion>;
  async completion(request: CompletionCreateParamsBase): Promise<AsyncIterable<CompletionChunk> | Completion> {
    const model = this.pick(request?.model ?? undefined, 'CompletionCreateParams');
    const params = { ...model.defaults, ...request, model: model.engine.model.url };
    const last = (request.n ?? 1) - 1;
    if (params.stream === true) return this.track(model, model.engine.completions.create(params as CompletionCreateParamsStreaming), (c) => (c.choices[0]?.index === last ? c.choices[0].text : ''));
    const reply = await model.engine.completions.create(params as CompletionCreateParamsNonStreaming);
    model.lastMessage = reply.choices.at(-1)?.text ?? '';
    model.lastUsage = reply.usage;
    return { ...reply, model: model.record.model_id, usage: webllmUsage(reply.usage) };
  }

  embedding(_request: unknown): Promise<never> {
    return Promise.reject(new InvalidRequestError('embeddings', 'embeddings: webchuan runs text generation models only; it has no embedding models.'));
  }

  /** The last reply's text (the last choice's; a tool call's JSON): WebLLM's getMessage(). */
  async getMessage(modelId?: string): Promise<string> {
    return this.pick(modelId, 'getMessage').lastMessage;
  }

  /**
   * Forgets the last reply and figures. webchuan keeps no conversation: each request carries its
   * messages, and the KV cache is reused only where a new prompt begins as the last one did, so
   * there is nothing else to reset.
   */
  async resetChat(keepStats = false, modelId?: string): Promise<void> {
    if (this.loaded.size === 0) return; // as WebLLM: before a model is loaded, nothing to reset
    const model = this.pick(modelId, 'resetChat');
    model.lastMessage = '';
    if (!keepStats) model.lastUsage = undefined;
  }

  /** The last request's speeds, in WebLLM's wording. */
  async runtimeStatsText(modelId?: string): Promise<string> {
    const usage = this.pick(modelId, 'runtimeStatsText').lastUsage;
    if (!usage) return 'prefill: 0.0000 tokens/sec, decoding: 0.0000 tokens/sec';
    return `prefill: ${usage.extra.prefill_tokens_per_s.toFixed(4)} tokens/sec, decoding: ${usage.extra.decode_tokens_per_s.toFixed(4)} tokens/sec`;
  }

  /** Ends every running or queued request of this engine: each ends with finish_reason 'abort' (WebLLM's interruptGenerate). */
  interruptGenerate(): void {
    for (const model of this.loaded.values()) model.engine.interruptAll();
  }

  async unload(): Promise<void> {
    const models = [...this.loaded.values()];
    this.loaded.clear();
    await Promise.all(models.map((m) => m.engine.dispose()));
  }

  async getMaxStorageBufferBindingSize(): Promise<number> {
    return (await this.adapter()).limits.maxStorageBufferBindingSize;
  }

  async getGPUVendor(): Promise<string> {
    const first = this.loaded.values().next().value as Loaded | undefined;
    return first?.engine.model.adapter.vendor ?? (await this.adapter()).info.vendor;
  }

  forwardTokensAndSample(_inputIds: number[], _isPrefill: boolean, _modelId?: string): Promise<number> {
    return Promise.reject(new InvalidRequestError('forwardTokensAndSample', 'forwardTokensAndSample: webchuan runs whole requests in its worker; use completions.create with the prompt.'));
  }

  private async adapter(): Promise<GPUAdapter> {
    const gpu = (globalThis.navigator as Navigator & { gpu?: GPU }).gpu;
    const adapter = await gpu?.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) throw new InvalidRequestError('gpu', 'This browser has no WebGPU adapter.');
    return adapter;
  }

  /** The loaded model a call names (by model_id or URL), or the only one. */
  private pick(modelId: string | undefined, what: string): Loaded {
    if (this.loaded.size === 0) throw new InvalidRequestError('model', `${what}: no model is loaded: call reload() (or CreateMLCEngine) first.`);
    if (modelId === undefined || modelId === null) {
      if (this.loaded.size > 1) throw new InvalidRequestError('model', `${what}: several models are loaded (${[...this.loaded.keys()].join(', ')}): name one with \`model\`.`);
      return this.loaded.values().next().value as Loaded;
    }
    const byId = this.loaded.get(modelId);
    if (byId) return byId;
    let url: string | undefined;
    try {
      url = modelId_(modelId);
    } catch {
      url = undefined;
    }
    for (const m of this.loaded.values()) if (m.engine.model.url === url) return m;
    throw new InvalidRequestError('model', `model: "${modelId}" is not loaded (${[...this.loaded.keys()].join(', ')}).`);
  }

  /** Passes a stream through, keeping what getMessage() and runtimeStatsText() need, in WebLLM's usage figures. */
  private async track<C extends { choices: unknown[]; usage?: Usage; model: string }>(model: Loaded, stream: AsyncIterable<C>, text: (chunk: C) => string): Promise<AsyncIterable<C>> {
    model.lastMessage = '';
    const id = model.record.model_id;
    async function* pass(): AsyncGenerator<C> {
      for await (const chunk of stream) {
        model.lastMessage += text(chunk);
        if (chunk.usage) model.lastUsage = chunk.usage;
        yield { ...chunk, model: id, ...(chunk.usage ? { usage: webllmUsage(chunk.usage) } : {}) };
      }
    }
    return pass();
  }
}

/** Our byte-level progress as WebLLM's report, with the bytes beside it. */
function progressReport(p: DownloadProgress, started: number): InitProgressReport {
  const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
  const fraction = p.totalBytes > 0 ? p.loadedBytes / p.totalBytes : 0;
  const eta = p.etaSeconds !== undefined ? `, ${Math.ceil(p.etaSeconds)} s left` : '';
  const text = p.loadedBytes >= p.totalBytes ? `Loading model onto the GPU (${mb(p.totalBytes)} MB downloaded)` : `Fetching model: ${mb(p.loadedBytes)} of ${mb(p.totalBytes)} MB (${Math.floor(fraction * 100)}%)${eta}`;
  // The download is all but the last step of a load: the GPU upload ends it with progress 1.
  return { ...p, progress: Math.min(fraction, 0.99), timeElapsed: (performance.now() - started) / 1000, text };
}

/** The artifact URL and (for WebLLM) library of a model id. */
function cacheTarget(modelId: string, appConfig: AppConfig | undefined): { url: string; modelLib?: string } {
  const record = findModelRecord(modelId, appConfig ?? prebuiltAppConfig);
  return { url: modelId_(record.model), ...(record.model_lib ? { modelLib: record.model_lib } : {}) };
}

const modelId_ = (url: string) => modelId(url, pageUrl());

/** Runs `call` on the 'webllm' backend's worker, which knows WebLLM's caches. */
async function onWebLLMWorker<T>(call: (service: ReturnType<ReturnType<typeof backendFor>['start']>['service']) => Promise<T>): Promise<T> {
  const connection = backendFor('webllm').start(false);
  try {
    return await call(connection.service);
  } finally {
    connection.close();
  }
}

/** Whether the model's files are all in the cache (WebLLM's hasModelInCache). */
export async function hasModelInCache(modelId: string, appConfig?: AppConfig): Promise<boolean> {
  const target = cacheTarget(modelId, appConfig);
  if (target.modelLib) return onWebLLMWorker((s) => s.isModelCached(target.url));
  return isModelCached(target.url);
}

/** Deletes the model's files from the cache (WebLLM's deleteModelAllInfoInCache). */
export async function deleteModelAllInfoInCache(modelId: string, appConfig?: AppConfig): Promise<void> {
  const target = cacheTarget(modelId, appConfig);
  if (target.modelLib) return onWebLLMWorker((s) => s.deleteCachedModel(target.url));
  return deleteModel(target.url);
}

/** Deletes the model's files (webchuan caches an artifact, its config and tokenizer as one entry). */
export const deleteModelInCache = deleteModelAllInfoInCache;

/** WebLLM deletes only the library here; webchuan's cache keeps a model as one entry, so this is refused. */
export async function deleteModelWasmInCache(modelId: string, appConfig?: AppConfig): Promise<void> {
  cacheTarget(modelId, appConfig);
  throw new InvalidRequestError('deleteModelWasmInCache', 'deleteModelWasmInCache: webchuan caches a model as one entry (weights, config, tokenizer, and on WebLLM its library): use deleteModelAllInfoInCache.');
}

/** WebLLM deletes only the chat config here; refused for the same reason. */
export async function deleteChatConfigInCache(modelId: string, appConfig?: AppConfig): Promise<void> {
  cacheTarget(modelId, appConfig);
  throw new InvalidRequestError('deleteChatConfigInCache', 'deleteChatConfigInCache: webchuan caches a model as one entry (weights, config, tokenizer, and on WebLLM its library): use deleteModelAllInfoInCache.');
}
