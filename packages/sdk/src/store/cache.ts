/**
 * The model cache: artifacts downloaded once into IndexedDB (through idb-keyval) and read back
 * from there on every later visit, with zero network.
 *
 * A shard is stored under 'shard' only after its SHA-256 (or, for MLC's artifacts, MD5) matched, so
 * nothing there is ever corrupt (verify.ts). Keys, and the generation counters that make a deletion
 * win over a download in flight, are in db.ts; one shard's download loop is in fetch-shard.ts.
 *
 * Cache states heal: a record whose files are gone is dropped and downloaded again, and a partial
 * download is checked against the server's current `tensor-cache.json` before it resumes (an
 * artifact replaced on the server means starting over, not failing its hash forever).
 */
import { get } from 'idb-keyval';
import { artifactBytes, CHAT_CONFIG_FILE, parseChatConfig, parseTensorCache, TENSOR_CACHE_FILE, type ArtifactSource, type ChatConfigJson, type TensorCacheJson } from '../model/artifact.js';
import { artifactFileUrl, modelId } from '../model/identity.js';
import { AbortError, BadArtifactError, IntegrityError, QuotaExceededError } from '../errors.js';
import { deleteAllModelKeys, deleteModelKeys, fileKey, keysOf, modelIds, modelKey, partialKey, readGeneration, shardKey, store, writeIfCurrent, type Writes } from './db.js';
import { fetchShard, type ShardFetchOptions } from './fetch-shard.js';
import { ProgressTracker, type ProgressCallback } from './progress.js';
import { fetchJsonText, fetchOk } from './responses.js';
import { requireShardHashes } from './verify.js';

export { store } from './db.js';

/** What the cache knows of one model. */
export interface CachedModel {
  /** The artifact's URL, normalised to end in '/'. */
  id: string;
  files: string[];
  shards: { dataPath: string; nbytes: number; sha256?: string; md5sum?: string; complete: boolean }[];
  totalBytes: number;
  updatedAt: number;
}

/** One line of `listCachedModels()`. */
export interface CachedModelSummary {
  id: string;
  /** Bytes of verified shards stored. */
  bytes: number;
  totalBytes: number;
  complete: boolean;
}

export interface DownloadOptions extends ShardFetchOptions {
  onProgress?: ProgressCallback;
  /**
   * Called with the artifact's `mlc-chat-config.json` once it is known (from the server or the cache)
   * and before any shard is downloaded or any storage asked for: throwing here stops the download,
   * e.g. when the GPU cannot hold the model.
   */
  beforeShards?: (chatConfig: ChatConfigJson) => void | Promise<void>;
}

/** The cache id of an artifact URL (absolute, ending in '/'): identity.ts's, against this context's URL. */
export function cacheId(url: string): string {
  return modelId(url, globalThis.location?.href);
}

export async function getCachedModel(url: string): Promise<CachedModel | undefined> {
  return get<CachedModel>(modelKey(cacheId(url)), store());
}

/** True when every shard and file of the model is stored and verified. */
export async function isModelCached(url: string): Promise<boolean> {
  const m = await getCachedModel(url);
  return !!m && m.shards.every((s) => s.complete) && (await missingParts(m)).files.length === 0;
}

export async function listCachedModels(): Promise<CachedModelSummary[]> {
  const models = await Promise.all((await modelIds()).map((id) => get<CachedModel>(modelKey(id), store())));
  return models
    .filter((m): m is CachedModel => !!m)
    .map((m) => {
      const bytes = m.shards.filter((s) => s.complete).reduce((n, s) => n + s.nbytes, 0);
      return { id: m.id, bytes, totalBytes: m.totalBytes, complete: bytes === m.totalBytes };
    });
}

/** Removes a model (complete or partial) from the cache; a download of it in flight stops with AbortError. */
export async function deleteModel(url: string): Promise<void> {
  await deleteModelKeys(cacheId(url));
}

export async function deleteAllModels(): Promise<void> {
  await deleteAllModelKeys();
}

/** Files the record lists but the cache lacks, and complete shards whose bytes are gone. */
async function missingParts(m: CachedModel): Promise<{ files: string[]; shards: string[] }> {
  const [files, shards] = await Promise.all([keysOf('file', m.id), keysOf('shard', m.id)]);
  const fileNames = new Set(files.map((k) => (k as string[])[2]));
  const shardNames = new Set(shards.map((k) => (k as string[])[2]));
  return { files: m.files.filter((f) => !fileNames.has(f)), shards: m.shards.filter((s) => s.complete && !shardNames.has(s.dataPath)).map((s) => s.dataPath) };
}

/** A name inside the artifact directory: a path out of it (`../x`, `/x`, `https:…`) is not one. */
function checkFileName(name: unknown, what: string, source: string): string {
  if (typeof name !== 'string' || name === '' || /(^|[/\\])\.\.?([/\\]|$)|^[/\\]|:|\\/.test(name)) {
    throw new BadArtifactError(`${source}: ${what} ${JSON.stringify(name)} is not a file name inside the artifact`);
  }
  return name;
}

