/**
 * The page side of the browser tests: the real store, engine and tokenizer, driven by Playwright
 * through `window.harness`. Nothing here is mocked; the network faults come from the test's server.
 */
import { createStore, keys } from 'idb-keyval';
import { WebchuanError } from '../../src/errors.js';
import { requestModelDevice } from '../../src/gpu/device.js';
import { generateGreedy } from '../../src/engine/generate.js';
import { cachedArtifactSource, deleteAllModels, deleteModel, downloadModel, getCachedModel, isModelCached, listCachedModels } from '../../src/store/cache.js';
import { modelId } from '../../src/model/identity.js';
import { loadCachedModel } from '../../src/store/load.js';
import type { DownloadProgress } from '../../src/store/progress.js';
import { TextTokenizer } from '../../src/tokenizer/tokenizer.js';
import { loadTokenizerRuntime } from '../../src/store/assets.js';

export interface ErrorInfo {
  name: string;
  code?: string;
  message: string;
}

function describe(error: unknown): ErrorInfo {
  const e = error as Error;
  return { name: e.name, code: error instanceof WebchuanError ? error.code : undefined, message: e.message };
}

let device: GPUDevice | undefined;

async function sha256(bytes: Uint8Array): Promise<string> {
  const d = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, '0')).join('');
}

const harness = {
  async download(url: string, maxRetries?: number): Promise<{ progress: DownloadProgress[]; error?: ErrorInfo }> {
    const progress: DownloadProgress[] = [];
    try {
      await downloadModel(url, { onProgress: (p) => progress.push(p), maxRetries });
      return { progress };
    } catch (error) {
      return { progress, error: describe(error) };
    }
  },

  /** Loads the model from the cache (downloading what is missing) onto the GPU and decodes greedily. */
  async generate(url: string, prompt: string, maxTokens: number): Promise<{ ids: number[]; error?: ErrorInfo }> {
    try {
      if (!navigator.gpu) throw new Error('no navigator.gpu');
      device ??= await requestModelDevice((await navigator.gpu.requestAdapter())!);
      const model = await loadCachedModel(device, url);
      const tokenizer = await TextTokenizer.load(await loadTokenizerRuntime(), { format: 'sentencepiece', bytes: await cachedArtifactSource(url).bytes('tokenizer.model') });
      const ids = [...model.info.config.promptPrefixTokenIds, ...tokenizer.encode(prompt)];
      const result = await generateGreedy(model.forward, ids, { maxTokens });
      model.dispose();
      tokenizer.dispose();
      return { ids: result.ids };
    } catch (error) {
      return { ids: [], error: describe(error) };
    }
  },

  /** Re-hashes every shard the cache marks complete; lists the ones that do not match. */
  async verify(url: string): Promise<{ complete: number; bad: string[]; partials: number }> {
    const model = await getCachedModel(url);
    const source = cachedArtifactSource(url);
    const bad: string[] = [];
    let complete = 0;
    for (const s of model?.shards ?? []) {
      if (!s.complete) continue;
      complete++;
      const bytes = await source.bytes(s.dataPath);
      if (bytes.byteLength !== s.nbytes || (await sha256(bytes)) !== s.sha256) bad.push(s.dataPath);
    }
    const store = createStore('webchuan', 'artifacts');
    const partials = ((await keys(store)) as unknown[]).filter((k) => Array.isArray(k) && k[0] === 'partial' && k[1] === modelId(url, location.href));
    return { complete, bad, partials: partials.length };
  },

  list: () => listCachedModels(),
  isCached: (url: string) => isModelCached(url),
  deleteModel: (url: string) => deleteModel(url),
  deleteAll: () => deleteAllModels(),
};

declare global {
  interface Window {
    harness: typeof harness;
  }
}
window.harness = harness;
document.querySelector('#state')!.textContent = 'ready';
