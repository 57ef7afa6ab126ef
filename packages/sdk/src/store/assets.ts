/**
 * The tokenizer runtime's wasm, fetched once and kept in IndexedDB beside the models, keyed by its
 * SHA-256: later visits compile it from there with zero network, and an upgraded webchuan (a new
 * digest) fetches its own.
 */
import { get, set } from 'idb-keyval';
import { IntegrityError } from '../errors.js';
import { TokenizerRuntime } from '../tokenizer/runtime.js';
import { sentencepieceWasm, type WasmAsset } from '../tokenizer/wasm-asset.js';
import { store } from './db.js';
import { fetchOk } from './responses.js';
import { sha256Hex } from './verify.js';

const assetKey = (asset: WasmAsset) => ['asset', asset.sha256];

/** The bytes of `asset`, from IndexedDB or else fetched, checked against its digest and stored. */
export async function cachedAsset(asset: WasmAsset, fetchImpl: typeof fetch = fetch.bind(globalThis)): Promise<Uint8Array> {
  const db = store();
  const cached = await get<Uint8Array>(assetKey(asset), db);
  if (cached && cached.byteLength === asset.bytes) return cached;
  const bytes = new Uint8Array(await (await fetchOk(fetchImpl, asset.url)).arrayBuffer());
  if (bytes.byteLength !== asset.bytes || (await sha256Hex(bytes)) !== asset.sha256) throw new IntegrityError(asset.url, 1);
  // Storing is an optimisation: a full disk costs the next visit a download, not this one its tokenizer.
  await set(assetKey(asset), bytes, db).catch(() => undefined);
  return bytes;
}

export async function loadTokenizerRuntime(): Promise<TokenizerRuntime> {
  return TokenizerRuntime.compile(await cachedAsset(sentencepieceWasm()));
}
