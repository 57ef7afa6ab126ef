/**
 * The page side: `createEngine()` starts (or joins) the worker that hosts the engine and returns
 * an OpenAI-style API over it. Nothing here touches the GPU, so the page's main thread stays free.
 */
import { proxy, wrap, releaseProxy, type Remote } from 'comlink';
import { AbortError } from '../errors.js';
import type { DownloadProgress } from '../store/progress.js';
import type { CachedModelSummary } from '../store/cache.js';
import { installErrorTransfer } from '../worker/comlink-errors.js';
import type { EngineService, LoadOptions } from '../worker/service.js';
import { defaultChatTemplate, type ChatTemplate } from './chat-template.js';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParams,
  Completion,
  CompletionChunk,
  CompletionCreateParams,
  ModelInfo,
} from './protocol.js';

export interface CreateEngineOptions extends LoadOptions {
  /** URL of the model artifact directory (MLC layout). */
  model: string;
  /** Download progress, in bytes. */
  onProgress?: (progress: DownloadProgress) => void;
  /**
   * Share one engine between all tabs of this origin through a SharedWorker (default: true where
   * the browser has SharedWorker); false gives this page a dedicated Worker.
   */
  shared?: boolean;
  /** How chat messages become a prompt (default: `defaultChatTemplate`). */
  chatTemplate?: ChatTemplate;
}

