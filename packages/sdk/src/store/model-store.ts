/**
 * The IndexedDB model cache as a worker's hub lists and deletes models: the store of both webchuan
 * engines (WebGPU and CPU), which load the same artifacts from the same cache entries.
 */
import type { ModelStore } from '../worker/worker-engine.js';
import { deleteAllModels, deleteModel, downloadModel, isModelCached, listCachedModels } from './cache.js';

export const artifactStore: ModelStore = {
  list: listCachedModels,
  has: isModelCached,
  delete: deleteModel,
  clear: deleteAllModels,
  prefetch: async (id, onProgress) => void (await downloadModel(id, { onProgress })),
};
