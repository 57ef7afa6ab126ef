/**
 * One model run by WebLLM (`@mlc-ai/web-llm`'s MLCEngine) inside our worker, behind the same
 * WorkerEngine interface as webchuan's own engine: the same queue, cancellation, stop strings, usage
 * figures and typed errors, so a page switches engines without changing its code.
 *
 * Before WebLLM downloads a byte of weights, the artifact's two index files and the model library
 * are fetched and compared (model/model-lib.ts): a library that does not fit fails at once, naming
 * the first difference. Our own tokenizer (the same C++ library WebLLM uses, on the same file)
 * counts and cuts prompts and serves `tokenizer.encode/decode`.
 */
import { MLCEngine, type ChatCompletionChunk, type ChatCompletionMessageParam, type Completion as WebLLMCompletion, type CompletionUsage } from '@mlc-ai/web-llm';
import { templateMessages } from '../client/messages.js';
import type { ChatCompletionTokenLogprob, Completion, CompletionChoice, FinishReason, LoadOptions, ModelInfo, TemplateMessage, Usage, WorkerChatRequest, WorkerCompletionRequest, WorkerDelta } from '../client/protocol.js';
import { AbortError, BadArtifactError, ContextOverflowError, InvalidRequestError, ModelNotFoundError, NetworkError, WebchuanError, WebGPUUnavailableError } from '../errors.js';
import { artifactBytes, type ChatConfigJson } from '../model/artifact.js';
import { describeModelLibMismatch, modelLibDifferences, readArtifactIndex, readModelLibMetadata } from '../model/model-lib.js';
import type { DownloadProgress } from '../store/progress.js';
import type { TokenizerRuntime } from '../tokenizer/runtime.js';
import { TextTokenizer, tokenizerFormat, type TokenizerFile } from '../tokenizer/tokenizer.js';
import { JoinedLoad } from '../worker/joined-load.js';
import { checkRequest, replyRoom, type CheckedRequest } from '../worker/request.js';
import { RequestQueue } from '../worker/request-queue.js';
import { StopStringMatcher } from '../worker/stop-strings.js';
import { checkModelField } from '../worker/usage.js';
import type { WorkerEngine } from '../worker/worker-engine.js';
import { artifactFileUrl, type ArtifactFetch } from './artifact-fetch.js';
import { loadError, requestError } from './errors.js';
import { appConfigFor, type WebLLMModels } from './models.js';
import { webllmProgress } from './progress.js';
import { webllmSampling } from './request.js';

export interface WebLLMHost {
  gpu(): GPU | undefined;
  tokenizerRuntime(): Promise<TokenizerRuntime>;
  fetch: ArtifactFetch;
  models: WebLLMModels;
}

interface Loaded {
  options: LoadOptions;
  mlc: MLCEngine;
  tokenizer: TextTokenizer;
  contextWindow: number;
  vocabSize: number;
  info: ModelInfo;
}

/** One streamed piece of either of WebLLM's APIs. */
type Chunk = WebLLMCompletion | ChatCompletionChunk;

export class WebLLMEngine implements WorkerEngine {
  private loaded?: Loaded;
  private readonly queue = new RequestQueue();
  /** The load in progress and who listens to its progress (a second caller joins the first load). */
  private readonly loads = new JoinedLoad<ModelInfo>();

  constructor(
    /** The model's identity: its artifact's absolute URL (model/identity.ts); also WebLLM's model_id. */
    readonly id: string,
    private readonly host: WebLLMHost,
  ) {}

  load(options: LoadOptions = {}, onProgress?: (p: DownloadProgress) => void): Promise<ModelInfo> {
    const key = `${options.modelLib ?? ''} ${options.contextWindow ?? ''}`;
    const same = (o: LoadOptions) => `${o.modelLib ?? ''} ${o.contextWindow ?? ''}` === key;
    return this.loads.run(key, onProgress, (report) =>
      this.queue.exclusive(async () => {
        if (this.loaded && same(this.loaded.options)) return this.loaded.info;
        return this.loadNow(options, report);
      }),
    );
  }

