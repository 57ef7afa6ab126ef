/**
 * One model on the CPU path: llama.cpp compiled to WebAssembly (`@wllama/wllama`), behind the same
 * WorkerEngine interface as our WebGPU engine — the same request queue, cancellation, stop strings,
 * usage figures, typed errors, download progress and cache.
 *
 * The model is the same artifact the WebGPU engine loads, from the same cache entry: after the
 * download the tab repacks it into GGUF (model/gguf-artifact.ts; 4-bit groups bit for bit) and hands
 * the files to llama.cpp. wllama runs llama-server's request handling, which takes the prompt as text:
 * llama.cpp tokenizes it with the GGUF's copy of the model's SentencePiece vocabulary (our tokenizer
 * fits it to the context window first), streams text back, and reports its token counts with every
 * piece. It does not take token ids, nor return logits, and its JSON writer throws on a lone UTF-8
 * byte: byte pieces are therefore printed by name and turned back into characters here
 * (byte-escapes.ts), and the CPU path has no `logprobs` (they would carry the raw bytes).
 */
import { Wllama, WllamaError, type RawCompletionParams } from '@wllama/wllama';
import type { Completion, CompletionChoice, FinishReason, LoadOptions, ModelInfo, Usage, WorkerCompletionRequest, WorkerDelta } from '../client/protocol.js';
import { AbortError, BadArtifactError, ContextOverflowError, CpuUnavailableError, InvalidRequestError, WebchuanError } from '../errors.js';
import { CHAT_CONFIG_FILE, openArtifact, parseChatConfig, type OpenedArtifact } from '../model/artifact.js';
import { cachedArtifactSource, downloadModel } from '../store/cache.js';
import { cachedAsset } from '../store/assets.js';
import type { DownloadProgress } from '../store/progress.js';
import type { TokenizerRuntime } from '../tokenizer/runtime.js';
import { TextTokenizer, encodeForRequest, tokenizerFormat } from '../tokenizer/tokenizer.js';
import { JoinedLoad } from '../worker/joined-load.js';
import { replyRoom, type CheckedRequest } from '../worker/request.js';
import { RequestQueue } from '../worker/request-queue.js';
import { StopStringMatcher } from '../worker/stop-strings.js';
import { checkModelField } from '../worker/usage.js';
import type { WorkerEngine } from '../worker/worker-engine.js';
import { cpuCapabilities, cpuThreads, type CpuCapabilities } from './capabilities.js';
import { ByteEscapes } from './byte-escapes.js';
import { buildGgufFiles } from './gguf-files.js';
import { CPU_BATCH_TOKENS, cpuContextWindow, cpuKvDtype } from './memory.js';
import { checkCpuRequest, llamaCompletionBody } from './request.js';
import { wllamaCompatGlue, wllamaCompatWasm, wllamaWasm } from './wllama-assets.js';
import { wllamaVersion } from './wllama-files.js';

export interface CpuEngineHost {
  tokenizerRuntime(): Promise<TokenizerRuntime>;
}

interface Loaded {
  options: LoadOptions;
  wllama: Wllama;
  opened: OpenedArtifact;
  tokenizer: TextTokenizer;
  contextWindow: number;
  info: ModelInfo;
  /** Blob URLs of the wasm files handed to wllama, revoked on unload. */
  urls: string[];
}

/** llama.cpp's own log lines stay out of the page's console; failures reach the caller as errors. */
const SILENT = { debug: () => undefined, log: () => undefined, warn: () => undefined, error: () => undefined };

export class LlamaCppEngine implements WorkerEngine {
  private loaded?: Loaded;
  /** Set when llama.cpp's runtime failed: the next request loads the model again with these options. */
  private crashed?: LoadOptions;
  private readonly queue = new RequestQueue();
  private readonly loads = new JoinedLoad<ModelInfo>();

  constructor(
    /** The model's identity: its artifact's absolute URL (model/identity.ts). */
    readonly id: string,
    private readonly host: CpuEngineHost,
  ) {}