/** The artifact's two JSON files as the server has them now. */
interface Description {
  configText: string;
  cacheText: string;
  chatConfig: ChatConfigJson;
  cache: TensorCacheJson;
}

async function fetchDescription(id: string, fetchImpl: typeof fetch, signal?: AbortSignal): Promise<Description> {
  const configText = await fetchJsonText(fetchImpl, artifactFileUrl(id, CHAT_CONFIG_FILE), signal);
  const cacheText = await fetchJsonText(fetchImpl, artifactFileUrl(id, TENSOR_CACHE_FILE), signal);
  let chatConfig: ChatConfigJson;
  try {
    chatConfig = JSON.parse(configText) as ChatConfigJson;
    parseChatConfig(chatConfig);
  } catch (error) {
    throw new BadArtifactError(`${artifactFileUrl(id, CHAT_CONFIG_FILE)}: ${(error as Error).message}`, { cause: error });
  }
  let cache: TensorCacheJson;
  try {
    cache = parseTensorCache(JSON.parse(cacheText));
  } catch (error) {
    throw new BadArtifactError(`${artifactFileUrl(id, TENSOR_CACHE_FILE)}: ${(error as Error).message}`, { cause: error });
  }
  for (const s of cache.records) checkFileName(s.dataPath, 'shard', artifactFileUrl(id, TENSOR_CACHE_FILE));
  requireShardHashes(cache.records, artifactFileUrl(id, TENSOR_CACHE_FILE));
  return { configText, cacheText, chatConfig, cache };
}

/**
 * Downloads every file of the artifact at `url` that the cache does not hold yet, verifying each
 * shard, resuming cut-off shards with HTTP Range requests, and checking the storage quota first.
 * Returns the cached model; the model is not loaded anywhere (this is also "pre-fetch").
 */
export async function downloadModel(url: string, options: DownloadOptions = {}): Promise<CachedModel> {
  return download(cacheId(url), options, false);
}

async function download(id: string, options: DownloadOptions, restarted: boolean): Promise<CachedModel> {
  const fetchImpl = options.fetch ?? fetch.bind(globalThis);
  const { signal } = options;
  const db = store();
  // Every write below is refused once the model (or the whole cache) is deleted: the download then stops.
  const generation = await readGeneration(id);
  const write = async (writes: Writes, neededBytes: number): Promise<void> => {
    const current = await guardQuota(() => writeIfCurrent(id, generation, writes), neededBytes);
    if (!current) throw new AbortError(`${id} was deleted from the cache during its download; the download stopped.`);
  };

  let model = await get<CachedModel>(modelKey(id), db);
  let description: Description | undefined;
  if (model) {
    const missing = await missingParts(model);
    if (missing.files.length) {
      // Configs gone (an older webchuan let a deletion race a download): the record is useless.
      await write({ purge: true }, 0);
      model = undefined;
    } else if (missing.shards.length) {
      model = { ...model, shards: model.shards.map((s) => (missing.shards.includes(s.dataPath) ? { ...s, complete: false } : s)) };
      await write({ put: [[modelKey(id), model]] }, 0);
    }
  }
  if (model && model.shards.some((s) => !s.complete)) {
    // Resuming: only if the server still has the artifact this partial download belongs to.
    description = await fetchDescription(id, fetchImpl, signal);
    if (await changedOnServer(id, description)) {
      await write({ purge: true }, 0);
      model = undefined;
    }
  }

  if (!model) {
    // Everything small is fetched into memory first, so the quota check below precedes any write.
    const { configText, cacheText, chatConfig, cache } = description ?? (await fetchDescription(id, fetchImpl, signal));
    const tokenizerFiles = (chatConfig.tokenizer_files ?? ['tokenizer.model']).map((f) => checkFileName(f, 'tokenizer file', artifactFileUrl(id, CHAT_CONFIG_FILE)));
    const files = new Map<string, Uint8Array>([
      [CHAT_CONFIG_FILE, new TextEncoder().encode(configText)],
      [TENSOR_CACHE_FILE, new TextEncoder().encode(cacheText)],
    ]);
    for (const name of tokenizerFiles) files.set(name, new Uint8Array(await (await fetchOk(fetchImpl, artifactFileUrl(id, name), signal)).arrayBuffer()));
    const fresh: CachedModel = {
      id,
      files: [...files.keys()],
      shards: cache.records.map((s) => ({ dataPath: s.dataPath, nbytes: s.nbytes, sha256: s.sha256, md5sum: s.md5sum, complete: false })),
      totalBytes: artifactBytes(cache),
      updatedAt: Date.now(),
    };
    const needed = fresh.totalBytes + [...files.values()].reduce((n, f) => n + f.byteLength, 0);
    await options.beforeShards?.(chatConfig);
    await checkQuota(needed);
    await write({ purge: true, put: [...[...files].map(([name, bytes]): [IDBValidKey, unknown] => [fileKey(id, name), bytes]), [modelKey(id), fresh]] }, needed);
    model = fresh;
  } else if (options.beforeShards) {
    await options.beforeShards(JSON.parse(await cachedArtifactSource(id).text(CHAT_CONFIG_FILE)) as ChatConfigJson);
  }

  const missing = model.shards.filter((s) => !s.complete);
  const cachedBytes = model.totalBytes - missing.reduce((n, s) => n + s.nbytes, 0);
  const partials = await Promise.all(missing.map((s) => get<Uint8Array>(partialKey(id, s.dataPath), db)));
  let stillNeeded = missing.reduce((n, s, i) => n + s.nbytes - (partials[i]?.byteLength ?? 0), 0);
  await checkQuota(stillNeeded);

  const progress = new ProgressTracker(model.totalBytes, cachedBytes, options.onProgress);
  progress.report(cachedBytes, missing[0]?.dataPath);
  let done = cachedBytes;
  for (const [i, shard] of model.shards.entries()) {
    if (shard.complete) continue;
    const key = partialKey(id, shard.dataPath);
    let bytes: Uint8Array;
    try {
      bytes = await fetchShard(artifactFileUrl(id, shard.dataPath), shard, {
        load: () => get<Uint8Array>(key, db),
        save: (partial) => write({ put: [[key, partial]] }, stillNeeded),
        drop: () => write({ delete: [key] }, 0),
      }, options, (received) => progress.report(done + received, shard.dataPath));
    } catch (error) {
      // A shard that keeps failing its hash may belong to a newer artifact: then start over, once.
      // (If the configs cannot be fetched now, the IntegrityError is the news, not that failure.)
      const replaced = () => fetchDescription(id, fetchImpl, signal).then((now) => changedOnServer(id, now), () => false);
      if (error instanceof IntegrityError && !restarted && (await replaced())) {
        await write({ purge: true }, 0);
        return download(id, options, true);
      }
      throw error;
    }
    const shards = model.shards.map((s, j) => (j === i ? { ...s, complete: true } : s));
    const record: CachedModel = { ...model, shards, updatedAt: Date.now() };
    await write({ put: [[shardKey(id, shard.dataPath), bytes], [modelKey(id), record]], delete: [key] }, stillNeeded);
    model = record;
    stillNeeded = Math.max(0, stillNeeded - shard.nbytes);
    done += shard.nbytes;
    progress.report(done, shard.dataPath);
  }
  progress.report(done, undefined);
  return model;
}

