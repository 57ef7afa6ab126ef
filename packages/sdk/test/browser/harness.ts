/**
 * The page side of the browser tests: the real store, engine and tokenizer, driven by Playwright
 * through `window.harness`. Nothing here is mocked; the network faults come from the test's server.
 */
import { createStore, del, keys } from 'idb-keyval';
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
  /** QuotaExceededError's figures. */
  neededBytes?: number;
  freeBytes?: number;
}

function describe(error: unknown): ErrorInfo {
  const e = error as Error & { neededBytes?: number; freeBytes?: number };
  return { name: e.name, code: error instanceof WebchuanError ? error.code : undefined, message: e.message, neededBytes: e.neededBytes, freeBytes: e.freeBytes };
}

const idbStore = () => createStore('webchuan', 'artifacts');

/** Every key the cache holds for a model, but its deletion counter. */
async function keysFor(url: string): Promise<unknown[][]> {
  return ((await keys(idbStore())) as unknown[]).filter((k): k is unknown[] => Array.isArray(k) && k[1] === modelId(url) && k[0] !== 'generation');
}

let device: GPUDevice | undefined;

async function sha256(bytes: Uint8Array): Promise<string> {
  const d = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, '0')).join('');
}

const harness = {
  /**
   * Downloads `url`. With `timeoutMs`, a download still running then is aborted (and `timedOut` set),
   * so a download that would never end cannot hang the test.
   */
  async download(url: string, maxRetries?: number, timeoutMs?: number): Promise<{ progress: DownloadProgress[]; error?: ErrorInfo; timedOut?: boolean; ms: number }> {
    const progress: DownloadProgress[] = [];
    const controller = new AbortController();
    let timedOut = false;
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => ((timedOut = true), controller.abort()), timeoutMs);
    const start = performance.now();
    try {
      await downloadModel(url, { onProgress: (p) => progress.push(p), maxRetries, signal: controller.signal });
      return { progress, ms: performance.now() - start };
    } catch (error) {
      return { progress, error: describe(error), timedOut, ms: performance.now() - start };
    } finally {
      clearTimeout(timer);
    }
  },

  /** Starts a download, deletes the model once `afterBytes` have arrived, and waits for both. */
  async downloadThenDelete(url: string, afterBytes: number): Promise<{ error?: ErrorInfo; deletedAt?: number; keysLeft: unknown[][] }> {
    let deleting: Promise<void> | undefined;
    let deletedAt: number | undefined;
    let error: ErrorInfo | undefined;
    try {
      await downloadModel(url, {
        onProgress: (p) => {
          if (!deleting && p.loadedBytes >= afterBytes) {
            deletedAt = p.loadedBytes;
            deleting = deleteModel(url);
          }
        },
      });
    } catch (e) {
      error = describe(e);
    }
    await deleting;
    return { error, deletedAt, keysLeft: await keysFor(url) };
  },

  /** Re-hashes the stored shards against SHA-256 digests computed from the server's files. */
  async storedShardDigests(url: string): Promise<Record<string, string | null>> {
    const model = await getCachedModel(url);
    const out: Record<string, string | null> = {};
    for (const s of model?.shards ?? []) {
      const bytes = s.complete ? await cachedArtifactSource(url).bytes(s.dataPath) : undefined;
      out[s.dataPath] = bytes ? await sha256(bytes) : null;
    }
    return out;
  },

  keysFor,
  /** Removes one stored file of a model, as a deletion racing a download in an older webchuan did. */
  dropFile: async (url: string, name: string) => del(['file', modelId(url), name], idbStore()),

  /** Loads the model from the cache (downloading what is missing) onto the GPU and decodes greedily. */
  async generate(url: string, prompt: string, maxTokens: number): Promise<{ ids: number[]; error?: ErrorInfo }> {
    try {
      if (!navigator.gpu) throw new Error('no navigator.gpu');
      device ??= await requestModelDevice((await navigator.gpu.requestAdapter())!);
      const model = await loadCachedModel(device, url, { kernels: 'fast', warm: false });
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
