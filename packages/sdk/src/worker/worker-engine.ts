/**
 * What a worker's EngineHub hosts, whatever runs the model: our own WebGPU engine (ModelEngine) or
 * WebLLM's compiled model libraries (webllm/webllm-engine.ts). One engine per model; every call names
 * its request, so a hub can queue, cancel and route without knowing which engine it holds.
 */
import type { Completion, LoadOptions, ModelInfo, WorkerChatRequest, WorkerCompletionRequest, WorkerDelta } from '../client/protocol.js';
import type { CachedModelSummary } from '../store/cache.js';
import type { DownloadProgress } from '../store/progress.js';

export interface WorkerEngine {
  /** Downloads (or finds in the cache) and loads the model; joins a load already under way. */
  load(options: LoadOptions, onProgress?: (p: DownloadProgress) => void): Promise<ModelInfo>;
  /** Runs a completion (all its choices); `onDelta` receives each piece of text as it is decoded. */
  complete(request: WorkerCompletionRequest, onDelta?: (delta: WorkerDelta) => void): Promise<Completion>;
  /**
   * Chat through the model's own conversation template (an MLC model's `conv_template`). Absent
   * where the page turns messages into a prompt itself (webchuan's engine: `chatTemplate`).
   */
  chat?(request: WorkerChatRequest, onDelta?: (delta: WorkerDelta) => void): Promise<Completion>;
  /** Cancels a request, queued or running; a running one stops before its next token. */
  cancel(requestId: string): void;
  encodeText(text: string): Promise<number[]>;
  decodeIds(ids: number[]): Promise<string>;
  /** Frees the model's GPU memory (its download stays cached). */
  unload(): Promise<void>;
  /** Destroys the GPU device, as a driver reset would. For tests. */
  loseDevice(): void;
}

/** Where an engine kind keeps downloaded models, as a page lists and deletes them. */
export interface ModelStore {
  list(): Promise<CachedModelSummary[]>;
  has(id: string): Promise<boolean>;
  delete(id: string): Promise<void>;
  clear(): Promise<void>;
  /** Downloads into the cache without loading onto the GPU. */
  prefetch(id: string, onProgress?: (p: DownloadProgress) => void): Promise<void>;
}

/** What a worker entry gives its hub: how to make an engine for a model, and where models are kept. */
export interface EngineBackend {
  engine(id: string): WorkerEngine;
  store: ModelStore;
}