/** Whether the server's artifact differs from the one the cache began to download. */
async function changedOnServer(id: string, now: Description): Promise<boolean> {
  const stored = await Promise.all([CHAT_CONFIG_FILE, TENSOR_CACHE_FILE].map((f) => get<Uint8Array>(fileKey(id, f), store())));
  const decode = (b: Uint8Array | undefined) => (b ? new TextDecoder().decode(b) : undefined);
  return decode(stored[0]) !== now.configText || decode(stored[1]) !== now.cacheText;
}

/** Fails early, before any byte is written, when the site's free storage cannot hold `bytes` more. */
async function checkQuota(bytes: number): Promise<void> {
  if (bytes <= 0 || !globalThis.navigator?.storage?.estimate) return;
  const { quota = Infinity, usage = 0 } = await navigator.storage.estimate();
  const free = Math.max(0, quota - usage);
  if (bytes > free) throw new QuotaExceededError(bytes, free);
  // Ask the browser not to evict the model under storage pressure; it may say no.
  await navigator.storage.persist?.().catch(() => false);
}

/** IndexedDB's own quota failure (a DOMException) becomes our typed error, with the bytes still to store. */
async function guardQuota<T>(write: () => Promise<T>, neededBytes: number): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if ((error as DOMException)?.name !== 'QuotaExceededError') throw error;
    const estimate = await navigator.storage?.estimate?.().catch(() => undefined);
    throw new QuotaExceededError(neededBytes, Math.max(0, (estimate?.quota ?? 0) - (estimate?.usage ?? 0)));
  }
}

/** The cached model as an ArtifactSource: configs, tokenizer and shards all come from IndexedDB. */
export function cachedArtifactSource(url: string): ArtifactSource {
  const id = cacheId(url);
  const db = store();
  return {
    async text(file) {
      const bytes = await get<Uint8Array>(fileKey(id, file), db);
      if (!bytes) throw new BadArtifactError(`${artifactFileUrl(id, file)} is not in the cache`);
      return new TextDecoder().decode(bytes);
    },
    async bytes(file) {
      const bytes = (await get<Uint8Array>(shardKey(id, file), db)) ?? (await get<Uint8Array>(fileKey(id, file), db));
      if (!bytes) throw new BadArtifactError(`${artifactFileUrl(id, file)} is not in the cache`);
      return bytes;
    },
  };
}
