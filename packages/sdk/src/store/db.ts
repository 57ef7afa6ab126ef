/**
 * The IndexedDB side of the model cache: keys, and writes that a deletion always wins against.
 *
 * Keys: ['model', id] → CachedModel; ['file', id, name] → a small file's bytes; ['shard', id,
 * dataPath] → a verified shard; ['partial', id, dataPath] → the bytes of a cut-off shard;
 * ['generation', id] and ['generation', '*'] → counters that deleting a model (or all models) bumps.
 *
 * A download reads the generations when it starts and every one of its writes runs in a transaction
 * that first checks them: once a model is deleted, a download still in flight can write nothing
 * more (it stops with AbortError), so a deletion never leaves a half-rebuilt record behind.
 */
import { createStore, get, type UseStore } from 'idb-keyval';

export type ModelKeyKind = 'model' | 'file' | 'shard' | 'partial';
const KINDS: ModelKeyKind[] = ['model', 'file', 'shard', 'partial'];

export const modelKey = (id: string) => ['model', id];
export const fileKey = (id: string, name: string) => ['file', id, name];
export const shardKey = (id: string, dataPath: string) => ['shard', id, dataPath];
export const partialKey = (id: string, dataPath: string) => ['partial', id, dataPath];
const generationKey = (id: string) => ['generation', id];
const ALL = '*';

let defaultStore: UseStore | undefined;
export function store(): UseStore {
  defaultStore ??= createStore('webchuan', 'artifacts');
  return defaultStore;
}

/** Every key of one kind for one model: arrays sort after strings, so [kind, id, []] bounds them all. */
const rangeOf = (kind: ModelKeyKind, id: string) => IDBKeyRange.bound([kind, id], [kind, id, []]);

/** The counters a download must still see for its writes to count. */
export interface Generation {
  model: number;
  all: number;
}

export async function readGeneration(id: string): Promise<Generation> {
  const [model, all] = await Promise.all([get<number>(generationKey(id), store()), get<number>(generationKey(ALL), store())]);
  return { model: model ?? 0, all: all ?? 0 };
}

/** Resolves when the transaction commits; rejects with its error (a QuotaExceededError, say). */
function committed(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = tx.onerror = () => reject(tx.error ?? new DOMException('transaction aborted', 'AbortError'));
  });
}

/** What a guarded write does, all in one transaction. */
export interface Writes {
  put?: [IDBValidKey, unknown][];
  delete?: IDBValidKey[];
  /** Remove every key of the model (but not its generation). */
  purge?: boolean;
}

/**
 * Applies `writes` for model `id` only if neither the model nor the whole cache was deleted since
 * `generation` was read. Returns false (and writes nothing) when it was.
 */
export function writeIfCurrent(id: string, generation: Generation, writes: Writes): Promise<boolean> {
  return store()('readwrite', async (s) => {
    const done = committed(s.transaction);
    const model = s.get(generationKey(id));
    const all = s.get(generationKey(ALL));
    let current = false;
    // Requests complete in order: when the second one succeeds, both results are there.
    all.onsuccess = () => {
      current = (model.result ?? 0) === generation.model && (all.result ?? 0) === generation.all;
      if (!current) return;
      if (writes.purge) for (const kind of KINDS) s.delete(rangeOf(kind, id));
      for (const key of writes.delete ?? []) s.delete(key);
      for (const [key, value] of writes.put ?? []) s.put(value, key);
    };
    await done;
    return current;
  });
}

/** Deletes a model and bumps its generation, in one transaction: a download in flight writes nothing more. */
export function deleteModelKeys(id: string): Promise<void> {
  return store()('readwrite', async (s) => {
    const done = committed(s.transaction);
    const gen = s.get(generationKey(id));
    gen.onsuccess = () => s.put(((gen.result as number | undefined) ?? 0) + 1, generationKey(id));
    for (const kind of KINDS) s.delete(rangeOf(kind, id));
    await done;
  });
}

/** Deletes every model (not the tokenizer runtime) and bumps the cache-wide generation. */
export function deleteAllModelKeys(): Promise<void> {
  return store()('readwrite', async (s) => {
    const done = committed(s.transaction);
    const gen = s.get(generationKey(ALL));
    gen.onsuccess = () => s.put(((gen.result as number | undefined) ?? 0) + 1, generationKey(ALL));
    for (const kind of KINDS) s.delete(IDBKeyRange.bound([kind], [kind, []]));
    await done;
  });
}

/** The keys of one kind stored for a model. */
export function keysOf(kind: ModelKeyKind, id: string): Promise<IDBValidKey[]> {
  return store()('readonly', async (s) => {
    const request = s.getAllKeys(rangeOf(kind, id));
    return new Promise<IDBValidKey[]>((resolve, reject) => {
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  });
}

/** Ids of every model with a record. */
export function modelIds(): Promise<string[]> {
  return store()('readonly', async (s) => {
    const request = s.getAllKeys(IDBKeyRange.bound(['model'], ['model', []]));
    return new Promise<string[]>((resolve, reject) => {
      request.onsuccess = () => resolve(request.result.map((k) => (k as string[])[1]!));
      request.onerror = () => reject(request.error);
    });
  });
}
