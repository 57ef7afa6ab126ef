/**
 * webchuan: Baichuan-7B (and LLaMA-family models of its shape) in the browser, on the user's GPU.
 * `createEngine()` starts the engine in a worker and returns an OpenAI-style API; the elements live
 * in `webchuan/elements`. Nothing here needs WebGPU types or a build step of the page's own.
 */
export { createEngine, Engine, type CreateEngineOptions } from './client/engine.js';
export { defaultChatTemplate, toolInstructions, type ChatTemplate } from './client/chat-template.js';
export type { ToolOffer } from './client/tools.js';
// WebLLM's public surface, under WebLLM's names: `import * as webllm from 'webchuan'` runs WebLLM code.
export {
  CreateMLCEngine,
  CreateServiceWorkerMLCEngine,
  CreateWebWorkerMLCEngine,
  deleteChatConfigInCache,
  deleteModelAllInfoInCache,
  deleteModelInCache,
  deleteModelWasmInCache,
  findModelRecord,
  hasModelInCache,
  MLCEngine,
  prebuiltAppConfig,
  WebWorkerMLCEngineHandler,
  WebWorkerMLCEngineHandler as ServiceWorkerMLCEngineHandler,
  type AppConfig,
  type ChatOptions,
  type InitProgressCallback,
  type InitProgressReport,
  type LogLevel,
  type MLCEngineConfig,
  type MLCEngineInterface,
  type ModelRecord,
} from './client/mlc-engine.js';
export type * from './client/protocol.js';
export type { SamplingParams } from './engine/sampler.js';
export * from './errors.js';
export { artifactFileUrl, modelId } from './model/identity.js';
export { deleteAllModels, deleteModel, isModelCached, listCachedModels, type CachedModelSummary } from './store/cache.js';
export type { DownloadProgress } from './store/progress.js';
export {
  checkAdapter,
  gpuMemoryBytes,
  modelGpuRequirements,
  type AdapterCapabilities,
  type AdapterFit,
  type GpuBufferNeed,
  type LimitProblem,
  type ModelGpuRequirements,
  type RequirementOptions,
} from './gpu/limits.js';
export {
  describeDevice,
  deviceVerdict,
  isSoftwareAdapter,
  softwareSecondsPerToken,
  type AdapterFacts,
  type CpuFacts,
  type DeviceFacts,
  type DeviceVerdict,
  type ModelFacts,
} from './engine/device-fit.js';
export { cpuCapabilities, type CpuCapabilities } from './cpu/capabilities.js';
export { probeCpuBytesPerSecond, cpuSecondsPerToken } from './cpu/probe.js';
export { BAICHUAN_7B, type ModelConfig } from './model/config.js';
export { buildChatConfig, type ChatConfigJson } from './model/artifact.js';
