/**
 * The page side: `createEngine()` starts (or joins) the worker that hosts the engine and returns
 * an OpenAI-style API over it. Nothing here touches the GPU, so the page's main thread stays free.
 */
import { proxy, type Remote } from 'comlink';
import { AbortError, InvalidRequestError, WebGPUUnavailableError } from '../errors.js';
import { modelId } from '../model/identity.js';
import type { CachedModelSummary } from '../store/cache.js';
import type { DownloadProgress } from '../store/progress.js';
import type { Session } from '../worker/engine-hub.js';
import { chooseBackend } from './auto-backend.js';
import { backendFor } from './backends.js';
import { defaultChatTemplate, type ChatTemplate } from './chat-template.js';
import { templateMessages } from './messages.js';
import type {
  BackendChoice,
  BackendName,
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionChunkChoice,
  ChatCompletionMessageParam,
  ChatCompletionRequestBase,
  ChatCompletionRequestNonStreaming,
  ChatCompletionRequestStreaming,
  ChatCompletionTokenLogprob,
  Completion,
  CompletionChunk,
  CompletionLogprobs,
  CompletionCreateParamsBase,
  CompletionCreateParamsNonStreaming,
  CompletionCreateParamsStreaming,
  LoadOptions,
  ModelInfo,
  TemplateMessage,
  WorkerDelta,
  WorkerKind,
} from './protocol.js';
import { checkStreamFields } from './request-fields.js';
import { parseToolCalls, toolGrammar, toolOffer } from './tools.js';
import type { WorkerConnection } from './worker-start.js';

