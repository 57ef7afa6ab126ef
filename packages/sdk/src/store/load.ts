/** Download (or find in the cache) an artifact, then stream it shard by shard from IndexedDB to the GPU. */
import { loadModel, type LoadedModel, type LoadModelOptions } from '../engine/model.js';
import { cachedArtifactSource, downloadModel, type DownloadOptions } from './cache.js';

export async function loadCachedModel(device: GPUDevice, url: string, options: DownloadOptions & LoadModelOptions = {}): Promise<LoadedModel> {
  await downloadModel(url, options);
  return loadModel(device, cachedArtifactSource(url), options);
}