  private async loadNow(options: LoadOptions, onProgress: (p: DownloadProgress) => void): Promise<ModelInfo> {
    await this.unloadNow();
    const modelLib = options.modelLib;
    if (!modelLib) throw new InvalidRequestError('modelLib', "modelLib: the 'webllm' backend needs the URL of the model library (.wasm) compiled by MLC for this model.");
    const gpu = this.host.gpu();
    if (!gpu) throw new WebGPUUnavailableError('This browser has no WebGPU (navigator.gpu is missing). Use a recent Chrome, Edge or Safari, or enable WebGPU.');
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) throw new WebGPUUnavailableError('WebGPU is present but no GPU adapter is available (blocklisted GPU or drivers).');

    // A model loaded before with this library and complete in WebLLM's cache starts with no network.
    let record = await this.host.models.get(this.id);
    const cached = record?.modelLib === modelLib && (await this.host.models.complete(this.id, modelLib));
    if (!cached || !record) {
      const checked = await this.checkBeforeDownload(modelLib);
      record = { id: this.id, modelLib, totalBytes: checked.totalBytes, chatConfig: checked.chatConfig };
      await this.host.models.remember(record); // listed (as partial) even if the download is cut off
    }
    const chatConfig = record.chatConfig;
    const modelWindow = chatConfig.context_window_size ?? 0;
    const contextWindow = options.contextWindow && modelWindow > 0 ? Math.min(options.contextWindow, modelWindow) : (options.contextWindow ?? modelWindow);

    this.host.fetch.register(this.id);
    const mlc = new MLCEngine({
      appConfig: appConfigFor(this.id, modelLib, contextWindow),
      initProgressCallback: webllmProgress(record.totalBytes, cached ? record.totalBytes : 0, onProgress),
      logLevel: 'WARN',
    });
    try {
      await mlc.reload(this.id);
    } catch (error) {
      await mlc.unload().catch(() => undefined);
      throw loadError(error, this.id, modelLib);
    }

