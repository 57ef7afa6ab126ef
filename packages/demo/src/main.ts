// The demo page: an engine in a (shared) worker for the model named by ?model=<url> (default: the
// tiny model generated at build time), streaming greedy continuations as text.
import { createEngine, formatBytes, type DownloadProgress } from 'webchuan';

const status = document.querySelector<HTMLParagraphElement>('#status')!;
const prompt = document.querySelector<HTMLTextAreaElement>('#prompt')!;
const run = document.querySelector<HTMLButtonElement>('#run')!;
const stop = document.querySelector<HTMLButtonElement>('#stop')!;
const output = document.querySelector<HTMLDivElement>('#output')!;

function showProgress(p: DownloadProgress): void {
  const eta = p.etaSeconds === undefined ? '' : `, ${Math.ceil(p.etaSeconds)} s left`;
  status.textContent = `Downloading ${formatBytes(p.loadedBytes)} of ${formatBytes(p.totalBytes)} (${formatBytes(p.bytesPerSecond)}/s${eta})`;
}

async function main(): Promise<void> {
  const model = new URLSearchParams(location.search).get('model') ?? './models/tiny-random/';
  const engine = await createEngine({ model, onProgress: showProgress });
  const m = engine.model;
  status.textContent = `Ready: ${m.modelType} ${m.quantization}, ${formatBytes(m.gpuBytes)} on ${m.adapter.description || m.adapter.vendor || 'the GPU'}.`;
  run.disabled = false;
  let controller: AbortController | undefined;
  stop.addEventListener('click', () => controller?.abort());
  run.addEventListener('click', async () => {
    run.disabled = true;
    stop.disabled = false;
    output.textContent = '';
    controller = new AbortController();
    try {
      const stream = engine.completions.create({ prompt: prompt.value, max_tokens: 64, temperature: 0, repetition_penalty: 1.1, stream: true, signal: controller.signal });
      for await (const chunk of stream) {
        output.append(chunk.choices[0]!.text); // a text node: model output is never HTML
        const u = chunk.usage;
        if (u) status.textContent = `${u.completion_tokens} tokens; prefill ${u.extra.prefill_tokens_per_s.toFixed(1)} tok/s, decode ${u.extra.decode_tokens_per_s.toFixed(1)} tok/s.`;
      }
    } catch (error) {
      status.textContent = (error as Error).name === 'AbortError' ? 'Stopped.' : `Error: ${(error as Error).message}`;
    } finally {
      run.disabled = false;
      stop.disabled = true;
    }
  });
}

main().catch((error: Error) => {
  status.textContent = `Error: ${error.message}`;
});
