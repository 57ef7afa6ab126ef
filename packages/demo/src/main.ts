// The demo page: loads the model named by ?model=<url> (default: the generated tiny model) straight
// into this page's GPU and streams greedy continuations as text.
import * as webTokenizers from '@mlc-ai/web-tokenizers';
import { generateGreedy, httpSource, loadModel, requestModelDevice, StreamingDetokenizer, TextTokenizer, type TokenizerLibrary } from 'webchuan';

const status = document.querySelector<HTMLParagraphElement>('#status')!;
const prompt = document.querySelector<HTMLTextAreaElement>('#prompt')!;
const run = document.querySelector<HTMLButtonElement>('#run')!;
const output = document.querySelector<HTMLDivElement>('#output')!;

async function main(): Promise<void> {
  if (!navigator.gpu) throw new Error('This browser has no WebGPU (navigator.gpu is missing).');
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) throw new Error('WebGPU is present but no GPU adapter is available.');
  const device = await requestModelDevice(adapter);
  const modelUrl = new URLSearchParams(location.search).get('model') ?? './models/tiny-random/';
  const source = httpSource(modelUrl);
  const model = await loadModel(device, source);
  const library = ((webTokenizers as unknown as { default?: TokenizerLibrary }).default ?? webTokenizers) as TokenizerLibrary;
  const tokenizer = await TextTokenizer.fromSentencePiece(await source.bytes('tokenizer.model'), library);
  status.textContent = `Ready: ${model.info.config.modelType}, ${model.info.quantization}, ${(model.weights.bytes / 1e6).toFixed(1)} MB on the GPU.`;
  run.disabled = false;
  run.addEventListener('click', async () => {
    run.disabled = true;
    output.textContent = '';
    const ids = [...model.info.config.promptPrefixTokenIds, ...tokenizer.encode(prompt.value)];
    const detok = new StreamingDetokenizer(tokenizer, ids);
    try {
      const result = await generateGreedy(model.forward, ids, {
        maxTokens: 64,
        stopTokenIds: model.info.config.stopTokenIds,
        onToken: (id) => output.append(detok.push(id)), // text nodes: model output is never HTML
      });
      output.append(detok.flush());
      status.textContent = `${result.ids.length} tokens, ${((ids.length / result.prefillMs) * 1000).toFixed(1)} tok/s prefill, ${((result.ids.length / result.decodeMs) * 1000).toFixed(1)} tok/s decode.`;
    } catch (error) {
      status.textContent = `Error: ${(error as Error).message}`;
    } finally {
      run.disabled = false;
    }
  });
}

main().catch((error: Error) => {
  status.textContent = `Error: ${error.message}`;
});
