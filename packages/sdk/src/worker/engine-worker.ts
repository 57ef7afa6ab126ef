/**
 * The worker of webchuan's own engine (dist/engine-worker.js), for both kinds of worker: models run
 * on our WebGPU kernels and are kept in our IndexedDB store.
 */
import { deleteAllModels, deleteModel, downloadModel, isModelCached, listCachedModels } from '../store/cache.js';
import { installErrorTransfer } from './comlink-errors.js';
import { EngineHub } from './engine-hub.js';
import { ModelEngine, type EngineHost } from './model-engine.js';
import { serve } from './serve.js';
import { grammarRuntime, tokenizerRuntime } from './tokenizer-runtime.js';

installErrorTransfer();

const host: EngineHost = {
  gpu: () => (self.navigator as Navigator & { gpu?: GPU }).gpu,
  tokenizerRuntime,
  grammarRuntime,
};
const hub = new EngineHub({
  engine: (id) => new ModelEngine(id, host),
  store: {
    list: listCachedModels,
    has: isModelCached,
    delete: deleteModel,
    clear: deleteAllModels,
    prefetch: async (id, onProgress) => void (await downloadModel(id, { onProgress })),
  },
});
serve(hub);
