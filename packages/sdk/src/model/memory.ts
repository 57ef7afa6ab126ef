/** What a model costs: artifact bytes on disk/in the cache, and GPU memory once loaded. */
import { qkvSize, type ModelConfig } from './config.js';
import { paramLayout } from './encode.js';
import { paramSpecs } from './params.js';
import { defaultKvDtype, type Quantization } from './quant.js';

/** Bytes of all shards of the artifact (exactly what the converter writes). */
export function artifactShardBytes(config: ModelConfig, quantization: Quantization): number {
  return paramSpecs(config).reduce((n, spec) => {
    const layout = paramLayout(spec, quantization);
    return n + layout.main.nbytes + (layout.scales?.nbytes ?? 0);
  }, 0);
}

/**
 * GPU memory after loading: the weights (norm vectors widen to float32), the KV cache
 * (2 · layers · context · KV width, half floats for q4f16_1), activations for one prefill batch, and RoPE tables.
 */
export function gpuMemoryBytes(config: ModelConfig, quantization: Quantization, contextWindow = config.contextWindow, maxBatchTokens = 512): number {
  const c = config;
  const weights = paramSpecs(c).reduce((n, spec) => {
    const layout = paramLayout(spec, quantization);
    const main = spec.quantizable ? layout.main.nbytes : spec.shape.reduce((a, b) => a * b, 1) * 4;
    return n + main + (layout.scales?.nbytes ?? 0);
  }, 0);
  const kv = 2 * c.numLayers * contextWindow * c.numKvHeads * c.headDim * (defaultKvDtype(quantization) === 'f16' ? 2 : 4);
  const T = Math.min(maxBatchTokens, contextWindow);
  const activations = 4 * (T * (2 * c.hiddenSize + qkvSize(c) + 2 * c.numHeads * c.headDim + 3 * c.intermediateSize) + 2 * c.vocabSize);
  const rope = 4 * contextWindow * c.headDim;
  return weights + kv + activations + rope;
}