  load(options: LoadOptions = {}, onProgress?: (p: DownloadProgress) => void): Promise<ModelInfo> {
    const key = `${options.contextWindow ?? ''} ${options.threads ?? ''}`;
    const same = (o: LoadOptions) => `${o.contextWindow ?? ''} ${o.threads ?? ''}` === key;
    return this.loads.run(key, onProgress, (report) =>
      this.queue.exclusive(async () => {
        if (this.loaded && same(this.loaded.options)) return this.loaded.info;
        return this.loadNow(options, report);
      }),
    );
  }

  private async loadNow(options: LoadOptions, onProgress: (p: DownloadProgress) => void): Promise<ModelInfo> {
    await this.unloadNow();
    const caps = cpuCapabilities();
    if (!caps.wasm) throw new CpuUnavailableError('This browser\'s WebAssembly lacks SIMD or exception handling, which llama.cpp needs: use a browser from 2022 or later.');
    // Before any shard is fetched: the model must fit llama.cpp's wasm memory, with the numbers if not.
    await downloadModel(this.id, {
      onProgress,
      beforeShards: (chatConfig) => {
        let info: ReturnType<typeof parseChatConfig>;
        try {
          info = parseChatConfig(chatConfig);
        } catch (error) {
          throw new BadArtifactError(`${this.id}${CHAT_CONFIG_FILE}: ${(error as Error).message}`, { cause: error });
        }
        cpuContextWindow(info.config, info.quantization, options.contextWindow);
        if (!info.tokenizerFiles.some((f) => f.endsWith('.model'))) {
          throw new BadArtifactError(`${this.id}: the CPU path reads the vocabulary from a SentencePiece tokenizer.model, and this artifact has ${info.tokenizerFiles.join(', ') || 'no tokenizer'}; load it with backend 'webchuan'.`);
        }
      },
    });
    const source = cachedArtifactSource(this.id);
    let opened: OpenedArtifact;
    let files: File[];
    let buildMs: number;
    let ggufBytes: number;
    try {
      opened = await openArtifact(source);
      const built = await buildGgufFiles(source, opened, this.id);
      ({ files, ms: buildMs } = built);
      ggufBytes = built.plan.totalBytes;
    } catch (error) {
      throw error instanceof WebchuanError ? error : new BadArtifactError(`${this.id}: ${(error as Error).message}`, { cause: error });
    }
    const { config, quantization } = opened.info;
    const { contextWindow } = cpuContextWindow(config, quantization, options.contextWindow);
    const threads = cpuThreads(caps, options.threads);
    const urls: string[] = [];
    let wllama: Wllama | undefined;
    let tokenizer: TextTokenizer | undefined;
    try {
      wllama = await this.startWllama(caps, urls);
      await wllama.loadModel(files, {
        n_ctx: contextWindow,
        n_batch: CPU_BATCH_TOKENS,
        n_ubatch: CPU_BATCH_TOKENS,
        n_gpu_layers: 0,
        n_threads: threads,
        n_parallel: 1,
        cache_type_k: cpuKvDtype(quantization),
        cache_type_v: cpuKvDtype(quantization),
      });
      const file = opened.info.tokenizerFiles[0] ?? 'tokenizer.model';
      tokenizer = await TextTokenizer.load(await this.host.tokenizerRuntime(), { format: tokenizerFormat(file), bytes: await source.bytes(file) });
    } catch (error) {
      tokenizer?.dispose();
      await wllama?.exit().catch(() => undefined);
      urls.forEach((u) => URL.revokeObjectURL(u));
      if (error instanceof WebchuanError) throw error;
      throw new CpuUnavailableError(`llama.cpp could not load ${this.id}: ${(error as Error).message}`);
    }
    const build = caps.memory64 ? 'memory64' : 'compat';
    const info: ModelInfo = {
      url: this.id,
      backend: 'cpu',
      chatTemplate: 'page',
      modelType: config.modelType,
      quantization,
      contextWindow,
      vocabSize: config.vocabSize,
      gpuBytes: 0,
      adapter: { vendor: 'llama.cpp', architecture: 'wasm', description: `llama.cpp (wllama ${wllamaVersion}, ${build} build), ${wllama.isMultithread() ? wllama.getNumThreads() : 1} thread(s)`, features: [] },
      cpu: { threads: wllama.isMultithread() ? wllama.getNumThreads() : 1, build, ggufBytes, ggufBuildMs: Math.round(buildMs) },
    };
    this.loaded = { options, wllama, opened, tokenizer, contextWindow, info, urls };
    this.crashed = undefined;
    return info;
  }