    let tokenizer: TextTokenizer;
    try {
      const file = record.tokenizer ?? (await this.fetchTokenizer(chatConfig));
      if (!record.tokenizer) await this.host.models.remember({ ...record, tokenizer: file });
      tokenizer = await TextTokenizer.load(await this.host.tokenizerRuntime(), file);
    } catch (error) {
      await mlc.unload().catch(() => undefined);
      throw error instanceof WebchuanError ? error : new BadArtifactError(`${this.id}: the tokenizer did not load: ${(error as Error).message}`, { cause: error });
    }
    const a = adapter.info;
    const vocabSize = chatConfig.vocab_size ?? tokenizer.vocabSize;
    const info: ModelInfo = {
      url: this.id,
      backend: 'webllm',
      chatTemplate: 'model',
      modelType: chatConfig.model_type,
      quantization: chatConfig.quantization,
      contextWindow,
      vocabSize,
      gpuBytes: record.totalBytes, // the weights; WebLLM does not report its KV cache and workspace
      adapter: { vendor: a.vendor ?? '', architecture: a.architecture ?? '', description: a.description ?? '', features: [...adapter.features] },
    };
    this.loaded = { options, mlc, tokenizer, contextWindow, vocabSize, info };
    return info;
  }

  /** Fetches the index files and the library, and compares them: nothing of the weights is downloaded yet. */
  private async checkBeforeDownload(modelLib: string): Promise<{ chatConfig: ChatConfigJson; totalBytes: number }> {
    const source = {
      text: async (file: string) => (await this.fetchOk(artifactFileUrl(this.id, file))).text(),
      bytes: async (file: string) => new Uint8Array(await (await this.fetchOk(artifactFileUrl(this.id, file))).arrayBuffer()),
    };
    let index: Awaited<ReturnType<typeof readArtifactIndex>>;
    try {
      index = await readArtifactIndex(source);
    } catch (error) {
      if (error instanceof WebchuanError) throw error;
      throw new BadArtifactError(`${this.id}: ${(error as Error).message}`, { cause: error });
    }
    const libBytes = new Uint8Array(await (await this.fetchOk(modelLib)).arrayBuffer());
    let differences: string[];
    try {
      differences = modelLibDifferences(readModelLibMetadata(libBytes, modelLib), index.cache, index.chatConfig);
    } catch (error) {
      if (error instanceof WebchuanError) throw error; // the library's own typed error, naming the field at fault
      throw new BadArtifactError(`${modelLib} is not an MLC model library: ${(error as Error).message}`, { cause: error });
    }
    if (differences.length > 0) throw new BadArtifactError(describeModelLibMismatch(differences, modelLib, this.id));
    this.host.fetch.lend(modelLib, libBytes); // WebLLM asks for it next: one download, not two
    return { chatConfig: index.chatConfig, totalBytes: artifactBytes(index.cache) };
  }

  private async fetchOk(url: string): Promise<Response> {
    let response: Response;
    try {
      response = await this.host.fetch.base(url);
    } catch (error) {
      throw new NetworkError(`Could not fetch ${url}: ${(error as Error).message}`, { cause: error });
    }
    if (response.status === 404 || response.status === 410) throw new ModelNotFoundError(url, response.status);
    if (!response.ok) throw new NetworkError(`Fetching ${url} failed: HTTP ${response.status}`);
    return response;
  }

  /** The artifact's tokenizer file: `tokenizer.json` (Hugging Face) where it lists one, else SentencePiece's. */
  private async fetchTokenizer(chatConfig: ChatConfigJson): Promise<TokenizerFile> {
    const files = chatConfig.tokenizer_files ?? ['tokenizer.model'];
    const name = files.find((f) => f.endsWith('tokenizer.json')) ?? files.find((f) => f.endsWith('.model'));
    if (!name) throw new BadArtifactError(`${this.id}: mlc-chat-config.json lists no tokenizer.json or tokenizer.model (${files.join(', ') || 'none'}).`);
    const bytes = new Uint8Array(await (await this.fetchOk(artifactFileUrl(this.id, name))).arrayBuffer());
    return { format: tokenizerFormat(name), bytes };
  }

  private ready(): Loaded {
    if (!this.loaded) throw new BadArtifactError(`${this.id} is not loaded: load it again with engine.reload() or createEngine().`);
    return this.loaded;
  }

  cancel(requestId: string): void {
    this.queue.cancel(requestId);
  }

  complete(raw: WorkerCompletionRequest, onDelta?: (delta: WorkerDelta) => void): Promise<Completion> {
    return this.queue.request(raw.requestId, async (signal) => {
      const received = performance.now();
      const l = this.ready();
      await l.tokenizer.revive();
      const request = checkRequest(raw, l.vocabSize);
      checkModelField(request.model, this.id);
      if (request.enable_thinking !== undefined) throw new InvalidRequestError('extra_body.enable_thinking', 'extra_body.enable_thinking: applies to chat through the model\'s own template only.');
      if (request.grammar) throw refusedCompletionGrammar(raw);
      const sampling = webllmSampling(request);
      const prompt = this.fitPrompt(l, request);
      const echo = request.echo ? request.prompt : '';
      const choices: { choice: CompletionChoice; usage?: CompletionUsage }[] = [];
      for (let index = 0; index < request.n; index++) {
        if (request.max_tokens === 0) {
          if (echo) onDelta?.({ choice: index, text: echo });
          choices.push({ choice: { index, text: echo, finish_reason: 'length', logprobs: null } });
          continue;
        }
        const params = { ...sampling, ...choiceSeed(request, index) };
        const start = () => l.mlc.completions.create({ ...params, prompt: prompt.text, stream: true, stream_options: { include_usage: true } });
        choices.push(await this.generate(request, index, start, signal, onDelta, echo));
      }
      return this.completion(request.requestId, choices, prompt.tokens, received);
    });
  }

  chat(raw: WorkerChatRequest, onDelta?: (delta: WorkerDelta) => void): Promise<Completion> {
    return this.queue.request(raw.requestId, async (signal) => {
      const received = performance.now();
      const l = this.ready();
      await l.tokenizer.revive();
      const { messages: rawMessages, tools, tool_choice: toolChoice, ...fields } = raw;
      if ((tools !== undefined && tools !== null) || (toolChoice !== undefined && toolChoice !== null && toolChoice !== 'none')) {
        throw new InvalidRequestError(
          'tools',
          "tools: the model's own template on the 'webllm' backend does not offer tools (WebLLM's function calling serves only its Hermes models); give the engine a chatTemplate with `tools: true` (the default template is one: createEngine({ chatTemplate: defaultChatTemplate })), or use the 'webchuan' backend.",
        );
      }
      let messages = checkMessages(rawMessages);
      const request = checkRequest({ ...fields, prompt: '' }, l.vocabSize);
      checkModelField(request.model, this.id);
      if (request.echo) throw new InvalidRequestError('echo', 'echo: applies to completions only.');
      const sampling = { ...webllmSampling(request), ...(request.enable_thinking !== undefined ? { extra_body: { enable_thinking: request.enable_thinking } } : {}) };
      const choices: { choice: CompletionChoice; usage?: CompletionUsage }[] = [];
      for (let index = 0; index < request.n; index++) {
        for (;;) {
          const params = { ...sampling, ...choiceSeed(request, index) };
          const start = () => l.mlc.chat.completions.create({ ...params, messages: messages.map(toWebLLM), stream: true, stream_options: { include_usage: true } });
          try {
            choices.push(await this.generate(request, index, start, signal, onDelta, ''));
            break;
          } catch (error) {
            // The model's template decides the prompt's length, so WebLLM is the one to count it; with
            // truncation 'left' the oldest turns (after a system message) go until the rest fits.
            const firstTurn = messages.findIndex((m) => m.role !== 'system');
            if (!(error instanceof ContextOverflowError) || request.truncation !== 'left' || firstTurn < 0 || firstTurn === messages.length - 1) throw error;
            messages = messages.filter((_, i) => i !== firstTurn);
          }
        }
      }
      return this.completion(request.requestId, choices, 0, received);
    });
  }

  /**
   * The prompt, checked against the context window as webchuan's engine does: prompt + max_tokens
   * must fit, or with truncation 'left' the oldest text goes. WebLLM tokenizes text, so a cut prompt
   * is decoded back to text, one token short of the room to spare a re-tokenized first piece.
   */
  private fitPrompt(l: Loaded, r: CheckedRequest): { text: string; tokens: number } {
    const reply = replyRoom(r, l.contextWindow);
    const room = l.contextWindow - reply;
    if (room <= 0) throw new ContextOverflowError(0, reply, l.contextWindow, 'max_tokens alone');
    const left = r.truncation === 'left';
    let text = r.prompt;
    // Bound the tokenizer's work first, as webchuan's engine does: a text of n UTF-16 units has at
    // least n / (2 · longest piece) tokens.
    const boundUnits = 2 * l.tokenizer.maxCharsPerToken * l.contextWindow;
    if (text.length > boundUnits) {
      if (!left) throw new ContextOverflowError(Math.ceil(text.length / (2 * l.tokenizer.maxCharsPerToken)), reply, l.contextWindow, 'at least');
      let start = text.length - boundUnits;
      if (/[\uDC00-\uDFFF]/.test(text[start]!)) start++;
      text = text.slice(start);
    }
    const ids = l.tokenizer.encode(text);
    if (ids.length === 0) throw new InvalidRequestError('prompt', 'prompt: it is empty: give some text.');
    if (ids.length <= room && text === r.prompt) return { text, tokens: ids.length };
    if (!left) throw new ContextOverflowError(ids.length, reply, l.contextWindow);
    const kept = ids.slice(Math.max(1, ids.length - room + 1));
    return { text: l.tokenizer.decode(kept), tokens: kept.length };
  }

  /** Streams one choice of a WebLLM request to its end, with our stop strings, cancellation and logprobs. */
  private async generate(
    request: CheckedRequest,
    index: number,
    start: () => Promise<AsyncIterable<Chunk>>,
    signal: AbortSignal,
    onDelta: ((delta: WorkerDelta) => void) | undefined,
    prefix: string,
  ): Promise<{ choice: CompletionChoice; usage?: CompletionUsage }> {
    const l = this.ready();
    const matcher = new StopStringMatcher(request.stops);
    let text = '';
    let stopped = false;
    let finish: FinishReason | null = null;
    let usage: CompletionUsage | undefined;
    const entries: ChatCompletionTokenLogprob[] = [];
    const emit = (piece: string, logprobs: ChatCompletionTokenLogprob[]) => {
      if (!piece && logprobs.length === 0) return;
      text += piece;
      entries.push(...logprobs);
      onDelta?.({ choice: index, text: piece, ...(logprobs.length > 0 ? { logprobs } : {}) });
    };
    if (prefix) emit(prefix, []);
    // WebLLM checks its interrupt flag before each decoding step, and clears it when a request
    // starts: so it is set on abort and again after every chunk of an aborted request.
    const interrupt = () => void l.mlc.interruptGenerate();
    signal.addEventListener('abort', interrupt);
    try {
      const chunks = await start();
      // Every chunk is read to the end, even after an interrupt: WebLLM releases the model's lock
      // only when its stream finishes.
      for await (const chunk of chunks) {
        if (signal.aborted) interrupt();
        const choice = chunk.choices[0];
        if (chunk.usage) usage = chunk.usage;
        if (!choice) continue;
        const piece = 'text' in choice ? choice.text : (choice.delta.content ?? '');
        const logprobs = (choice.logprobs?.content ?? []).map((e) => ({ token: e.token, bytes: e.bytes, logprob: e.logprob, top_logprobs: e.top_logprobs ?? [] }));
        if (choice.finish_reason) finish = choice.finish_reason === 'abort' || choice.finish_reason === 'length' ? choice.finish_reason : 'stop';
        if (stopped) continue;
        const found = matcher.push(piece);
        emit(found.text, request.logprobs ? logprobs : []);
        if (found.stopped) {
          stopped = true;
          interrupt();
        }
      }
    } catch (error) {
      throw requestError(error, request.max_tokens ?? 0);
    } finally {
      signal.removeEventListener('abort', interrupt);
    }
    if (signal.aborted) throw new AbortError();
    if (!stopped) emit(matcher.flush(), []);
    const logprobs = request.logprobs
      ? {
          tokens: entries.map((e) => e.token),
          token_logprobs: entries.map((e) => e.logprob),
          top_logprobs: entries.map((e) => Object.fromEntries(e.top_logprobs.map((t) => [t.token, t.logprob]))),
          text_offset: [],
          content: entries,
        }
      : null;
    return { choice: { index, text, finish_reason: stopped ? 'stop' : (finish ?? 'stop'), logprobs }, ...(usage ? { usage } : {}) };
  }

  private completion(requestId: string, choices: { choice: CompletionChoice; usage?: CompletionUsage }[], promptTokens: number, received: number): Completion {
    return {
      id: `cmpl-${requestId}`,
      object: 'text_completion',
      created: Math.floor(Date.now() / 1000),
      model: this.id,
      choices: choices.map((c) => c.choice),
      usage: usageOf(choices.map((c) => c.usage), promptTokens, received),
    };
  }

  encodeText(text: string): Promise<number[]> {
    return this.queue.exclusive(async () => this.ready().tokenizer.encode(text));
  }

  decodeIds(ids: number[]): Promise<string> {
    return this.queue.exclusive(async () => this.ready().tokenizer.decode(ids));
  }

  unload(): Promise<void> {
    return this.queue.exclusive(() => this.unloadNow());
  }

  private async unloadNow(): Promise<void> {
    const l = this.loaded;
    this.loaded = undefined;
    if (!l) return;
    l.tokenizer.dispose();
    await l.mlc.unload();
  }

  loseDevice(): void {
    throw new InvalidRequestError('loseDevice', "loseDevice: WebLLM does not expose its GPU device; this test hook exists on the 'webchuan' backend only.");
  }
}

