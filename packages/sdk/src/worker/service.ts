/**
 * The engine service that a worker exposes through Comlink: it owns the GPU device, the loaded
 * model, the tokenizer and the KV cache, and runs one request at a time, in arrival order, so
 * requests from several callers or tabs never interleave inside one KV cache.
 */
import { generate } from '../engine/generate.js';
import { loadModel, type LoadedModel } from '../engine/model.js';
import { checkSamplingParams } from '../engine/sampler.js';
import { AbortError, BadArtifactError, ContextOverflowError, DeviceLostError, WebGPUUnavailableError } from '../errors.js';
import { requestModelDevice, GpuLimitsError } from '../gpu/device.js';
import { cachedArtifactSource, deleteAllModels, deleteModel, downloadModel, isModelCached, listCachedModels, type CachedModelSummary } from '../store/cache.js';
import type { DownloadProgress } from '../store/progress.js';
import { StreamingDetokenizer, TextTokenizer, type TokenizerLibrary } from '../tokenizer/tokenizer.js';
import type { Completion, FinishReason, ModelInfo, Usage, WorkerCompletionRequest } from '../client/protocol.js';
import { StopStringMatcher } from './stop-strings.js';

export interface LoadOptions {
  /** KV cache length (default and maximum: the model's context window). */
  contextWindow?: number;
}

interface Loaded {
  url: string;
  options: LoadOptions;
  model: LoadedModel;
  tokenizer: TextTokenizer;
  /** Tokens whose keys and values the KV cache holds, from position 0. */
  kvTokens: number[];
}

export class EngineService {
  private device?: GPUDevice;
  private adapter?: GPUAdapter;
  private loaded?: Loaded;
  /** Set when the device was lost; the next request reloads this model. */
  private lostModel?: { url: string; options: LoadOptions };
  private lostReason?: string;
  private queue: Promise<unknown> = Promise.resolve();
  /** Controllers of queued and running requests, by request id. */
  private readonly cancelled = new Map<string, AbortController>();

  constructor(private readonly tokenizerLibrary: () => Promise<TokenizerLibrary>) {}

