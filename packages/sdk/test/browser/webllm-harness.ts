/**
 * The page side of the WebLLM backend tests: the public API of the built package, as an app uses it
 * (`webchuan`, `webchuan/webllm`, `webchuan/elements`). `webchuan/webllm` is imported only when the
 * test asks, so the page can first show what happens without it.
 */
import { createEngine, WebchuanError, type ChatCompletionRequestBase, type ChatMessage, type CompletionCreateParams, type DownloadProgress, type Engine } from 'webchuan';
import 'webchuan/elements';

interface ErrorInfo {
  name: string;
  code?: string;
  param?: string;
  message: string;
}

const describe = (e: unknown): ErrorInfo => ({
  name: (e as Error).name,
  code: (e as WebchuanError).code,
  param: (e as { param?: string }).param,
  message: (e as Error).message,
});

let engine: Engine | undefined;

const webllm = {
  /** Registers the backend, as `import 'webchuan/webllm'` does in an app. */
  async enable(): Promise<void> {
    await import('webchuan/webllm');
  },

  async start(model: string, modelLib: string | undefined, options: { contextWindow?: number; shared?: boolean; backend?: 'webchuan' | 'webllm' } = {}) {
    const progress: DownloadProgress[] = [];
    try {
      const { backend = 'webllm', ...rest } = options;
      engine = await createEngine({ model, backend, ...(backend === 'webllm' ? { modelLib } : {}), ...rest, onProgress: (p) => progress.push(p) });
      return { progress, model: engine.model, kind: engine.workerKind };
    } catch (e) {
      return { progress, error: describe(e) };
    }
  },

  async check(modelLib: string, model: string): Promise<string[]> {
    const { checkModelLib } = await import('webchuan/webllm');
    return checkModelLib(modelLib, model);
  },

  async complete(params: Omit<CompletionCreateParams, 'signal' | 'stream'>) {
    try {
      return { result: await engine!.completions.create({ ...params, stream: false }) };
    } catch (e) {
      return { error: describe(e) };
    }
  },

  async chat(params: Omit<ChatCompletionRequestBase, 'signal' | 'stream'>) {
    try {
      return { result: await engine!.chat.completions.create({ ...params, stream: false }) };
    } catch (e) {
      return { error: describe(e) };
    }
  },

  /** Streams a completion (or, with `messages`, a chat); aborts after `abortAfterChunks` chunks if given. */
  async stream(params: Omit<CompletionCreateParams, 'signal' | 'stream'> | { messages: ChatMessage[]; max_tokens: number; temperature: number }, abortAfterChunks?: number) {
    const controller = new AbortController();
    const texts: string[] = [];
    let last: unknown;
    let afterAbort = 0;
    const t0 = performance.now();
    let abortedAt = 0;
    try {
      const chunks =
        'messages' in params
          ? engine!.chat.completions.create({ ...params, stream: true, signal: controller.signal })
          : engine!.completions.create({ ...params, stream: true, signal: controller.signal });
      for await (const chunk of chunks) {
        if (controller.signal.aborted) afterAbort++;
        const choice = chunk.choices[0]!;
        texts.push('text' in choice ? choice.text : (choice.delta.content ?? ''));
        last = chunk;
        if (abortAfterChunks !== undefined && texts.length === abortAfterChunks) {
          controller.abort();
          abortedAt = performance.now();
        }
      }
      return { texts, last, afterAbort, ms: performance.now() - t0 };
    } catch (e) {
      return { texts, last, afterAbort, error: describe(e), msAfterAbort: performance.now() - (abortedAt || t0) };
    }
  },

  tokenize: (text: string) => engine!.tokenizer.encode(text),
  detokenize: (ids: number[]) => engine!.tokenizer.decode(ids),
  cacheList: () => engine!.cache.list(),
  cacheHas: (url: string) => engine!.cache.has(url),
  cacheDelete: (url: string) => engine!.cache.delete(url),
  dispose: async () => {
    await engine?.dispose();
    engine = undefined;
  },
};

declare global {
  interface Window {
    webllm: typeof webllm;
  }
}
window.webllm = webllm;
document.querySelector('#state')!.textContent = 'ready';
