/** Download (or find in the cache) an artifact, then stream it shard by shard from IndexedDB to the GPU. */
import { loadModel, type LoadedModel } from '../engine/model.js';
import type { ForwardOptions } from '../engine/forward.js';
import { cachedArtifactSource, downloadModel, type DownloadOptions } from './cache.js';

export async function loadCachedModel(device: GPUDevice, url: string, options: DownloadOptions & ForwardOptions = {}): Promise<LoadedModel> {
  await downloadModel(url, options);
  return loadModel(device, cachedArtifactSource(url), options);
}
