/**
 * The worker of webchuan's own engine (dist/engine-worker.js), for both kinds of worker: models run
 * on our WebGPU kernels and are kept in our IndexedDB store.
 */
import { artifactStore } from '../store/model-store.js';
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
const hub = new EngineHub({ engine: (id) => new ModelEngine(id, host), store: artifactStore });
serve(hub);