let nextRequest = 0;
const requestId = () => `${Date.now().toString(36)}-${(nextRequest++).toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

function startWorker(shared: boolean): { service: Remote<EngineService>; close(): void } {
  installErrorTransfer();
  if (shared) {
    const worker = new SharedWorker(new URL('../worker/shared-worker.ts', import.meta.url), { type: 'module', name: 'webchuan' });
    const service = wrap<EngineService>(worker.port);
    return { service, close: () => (service[releaseProxy](), worker.port.close()) };
  }
  const worker = new Worker(new URL('../worker/worker.ts', import.meta.url), { type: 'module', name: 'webchuan' });
  const service = wrap<EngineService>(worker);
  return { service, close: () => worker.terminate() };
}

/** Starts the engine and loads `options.model` (downloading it once; later visits read IndexedDB). */
export async function createEngine(options: CreateEngineOptions): Promise<Engine> {
  const shared = options.shared ?? typeof SharedWorker !== 'undefined';
  const { service, close } = startWorker(shared);
  const engine = new Engine(service, close, options.chatTemplate ?? defaultChatTemplate);
  try {
    await engine.reload(options.model, options);
  } catch (error) {
    close();
    throw error;
  }
  return engine;
}

export class Engine {
  /** The loaded model. */
  model!: ModelInfo;
  /** Requests of this page still running, cancelled if the page goes away (the engine may be shared). */
  private readonly inFlight = new Set<string>();
  private readonly onPageHide = () => {
    for (const id of this.inFlight) void this.service.cancel(id);
  };

  constructor(
    private readonly service: Remote<EngineService>,
    private readonly close: () => void,
    private readonly chatTemplate: ChatTemplate,
  ) {
    globalThis.addEventListener?.('pagehide', this.onPageHide);
  }

  /** Loads another model (or the same with other options), freeing the previous one. */
  async reload(model: string, options: LoadOptions & { onProgress?: (p: DownloadProgress) => void } = {}): Promise<ModelInfo> {
    const onProgress = options.onProgress ? proxy(options.onProgress) : undefined;
    this.model = await this.service.load(new URL(model, location.href).href, { contextWindow: options.contextWindow }, onProgress);
    return this.model;
  }

  /** OpenAI-style text completions. */
  readonly completions = {
    create: ((params: CompletionCreateParams) => (params.stream ? this.streamCompletion(params) : this.completion(params))) as {
      (params: CompletionCreateParams & { stream: true }): AsyncIterable<CompletionChunk>;
      (params: CompletionCreateParams & { stream?: false }): Promise<Completion>;
    },
  };

  /** OpenAI-style chat completions, through the engine's chat template. */
  readonly chat = {
    completions: {
      create: ((params: ChatCompletionCreateParams) => {
        const { messages, ...rest } = params;
        const { prompt, stop } = this.chatTemplate(messages);
        const request = { ...rest, prompt, stop: [...(rest.stop === undefined ? [] : Array.isArray(rest.stop) ? rest.stop : [rest.stop]), ...stop].slice(0, 4) };
        return params.stream ? this.streamChat(request) : this.chatCompletion(request);
      }) as {
        (params: ChatCompletionCreateParams & { stream: true }): AsyncIterable<ChatCompletionChunk>;
        (params: ChatCompletionCreateParams & { stream?: false }): Promise<ChatCompletion>;
      },
    },
  };

  /** The model's tokenizer (no BOS/EOS added). */
  readonly tokenizer = {
    encode: (text: string): Promise<number[]> => this.service.encode(text),
    decode: (ids: number[]): Promise<string> => this.service.decode(ids),
    count: async (text: string): Promise<number> => (await this.service.encode(text)).length,
  };

  /** The model cache in IndexedDB (shared by every engine of this origin). */
  readonly cache = {
    list: (): Promise<CachedModelSummary[]> => this.service.listCachedModels(),
    has: (url: string): Promise<boolean> => this.service.isModelCached(new URL(url, location.href).href),
    delete: (url: string): Promise<void> => this.service.deleteCachedModel(new URL(url, location.href).href),
    clear: (): Promise<void> => this.service.deleteAllCachedModels(),
    prefetch: (url: string, onProgress?: (p: DownloadProgress) => void): Promise<void> =>
      this.service.prefetch(new URL(url, location.href).href, onProgress ? proxy(onProgress) : undefined),
  };

  /** Frees the model's GPU memory (the download stays cached). */
  unload(): Promise<void> {
    return this.service.unload();
  }

  /** Frees everything; for a shared engine, only this page's connection closes. */
  async dispose(): Promise<void> {
    this.onPageHide();
    globalThis.removeEventListener?.('pagehide', this.onPageHide);
    this.close();
  }

  /** Destroys the GPU device, as a driver reset would; the next request reloads the model. For tests. */
  loseDeviceForTesting(): Promise<void> {
    return this.service.loseDevice();
  }

  private async completion(params: CompletionCreateParams): Promise<Completion> {
    const { signal, stream: _stream, ...rest } = params;
    if (signal?.aborted) throw new AbortError();
    const id = requestId();
    const onAbort = () => void this.service.cancel(id);
    signal?.addEventListener('abort', onAbort, { once: true });
    this.inFlight.add(id);
    try {
      const result = await this.service.complete({ ...rest, requestId: id });
      if (signal?.aborted) throw new AbortError();
      return result;
    } finally {
      this.inFlight.delete(id);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  private async *streamCompletion(params: CompletionCreateParams): AsyncGenerator<CompletionChunk> {
    const { signal, stream: _stream, ...rest } = params;
    if (signal?.aborted) throw new AbortError();
    const id = requestId();
    this.inFlight.add(id);
    const pieces: string[] = [];
    let wake: (() => void) | undefined;
    let settled = false;
    const done = this.service.complete({ ...rest, requestId: id }, proxy((text: string) => {
      pieces.push(text);
      wake?.();
    }));
    done.then(() => (settled = true), () => (settled = true)).finally(() => wake?.());
    const onAbort = () => {
      void this.service.cancel(id);
      wake?.();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const created = Math.floor(Date.now() / 1000);
    try {
      for (;;) {
        if (signal?.aborted) throw new AbortError();
        while (pieces.length > 0) {
          yield { id: `cmpl-${id}`, object: 'text_completion', created, model: this.model.url, choices: [{ index: 0, text: pieces.shift()!, finish_reason: null }] };
          if (signal?.aborted) throw new AbortError();
        }
        if (settled) break;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
      const final = await done;
      while (pieces.length > 0) {
        yield { id: final.id, object: 'text_completion', created, model: final.model, choices: [{ index: 0, text: pieces.shift()!, finish_reason: null }] };
      }
      yield { id: final.id, object: 'text_completion', created, model: final.model, choices: [{ index: 0, text: '', finish_reason: final.choices[0]!.finish_reason }], usage: final.usage };
    } finally {
      this.inFlight.delete(id);
      signal?.removeEventListener('abort', onAbort);
      if (!settled) void this.service.cancel(id);
    }
  }

  private async chatCompletion(params: CompletionCreateParams): Promise<ChatCompletion> {
    const c = await this.completion(params);
    return {
      id: c.id.replace('cmpl-', 'chatcmpl-'),
      object: 'chat.completion',
      created: c.created,
      model: c.model,
      choices: [{ index: 0, message: { role: 'assistant', content: c.choices[0]!.text.trimStart() }, finish_reason: c.choices[0]!.finish_reason }],
      usage: c.usage,
    };
  }

  private async *streamChat(params: CompletionCreateParams): AsyncGenerator<ChatCompletionChunk> {
    let first = true;
    for await (const chunk of this.streamCompletion({ ...params, stream: true })) {
      const choice = chunk.choices[0]!;
      let content = choice.text;
      if (first && content) {
        content = content.trimStart();
        if (!content) continue;
      }
      yield {
        id: chunk.id.replace('cmpl-', 'chatcmpl-'),
        object: 'chat.completion.chunk',
        created: chunk.created,
        model: chunk.model,
        choices: [{ index: 0, delta: first ? { role: 'assistant', content } : { content }, finish_reason: choice.finish_reason }],
        usage: chunk.usage,
      };
      if (content) first = false;
    }
  }
}
