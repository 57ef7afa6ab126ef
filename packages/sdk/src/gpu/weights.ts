/**
 * The model's parameters in GPU buffers, uploaded tensor by tensor as they stream out of the
 * artifact's shards (so the whole model never sits in JS memory at once).
 */
import type { ModelConfig } from '../model/config.js';
import { paramSpecs, quantizedNames, type ParamSpec } from '../model/params.js';
import { asFloat32, type NamedTensor } from '../model/artifact.js';
import { groupsPerRow, wordsPerRow } from '../model/quant.js';
import { storageBufferWith } from './buffers.js';
import type { WeightFormat } from './shaders.js';

/** A [rows, cols] weight matrix on the GPU. `scales` is present for the 4-bit formats. */
export interface GpuMatrix {
  name: string;
  format: WeightFormat;
  rows: number;
  cols: number;
  weights: GPUBuffer;
  scales?: GPUBuffer;
}

/** WGSL override constants that a weight format snippet declares for a matrix. */
export function weightConstants(m: Pick<GpuMatrix, 'format' | 'cols'>): Record<string, number> {
  return m.format === 'f32'
    ? { W_WORDS: Math.ceil(m.cols / 8), W_COLS: m.cols }
    : { W_WORDS: wordsPerRow(m.cols), W_GROUPS: groupsPerRow(m.cols) };
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

export class GpuWeights {
  readonly matrices = new Map<string, GpuMatrix>();
  readonly vectors = new Map<string, GPUBuffer>();
  /** Bytes of GPU memory the weights occupy. */
  bytes = 0;
  /** Every buffer created, including halves of a quantized pair still waiting for the other. */
  private readonly owned: GPUBuffer[] = [];

  /**
   * Uploads every tensor the config needs from `tensors`, checking names and shapes against the
   * config; throws naming the first tensor that is missing, unexpected or of the wrong shape.
   */
  static async upload(device: GPUDevice, config: ModelConfig, tensors: AsyncIterable<NamedTensor>): Promise<GpuWeights> {
    const specs = new Map(paramSpecs(config).map((s) => [s.name, s]));
    const weights = new GpuWeights();
    try {
      await weights.fill(device, config, specs, tensors);
    } catch (error) {
      weights.destroy();
      throw error;
    }
    return weights;
  }

  private async fill(device: GPUDevice, config: ModelConfig, specs: Map<string, ParamSpec>, tensors: AsyncIterable<NamedTensor>): Promise<void> {
    const byStoredName = new Map<string, { spec: ParamSpec; part: 'weight' | 'q_weight' | 'q_scale' }>();
    for (const spec of specs.values()) {
      byStoredName.set(spec.name, { spec, part: 'weight' });
      if (spec.quantizable) {
        const q = quantizedNames(spec.name);
        byStoredName.set(q.qWeight, { spec, part: 'q_weight' });
        byStoredName.set(q.qScale, { spec, part: 'q_scale' });
      }
    }
    const pending = new Map<string, Partial<Record<'q_weight' | 'q_scale', { buffer: GPUBuffer; dtype: string }>>>();
    for await (const { record, tensor } of tensors) {
      const target = byStoredName.get(record.name);
      if (!target) throw new Error(`artifact: unexpected tensor ${record.name} for a ${config.modelType} model`);
      const { spec, part } = target;
      if (part === 'weight') {
        if (!sameShape(record.shape, spec.shape)) {
          throw new Error(`artifact: ${record.name} has shape [${record.shape}], the config needs [${spec.shape}]`);
        }
        const buffer = this.own(storageBufferWith(device, asFloat32(tensor, record.name), record.name));
        if (spec.shape.length === 1) this.vectors.set(spec.name, buffer);
        else this.matrices.set(spec.name, { name: spec.name, format: 'f32', rows: spec.shape[0]!, cols: spec.shape[1]!, weights: buffer });
        continue;
      }
      const [rows, cols] = spec.shape as [number, number];
      const expected = part === 'q_weight' ? [rows, wordsPerRow(cols)] : [rows, groupsPerRow(cols)];
      if (!sameShape(record.shape, expected)) {
        throw new Error(`artifact: ${record.name} has shape [${record.shape}], the config needs [${expected}]`);
      }
      if (part === 'q_weight' && tensor.dtype !== 'uint32') throw new Error(`artifact: ${record.name} must be uint32, found ${record.dtype}`);
      if (part === 'q_scale' && tensor.dtype === 'uint32') throw new Error(`artifact: ${record.name} must be float16 or float32`);
      const buffer = this.own(storageBufferWith(device, tensor.data, record.name));
      const parts = pending.get(spec.name) ?? {};
      parts[part] = { buffer, dtype: tensor.dtype };
      pending.set(spec.name, parts);
      if (parts.q_weight && parts.q_scale) {
        this.matrices.set(spec.name, {
          name: spec.name,
          format: parts.q_scale.dtype === 'float16' ? 'q4f16' : 'q4f32',
          rows,
          cols,
          weights: parts.q_weight.buffer,
          scales: parts.q_scale.buffer,
        });
        pending.delete(spec.name);
      }
    }
    for (const spec of specs.values()) {
      if (!this.matrices.has(spec.name) && !this.vectors.has(spec.name)) {
        throw new Error(`artifact: tensor ${spec.name} is missing`);
      }
    }
  }

  matrix(name: string): GpuMatrix {
    const m = this.matrices.get(name);
    if (!m) throw new Error(`weights: no matrix ${name}`);
    return m;
  }

  vector(name: string): GPUBuffer {
    const v = this.vectors.get(name);
    if (!v) throw new Error(`weights: no vector ${name}`);
    return v;
  }

  private own(buffer: GPUBuffer): GPUBuffer {
    this.owned.push(buffer);
    this.bytes += buffer.size;
    return buffer;
  }

  destroy(): void {
    for (const buffer of this.owned) buffer.destroy();
    this.owned.length = 0;
    this.matrices.clear();
    this.vectors.clear();
  }
}
