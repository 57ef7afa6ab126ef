/**
 * What the engine asks of a GPU for an artifact, from its `mlc-chat-config.json` alone: the one
 * place that decides the batch size and context window a load uses, so the worker's check before a
 * download and a page's "can this device run it?" compute the very same requirements.
 */
import { checkAdapter, modelGpuRequirements, type AdapterCapabilities, type AdapterFit, type ModelGpuRequirements } from '../gpu/limits.js';
import { parseChatConfig, type ArtifactInfo, type ChatConfigJson } from '../model/artifact.js';

/** Most prompt tokens run in one batch (longer prompts run in chunks): sizes the activation buffers. */
export const MAX_BATCH_TOKENS = 512;

export function engineRequirements(info: ArtifactInfo, contextWindow?: number): ModelGpuRequirements {
  return modelGpuRequirements(info.config, info.quantization, {
    contextWindow,
    maxBatchTokens: Math.min(MAX_BATCH_TOKENS, info.prefillChunkSize),
  });
}

/** Whether the engine can load an artifact described by `chatConfig` on `adapter`, and what it needs. */
export function engineFit(chatConfig: ChatConfigJson, adapter: AdapterCapabilities, contextWindow?: number): { needs: ModelGpuRequirements; fit: AdapterFit } {
  const needs = engineRequirements(parseChatConfig(chatConfig), contextWindow);
  return { needs, fit: checkAdapter(needs, adapter) };
}