/** Our usage from WebLLM's, summed over the choices (WebLLM reports what it prefilled each time; `prompt` when it ran nothing). */
function usageOf(usages: (CompletionUsage | undefined)[], prompt: number, received: number): Usage {
  const ran = usages.filter((u): u is CompletionUsage => u !== undefined);
  const prefilled = ran.length > 0 ? ran.reduce((n, u) => n + u.prompt_tokens, 0) : prompt;
  // WebLLM counts decoding steps; the first token comes out of the prefill, so a request that
  // prefilled generated one token more than it says.
  const generated = ran.reduce((n, u) => n + u.completion_tokens + (u.prompt_tokens > 0 ? 1 : 0), 0);
  const first = ran[0]?.extra;
  const grammar = ran.some((u) => u.extra.grammar_init_s !== undefined);
  return {
    prompt_tokens: prefilled,
    completion_tokens: generated,
    total_tokens: prefilled + generated,
    // WebLLM continues a chat from its KV cache without saying how many positions it kept.
    prompt_tokens_details: { cached_tokens: 0 },
    extra: {
      e2e_latency_s: (performance.now() - received) / 1000,
      prefill_tokens_per_s: finite(first?.prefill_tokens_per_s),
      decode_tokens_per_s: finite(first?.decode_tokens_per_s),
      time_to_first_token_s: finite(first?.time_to_first_token_s),
      time_per_output_token_s: finite(first?.time_per_output_token_s),
      ...(grammar
        ? { grammar_init_s: ran.reduce((n, u) => n + finite(u.extra.grammar_init_s), 0), grammar_per_token_s: finite(first?.grammar_per_token_s) }
        : {}),
    },
  };
}

