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
import type { ChatMessage, Completion, FinishReason, LoadOptions, ModelInfo, Usage, WorkerChatRequest, WorkerCompletionRequest } from '../client/protocol.js';
import { AbortError, BadArtifactError, ContextOverflowError, InvalidRequestError, ModelNotFoundError, NetworkError, WebchuanError, WebGPUUnavailableError } from '../errors.js';
import { artifactBytes, type ChatConfigJson } from '../model/artifact.js';
import { describeModelLibMismatch, modelLibDifferences, readArtifactIndex, readModelLibMetadata } from '../model/model-lib.js';
import type { DownloadProgress } from '../store/progress.js';
import type { TokenizerRuntime } from '../tokenizer/runtime.js';
import { TextTokenizer, tokenizerFormat, type TokenizerFile } from '../tokenizer/tokenizer.js';
import { JoinedLoad } from '../worker/joined-load.js';
import { checkRequest, type CheckedRequest } from '../worker/request.js';
import { RequestQueue } from '../worker/request-queue.js';
import { StopStringMatcher } from '../worker/stop-strings.js';
import type { WorkerEngine } from '../worker/worker-engine.js';
import { artifactFileUrl, type ArtifactFetch } from './artifact-fetch.js';
import { loadError, requestError } from './errors.js';
import { appConfigFor, type WebLLMModels } from './models.js';
import { webllmProgress } from './progress.js';
import { webllmSampling, type WebLLMSampling } from './request.js';

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
    if (!this.loaded) throw new BadArtifactError(`${this.id} is not loaded: call load() first.`);
    return this.loaded;
  }

  cancel(requestId: string): void {
    this.queue.cancel(requestId);
  }

  complete(raw: WorkerCompletionRequest, onText?: (text: string) => void): Promise<Completion> {
    return this.queue.request(raw.requestId, async (signal) => {
      const l = this.ready();
      await l.tokenizer.revive();
      const request = checkRequest(raw, l.vocabSize);
      const sampling = webllmSampling(request);
      const prompt = this.fitPrompt(l, request);
      if (request.max_tokens === 0) return this.completion(request.requestId, '', 'length', null, usageOf(undefined, prompt.tokens));
      const run = (params: WebLLMSampling) =>
        l.mlc.completions.create({ ...params, prompt: prompt.text, stream: true, stream_options: { include_usage: true } });
      return this.generate(l, request, () => run(sampling), signal, onText);
    });
  }

  chat(raw: WorkerChatRequest, onText?: (text: string) => void): Promise<Completion> {
    return this.queue.request(raw.requestId, async (signal) => {
      const l = this.ready();
      await l.tokenizer.revive();
      let messages = checkMessages(raw.messages);
      const request = checkRequest({ ...raw, prompt: '' }, l.vocabSize);
      const sampling = webllmSampling(request);
      const start = () => l.mlc.chat.completions.create({ ...sampling, messages: messages.map(toWebLLM), stream: true, stream_options: { include_usage: true } });
      for (;;) {
        try {
          return await this.generate(l, request, start, signal, onText);
        } catch (error) {
          // The model's template decides the prompt's length, so WebLLM is the one to count it; with
          // truncation 'left' the oldest turns (after a system message) go until the rest fits.
          const firstTurn = messages.findIndex((m) => m.role !== 'system');
          if (!(error instanceof ContextOverflowError) || request.truncation !== 'left' || firstTurn < 0 || firstTurn === messages.length - 1) throw error;
          messages = messages.filter((_, i) => i !== firstTurn);
        }
      }
    });
  }

  /**
   * The prompt, checked against the context window as webchuan's engine does: prompt + max_tokens
   * must fit, or with truncation 'left' the oldest text goes. WebLLM tokenizes text, so a cut prompt
   * is decoded back to text, one token short of the room to spare a re-tokenized first piece.
   */
  private fitPrompt(l: Loaded, r: CheckedRequest): { text: string; tokens: number } {
    const room = l.contextWindow - r.max_tokens;
    if (room <= 0) throw new ContextOverflowError(0, r.max_tokens, l.contextWindow, 'max_tokens alone');
    const left = r.truncation === 'left';
    let text = r.prompt;
    // Bound the tokenizer's work first, as webchuan's engine does: a text of n UTF-16 units has at
    // least n / (2 · longest piece) tokens.
    const boundUnits = 2 * l.tokenizer.maxCharsPerToken * l.contextWindow;
    if (text.length > boundUnits) {
      if (!left) throw new ContextOverflowError(Math.ceil(text.length / (2 * l.tokenizer.maxCharsPerToken)), r.max_tokens, l.contextWindow, 'at least');
      let start = text.length - boundUnits;
      if (/[\uDC00-\uDFFF]/.test(text[start]!)) start++;
      text = text.slice(start);
    }
    const ids = l.tokenizer.encode(text);
    if (ids.length === 0) throw new InvalidRequestError('prompt', 'prompt: it is empty: give some text.');
    if (ids.length <= room && text === r.prompt) return { text, tokens: ids.length };
    if (!left) throw new ContextOverflowError(ids.length, r.max_tokens, l.contextWindow);
    const kept = ids.slice(Math.max(1, ids.length - room + 1));
    return { text: l.tokenizer.decode(kept), tokens: kept.length };
  }

  /** Streams one WebLLM request to its end, with our stop strings, cancellation and usage. */
  private async generate(l: Loaded, request: CheckedRequest, start: () => Promise<AsyncIterable<Chunk>>, signal: AbortSignal, onText?: (text: string) => void): Promise<Completion> {
    const matcher = new StopStringMatcher(request.stops);
    let text = '';
    let stopped = false;
    let finish: FinishReason | null = null;
    let usage: CompletionUsage | undefined;
    const tokens: string[] = [];
    const logprobs: number[] = [];
    const emit = (piece: string) => {
      if (!piece) return;
      text += piece;
      onText?.(piece);
    };
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
        for (const lp of choice.logprobs?.content ?? []) {
          tokens.push(lp.token);
          logprobs.push(lp.logprob);
        }
        if (choice.finish_reason) finish = choice.finish_reason === 'abort' || choice.finish_reason === 'length' ? choice.finish_reason : 'stop';
        if (stopped || !piece) continue;
        const found = matcher.push(piece);
        emit(found.text);
        if (found.stopped) {
          stopped = true;
          interrupt();
        }
      }
    } catch (error) {
      throw requestError(error, request.max_tokens);
    } finally {
      signal.removeEventListener('abort', interrupt);
    }
    if (signal.aborted) throw new AbortError();
    if (!stopped) emit(matcher.flush());
    return this.completion(request.requestId, text, stopped ? 'stop' : (finish ?? 'stop'), request.logprobs ? { tokens, token_logprobs: logprobs } : null, usageOf(usage, 0));
  }

  private completion(requestId: string, text: string, finish: FinishReason, logprobs: Completion['choices'][number]['logprobs'], usage: Usage): Completion {
    return {
      id: `cmpl-${requestId}`,
      object: 'text_completion',
      created: Math.floor(Date.now() / 1000),
      model: this.id,
      choices: [{ index: 0, text, finish_reason: finish, logprobs }],
      usage,
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

/** Our usage from WebLLM's (it reports what it prefilled this request; `prompt` when it ran nothing). */
function usageOf(u: CompletionUsage | undefined, prompt: number): Usage {
  const prefilled = u?.prompt_tokens ?? prompt;
  // WebLLM counts decoding steps; the first token comes out of the prefill, so a request that
  // prefilled generated one token more than it says.
  const generated = u ? u.completion_tokens + (u.prompt_tokens > 0 ? 1 : 0) : 0;
  return {
    prompt_tokens: prefilled,
    completion_tokens: generated,
    total_tokens: prefilled + generated,
    // WebLLM continues a chat from its KV cache without saying how many positions it kept.
    prompt_tokens_details: { cached_tokens: 0 },
    extra: {
      prefill_tokens_per_s: finite(u?.extra.prefill_tokens_per_s),
      decode_tokens_per_s: finite(u?.extra.decode_tokens_per_s),
      time_to_first_token_s: finite(u?.extra.time_to_first_token_s),
    },
  };
}

/** WebLLM divides by zero for a request that decoded nothing; our figures are 0 then. */
const finite = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? x : 0);

function checkMessages(messages: unknown): ChatMessage[] {
  if (!Array.isArray(messages) || messages.length === 0) throw new InvalidRequestError('messages', 'messages: give at least one message.');
  for (const m of messages as ChatMessage[]) {
    if (!m || !['system', 'user', 'assistant'].includes(m.role) || typeof m.content !== 'string') {
      throw new InvalidRequestError('messages', "messages: each message needs a role ('system', 'user' or 'assistant') and a string content.");
    }
  }
  const list = messages as ChatMessage[];
  if (list.at(-1)!.role !== 'user') throw new InvalidRequestError('messages', "messages: on the 'webllm' backend the last message must be the user's (WebLLM's chat template answers it).");
  if (list.some((m, i) => m.role === 'system' && i > 0)) throw new InvalidRequestError('messages', 'messages: a system message may only come first.');
  return list;
}

function toWebLLM(m: ChatMessage): ChatCompletionMessageParam {
  return { role: m.role, content: m.content };
}