  /**
   * A wllama on the build this browser runs, its wasm from our own files (fetched once, then from
   * IndexedDB, and handed over as Blob URLs): the default build where Memory64 is, else the compat
   * build. wllama would fetch the compat build from a CDN; it never gets the chance.
   */
  private async startWllama(caps: CpuCapabilities, urls: string[]): Promise<Wllama> {
    const blobUrl = (bytes: Uint8Array, type: string) => {
      const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type }));
      urls.push(url);
      return url;
    };
    const wasm = caps.memory64 ? wllamaWasm() : wllamaCompatWasm();
    const wllama = new Wllama({ default: blobUrl(await cachedAsset(wasm), 'application/wasm') }, { suppressNativeLog: true, logger: SILENT });
    if (caps.memory64) {
      wllama.setCompat(null);
    } else {
      const glue = new TextDecoder().decode(await cachedAsset(wllamaCompatGlue()));
      wllama.setCompat({ wasm: urls[0]!, worker: { code: glue } }, 'firefox_safari');
    }
    return wllama;
  }

  /** The loaded model, loading it again first when llama.cpp's runtime failed on an earlier request. */
  private async ready(): Promise<Loaded> {
    if (!this.loaded && this.crashed) await this.loadNow(this.crashed, () => undefined);
    if (!this.loaded) throw new BadArtifactError(`${this.id} is not loaded: load it again with engine.reload() or createEngine().`);
    return this.loaded;
  }

  cancel(requestId: string): void {
    this.queue.cancel(requestId);
  }

  complete(raw: WorkerCompletionRequest, onDelta?: (delta: WorkerDelta) => void): Promise<Completion> {
    return this.queue.request(raw.requestId, async (signal) => {
      const received = performance.now();
      const l = await this.ready();
      await l.tokenizer.revive();
      const request = checkCpuRequest(raw, l.info.vocabSize);
      checkModelField(request.model, this.id);
      const prompt = this.fitPrompt(l, request);
      // WebLLM's default: until a stop, or the end of the context window.
      const maxTokens = request.max_tokens ?? l.contextWindow - prompt.ids.length;
      const choices: CompletionChoice[] = [];
      const counts: LlamaCounts = { computed: prompt.ids.length, cached: 0, decoded: 0, prefillMs: 0, decodeMs: 0 };
      for (let index = 0; index < request.n; index++) {
        choices.push(await this.generate(l, request, prompt, maxTokens, index, signal, counts, onDelta));
      }
      return this.completion(request, choices, usageOfCounts(counts, received));
    });
  }

  /**
   * The prompt's text, checked against the context window as the WebGPU engine does (with the same
   * tokenizer): prompt + max_tokens must fit, or with truncation 'left' the oldest text goes. llama.cpp
   * tokenizes text, so a cut prompt is decoded back, one token short of the room to spare a
   * re-tokenized first piece. `ids`: the tokens llama.cpp will run (BOS first where the model has one).
   */
  private fitPrompt(l: Loaded, r: CheckedRequest): { text: string; ids: number[] } {
    const prefix = l.opened.info.config.promptPrefixTokenIds;
    const reply = replyRoom(r, l.contextWindow);
    const room = l.contextWindow - reply - prefix.length;
    if (room <= 0) throw new ContextOverflowError(prefix.length, reply, l.contextWindow, 'max_tokens alone');
    const left = r.truncation === 'left';
    let text = r.prompt;
    const boundUnits = 2 * l.tokenizer.maxCharsPerToken * l.contextWindow;
    if (text.length > boundUnits) {
      // The lower bound itself (n units make at least n / (2 · longest piece) tokens), not a multiple of the window.
      if (!left) throw new ContextOverflowError(prefix.length + Math.ceil(text.length / (2 * l.tokenizer.maxCharsPerToken)), reply, l.contextWindow, 'at least');
      let start = text.length - boundUnits;
      if (/[\uDC00-\uDFFF]/.test(text[start]!)) start++;
      text = text.slice(start);
    }
    const ids = encodeForRequest(l.tokenizer, text);
    if (prefix.length + ids.length === 0) throw new InvalidRequestError('prompt', 'prompt: it is empty and this model adds no BOS token: give some text.');
    if (ids.length <= room && text === r.prompt) return { text, ids: [...prefix, ...ids] };
    if (!left) throw new ContextOverflowError(prefix.length + ids.length, reply, l.contextWindow);
    const kept = ids.slice(Math.max(1, ids.length - room + 1));
    const cut = l.tokenizer.decode(kept);
    return { text: cut, ids: [...prefix, ...encodeForRequest(l.tokenizer, cut)] };
  }

  /**
   * Streams one choice to its end. llama.cpp sends text (it holds back a character split across
   * tokens until it is whole) and, with `timings_per_token`, its counts with every piece: tokens
   * decoded so far, prompt tokens computed and reused. Stop strings are matched here, as on the WebGPU
   * engine, and end llama.cpp's request at once; the counts of the last piece go into `counts`.
   * Choices after the first reuse the prompt from llama.cpp's cache (`cache_prompt`); with a seed,
   * choice i samples with seed + i, so the choices differ and the request reproduces.
   */
  private async generate(
    l: Loaded,
    request: CheckedRequest,
    prompt: { text: string; ids: number[] },
    maxTokens: number,
    index: number,
    signal: AbortSignal,
    counts: LlamaCounts,
    onDelta?: (delta: WorkerDelta) => void,
  ): Promise<CompletionChoice> {
    const matcher = new StopStringMatcher(request.stops);
    const escapes = new ByteEscapes();
    let text = '';
    let finish: FinishReason = 'length';
    let stoppedByString = false;
    let endedByModel = false;
    let timings: LlamaTimings | undefined;
    const emit = (piece: string) => {
      if (!piece) return;
      text += piece;
      onDelta?.({ choice: index, text: piece });
    };
    // echo: the prompt before the generated text, streamed first, not subject to stop strings.
    if (request.echo) emit(request.prompt);
    if (maxTokens === 0) return { index, text, finish_reason: 'length', logprobs: null };
    // Interrupted before this choice began (interruptAll during an earlier one): it ends at once, as on the WebGPU engine.
    if (signal.aborted) return { index, text, finish_reason: 'abort', logprobs: null };
    // Our own stop ends llama.cpp's request through this controller, and so does the caller's signal.
    const stop = new AbortController();
    const forward = () => stop.abort();
    signal.addEventListener('abort', forward);
    const seed = request.seed === undefined ? undefined : request.seed + index;
    try {
      // wllama passes the body to llama-server as JSON; its own type covers fewer fields than the server reads.
      const fields = llamaCompletionBody({ ...request, ...(seed === undefined ? {} : { seed }) }, prompt.text, maxTokens, l.contextWindow);
      const body = { ...fields, abortSignal: stop.signal } as unknown as RawCompletionParams;
      const chunks = await l.wllama.createCompletion({ ...body, stream: true });
      for await (const chunk of chunks) {
        // After our own stop, the stream is read to its end (wllama's abort error) rather than left:
        // a stream left unread rejects its next piece with nobody listening, an unhandled error.
        if (stoppedByString) continue;
        timings = (chunk as { timings?: LlamaTimings }).timings ?? timings;
        const choice = chunk.choices[0];
        if (!choice) continue;
        const found = matcher.push(escapes.push(choice.text ?? ''));
        emit(found.text);
        if (found.stopped) {
          stoppedByString = true;
          finish = 'stop';
          stop.abort();
          continue;
        }
        if (choice.finish_reason) {
          // 'stop' from llama.cpp: the end-of-text token, which it counted among the decoded tokens.
          finish = choice.finish_reason === 'length' ? 'length' : 'stop';
          endedByModel = finish === 'stop';
        }
      }
    } catch (error) {
      if (!signal.aborted && !stoppedByString) throw this.failed(l, error, maxTokens);
    } finally {
      signal.removeEventListener('abort', forward);
    }
    if (!stoppedByString) {
      const tail = matcher.push(escapes.flush());
      emit(tail.text + (tail.stopped ? '' : matcher.flush()));
      if (tail.stopped) finish = 'stop';
    }
    // Cancelled in the worker (the caller's signal, or interruptAll): the text so far ends with 'abort',
    // as the WebGPU engine ends it; where the caller's own signal fired, the page rejects with AbortError.
    if (signal.aborted && !stoppedByString) finish = 'abort';
    const decoded = Math.max(0, (timings?.predicted_n ?? 0) - (endedByModel ? 1 : 0));
    if (index === 0) {
      counts.computed = timings?.prompt_n ?? prompt.ids.length;
      counts.cached = timings?.cache_n ?? 0;
      counts.prefillMs = timings?.prompt_ms ?? 0;
    }
    counts.decoded += decoded;
    counts.decodeMs += timings?.predicted_ms ?? 0;
    return { index, text, finish_reason: finish, logprobs: null };
  }

  /**
   * A failed request as a typed error. A failure inside llama.cpp's runtime leaves its wasm unusable:
   * the model is unloaded then, and the next request loads it again (as after a lost GPU device).
   */
  private failed(l: Loaded, error: unknown, maxTokens: number): Error {
    if (error instanceof WebchuanError) return error;
    if (error instanceof WllamaError && error.type === 'kv_cache_full') return new ContextOverflowError(l.contextWindow, maxTokens, l.contextWindow, 'at least');
    if ((error as Error)?.name === 'AbortError') return new AbortError();
    if (this.loaded === l) {
      this.crashed = l.options;
      void this.unloadNow();
    }
    return new CpuUnavailableError(`llama.cpp failed on this request (${(error as Error)?.message ?? String(error)}); the next request loads the model again.`);
  }

  private completion(request: CheckedRequest, choices: CompletionChoice[], usage: Usage): Completion {
    return {
      id: `cmpl-${request.requestId}`,
      object: 'text_completion',
      created: Math.floor(Date.now() / 1000),
      model: this.id,
      choices,
      usage,
    };
  }

  encodeText(text: string): Promise<number[]> {
    return this.queue.exclusive(async () => encodeForRequest((await this.ready()).tokenizer, text));
  }

  decodeIds(ids: number[]): Promise<string> {
    return this.queue.exclusive(async () => (await this.ready()).tokenizer.decode(ids));
  }

  unload(): Promise<void> {
    return this.queue.exclusive(() => {
      this.crashed = undefined;
      return this.unloadNow();
    });
  }

  private async unloadNow(): Promise<void> {
    const l = this.loaded;
    this.loaded = undefined;
    if (!l) return;
    l.tokenizer.dispose();
    await l.wllama.exit().catch(() => undefined);
    l.urls.forEach((u) => URL.revokeObjectURL(u));
  }

  loseDevice(): void {
    throw new InvalidRequestError('loseDevice', "loseDevice: the 'cpu' backend has no GPU device; this test hook exists on the 'webchuan' backend only.");
  }
}

