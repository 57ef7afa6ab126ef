/** A model ready to run: its artifact's metadata, its weights on the GPU and a forward pass. */
import { openArtifact, readTensors, type ArtifactInfo, type ArtifactSource, type NamedTensor } from '../model/artifact.js';
import { GpuWeights, type WeightOptions } from '../gpu/weights.js';
import { defaultKvDtype } from '../model/quant.js';
import { ForwardPass, type ForwardOptions } from './forward.js';

export interface LoadedModel {
  info: ArtifactInfo;
  weights: GpuWeights;
  forward: ForwardPass;
  dispose(): void;
}

/** Uploads an artifact's weights to `device` and prepares the forward pass. */
export async function loadModel(
  device: GPUDevice,
  source: ArtifactSource,
  options: ForwardOptions & WeightOptions & { tensors?: AsyncIterable<NamedTensor> } = {},
): Promise<LoadedModel> {
  const { info, cache } = await openArtifact(source);
  const weights = await GpuWeights.upload(device, info.config, options.tensors ?? readTensors(source, cache), { maxBindingBytes: options.maxBindingBytes });
  const forward = new ForwardPass(device, info.config, weights, {
    maxBatchTokens: Math.min(options.maxBatchTokens ?? 512, info.prefillChunkSize),
    kvDtype: defaultKvDtype(info.quantization),
    ...options,
  });
  return {
    info,
    weights,
    forward,
    dispose() {
      forward.destroy();
      weights.destroy();
    },
  };
}
