/**
 * The page side of the SDK tests: the public API only (`createEngine` and what it returns), from the
 * built package as an app gets it (`webchuan` resolves to packages/sdk/dist). Engines start with the
 * `fast` kernels, each pipeline compiled when first used, unless a test asks otherwise: these tests
 * are about the API, and compiling every pipeline ahead would only make each load slower here.
 */
import { createEngine, CreateMLCEngine, probeCpuBytesPerSecond, WebchuanError, type BackendChoice, type CompletionCreateParams, type CreateEngineOptions, type Engine } from 'webchuan';

const LAZY_FAST: Pick<CreateEngineOptions, 'kernels' | 'warm'> = { kernels: 'fast', warm: false };

interface ErrorInfo {
  name: string;
  code?: string;
  message: string;
  isWebchuanError: boolean;
}

const describe = (e: unknown): ErrorInfo => ({
  name: (e as Error).name,
  code: (e as WebchuanError).code,
  message: (e as Error).message,
  isWebchuanError: e instanceof WebchuanError,
});

/** Engines of this page by a name the test gives them ('default' unless it asks for more). */
const engines = new Map<string, Engine>();
let engine: Engine | undefined;

const sdk = {
  /**
   * Starts an engine; the tests of the WebGPU engine name it (`auto` would pick the CPU path on SwiftShader).
   * `load` sets the WebGPU engine's kernels and when they compile (default: `fast`, each at first use).
   */
  async start(
    model: string,
    shared: boolean,
    contextWindow?: number,
    name = 'default',
    backend: BackendChoice = 'webchuan',
    threads?: number,
    load: Pick<CreateEngineOptions, 'kernels' | 'warm'> = LAZY_FAST,
  ): Promise<{ error?: ErrorInfo; progressEvents: number; url?: string; backend?: string; kind?: string; info?: unknown; kernels?: Engine['model']['kernels'] }> {
    let progressEvents = 0;
    try {
      const started = await createEngine({ model, shared, contextWindow, backend, threads, ...load, onProgress: () => progressEvents++ });
      engines.set(name, started);
      if (name === 'default') engine = started;
      return { progressEvents, url: started.model.url, backend: started.backend, kind: started.workerKind, info: started.model, kernels: started.model.kernels };
    } catch (e) {
      return { error: describe(e), progressEvents };
    }
  },

  async complete(params: Omit<CompletionCreateParams, 'signal' | 'stream'>, name = 'default') {
    try {
      const started = engines.get(name);
      if (!started) throw new Error(`no engine named ${name}`);
      return { result: await started.completions.create({ ...params, stream: false }) };
    } catch (e) {
      return { error: describe(e) };
    }
  },

  /** A request interrupted by interruptAll() once its first piece has arrived: its result, or its error. */
  async interrupted(params: Omit<CompletionCreateParams, 'signal' | 'stream'>) {
    try {
      const e = engine!;
      const pending = e.completions.create({ ...params, stream: true });
      const texts: string[] = [];
      let finish: string | null = null;
      for await (const chunk of pending) {
        if (texts.length === 0 && chunk.choices[0]?.text) e.interruptAll();
        texts.push(chunk.choices[0]?.text ?? '');
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
      return { text: texts.join(''), finish };
    } catch (e) {
      return { error: describe(e) };
    }
  },

  /** WebLLM's way in: CreateMLCEngine on a record of `model`, one greedy completion, and which engine ran it. */
  async mlc(model: string, prompt: string) {
    try {
      const mlc = await CreateMLCEngine('model', { appConfig: { model_list: [{ model, model_id: 'model' }] } });
      const r = await mlc.completions.create({ prompt, max_tokens: 8, temperature: 0, stop: ['\n'] });
      const backend = mlc.engineOf().backend;
      await mlc.unload();
      return { text: r.choices[0]!.text, backend };
    } catch (e) {
      return { error: describe(e) };
    }
  },

  /** Runs requests on named engines all at once; each answer's text, or its error's name. */
  async interleaved(requests: { name: string; prompt: string; max_tokens: number }[]) {
    const answers = await Promise.all(
      requests.map(async ({ name, ...params }) => {
        const r = await sdk.complete({ ...params, temperature: 0 }, name);
        return r.result ? r.result.choices[0]!.text : `error: ${r.error!.name}`;
      }),
    );
    return answers;
  },

  timed: async (params: Omit<CompletionCreateParams, 'signal' | 'stream'>, name = 'default') => {
    const t0 = performance.now();
    const r = await sdk.complete(params, name);
    return { ...r, ms: performance.now() - t0 };
  },

  /** Streams; aborts after `abortAfterChunks` chunks (if given) and reports what arrived after the abort. */
  async stream(params: Omit<CompletionCreateParams, 'signal' | 'stream'>, abortAfterChunks?: number) {
    const controller = new AbortController();
    const texts: string[] = [];
    let afterAbort = 0;
    let last: unknown;
    const t0 = performance.now();
    let abortedAt = 0;
    try {
      for await (const chunk of engine!.completions.create({ ...params, stream: true, signal: controller.signal })) {
        if (controller.signal.aborted) afterAbort++;
        texts.push(chunk.choices[0]!.text);
        last = chunk;
        if (abortAfterChunks !== undefined && texts.length === abortAfterChunks) {
          controller.abort();
          abortedAt = performance.now();
        }
      }
      return { texts, last, afterAbort };
    } catch (e) {
      return { texts, last, afterAbort, error: describe(e), msAfterAbort: performance.now() - (abortedAt || t0) };
    }
  },

  async many(prompts: string[], maxTokens: number) {
    const results = await Promise.all(prompts.map((prompt) => engine!.completions.create({ prompt, max_tokens: maxTokens, temperature: 0 })));
    return results.map((r) => r.choices[0]!.text);
  },

  async chat(content: string) {
    const c = await engine!.chat.completions.create({ messages: [{ role: 'user', content }], max_tokens: 8, temperature: 0 });
    return c.choices[0]!.message;
  },

  tokenize: (text: string) => engine!.tokenizer.encode(text),
  probe: () => probeCpuBytesPerSecond(),
  isolated: () => globalThis.crossOriginIsolated === true,
  /** Stops using a named engine (its worker ends once nothing holds it). */
  async close(name = 'default') {
    await engines.get(name)?.dispose();
    engines.delete(name);
    if (name === 'default') engine = undefined;
  },
  cacheList: () => [...engines.values()][0]!.cache.list(),
  loseDevice: () => engine!.loseDeviceForTesting(),
  dispose: () => engine?.dispose(),
};

declare global {
  interface Window {
    sdk: typeof sdk;
  }
}
window.sdk = sdk;
document.querySelector('#state')!.textContent = 'ready';