export interface CreateEngineOptions extends LoadOptions {
  /** URL of the model artifact directory (MLC layout), absolute or relative to the page. */
  model: string;
  /**
   * Load progress: bytes downloaded, then (`kernels`) the GPU kernels being measured, compiled and run
   * once, so that the first request after the engine resolves starts at once.
   */
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

/** Starts one request in the worker under `id`, passing streamed pieces to `onDelta`. */
type Run = (id: string, onDelta?: (delta: WorkerDelta) => void) => Promise<Completion>;

/** A chat request ready to run: how to start it, and whether its reply answers a tool offer. */
interface ChatRun {
  run: Run;
  tools: boolean;
}

let nextRequest = 0;
const requestId = () => `${Date.now().toString(36)}-${(nextRequest++).toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

/** The page's URL, against which relative model URLs resolve. */
const pageUrl = () => globalThis.location?.href;

/** Starts the engine and loads `options.model` (downloading it once; later visits read IndexedDB). */
/** What an engine's calls reach after dispose(): a typed error, not Comlink's "Proxy has been released". */
function disposedService(): Remote<Session> {
  const fail = () => Promise.reject(new InvalidRequestError('engine', 'engine: it was disposed; create another with createEngine().'));
  return new Proxy({}, { get: () => fail }) as Remote<Session>;
}

/** Every option createEngine takes: another (a typo such as `contextwindow`) is refused, not dropped. */
const ENGINE_OPTIONS: readonly string[] = ['model', 'onProgress', 'shared', 'chatTemplate', 'backend', 'contextWindow', 'modelLib', 'kernels', 'warm', 'firstPromptTokens', 'threads'] satisfies readonly (keyof CreateEngineOptions)[];

/** The options every backend reads, checked before any of them starts: each bad one named. */
function checkEngineOptions(options: CreateEngineOptions): void {
  if (typeof options !== 'object' || options === null) throw new InvalidRequestError('options', 'options: createEngine takes an object such as { model: \'/models/poetry-q4f32_1/\' }.');
  for (const key of Object.keys(options)) {
    if (!ENGINE_OPTIONS.includes(key)) throw new InvalidRequestError(key, `${key}: not an option of createEngine (${ENGINE_OPTIONS.join(', ')}).`);
  }
  for (const key of ['contextWindow', 'firstPromptTokens'] as const) {
    const value: unknown = options[key];
    if (value !== undefined && !(Number.isSafeInteger(value) && (value as number) >= 1)) throw new InvalidRequestError(key, `${key}: must be a positive integer, got ${JSON.stringify(value)}.`);
  }
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') throw new InvalidRequestError('onProgress', 'onProgress: must be a function.');
}

export async function createEngine(options: CreateEngineOptions): Promise<Engine> {
  checkEngineOptions(options);
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

/** A chat template's message in the form the model's own template (WebLLM) takes. */
function asMessageParam(m: TemplateMessage): ChatCompletionMessageParam {
  if (m.role === 'tool') return { role: 'tool', content: m.content, tool_call_id: m.tool_call_id ?? '' };
  if (m.role === 'assistant') return { role: 'assistant', content: m.content, ...(m.tool_calls ? { tool_calls: m.tool_calls } : {}) };
  return { role: m.role, content: m.content };
}

/** A chunk's tokens in both of a completion's logprobs shapes (offsets from the choice's start). */
function chunkLogprobs(content: ChatCompletionTokenLogprob[], at: number): CompletionLogprobs {
  let offset = at;
  return {
    tokens: content.map((t) => t.token),
    token_logprobs: content.map((t) => t.logprob),
    top_logprobs: content.map((t) => Object.fromEntries(t.top_logprobs.map((a) => [a.token, a.logprob]))),
    text_offset: content.map((t) => {
      const start = offset;
      offset += t.token.length;
      return start;
    }),
    content,
  };
}

export class Engine {
  /** The loaded model. */
  model!: ModelInfo;
  /** Requests of this page still running, cancelled if the page goes away (the engine may be shared). */
  private readonly inFlight = new Set<string>();
  private service: Remote<Session>;
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
    this.model = await this.service.load(id, { contextWindow: options.contextWindow, modelLib, threads: options.threads, kernels: options.kernels, warm: options.warm, firstPromptTokens: options.firstPromptTokens }, onProgress);
    if (previous && previous !== id) await this.service.unload(previous);
    return this.model;
  }

  /**
   * OpenAI-style text completions: a Promise of the completion, or with `stream: true` an async
   * iterable of chunks. A request field that is not a field of a request (or a bad value) throws
   * InvalidRequestError: `stream` and `stream_options` at once, the rest from the promise or the
   * stream's first step.
   */
  readonly completions = {
    create: ((params: CompletionCreateParamsBase) => {
      const { stream, includeUsage } = checkStreamFields(params, 'completion');
      const { signal, stream: _stream, stream_options: _options, ...rest } = params;
      const run: Run = (id, onDelta) => this.service.complete(this.model.url, { ...rest, requestId: id }, onDelta && proxy(onDelta));
      return stream ? this.stream(run, signal, includeUsage) : this.run(run, signal);
    }) as {
      (params: CompletionCreateParamsStreaming): AsyncIterable<CompletionChunk>;
      (params: CompletionCreateParamsNonStreaming): Promise<Completion>;
      (params: CompletionCreateParamsBase): AsyncIterable<CompletionChunk> | Promise<Completion>;
    },
  };

  /** OpenAI-style chat completions, through the engine's chat template; chunks carry `delta`. */
  readonly chat = {
    completions: {
      create: ((params: ChatCompletionRequestBase) => {
        const { stream, includeUsage } = checkStreamFields(params, 'chat');
        const chat = this.chatRun(params);
        return stream ? this.streamChat(chat, params.signal, includeUsage) : this.completeChat(chat, params.signal);
      }) as {
        (params: ChatCompletionRequestStreaming): AsyncIterable<ChatCompletionChunk>;
        (params: ChatCompletionRequestNonStreaming): Promise<ChatCompletion>;
        (params: ChatCompletionRequestBase): AsyncIterable<ChatCompletionChunk> | Promise<ChatCompletion>;
      },
    },
  };

  /** WebLLM's name for `chat.completions.create`, as WebLLM returns it: always a Promise (of the stream, with `stream: true`). */
  async chatCompletion(params: ChatCompletionRequestStreaming): Promise<AsyncIterable<ChatCompletionChunk>>;
  async chatCompletion(params: ChatCompletionRequestNonStreaming): Promise<ChatCompletion>;
  async chatCompletion(params: ChatCompletionRequestBase): Promise<AsyncIterable<ChatCompletionChunk> | ChatCompletion>;
  async chatCompletion(params: ChatCompletionRequestBase): Promise<AsyncIterable<ChatCompletionChunk> | ChatCompletion> {
    return this.chat.completions.create(params);
  }

  /** WebLLM's name for `completions.create`, as WebLLM returns it: always a Promise. */
  async completion(params: CompletionCreateParamsStreaming): Promise<AsyncIterable<CompletionChunk>>;
  async completion(params: CompletionCreateParamsNonStreaming): Promise<Completion>;
  async completion(params: CompletionCreateParamsBase): Promise<AsyncIterable<CompletionChunk> | Completion>;
  async completion(params: CompletionCreateParamsBase): Promise<AsyncIterable<CompletionChunk> | Completion> {
    return this.completions.create(params);
  }

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
    this.service = disposedService();
  }

  /** Destroys the GPU device, as a driver reset would; the next request reloads the model. For tests of recovery. */
  loseDeviceForTesting(): Promise<void> {
    return this.service.loseDevice(this.model.url);
  }

  /** Cancels every request this page has running or queued (WebLLM's `interruptGenerate`). */
  interruptAll(): void {
    this.onPageHide();
  }

  /** How a chat request runs: through the page's template (tools offered by it), or the model's own (WebLLM). */
  private chatRun(params: ChatCompletionRequestBase): ChatRun {
    const { messages, template, tools, tool_choice, signal: _signal, stream: _stream, stream_options: _options, ...rest } = params;
    const list = templateMessages(messages);
    const useModelTemplate = !template && !this.chatTemplate && this.model.chatTemplate === 'model';
    if (useModelTemplate) {
      // The engine applies the model's own template (and keeps its KV cache across turns); tools are its to offer.
      const request = { ...rest, messages: list.map(asMessageParam), ...(tools !== undefined ? { tools } : {}), ...(tool_choice !== undefined ? { tool_choice } : {}) };
      return { run: (id, onDelta) => this.service.chat(this.model.url, { ...request, requestId: id }, onDelta && proxy(onDelta)), tools: false };
    }
    const apply = template ?? this.chatTemplate ?? defaultChatTemplate;
    const offer = toolOffer(tools, tool_choice);
    if (offer && !apply.tools) {
      throw new InvalidRequestError('tools', 'tools: this chat template does not say how to offer tools to the model; give a chatTemplate with `tools: true` that takes the offer as its second argument (the default template does).');
    }
    if (offer && rest.response_format !== undefined && rest.response_format !== null) throw new InvalidRequestError('response_format', 'response_format: cannot be combined with tools: a tool call is already held to its JSON.');
    const { prompt, stop } = apply(list, offer);
    const { parallel_tool_calls: parallel, ...fields } = rest as typeof rest & { parallel_tool_calls?: boolean | null };
    if (parallel !== undefined && parallel !== null && !offer) throw new InvalidRequestError('parallel_tool_calls', 'parallel_tool_calls: applies to requests that offer tools.');
    const request = { ...fields, prompt, template_stop: stop, ...(offer ? { grammar: toolGrammar(offer, parallel !== false), ...(parallel !== undefined && parallel !== null ? { parallel_tool_calls: parallel } : {}) } : {}) };
    return { run: (id, onDelta) => this.service.complete(this.model.url, { ...request, requestId: id }, onDelta && proxy(onDelta)), tools: offer !== undefined };
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

  /**
   * Streams one request as chunks: each choice's pieces, then a chunk with each choice's
   * finish_reason; usage on the last of those, or (`includeUsage`) in a chunk of its own with
   * `choices: []`, or (`includeUsage: false`) nowhere. Aborting ends it before the next chunk.
   */
  private async *stream(start: Run, signal: AbortSignal | undefined, includeUsage: boolean | undefined): AsyncGenerator<CompletionChunk> {
    if (signal?.aborted) throw new AbortError();
    const id = requestId();
    this.inFlight.add(id);
    const pieces: WorkerDelta[] = [];
    let wake: (() => void) | undefined;
    let settled = false;
    const done = start(id, (delta) => {
      pieces.push(delta);
      wake?.();
    });
    done.then(() => (settled = true), () => (settled = true)).finally(() => wake?.());
    const onAbort = () => {
      void this.service.cancel(this.model.url, id);
      wake?.();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const created = Math.floor(Date.now() / 1000);
    /** Text and tokens of each choice streamed so far: where the next chunk's tokens begin (text_offset). */
    const streamed = new Map<number, { text: string; tokens: number }>();
    const chunk = (d: WorkerDelta, chunkId = `cmpl-${id}`, model = this.model.url): CompletionChunk => {
      const sent = streamed.get(d.choice) ?? { text: '', tokens: 0 };
      const at = sent.text.length;
      streamed.set(d.choice, { text: sent.text + d.text, tokens: sent.tokens + (d.logprobs?.length ?? 0) });
      return {
        id: chunkId,
        object: 'text_completion',
        created,
        model,
        choices: [{ index: d.choice, text: d.text, finish_reason: null, ...(d.logprobs ? { logprobs: chunkLogprobs(d.logprobs, at) } : {}) }],
      };
    };
    try {
      for (;;) {
        if (signal?.aborted) throw new AbortError();
        while (pieces.length > 0) {
          yield chunk(pieces.shift()!);
          if (signal?.aborted) throw new AbortError();
        }
        if (settled) break;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
      const final = await done;
      while (pieces.length > 0) yield chunk(pieces.shift()!, final.id, final.model);
      // The pieces travel through their own message channel and the result through another: a last
      // piece may still be on its way when the result arrives. The result holds all of each choice.
      for (const c of final.choices) {
        const sent = streamed.get(c.index) ?? { text: '', tokens: 0 };
        if (c.text.length <= sent.text.length || !c.text.startsWith(sent.text)) continue;
        const logprobs = c.logprobs?.content.slice(sent.tokens);
        yield chunk({ choice: c.index, text: c.text.slice(sent.text.length), ...(logprobs?.length ? { logprobs } : {}) }, final.id, final.model);
      }
      for (const [i, c] of final.choices.entries()) {
        const last = i === final.choices.length - 1;
        yield {
          id: final.id,
          object: 'text_completion',
          created,
          model: final.model,
          choices: [{ index: c.index, text: '', finish_reason: c.finish_reason }],
          ...(last && includeUsage === undefined ? { usage: final.usage } : {}),
        };
      }
      if (includeUsage) yield { id: final.id, object: 'text_completion', created, model: final.model, choices: [], usage: final.usage };
    } finally {
      this.inFlight.delete(id);
      signal?.removeEventListener('abort', onAbort);
      if (!settled) void this.service.cancel(this.model.url, id);
    }
  }

  private async completeChat(chat: ChatRun, signal: AbortSignal | undefined): Promise<ChatCompletion> {
    const c = await this.run(chat.run, signal);
    return {
      id: c.id.replace('cmpl-', 'chatcmpl-'),
      object: 'chat.completion',
      created: c.created,
      model: c.model,
      choices: c.choices.map((choice) => {
        const text = choice.text.trimStart();
        const calls = chat.tools && choice.finish_reason === 'stop' ? parseToolCalls(text) : undefined;
        return {
          index: choice.index,
          message: calls ? { role: 'assistant' as const, content: null, tool_calls: calls } : { role: 'assistant' as const, content: text },
          finish_reason: calls ? 'tool_calls' : choice.finish_reason,
          logprobs: choice.logprobs ? { content: choice.logprobs.content } : null,
        };
      }),
      usage: c.usage,
    };
  }

  /**
   * The chat form of a stream: deltas with the role first, the template's leading space trimmed. A
   * reply to a tool offer that begins with `{` is held back and comes whole, as `tool_calls`, with
   * the choice's finish_reason.
   */
  private async *streamChat(chat: ChatRun, signal: AbortSignal | undefined, includeUsage: boolean | undefined): AsyncGenerator<ChatCompletionChunk> {
    const started = new Set<number>();
    const held = new Map<number, string>();
    for await (const chunk of this.stream(chat.run, signal, includeUsage)) {
      const base = { id: chunk.id.replace('cmpl-', 'chatcmpl-'), object: 'chat.completion.chunk' as const, created: chunk.created, model: chunk.model };
      if (chunk.choices.length === 0) {
        yield { ...base, choices: [], ...(chunk.usage ? { usage: chunk.usage } : {}) };
        continue;
      }
      const c = chunk.choices[0]!;
      let content = c.text;
      const first = !started.has(c.index);
      if (first && content) {
        content = content.trimStart();
        if (!content && !c.logprobs) continue;
      }
      let delta: ChatCompletionChunkChoice['delta'] = first ? { role: 'assistant', content } : { content };
      let finish = c.finish_reason;
      if (chat.tools && (held.has(c.index) || (first && content.startsWith('{')))) {
        held.set(c.index, (held.get(c.index) ?? '') + content);
        if (!finish) continue;
        const calls = finish === 'stop' ? parseToolCalls(held.get(c.index)!) : undefined;
        delta = calls
          ? { role: 'assistant', content: null, tool_calls: calls.map((call, index) => ({ index, ...call })) }
          : { role: 'assistant', content: held.get(c.index)! }; // held from its first piece: the role was not sent yet
        if (calls) finish = 'tool_calls';
      }
      if (content || c.logprobs || finish || first) started.add(c.index);
      yield {
        ...base,
        choices: [{ index: c.index, delta, finish_reason: finish, ...(c.logprobs ? { logprobs: { content: c.logprobs.content } } : {}) }],
        ...(chunk.usage ? { usage: chunk.usage } : {}),
      };
    }
  }
}
