/**
 * One model's engine inside the worker: its GPU device, weights, tokenizer and KV cache, and a queue
 * that runs one request at a time in arrival order, so requests from several callers or tabs never
 * interleave inside one KV cache. Each model has its own engine: a request names its model, and a
 * failure to load one model leaves every other model's callers untouched.
 */
import type { Completion, CompletionChoice, FinishReason, LoadOptions, ModelInfo, ModelKernels, WorkerCompletionRequest, WorkerDelta } from '../client/protocol.js';
import { firstRequestStepSizes } from '../engine/forward.js';
import { generate } from '../engine/generate.js';
import { Sampler } from '../engine/sampler.js';
import { ModelGrammars } from '../grammar/compiler.js';
import type { TokenConstraint } from '../grammar/constraint.js';
import type { KernelPreparation, PreparedKernels } from '../engine/kernel-preparation.js';
import { loadModel, prepareKernels, type LoadedModel } from '../engine/model.js';
import { BadArtifactError, ContextOverflowError, DeviceLostError, InvalidRequestError, TokenizerError, WebchuanError, WebGPUUnavailableError } from '../errors.js';
import { GpuLimitsError, requestModelDevice } from '../gpu/device.js';
import { selectionOf } from '../gpu/variants.js';
import { GpuUploadError } from '../gpu/weights.js';
import { engineFit, MAX_BATCH_TOKENS } from '../engine/requirements.js';
import { CHAT_CONFIG_FILE, parseChatConfig } from '../model/artifact.js';
import { cachedArtifactSource, downloadModel } from '../store/cache.js';
import { indexedDbChoiceStore } from '../store/kernel-choices.js';
import type { DownloadProgress } from '../store/progress.js';
import type { TokenizerRuntime } from '../tokenizer/runtime.js';
import { TextTokenizer, TokenizerCrashError, encodeForRequest, tokenizerFormat } from '../tokenizer/tokenizer.js';
import { ChoiceText } from './choice-text.js';
import { JoinedLoad } from './joined-load.js';
import { checkRequest, refuseEnableThinking, replyRoom, type CheckedRequest } from './request.js';
import { RequestQueue } from './request-queue.js';
import { checkModelField, usageOf, type Timings } from './usage.js';
import type { WorkerEngine } from './worker-engine.js';

/** What an engine needs from its host: the GPU, the tokenizer's wasm runtime, and XGrammar's (started on first use). */
export interface EngineHost {
  gpu(): GPU | undefined;
  tokenizerRuntime(): Promise<TokenizerRuntime>;
  grammarRuntime(): Promise<void>;
}

interface Loaded {
  options: LoadOptions;
  device: GPUDevice;
  adapter: GPUAdapter;
  model: LoadedModel;
  tokenizer: TextTokenizer;
  /** Tokens whose keys and values the KV cache holds, from position 0. */
  kvTokens: number[];
  /** XGrammar's tables for this model's vocabulary, made by the first request with a grammar. */
  grammars?: Promise<ModelGrammars>;
}

export class ModelEngine implements WorkerEngine {
  private loaded?: Loaded;
  /** Set when the device was lost: the next request reloads with these options. */
  private lost?: { options: LoadOptions; reason: string };
  private readonly queue = new RequestQueue();
  /** The load in progress and who listens to its progress (a second caller joins the first load). */
  private readonly loads = new JoinedLoad<ModelInfo>();

  constructor(
    /** The model's identity: its artifact's absolute URL (model/identity.ts). */
    readonly id: string,
    private readonly host: EngineHost,
  ) {}

