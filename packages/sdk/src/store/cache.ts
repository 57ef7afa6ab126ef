/**
 * The model cache: artifacts downloaded once into IndexedDB (through idb-keyval) and read back
 * from there on every later visit, with zero network.
 *
 * Keys: ['model', id] → CachedModel (what is stored, and which shards are complete);
 * ['file', id, name] → bytes of a small file (configs, tokenizer); ['shard', id, dataPath] → a
 * verified shard; ['partial', id, dataPath] → the bytes of a shard cut off mid-way, to resume from.
 * A shard is written under 'shard' only after its SHA-256 matched, so nothing there is ever corrupt.
 */
import { createStore, del, delMany, get, keys, set, type UseStore } from 'idb-keyval';
import { artifactBytes, CHAT_CONFIG_FILE, parseChatConfig, parseTensorCache, TENSOR_CACHE_FILE, type ArtifactSource, type ChatConfigJson } from '../model/artifact.js';
import { concatBytes } from '../model/arrays.js';
import { modelId } from '../model/identity.js';
import { AbortError, BadArtifactError, IntegrityError, ModelNotFoundError, NetworkError, QuotaExceededError } from '../errors.js';
import { ProgressTracker, type ProgressCallback } from './progress.js';

/** What the cache knows of one model. */
export interface CachedModel {
  /** The artifact's URL, normalised to end in '/'. */
  id: string;
  files: string[];
  shards: { dataPath: string; nbytes: number; sha256?: string; complete: boolean }[];
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

export interface DownloadOptions {
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
  /** Consecutive failed attempts (without any new byte) before giving up. Default 5. */
  maxRetries?: number;
  /** Times a shard may fail its hash before IntegrityError. Default 3. */
  maxIntegrityFailures?: number;
  fetch?: typeof fetch;
}

let defaultStore: UseStore | undefined;
export function store(): UseStore {
  defaultStore ??= createStore('webchuan', 'artifacts');
  return defaultStore;
}

/** The cache id of an artifact URL: its model identity (relative URLs resolve against the page). */
function cacheId(url: string): string {
  return modelId(url, globalThis.location?.href);
}

const modelKey = (id: string) => ['model', id];
const fileKey = (id: string, name: string) => ['file', id, name];
const shardKey = (id: string, dataPath: string) => ['shard', id, dataPath];
const partialKey = (id: string, dataPath: string) => ['partial', id, dataPath];

export async function getCachedModel(url: string): Promise<CachedModel | undefined> {
  return get<CachedModel>(modelKey(cacheId(url)), store());
}

/** True when every shard and file of the model is stored and verified. */
export async function isModelCached(url: string): Promise<boolean> {
  const m = await getCachedModel(url);
  return !!m && m.shards.every((s) => s.complete);
}

export async function listCachedModels(): Promise<CachedModelSummary[]> {
  const all = (await keys(store())) as IDBValidKey[];
  const ids = all.filter((k): k is string[] => Array.isArray(k) && k[0] === 'model').map((k) => k[1]!);
  const models = await Promise.all(ids.map((id) => get<CachedModel>(modelKey(id), store())));
  return models
    .filter((m): m is CachedModel => !!m)
    .map((m) => {
      const bytes = m.shards.filter((s) => s.complete).reduce((n, s) => n + s.nbytes, 0);
      return { id: m.id, bytes, totalBytes: m.totalBytes, complete: bytes === m.totalBytes };
    });
}

/** Removes a model (complete or partial) from the cache. */
export async function deleteModel(url: string): Promise<void> {
  const id = cacheId(url);
  const all = (await keys(store())) as IDBValidKey[];
  const mine = all.filter((k) => Array.isArray(k) && k[1] === id);
  await delMany(mine, store());
}

export async function deleteAllModels(): Promise<void> {
  const all = (await keys(store())) as IDBValidKey[];
  await delMany(all.filter((k) => Array.isArray(k) && ['model', 'file', 'shard', 'partial'].includes(String(k[0]))), store());
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

export async function fetchOk(fetchImpl: typeof fetch, url: string, signal?: AbortSignal): Promise<Response> {
  let response: Response;
  try {
    response = await fetchImpl(url, { signal, cache: 'no-store' });
  } catch (error) {
    if (signal?.aborted) throw new AbortError();
    throw new NetworkError(`Could not fetch ${url}: ${(error as Error).message}`, { cause: error });
  }
  return checked(url, response);
}

/** The response if it is a success; a 404/410 means the model is not there, anything else a network failure. */
function checked(url: string, response: Response): Response {
  if (response.status === 404 || response.status === 410) throw new ModelNotFoundError(url, response.status);
  if (!response.ok) throw new NetworkError(`${url}: HTTP ${response.status}`);
  return response;
}

/**
 * Downloads every file of the artifact at `url` that the cache does not hold yet, verifying each
 * shard, resuming cut-off shards with HTTP Range requests, and checking the storage quota first.
 * Returns the cached model; the model is not loaded anywhere (this is also "pre-fetch").
 */
export async function downloadModel(url: string, options: DownloadOptions = {}): Promise<CachedModel> {
  const id = cacheId(url);
  const fetchImpl = options.fetch ?? fetch.bind(globalThis);
  const { signal } = options;
  const db = store();
  let model = await get<CachedModel>(modelKey(id), db);

  if (!model) {
    // Everything small is fetched into memory first, so the quota check below precedes any write.
    const configText = await (await fetchOk(fetchImpl, id + CHAT_CONFIG_FILE, signal)).text();
    const cacheText = await (await fetchOk(fetchImpl, id + TENSOR_CACHE_FILE, signal)).text();
    let chatConfig: ChatConfigJson;
    try {
      chatConfig = JSON.parse(configText) as ChatConfigJson;
      parseChatConfig(chatConfig);
    } catch (error) {
      throw new BadArtifactError(`${id}${CHAT_CONFIG_FILE}: ${(error as Error).message}`, { cause: error });
    }
    let cache;
    try {
      cache = parseTensorCache(JSON.parse(cacheText));
    } catch (error) {
      throw new BadArtifactError(`${id}${TENSOR_CACHE_FILE}: ${(error as Error).message}`, { cause: error });
    }
    const tokenizerFiles = chatConfig.tokenizer_files ?? ['tokenizer.model'];
    const files = new Map<string, Uint8Array>([
      [CHAT_CONFIG_FILE, new TextEncoder().encode(configText)],
      [TENSOR_CACHE_FILE, new TextEncoder().encode(cacheText)],
    ]);
    for (const name of tokenizerFiles) files.set(name, new Uint8Array(await (await fetchOk(fetchImpl, id + name, signal)).arrayBuffer()));
    const fresh: CachedModel = {
      id,
      files: [...files.keys()],
      shards: cache.records.map((s) => ({ dataPath: s.dataPath, nbytes: s.nbytes, sha256: s.sha256, complete: false })),
      totalBytes: artifactBytes(cache),
      updatedAt: Date.now(),
    };
    await checkQuota(fresh.totalBytes + [...files.values()].reduce((n, f) => n + f.byteLength, 0));
    await guardQuota(async () => {
      for (const [name, bytes] of files) await set(fileKey(id, name), bytes, db);
      await set(modelKey(id), fresh, db);
    });
    model = fresh;
  }

  const missing = model.shards.filter((s) => !s.complete);
  const cachedBytes = model.totalBytes - missing.reduce((n, s) => n + s.nbytes, 0);
  const partials = await Promise.all(missing.map((s) => get<Uint8Array>(partialKey(id, s.dataPath), db)));
  await checkQuota(missing.reduce((n, s, i) => n + s.nbytes - (partials[i]?.byteLength ?? 0), 0));

  const progress = new ProgressTracker(model.totalBytes, cachedBytes, options.onProgress);
  progress.report(cachedBytes, missing[0]?.dataPath);
  let done = cachedBytes;
  for (const shard of model.shards) {
    if (shard.complete) continue;
    const bytes = await fetchShard(fetchImpl, id, shard, options, (received) => progress.report(done + received, shard.dataPath));
    const record = model;
    await guardQuota(async () => {
      await set(shardKey(id, shard.dataPath), bytes, db);
      await del(partialKey(id, shard.dataPath), db);
      shard.complete = true;
      record.updatedAt = Date.now();
      await set(modelKey(id), record, db);
    });
    done += shard.nbytes;
    progress.report(done, shard.dataPath);
  }
  progress.report(done, undefined);
  return model;
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

/** IndexedDB's own quota failure (a DOMException) becomes our typed error. */
async function guardQuota(write: () => Promise<void>): Promise<void> {
  try {
    await write();
  } catch (error) {
    if ((error as DOMException)?.name !== 'QuotaExceededError') throw error;
    const estimate = await navigator.storage?.estimate?.().catch(() => undefined);
    throw new QuotaExceededError(0, Math.max(0, (estimate?.quota ?? 0) - (estimate?.usage ?? 0)));
  }
}

/** Fetches one shard, resuming after cuts and re-fetching after a failed hash. */
async function fetchShard(
  fetchImpl: typeof fetch,
  id: string,
  shard: CachedModel['shards'][number],
  options: DownloadOptions,
  onBytes: (received: number) => void,
): Promise<Uint8Array> {
  const db = store();
  const url = id + shard.dataPath;
  const { signal } = options;
  const maxRetries = options.maxRetries ?? 5;
  const maxIntegrity = options.maxIntegrityFailures ?? 3;
  let have = (await get<Uint8Array>(partialKey(id, shard.dataPath), db)) ?? new Uint8Array(0);
  let failuresWithoutProgress = 0;
  let integrityFailures = 0;
  let lastError: unknown;
  while (true) {
    if (signal?.aborted) throw new AbortError();
    if (failuresWithoutProgress > maxRetries) {
      throw new NetworkError(`Downloading ${url} failed ${failuresWithoutProgress} times in a row: ${(lastError as Error)?.message}`, { cause: lastError });
    }
    const chunks: Uint8Array[] = [];
    let received = 0;
    try {
      const headers: Record<string, string> = have.byteLength > 0 ? { Range: `bytes=${have.byteLength}-` } : {};
      const response = checked(url, await fetchImpl(url, { headers, signal, cache: 'no-store' }));
      // A server that ignores Range answers 200 with the whole file: start over.
      const resumed = response.status === 206 && response.headers.get('Content-Range')?.startsWith(`bytes ${have.byteLength}-`);
      if (!resumed) have = new Uint8Array(0);
      chunks.push(have);
      received = have.byteLength;
      onBytes(received);
      const reader = response.body!.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        received += value.byteLength;
        if (received > shard.nbytes) break; // more bytes than the shard has: the hash check below rejects it
        onBytes(received);
      }
    } catch (error) {
      if (signal?.aborted) throw new AbortError();
      if (error instanceof ModelNotFoundError) throw error;
      lastError = error;
    }
    const bytes = concatBytes(chunks);
    if (received < shard.nbytes) {
      // Cut off: keep what arrived, so the next attempt (or the next visit) resumes from there.
      failuresWithoutProgress = received > have.byteLength ? 0 : failuresWithoutProgress + 1;
      lastError ??= new Error(`connection closed after ${received} of ${shard.nbytes} bytes`);
      have = bytes;
      await guardQuota(() => set(partialKey(id, shard.dataPath), have, db));
      await backoff(failuresWithoutProgress, signal);
      continue;
    }
    if (received === shard.nbytes && (!shard.sha256 || (await sha256Hex(bytes)) === shard.sha256)) return bytes;
    integrityFailures++;
    await del(partialKey(id, shard.dataPath), db);
    have = new Uint8Array(0);
    if (integrityFailures >= maxIntegrity) throw new IntegrityError(url, integrityFailures);
  }
}

async function backoff(failures: number, signal?: AbortSignal): Promise<void> {
  if (failures === 0) return;
  const ms = Math.min(2000, 100 * 2 ** failures);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(new AbortError());
    }, { once: true });
  });
}

/** The cached model as an ArtifactSource: configs, tokenizer and shards all come from IndexedDB. */
export function cachedArtifactSource(url: string): ArtifactSource {
  const id = cacheId(url);
  const db = store();
  return {
    async text(file) {
      const bytes = await get<Uint8Array>(fileKey(id, file), db);
      if (!bytes) throw new BadArtifactError(`${id}${file} is not in the cache`);
      return new TextDecoder().decode(bytes);
    },
    async bytes(file) {
      const bytes = (await get<Uint8Array>(shardKey(id, file), db)) ?? (await get<Uint8Array>(fileKey(id, file), db));
      if (!bytes) throw new BadArtifactError(`${id}${file} is not in the cache`);
      return bytes;
    },
  };
}
