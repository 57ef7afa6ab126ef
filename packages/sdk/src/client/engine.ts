/**
 * The page side: `createEngine()` starts (or joins) the worker that hosts the engine and returns
 * an OpenAI-style API over it. Nothing here touches the GPU, so the page's main thread stays free.
 */
import { proxy, type Remote } from 'comlink';
import { AbortError, WebGPUUnavailableError } from '../errors.js';
import { modelId } from '../model/identity.js';
import type { CachedModelSummary } from '../store/cache.js';
import type { DownloadProgress } from '../store/progress.js';
import type { Session } from '../worker/engine-hub.js';
import { chooseBackend } from './auto-backend.js';
import { backendFor } from './backends.js';
import { defaultChatTemplate, type ChatTemplate } from './chat-template.js';
import type {
  BackendChoice,
  BackendName,
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParams,
  Completion,
  CompletionChunk,
  CompletionCreateParams,
  LoadOptions,
  ModelInfo,
  WorkerCompletionRequest,
  WorkerKind,
} from './protocol.js';
import type { WorkerConnection } from './worker-start.js';

export interface CreateEngineOptions extends LoadOptions {
  /** URL of the model artifact directory (MLC layout), absolute or relative to the page. */
  model: string;
  /** Download progress, in bytes. */
  onProgress?: (progress: DownloadProgress) => void;
  /**
   * Share one engine between all tabs of this origin through a SharedWorker (default: true where
   * the browser has SharedWorker); false gives this page a dedicated Worker.
   */
  shared?: boolean;
  /**
   * How chat messages become a prompt. Default: `defaultChatTemplate` on webchuan's engine; on WebLLM,
   * the model's own conversation template (from its mlc-chat-config.json).
   */
  chatTemplate?: ChatTemplate;
  /**
   * Which engine runs the model. `'auto'` (default): webchuan's WebGPU engine on a hardware GPU that
   * holds the model, else the CPU path. `'webchuan'`: the WebGPU engine only. `'cpu'`: llama.cpp in
   * WebAssembly only. `'webllm'` runs a model library compiled by MLC (give its URL as `modelLib`)
   * through `@mlc-ai/web-llm`; it needs `import 'webchuan/webllm'`.
   */
  backend?: BackendChoice;
}

/** A completion as the chat API sends it: with the template's own stop strings. */
type RequestParams = CompletionCreateParams & Pick<WorkerCompletionRequest, 'template_stop'>;

/** Starts one request in the worker under `id`, passing streamed text to `onText`. */
type Run = (id: string, onText?: (text: string) => void) => Promise<Completion>;