  /** Runs `task` after every earlier task: the one-request-at-a-time queue. */
  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async gpu(): Promise<GPUDevice> {
    if (this.device) return this.device;
    const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
    if (!gpu) throw new WebGPUUnavailableError('This browser has no WebGPU (navigator.gpu is missing). Use a recent Chrome, Edge or Safari, or enable WebGPU.');
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) throw new WebGPUUnavailableError('WebGPU is present but no GPU adapter is available (blocklisted GPU or drivers).');
    try {
      this.device = await requestModelDevice(adapter);
    } catch (error) {
      if (error instanceof GpuLimitsError) throw new WebGPUUnavailableError(error.message);
      throw error;
    }
    this.adapter = adapter;
    const device = this.device;
    void device.lost.then((info) => {
      if (this.device !== device) return;
      this.device = undefined;
      if (this.loaded) this.lostModel = { url: this.loaded.url, options: this.loaded.options };
      this.loaded = undefined;
      this.lostReason = info.message || info.reason || 'unknown';
    });
    return device;
  }

  /** Downloads (or finds in the cache) and loads a model; a no-op when it is already loaded. */
  load(url: string, options: LoadOptions = {}, onProgress?: (p: DownloadProgress) => void): Promise<ModelInfo> {
    return this.exclusive(() => this.loadNow(url, options, onProgress));
  }

  private async loadNow(url: string, options: LoadOptions, onProgress?: (p: DownloadProgress) => void): Promise<ModelInfo> {
    if (this.loaded?.url === url && this.loaded.options.contextWindow === options.contextWindow) return this.info();
    this.unloadNow();
    const device = await this.gpu();
    await downloadModel(url, { onProgress });
    const source = cachedArtifactSource(url);
    let model: LoadedModel;
    try {
      model = await loadModel(device, source, { contextWindow: options.contextWindow });
    } catch (error) {
      throw new BadArtifactError(`${url}: ${(error as Error).message}`, { cause: error });
    }
    const tokenizer = await TextTokenizer.fromSentencePiece(await source.bytes('tokenizer.model'), await this.tokenizerLibrary());
    this.loaded = { url, options, model, tokenizer, kvTokens: [] };
    this.lostModel = undefined;
    return this.info();
  }

  private info(): ModelInfo {
    const l = this.loaded!;
    const a = this.adapter?.info;
    return {
      url: l.url,
      modelType: l.model.info.config.modelType,
      quantization: l.model.info.quantization,
      contextWindow: l.model.forward.contextWindow,
      vocabSize: l.model.info.config.vocabSize,
      gpuBytes: l.model.weights.bytes,
      adapter: {
        vendor: a?.vendor ?? '',
        architecture: a?.architecture ?? '',
        description: a?.description ?? '',
        features: [...(this.adapter?.features ?? [])],
      },
    };
  }

  private async ready(): Promise<Loaded> {
    if (!this.loaded && this.lostModel) {
      // The device was lost: reload on a new one and go on.
      const { url, options } = this.lostModel;
      await this.loadNow(url, options);
    }
    if (!this.loaded) throw new BadArtifactError('No model is loaded: call load() first.');
    return this.loaded;
  }

  /** Cancels a request, queued or running; a running one stops before its next token. */
  cancel(requestId: string): void {
    // complete() registers its controller before anything else can run, and messages arrive in
    // order, so an unknown id is a request that has already finished.
    this.cancelled.get(requestId)?.abort();
  }

  /** Runs a completion; `onText` receives each piece of text as it is decoded. */
  complete(request: WorkerCompletionRequest, onText?: (text: string) => void): Promise<Completion> {
    const controller = new AbortController();
    this.cancelled.set(request.requestId, controller);
    return this.exclusive(async () => {
      try {
        if (controller.signal.aborted) throw new AbortError();
        return await this.completeNow(request, controller.signal, onText);
      } finally {
        this.cancelled.delete(request.requestId);
      }
    });
  }

  private async completeNow(request: WorkerCompletionRequest, signal: AbortSignal, onText?: (text: string) => void): Promise<Completion> {
    const l = await this.ready();
    const config = l.model.info.config;
    checkSamplingParams(request, config.vocabSize);
    const maxTokens = request.max_tokens ?? 16;
    if (!Number.isInteger(maxTokens) || maxTokens < 0) throw new RangeError(`max_tokens must be a non-negative integer, got ${maxTokens}`);
    const stops = request.stop === undefined ? [] : Array.isArray(request.stop) ? request.stop : [request.stop];
    if (stops.length > 4 || stops.some((s) => typeof s !== 'string' || s.length === 0)) throw new RangeError('stop must be up to 4 non-empty strings');
    const window = l.model.forward.contextWindow;
    let prompt = [...config.promptPrefixTokenIds, ...l.tokenizer.encode(request.prompt)];
    if (prompt.length === 0) throw new RangeError('The prompt is empty and this model adds no BOS token: give some text.');
    if (prompt.length + maxTokens > window) {
      if (request.truncation !== 'left' || maxTokens >= window) throw new ContextOverflowError(prompt.length, maxTokens, window);
      const prefix = config.promptPrefixTokenIds;
      prompt = [...prefix, ...prompt.slice(prompt.length - (window - maxTokens - prefix.length))];
    }
    let common = 0;
    while (common < l.kvTokens.length && common < prompt.length && l.kvTokens[common] === prompt[common]) common++;
    const detok = new StreamingDetokenizer(l.tokenizer, prompt);
    const matcher = new StopStringMatcher(stops);
    let text = '';
    let stoppedByString = false;
    const emit = (piece: string) => {
      if (!piece) return;
      text += piece;
      onText?.(piece);
    };
    try {
      const result = await generate(l.model.forward, prompt, {
        ...request,
        temperature: request.temperature ?? 1,
        maxTokens,
        stopTokenIds: config.stopTokenIds,
        cachedTokens: common,
        signal,
        onToken: (id) => {
          const { text: safe, stopped } = matcher.push(detok.push(id));
          emit(safe);
          if (stopped) stoppedByString = true;
          return !stopped;
        },
      });
      l.kvTokens = result.kvTokens;
      if (!stoppedByString) emit(matcher.push(detok.flush()).text + matcher.flush());
      const finish: FinishReason = stoppedByString ? 'stop' : result.finishReason;
      return {
        id: `cmpl-${request.requestId}`,
        object: 'text_completion',
        created: Math.floor(Date.now() / 1000),
        model: l.url,
        choices: [{
          index: 0,
          text,
          finish_reason: finish,
          logprobs: result.tokenLogprobs ? { tokens: result.ids.map((id) => l.tokenizer.idToToken(id)), token_logprobs: result.tokenLogprobs } : null,
        }],
        usage: usageOf(result.promptTokens, result.ids.length, result.cachedTokens, result.prefillMs, result.decodeMs),
      };
    } catch (error) {
      l.kvTokens = []; // the cache may hold part of this request: trust none of it
      if (!this.device && this.lostReason) throw new DeviceLostError(this.lostReason);
      throw error;
    }
  }

  encode(text: string): Promise<number[]> {
    return this.exclusive(async () => (await this.ready()).tokenizer.encode(text));
  }

  decode(ids: number[]): Promise<string> {
    return this.exclusive(async () => (await this.ready()).tokenizer.decode(ids));
  }

  /** Frees the model's GPU memory; the download stays cached. */
  unload(): Promise<void> {
    return this.exclusive(async () => this.unloadNow());
  }

  private unloadNow(): void {
    this.loaded?.model.dispose();
    this.loaded?.tokenizer.dispose();
    this.loaded = undefined;
  }

  listCachedModels(): Promise<CachedModelSummary[]> {
    return listCachedModels();
  }
  isModelCached(url: string): Promise<boolean> {
    return isModelCached(url);
  }
  deleteCachedModel(url: string): Promise<void> {
    return deleteModel(url);
  }
  deleteAllCachedModels(): Promise<void> {
    return deleteAllModels();
  }
  /** Downloads into the cache without loading onto the GPU. */
  prefetch(url: string, onProgress?: (p: DownloadProgress) => void): Promise<void> {
    return downloadModel(url, { onProgress }).then(() => undefined);
  }
  /** Destroys the GPU device (loses the model); for tests of recovery and for shutdown. */
  loseDevice(): void {
    this.device?.destroy();
  }
}

function usageOf(prompt: number, completion: number, cached: number, prefillMs: number, decodeMs: number): Usage {
  const computed = prompt - cached;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: cached },
    extra: {
      prefill_tokens_per_s: prefillMs > 0 ? (computed / prefillMs) * 1000 : 0,
      decode_tokens_per_s: completion > 1 && decodeMs > 0 ? ((completion - 1) / decodeMs) * 1000 : 0,
      time_to_first_token_s: prefillMs / 1000,
    },
  };
}
