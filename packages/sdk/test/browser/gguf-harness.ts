/**
 * GGUF files as `webchuan gguf` writes them, run by llama.cpp (wllama, the same build the CPU path
 * ships) with nothing of webchuan in between: greedy token ids for the tests to compare with our
 * WebGPU engine's.
 */
import { Wllama, type RawCompletionParams } from '@wllama/wllama';

const WASM = new URL('../../src/cpu/wllama.wasm', import.meta.url).href;
const silent = { debug: () => undefined, log: () => undefined, warn: () => undefined, error: () => undefined };

const gguf = {
  /** Greedy ids after each prompt, up to `maxTokens` or the end-of-text token (not included). */
  async greedy(files: string[], prompts: string[], maxTokens: number, eos: number): Promise<number[][]> {
    const blobs = await Promise.all(files.map(async (url) => new File([await (await fetch(url)).blob()], url.split('/').pop()!)));
    const wllama = new Wllama({ default: WASM }, { suppressNativeLog: true, logger: silent });
    wllama.setCompat(null);
    await wllama.loadModel(blobs, { n_ctx: 256, n_gpu_layers: 0, n_threads: 1, n_parallel: 1 });
    const out: number[][] = [];
    try {
      for (const prompt of prompts) {
        const ids: number[] = [];
        const body = { prompt, max_tokens: maxTokens, temperature: 0, logprobs: 1, stream: true } as unknown as RawCompletionParams & { stream: true };
        for await (const chunk of await wllama.createCompletion(body)) {
          // llama-server sends each token's id with its log-probability (`logprobs: 1`); wllama's type omits it.
          const content = (chunk as unknown as { choices: { logprobs: { content?: { id: number }[] } | null }[] }).choices[0]?.logprobs?.content ?? [];
          for (const t of content) if (t.id !== eos) ids.push(t.id); // llama.cpp ends the stream at the end-of-text token
        }
        out.push(ids);
      }
    } finally {
      await wllama.exit();
    }
    return out;
  },
};

declare global {
  interface Window {
    gguf: typeof gguf;
  }
}
window.gguf = gguf;
document.querySelector('#state')!.textContent = 'ready';