let nextRequest = 0;
const requestId = () => `${Date.now().toString(36)}-${(nextRequest++).toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

/** The page's URL, against which relative model URLs resolve. */
const pageUrl = () => globalThis.location?.href;

/** Starts the engine and loads `options.model` (downloading it once; later visits read IndexedDB). */
export async function createEngine(options: CreateEngineOptions): Promise<Engine> {
  const id = modelId(options.model, pageUrl());
  const choice = options.backend ?? 'auto';
  if (choice !== 'auto') return start(backendFor(choice).name, id, options);
  // Checked for the CPU path too: 'auto' may end there.
  backendFor('webchuan').checkOptions?.(options);
  backendFor('cpu').checkOptions?.(options);
  const { backend } = await chooseBackend();
  if (backend === 'cpu') return start('cpu', id, options);
  try {
    return await start('webchuan', id, options);
  } catch (error) {
    // The GPU cannot hold the model (the engine checks before any shard is downloaded): the CPU path can.
    if (error instanceof WebGPUUnavailableError) return start('cpu', id, options);
    throw error;
  }
}

async function start(name: BackendName, id: string, options: CreateEngineOptions): Promise<Engine> {
  const backend = backendFor(name);
  backend.checkOptions?.(options);
  const connection = backend.start(options.shared ?? typeof SharedWorker !== 'undefined');
  const engine = new Engine(connection, options.chatTemplate);
  try {
    await engine.reload(id, options);
  } catch (error) {
    connection.close();
    throw error;
  }
  return engine;
}

export class Engine {
  /** The loaded model. */
  model!: ModelInfo;
  /** Requests of this page still running, cancelled if the page goes away (the engine may be shared). */
  private readonly inFlight = new Set<string>();
  private readonly service: Remote<Session>;
  private readonly onPageHide = () => {
    for (const id of this.inFlight) void this.service.cancel(this.model.url, id);
  };

  /** @internal Engines are made by createEngine(). */
  constructor(
    private readonly connection: WorkerConnection,
    /** The page's template; undefined: the default, or on WebLLM the model's own. */
    private readonly chatTemplate: ChatTemplate | undefined,
  ) {
    this.service = connection.service;
    globalThis.addEventListener?.('pagehide', this.onPageHide);
  }

  /** How this page's engine runs: in a SharedWorker, a dedicated Worker, or (loaded from another origin) a blob-started one. */
  get workerKind(): WorkerKind {
    return this.connection.kind;
  }

  /** Which engine runs the model: webchuan's WebGPU engine, the CPU path (llama.cpp), or WebLLM. */
  get backend(): BackendName {
    return this.model.backend;
  }

  /**
   * Loads another model (or the same with other options) on the same backend; this page stops using
   * the previous one. On WebLLM, pass the new model's `modelLib`.
   */
  async reload(model: string, options: LoadOptions & { onProgress?: (p: DownloadProgress) => void } = {}): Promise<ModelInfo> {
    const id = modelId(model, pageUrl());
    const previous = this.model?.url;
    const onProgress = options.onProgress ? proxy(options.onProgress) : undefined;
    // Relative URLs are the page's: the worker lives elsewhere, so it gets them absolute.
    const modelLib = options.modelLib === undefined ? undefined : new URL(options.modelLib, pageUrl()).href;
    this.model = await this.service.load(id, { contextWindow: options.contextWindow, modelLib, threads: options.threads }, onProgress);
    if (previous && previous !== id) await this.service.unload(previous);
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
        const { messages, template, signal, stream: _stream, ...rest } = params;
        let run: Run;
        if (!template && !this.chatTemplate && this.model.chatTemplate === 'model') {
          // The engine applies the model's own template (and keeps its KV cache across turns).
          run = (id, onText) => this.service.chat(this.model.url, { ...rest, messages, requestId: id }, onText && proxy(onText));
        } else {
          const { prompt, stop } = (template ?? this.chatTemplate ?? defaultChatTemplate)(messages);
          run = (id, onText) => this.service.complete(this.model.url, { ...rest, prompt, template_stop: stop, requestId: id }, onText && proxy(onText));
        }
        return params.stream ? this.streamChat(run, signal) : this.chatCompletion(run, signal);
      }) as {
        (params: ChatCompletionCreateParams & { stream: true }): AsyncIterable<ChatCompletionChunk>;
        (params: ChatCompletionCreateParams & { stream?: false }): Promise<ChatCompletion>;
      },
    },
  };

  /** The model's tokenizer (no BOS/EOS added). */
  readonly tokenizer = {
    encode: (text: string): Promise<number[]> => this.service.encode(this.model.url, text),
    decode: (ids: number[]): Promise<string> => this.service.decode(this.model.url, ids),
    count: async (text: string): Promise<number> => (await this.service.encode(this.model.url, text)).length,
  };

  /** The model cache in IndexedDB (shared by every engine of this origin). */
  readonly cache = {
    list: (): Promise<CachedModelSummary[]> => this.service.listCachedModels(),
    has: (url: string): Promise<boolean> => this.service.isModelCached(modelId(url, pageUrl())),
    delete: (url: string): Promise<void> => this.service.deleteCachedModel(modelId(url, pageUrl())),
    clear: (): Promise<void> => this.service.deleteAllCachedModels(),
    prefetch: (url: string, onProgress?: (p: DownloadProgress) => void): Promise<void> =>
      this.service.prefetch(modelId(url, pageUrl()), onProgress ? proxy(onProgress) : undefined),
  };

  /**
   * This page stops using the model: its GPU memory is freed once no other tab uses it (the download
   * stays cached). Requests fail until `reload()`.
   */
  unload(): Promise<void> {
    return this.service.unload(this.model.url);
  }

  /** Frees everything of this page's; with a shared engine, other tabs keep their models. */
  async dispose(): Promise<void> {
    this.onPageHide();
    globalThis.removeEventListener?.('pagehide', this.onPageHide);
    await this.service.unload(this.model.url).catch(() => undefined);
    this.connection.close();
  }

  /** Destroys the GPU device, as a driver reset would; the next request reloads the model. For tests of recovery. */
  loseDeviceForTesting(): Promise<void> {
    return this.service.loseDevice(this.model.url);
  }

  private completion(params: RequestParams): Promise<Completion> {
    const { signal, stream: _stream, ...rest } = params;
    return this.run((id) => this.service.complete(this.model.url, { ...rest, requestId: id }), signal);
  }

  private streamCompletion(params: RequestParams): AsyncGenerator<CompletionChunk> {
    const { signal, stream: _stream, ...rest } = params;
    return this.stream((id, onText) => this.service.complete(this.model.url, { ...rest, requestId: id }, onText && proxy(onText)), signal);
  }

  /** Runs one request to its end; aborting `signal` cancels it in the worker and rejects with AbortError. */
  private async run(start: Run, signal: AbortSignal | undefined): Promise<Completion> {
    if (signal?.aborted) throw new AbortError();
    const id = requestId();
    const onAbort = () => void this.service.cancel(this.model.url, id);
    signal?.addEventListener('abort', onAbort, { once: true });
    this.inFlight.add(id);
    try {
      const result = await start(id);
      if (signal?.aborted) throw new AbortError();
      return result;
    } finally {
      this.inFlight.delete(id);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Streams one request as chunks; the last carries finish_reason and usage. Aborting ends it before the next chunk. */
  private async *stream(start: Run, signal: AbortSignal | undefined): AsyncGenerator<CompletionChunk> {
    if (signal?.aborted) throw new AbortError();
    const id = requestId();
    this.inFlight.add(id);
    const pieces: string[] = [];
    let wake: (() => void) | undefined;
    let settled = false;
    const done = start(id, (text: string) => {
      pieces.push(text);
      wake?.();
    });
    done.then(() => (settled = true), () => (settled = true)).finally(() => wake?.());
    const onAbort = () => {
      void this.service.cancel(this.model.url, id);
      wake?.();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const created = Math.floor(Date.now() / 1000);
    let sent = '';
    try {
      for (;;) {
        if (signal?.aborted) throw new AbortError();
        while (pieces.length > 0) {
          const text = pieces.shift()!;
          sent += text;
          yield { id: `cmpl-${id}`, object: 'text_completion', created, model: this.model.url, choices: [{ index: 0, text, finish_reason: null }] };
          if (signal?.aborted) throw new AbortError();
        }
        if (settled) break;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
      const final = await done;
      while (pieces.length > 0) {
        const text = pieces.shift()!;
        sent += text;
        yield { id: final.id, object: 'text_completion', created, model: final.model, choices: [{ index: 0, text, finish_reason: null }] };
      }
      // The pieces travel through their own message channel and the result through another: a last
      // piece may still be on its way when the result arrives. The result holds all the text.
      const whole = final.choices[0]!.text;
      if (whole.length > sent.length && whole.startsWith(sent)) {
        yield { id: final.id, object: 'text_completion', created, model: final.model, choices: [{ index: 0, text: whole.slice(sent.length), finish_reason: null }] };
      }
      yield { id: final.id, object: 'text_completion', created, model: final.model, choices: [{ index: 0, text: '', finish_reason: final.choices[0]!.finish_reason }], usage: final.usage };
    } finally {
      this.inFlight.delete(id);
      signal?.removeEventListener('abort', onAbort);
      if (!settled) void this.service.cancel(this.model.url, id);
    }
  }

  private async chatCompletion(start: Run, signal: AbortSignal | undefined): Promise<ChatCompletion> {
    const c = await this.run(start, signal);
    return {
      id: c.id.replace('cmpl-', 'chatcmpl-'),
      object: 'chat.completion',
      created: c.created,
      model: c.model,
      choices: [{ index: 0, message: { role: 'assistant', content: c.choices[0]!.text.trimStart() }, finish_reason: c.choices[0]!.finish_reason }],
      usage: c.usage,
    };
  }

  private async *streamChat(start: Run, signal: AbortSignal | undefined): AsyncGenerator<ChatCompletionChunk> {
    let first = true;
    for await (const chunk of this.stream(start, signal)) {
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