/** llama-server's counts and times, sent with every piece when `timings_per_token` is set. */
interface LlamaTimings {
  cache_n?: number;
  prompt_n?: number;
  prompt_ms?: number;
  prompt_per_second?: number;
  predicted_n?: number;
  predicted_ms?: number;
}

/** What llama.cpp counted over one request's choices. */
interface LlamaCounts {
  /** Prompt tokens the first choice computed, and those it reused from llama.cpp's cache. */
  computed: number;
  cached: number;
  prefillMs: number;
  /** Tokens decoded over all choices (the end-of-text token not counted), and their time. */
  decoded: number;
  decodeMs: number;
}

/** OpenAI's counts and WebLLM's figures from llama.cpp's (the first token of a choice comes out of its prefill). */
function usageOfCounts(c: LlamaCounts, received: number): Usage {
  const prompt = c.computed + c.cached;
  const decodeRate = c.decoded > 1 && c.decodeMs > 0 ? (c.decoded / c.decodeMs) * 1000 : 0;
  return {
    prompt_tokens: prompt,
    completion_tokens: c.decoded,
    total_tokens: prompt + c.decoded,
    prompt_tokens_details: { cached_tokens: c.cached },
    extra: {
      e2e_latency_s: (performance.now() - received) / 1000,
      prefill_tokens_per_s: c.prefillMs > 0 ? (c.computed / c.prefillMs) * 1000 : 0,
      decode_tokens_per_s: decodeRate,
      time_to_first_token_s: c.prefillMs / 1000,
      time_per_output_token_s: decodeRate > 0 ? 1 / decodeRate : 0,
    },
  };
}
