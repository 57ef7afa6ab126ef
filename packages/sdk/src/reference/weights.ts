/** Gathers an artifact's tensors as float32 matrices for the CPU reference, dequantizing 4-bit ones. */
import { asFloat32, type NamedTensor } from '../model/artifact.js';
import type { ModelConfig } from '../model/config.js';
import { paramSpecs, quantizedNames } from '../model/params.js';
import { dequantizeQ4 } from '../model/quant.js';
import type { ReferenceWeights } from './model.js';

export async function collectReferenceWeights(config: ModelConfig, tensors: AsyncIterable<NamedTensor>): Promise<ReferenceWeights> {
  const byName = new Map<string, NamedTensor>();
  for await (const t of tensors) byName.set(t.record.name, t);
  const weights: ReferenceWeights = new Map();
  for (const spec of paramSpecs(config)) {
    const dense = byName.get(spec.name);
    if (dense) {
      weights.set(spec.name, asFloat32(dense.tensor, spec.name));
      continue;
    }
    const names = quantizedNames(spec.name);
    const q = byName.get(names.qWeight);
    const s = byName.get(names.qScale);
    if (!q || !s || q.tensor.dtype !== 'uint32') throw new Error(`reference: tensor ${spec.name} is missing`);
    const [rows, cols] = spec.shape as [number, number];
    const scales = asFloat32(s.tensor, names.qScale);
    weights.set(
      spec.name,
      dequantizeQ4({ rows, cols, qWeight: q.tensor.data, scales, scaleDtype: s.tensor.dtype === 'float16' ? 'float16' : 'float32' }),
    );
  }
  return weights;
}