/** Each choice's seed: the request's for the first, then the next integers, so choices differ and the request reproduces. */
function choiceSeed(request: CheckedRequest, index: number): { seed?: number } {
  return request.seed === undefined ? {} : { seed: request.seed + index };
}

/** WebLLM divides by zero for a request that decoded nothing; our figures are 0 then. */
const finite = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? x : 0);

function checkMessages(messages: unknown): TemplateMessage[] {
  const list = templateMessages(messages);
  const last = list.at(-1)!.role;
  if (last !== 'user' && last !== 'tool') throw new InvalidRequestError('messages', "messages: on the 'webllm' backend the last message must be the user's (WebLLM's chat template answers it).");
  if (list.some((m, i) => m.role === 'system' && i > 0)) throw new InvalidRequestError('messages', 'messages: a system message may only come first.');
  return list;
}

function toWebLLM(m: TemplateMessage): ChatCompletionMessageParam {
  if (m.role === 'tool') return { role: 'tool', content: m.content, tool_call_id: m.tool_call_id ?? '' };
  if (m.role === 'assistant') return { role: 'assistant', content: m.content, ...(m.tool_calls ? { tool_calls: m.tool_calls } : {}) };
  return { role: m.role, content: m.content };
}

/**
 * WebLLM holds only chat replies to a grammar: its completions API drops `response_format` (0.2.79
 * and 0.2.85 build the request's generation config without it), so a grammar-held completion (and a
 * chat through a page's template, which runs as one) is refused here rather than run unheld.
 */
function refusedCompletionGrammar(raw: WorkerCompletionRequest): InvalidRequestError {
  const field = raw.response_format !== undefined && raw.response_format !== null ? 'response_format' : 'tools';
  return new InvalidRequestError(
    field,
    `${field}: on the 'webllm' backend only chat through the model's own template is held to a grammar (WebLLM's completions API drops response_format); use chat without a page chatTemplate, or the 'webchuan' backend.`,
  );
}