  /** Runs `task` after every earlier task: the one-request-at-a-time queue. */
  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    return this.queue.exclusive(task);
  }

  /** Downloads (or finds in the cache) and loads the model; joins a load already under way. */
  load(options: LoadOptions = {}, onProgress?: (p: DownloadProgress) => void): Promise<ModelInfo> {
    const key = (o: LoadOptions) => `${o.contextWindow ?? ''}|${o.kernels ?? 'auto'}`;
    return this.loads.run(`${key(options)}|${options.warm !== false}`, onProgress, (report) =>
      this.exclusive(async () => {
        if (this.loaded && key(this.loaded.options) === key(options)) {
          // Loaded lazily before, now asked ready: compile and run what is missing (nothing, if it was warmed).
          if (options.warm !== false) {
            const forward = this.loaded.model.forward;
            await forward.warm(firstRequestStepSizes(forward.maxBatchTokens, options.firstPromptTokens));
          }
          return this.info();
        }
        return this.loadNow(options, report);
      }),
    );
  }

  private async loadNow(options: LoadOptions, onProgress: (p: DownloadProgress) => void): Promise<ModelInfo> {
    this.unloadNow();
    const gpu = this.host.gpu();
    if (!gpu) throw new WebGPUUnavailableError('This browser has no WebGPU (navigator.gpu is missing). Use a recent Chrome, Edge or Safari, or enable WebGPU.');
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) throw new WebGPUUnavailableError('WebGPU is present but no GPU adapter is available (blocklisted GPU or drivers).');
    // Pipelines are created with the blocking call: in a tab it returns at once and Chromium's GPU
    // process compiles them one after the other, which measured faster than its asynchronous creation
    // on SwiftShader (the demo's first suggestion on a reload: 9.1 s against 14.3 s), as in Node.
    const loadOptions = {
      contextWindow: options.contextWindow,
      maxBatchTokens: MAX_BATCH_TOKENS,
      kernels: options.kernels,
      warm: options.warm,
      firstPromptTokens: options.firstPromptTokens,
      kernelStore: indexedDbChoiceStore(),
      compileAhead: 'blocking' as const,
    };
    // Before any shard is fetched: the model must fit this GPU's limits, with numbers if it does not.
    // Then the device and the kernels start at once: `auto` measures and the pipelines compile while
    // the shards download, so that once the weights are on the GPU the model is ready to answer.
    let early: Promise<{ device: GPUDevice; preparation: KernelPreparation }> | undefined;
    let last: DownloadProgress = { loadedBytes: 0, totalBytes: 0, bytesPerSecond: 0, etaSeconds: undefined, file: undefined, cachedBytes: 0 };
    /** Set once loadModel reports the kernel work itself (the early reports stop then). */
    let uploaded = false;
    try {
      await downloadModel(this.id, {
        onProgress: (p) => onProgress((last = p)),
        beforeShards: (chatConfig) => {
          let checked: ReturnType<typeof engineFit>;
          try {
            checked = engineFit(chatConfig, adapter, options.contextWindow);
          } catch (error) {
            throw new BadArtifactError(`${this.id}${CHAT_CONFIG_FILE}: ${(error as Error).message}`, { cause: error });
          }
          if (!checked.fit.ok) throw new WebGPUUnavailableError(`This GPU cannot hold ${this.id}: ${checked.fit.problems.map((p) => p.message).join('; ')}.`);
          const info = parseChatConfig(chatConfig);
          early = requestModelDevice(adapter, checked.needs, { optionalFeatures: ['timestamp-query'] }).then((device) => ({ device, preparation: prepareKernels(device, info, loadOptions) }));
          early.catch(() => undefined); // awaited after the download
          // Once every byte is in, while the weights go onto the GPU, the page hears how far the
          // compile is: for a small model that is the wait (the upload queues behind the compiles).
          if (options.warm !== false) {
            void early
              .then(async ({ preparation }) => {
                const { choice } = await preparation.choose();
                const first = firstRequestStepSizes(preparation.options.maxBatchTokens, options.firstPromptTokens);
                await preparation.compile(choice, first, (kernels) => {
                  if (!uploaded && last.totalBytes > 0 && last.loadedBytes >= last.totalBytes) onProgress({ ...last, kernels });
                });
              })
              .catch(() => undefined); // the load reports its own errors
          }
        },
      });
    } catch (error) {
      void early?.then(({ device }) => device.destroy(), () => undefined);
      throw error;
    }
    if (!early) throw new BadArtifactError(`${this.id}: the download did not read the model's ${CHAT_CONFIG_FILE}`);
    let device: GPUDevice;
    let preparation: KernelPreparation;
    try {
      ({ device, preparation } = await early);
    } catch (error) {
      if (error instanceof GpuLimitsError) throw new WebGPUUnavailableError(error.message);
      throw error;
    }
    const source = cachedArtifactSource(this.id);
    let model: LoadedModel;
    try {
      model = await loadModel(device, source, {
        ...loadOptions,
        preparation,
        onKernels: (kernels) => {
          uploaded = true;
          onProgress({ ...last, kernels });
        },
      });
    } catch (error) {
      device.destroy();
      if (error instanceof GpuUploadError && error.kind === 'out-of-memory') {
        throw new WebGPUUnavailableError(`${error.message}. Close other tabs or programs using the GPU, or load the model with a smaller contextWindow.`);
      }
      throw error instanceof WebchuanError ? error : new BadArtifactError(`${this.id}: ${(error as Error).message}`, { cause: error });
    }
    let tokenizer: TextTokenizer;
    try {
      const file = model.info.tokenizerFiles[0] ?? 'tokenizer.model';
      tokenizer = await TextTokenizer.load(await this.host.tokenizerRuntime(), { format: tokenizerFormat(file), bytes: await source.bytes(file) });
    } catch (error) {
      model.dispose();
      device.destroy();
      throw error instanceof WebchuanError ? error : new BadArtifactError(`${this.id}: the tokenizer did not load: ${(error as Error).message}`, { cause: error });
    }
    this.loaded = { options, device, adapter, model, tokenizer, kvTokens: [] };
    this.lost = undefined;
    void device.lost.then((info) => {
      if (this.loaded?.device !== device) return;
      this.lost = { options, reason: info.message || info.reason || 'unknown' };
      this.unloadNow();
    });
    return this.info();
  }

  private info(): ModelInfo {
    const l = this.loaded!;
    const a = l.adapter.info;
    return {
      url: this.id,
      backend: 'webchuan',
      chatTemplate: 'page',
      modelType: l.model.info.config.modelType,
      quantization: l.model.info.quantization,
      contextWindow: l.model.forward.contextWindow,
      vocabSize: l.model.info.config.vocabSize,
      gpuBytes: l.model.weights.bytes,
      adapter: { vendor: a.vendor ?? '', architecture: a.architecture ?? '', description: a.description ?? '', features: [...l.adapter.features] },
      kernels: modelKernels(l.model.kernels),
    };
  }

  /** The loaded model, reloading it first when the device was lost. */
  private async ready(): Promise<Loaded> {
    if (!this.loaded && this.lost) await this.loadNow(this.lost.options, () => undefined);
    if (!this.loaded) throw new BadArtifactError(`${this.id} is not loaded: load it again with engine.reload() or createEngine().`);
    await this.loaded.tokenizer.revive(); // a runtime that trapped on an earlier request starts afresh
    return this.loaded;
  }

  /** Cancels a request, queued or running; a running one stops before its next token. */
  cancel(requestId: string): void {
    this.queue.cancel(requestId);
  }

  /** Runs a completion; `onDelta` receives each piece of text as it is decoded. */
  complete(request: WorkerCompletionRequest, onDelta?: (delta: WorkerDelta) => void): Promise<Completion> {
    return this.queue.request(request.requestId, (signal) => this.completeNow(request, signal, onDelta));
  }

  private async completeNow(raw: WorkerCompletionRequest, signal: AbortSignal, onDelta?: (delta: WorkerDelta) => void): Promise<Completion> {
    const received = performance.now();
    const l = await this.ready();
    const config = l.model.info.config;
    const request = checkRequest(raw, config.vocabSize);
    refuseEnableThinking(request);
    checkModelField(request.model, this.id);
    const prompt = this.promptTokens(l, request);
    const grammars = request.grammar ? await this.grammars(l) : undefined;
    // One sampler for all choices: they differ from each other, and the request reproduces with its seed.
    const sampler = new Sampler(request.seed);
    const choices: CompletionChoice[] = [];
    const timings: Timings = { received, prefillMs: 0, decodeMs: 0, compileMs: 0, prefillCompileMs: 0, cached: 0, completionTokens: 0, grammarInitS: 0, grammarS: 0, grammar: grammars !== undefined };
    for (let index = 0; index < request.n; index++) {
      let constraint: TokenConstraint | undefined;
      if (grammars) {
        const made = await grammars.constraint(request.grammar!);
        constraint = made.constraint;
        timings.grammarInitS += made.compileSeconds;
      }
      try {
        choices.push(await this.generateChoice(l, request, prompt, index, sampler, constraint, signal, timings, onDelta));
      } finally {
        if (constraint) timings.grammarS += constraint.seconds;
        constraint?.dispose();
      }
    }
    return {
      id: `cmpl-${request.requestId}`,
      object: 'text_completion',
      created: Math.floor(Date.now() / 1000),
      model: this.id,
      choices,
      usage: usageOf(prompt.length, timings, request.n),
    };
  }

  /** Generates one choice after `prompt`, reusing what the KV cache holds of it. */
  private async generateChoice(
    l: Loaded,
    request: CheckedRequest,
    prompt: number[],
    index: number,
    sampler: Sampler,
    constraint: TokenConstraint | undefined,
    signal: AbortSignal,
    timings: Timings,
    onDelta?: (delta: WorkerDelta) => void,
  ): Promise<CompletionChoice> {
    const config = l.model.info.config;
    let common = 0;
    while (common < l.kvTokens.length && common < prompt.length && l.kvTokens[common] === prompt[common]) common++;
    const text = new ChoiceText(l.tokenizer, prompt, request.stops, index, onDelta, request.echo ? request.prompt : '');
    try {
      const result = await generate(l.model.forward, prompt, {
        ...request,
        maxTokens: request.max_tokens ?? Infinity,
        stopTokenIds: config.stopTokenIds,
        ignoreEos: request.ignore_eos,
        cachedTokens: common,
        signal,
        logprobs: request.logprobs,
        topLogprobs: request.top_logprobs,
        sampler,
        ...(constraint ? { constraint } : {}),
        onToken: (id, logprob) => text.push(id, logprob),
      });
      l.kvTokens = result.kvTokens;
      text.finish();
      if (index === 0) {
        timings.prefillMs = result.prefillMs;
        timings.cached = result.cachedTokens;
      }
      timings.decodeMs += result.decodeMs;
      timings.compileMs += result.compileMs.prefill + result.compileMs.decode;
      if (index === 0) timings.prefillCompileMs = result.compileMs.prefill;
      timings.completionTokens += result.ids.length;
      const finish: FinishReason = text.stopped ? 'stop' : result.finishReason;
      return { index, text: text.text, finish_reason: finish, logprobs: request.logprobs ? text.completionLogprobs() : null };
    } catch (error) {
      l.kvTokens = []; // the cache may hold part of this request: trust none of it
      if (this.lost) throw new DeviceLostError(this.lost.reason);
      if (error instanceof TokenizerCrashError) throw new TokenizerError(error.message, { cause: error });
      throw error;
    }
  }

  /** XGrammar's tables for the loaded model, made once (its runtime starts on the first request that needs it). */
  private grammars(l: Loaded): Promise<ModelGrammars> {
    l.grammars ??= (async () => {
      await this.host.grammarRuntime();
      const tokenizer = l.tokenizer;
      const tokens = Array.from({ length: Math.min(tokenizer.vocabSize, l.model.info.config.vocabSize) }, (_, id) => tokenizer.idToToken(id));
      const info = l.model.info.tokenizerInfo;
      return ModelGrammars.create({
        tokens,
        vocabSize: l.model.info.config.vocabSize,
        stopTokenIds: l.model.info.config.stopTokenIds,
        ...(info ? { postproc: info.tokenPostprocMethod, prependSpace: info.prependSpaceInEncode } : {}),
      });
    })();
    l.grammars.catch(() => (l.grammars = undefined));
    return l.grammars;
  }

  /**
   * The prompt's tokens, fitted to the context window. The work is bounded before the tokenizer sees
   * the text: a text of n UTF-16 units has at least n / (2 · longest piece) tokens, so a longer text
   * cannot fit, and with truncation 'left' only a tail that surely fills the window is tokenized.
   */
  private promptTokens(l: Loaded, request: CheckedRequest): number[] {
    const config = l.model.info.config;
    const window = l.model.forward.contextWindow;
    const prefix = config.promptPrefixTokenIds;
    const reply = replyRoom(request, window);
    const room = window - reply - prefix.length;
    const left = request.truncation === 'left';
    if (room <= 0) throw new ContextOverflowError(prefix.length, reply, window, 'max_tokens alone');
    const boundUnits = 2 * l.tokenizer.maxCharsPerToken * window;
    let text = request.prompt;
    let cut = false;
    if (text.length > boundUnits) {
      // The lower bound itself (n units make at least n / (2 · longest piece) tokens), not a multiple of the window.
      if (!left) throw new ContextOverflowError(prefix.length + Math.ceil(text.length / (2 * l.tokenizer.maxCharsPerToken)), reply, window, 'at least');
      let start = text.length - boundUnits;
      if (/[\uDC00-\uDFFF]/.test(text[start]!)) start++; // do not split a surrogate pair
      text = text.slice(start);
      cut = true;
    }
    let ids = encodeForRequest(l.tokenizer, text);
    if (cut) ids = ids.slice(1); // the first piece may be a fragment of what stood before the cut
    if (prefix.length + ids.length === 0) throw new InvalidRequestError('prompt', 'prompt: it is empty and this model adds no BOS token: give some text.');
    if (ids.length > room) {
      if (!left) throw new ContextOverflowError(prefix.length + ids.length, reply, window);
      ids = ids.slice(ids.length - room);
    }
    return [...prefix, ...ids];
  }

  encodeText(text: string): Promise<number[]> {
    return this.exclusive(async () => encodeForRequest((await this.ready()).tokenizer, text));
  }

  decodeIds(ids: number[]): Promise<string> {
    return this.exclusive(async () => (await this.ready()).tokenizer.decode(ids));
  }

  /** Frees the model's GPU memory (its download stays cached). */
  unload(): Promise<void> {
    return this.exclusive(async () => {
      this.lost = undefined;
      this.unloadNow();
    });
  }

  private unloadNow(): void {
    const l = this.loaded;
    this.loaded = undefined;
    if (!l) return;
    l.model.dispose();
    l.tokenizer.dispose();
    l.device.destroy();
    void l.grammars?.then((g) => g.dispose(), () => undefined);
  }

  /** Destroys the GPU device, as a driver reset would; the next request reloads. For tests. */
  loseDevice(): void {
    this.loaded?.device.destroy();
  }
}

function modelKernels(k: PreparedKernels): ModelKernels {
  return {
    preference: k.choice.preference,
    selection: selectionOf(k.choice),
    source: k.source,
    ...(k.record ? { measureMs: k.record.measureMs, estimatesMs: k.record.estimates } : {}),
  };
}
