/** What a model costs on disk and in the cache: artifact bytes. */
import type { ModelConfig } from './config.js';
import { paramLayout } from './encode.js';
import { paramSpecs } from './params.js';
import type { Quantization } from './quant.js';

/** Bytes of all shards of the artifact (exactly what the converter writes). */
export function artifactShardBytes(config: ModelConfig, quantization: Quantization): number {
  return paramSpecs(config).reduce((n, spec) => {
    const layout = paramLayout(spec, quantization);
    return n + layout.main.nbytes + (layout.scales?.nbytes ?? 0);
  }, 0);
}

// GPU memory (every buffer the engine allocates) is modelGpuRequirements / gpuMemoryBytes in gpu/limits.ts.
