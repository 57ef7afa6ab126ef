/**
 * webchuan: Baichuan-7B (and LLaMA-family models of its shape) on WebGPU, with our own WGSL kernels.
 * This entry point is the engine core; it runs wherever it is handed a GPUDevice (page, worker, Node).
 */
export { BAICHUAN_7B, validateConfig, type ModelConfig, type ModelType } from './model/config.js';
export { QUANTIZATIONS, type Quantization } from './model/quant.js';
export {
  openArtifact,
  readTensors,
  type ArtifactInfo,
  type ArtifactSource,
  type ChatConfigJson,
  type TensorCacheJson,
} from './model/artifact.js';
export { requestModelDevice, GpuLimitsError } from './gpu/device.js';
export { loadModel, type LoadedModel } from './engine/model.js';
export { ForwardPass, type ForwardOptions, type StepOutput } from './engine/forward.js';
export { generateGreedy, type GreedyOptions, type GreedyResult } from './engine/generate.js';
export { TextTokenizer, StreamingDetokenizer, type TokenizerLibrary } from './tokenizer/tokenizer.js';
export { httpSource } from './store/http-source.js';
export { generate, type GenerateOptions, type GenerateResult } from './engine/generate.js';
export { type SamplingParams } from './engine/sampler.js';
export { createEngine, Engine, type CreateEngineOptions } from './client/engine.js';
export { defaultChatTemplate, type ChatTemplate } from './client/chat-template.js';
export type * from './client/protocol.js';
export * from './errors.js';
export { downloadModel, listCachedModels, isModelCached, deleteModel, deleteAllModels, cachedArtifactSource, type CachedModelSummary } from './store/cache.js';
export { type DownloadProgress } from './store/progress.js';
