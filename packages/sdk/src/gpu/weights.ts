/**
 * The model's parameters in GPU buffers. Uploads stream tensor by tensor as they come out of the
 * artifact's shards: each tensor goes to the GPU through queue.writeBuffer (which copies it into the
 * driver's staging memory at once, so the caller's bytes can be dropped), and every few tens of MB
 * the upload waits for the GPU to drain those staging copies — so neither JS nor the driver ever
 * holds a second copy of the whole model. Out-of-memory and validation errors during the upload
 * are caught with error scopes and become GpuUploadError, with everything uploaded so far freed.
 */
import type { ModelConfig } from '../model/config.js';
import { paramSpecs, quantizedNames, type ParamSpec } from '../model/params.js';
import { asFloat32, type NamedTensor } from '../model/artifact.js';
import { groupsPerRow, isQuantized, wordsPerRow, type Quantization } from '../model/quant.js';
import { align4, storageBuffer, uniformBuffer } from './buffers.js';
import { KernelCache } from './kernel.js';
import { fillArgs, fillRandom } from './kernels/bench.js';
import type { WeightFormat } from './kernels/formats.js';

/** A [rows, cols] weight matrix on the GPU. `scales` is present for the 4-bit formats. */
export interface GpuMatrix {
  name: string;
  format: WeightFormat;
  rows: number;
  cols: number;
  weights: GPUBuffer;
  scales?: GPUBuffer;
}

/** The GPU ran out of memory or rejected a buffer while the weights were uploading. */
export class GpuUploadError extends Error {
  override name = 'GpuUploadError';
  constructor(
    readonly kind: 'out-of-memory' | 'validation',
    message: string,
  ) {
    super(kind === 'out-of-memory' ? `The GPU ran out of memory while loading the model: ${message}` : `The GPU rejected the model's weights: ${message}`);
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Bytes uploaded between two waits for the GPU to release its staging copies. */
const FLUSH_BYTES = 32 * 1024 * 1024;
/** Largest single writeBuffer: the staging copy the driver makes of it. */
const UPLOAD_SLICE = 16 * 1024 * 1024;

export class GpuWeights {
  readonly matrices = new Map<string, GpuMatrix>();
  readonly vectors = new Map<string, GPUBuffer>();
  /** Bytes of GPU memory the weights occupy. */
  bytes = 0;
  /** Every buffer created, including halves of a quantized pair still waiting for the other. */
  private readonly owned: GPUBuffer[] = [];
  private unflushed = 0;

  private constructor(private readonly device: GPUDevice) {}

  /**
   * Uploads every tensor the config needs from `tensors`, checking names and shapes against the
   * config; throws naming the first tensor that is missing, unexpected or of the wrong shape, or
   * GpuUploadError when the GPU fails. Nothing stays allocated after a failure.
   */
  static async upload(device: GPUDevice, config: ModelConfig, tensors: AsyncIterable<NamedTensor>): Promise<GpuWeights> {
    return GpuWeights.guarded(device, (weights) => weights.fill(config, tensors));
  }

  /**
   * Weights of `config`'s shape filled with pseudo-random values straight in GPU memory (for the
   * benchmark: a 3.9 GB Baichuan-7B shape without a file or a CPU copy). 4-bit codes are uniform,
   * scales uniform in [0.5, 1.5]·scaleMagnitude, norm weights 1.
   */
  static async random(device: GPUDevice, config: ModelConfig, quantization: Quantization, seed: number): Promise<GpuWeights> {
    return GpuWeights.guarded(device, async (weights) => {
      const kernels = new KernelCache(device);
      const args = uniformBuffer(device, 8, 'fill args');
      let n = 0;
      const fill = (buffer: GPUBuffer, mode: 'bits' | 'f16' | 'f32', lo: number, hi: number) => {
        const count = buffer.size / 4;
        device.queue.writeBuffer(args, 0, fillArgs(seed + 7919 * n++, count));
        const encoder = device.createCommandEncoder();
        const pass = encoder.beginComputePass();
        kernels.compile(fillRandom, { mode, lo, hi, count }).bind({ out: buffer, args }).encode(pass, { tokens: 0, startPos: 0 });
        pass.end();
        device.queue.submit([encoder.finish()]);
      };
      for (const spec of paramSpecs(config)) {
        if (spec.shape.length === 1) {
          const buffer = weights.own(storageBuffer(device, spec.shape[0]! * 4, spec.name));
          fill(buffer, 'f32', 1, 1);
          weights.vectors.set(spec.name, buffer);
          continue;
        }
        const [rows, cols] = spec.shape as [number, number];
        // Scales so that a row's dot product with a unit-variance input stays O(1).
        const scale = 1 / (4.3 * Math.sqrt(cols));
        if (!isQuantized(quantization)) {
          const buffer = weights.own(storageBuffer(device, rows * cols * 4, spec.name));
          fill(buffer, 'f32', -Math.sqrt(3 / cols), Math.sqrt(3 / cols));
          weights.matrices.set(spec.name, { name: spec.name, format: 'f32', rows, cols, weights: buffer });
          continue;
        }
        const names = quantizedNames(spec.name);
        const q = weights.own(storageBuffer(device, rows * wordsPerRow(cols) * 4, names.qWeight));
        fill(q, 'bits', 0, 0);
        const f16 = quantization === 'q4f16_1';
        const s = weights.own(storageBuffer(device, align4(rows * groupsPerRow(cols) * (f16 ? 2 : 4)), names.qScale));
        fill(s, f16 ? 'f16' : 'f32', 0.5 * scale, 1.5 * scale);
        weights.matrices.set(spec.name, { name: spec.name, format: f16 ? 'q4f16' : 'q4f32', rows, cols, weights: q, scales: s });
        await weights.flushEvery(q.size + s.size);
      }
      await device.queue.onSubmittedWorkDone();
      args.destroy();
    });
  }

  /** Runs `work` on fresh weights inside out-of-memory and validation error scopes. */
  private static async guarded(device: GPUDevice, work: (weights: GpuWeights) => Promise<void>): Promise<GpuWeights> {
    const weights = new GpuWeights(device);
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    let failure: unknown;
    try {
      await work(weights);
    } catch (error) {
      failure = error;
    }
    const validation = await device.popErrorScope();
    const oom = await device.popErrorScope();
    if (failure !== undefined || validation || oom) {
      weights.destroy();
      if (oom) throw new GpuUploadError('out-of-memory', oom.message);
      if (validation) throw new GpuUploadError('validation', validation.message);
      throw failure;
    }
    return weights;
  }

  /** A storage buffer holding `data`, written through the queue (no mapped copy left behind). */
  private async upload(data: ArrayBufferView, label: string): Promise<GPUBuffer> {
    const buffer = this.own(storageBuffer(this.device, data.byteLength, label));
    const bytes = new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
    const whole = bytes.byteLength - (bytes.byteLength % 4);
    // In slices, draining as we go: a 360 MB gate|up matrix never needs 360 MB of staging at once.
    for (let at = 0; at < whole; at += UPLOAD_SLICE) {
      const n = Math.min(UPLOAD_SLICE, whole - at);
      this.device.queue.writeBuffer(buffer, at, bytes, at, n);
      await this.flushEvery(n);
    }
    if (whole < bytes.byteLength) {
      // writeBuffer copies whole 4-byte words; the last odd half-float goes in a padded word.
      const tail = new Uint8Array(4);
      tail.set(bytes.subarray(whole));
      this.device.queue.writeBuffer(buffer, whole, tail);
    }
    return buffer;
  }

  /** Waits for the GPU once every FLUSH_BYTES, so staging copies are freed as the upload goes. */
  private async flushEvery(bytes: number): Promise<void> {
    this.unflushed += bytes;
    if (this.unflushed < FLUSH_BYTES) return;
    this.unflushed = 0;
    await this.device.queue.onSubmittedWorkDone();
  }

  private async fill(config: ModelConfig, tensors: AsyncIterable<NamedTensor>): Promise<void> {
    const specs = new Map(paramSpecs(config).map((s) => [s.name, s]));
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
        const buffer = await this.upload(asFloat32(tensor, record.name), record.name);
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
      const buffer = await this.upload(tensor.data, record.name);
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
    await this.device.queue.onSubmittedWorkDone();
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

  /** Bytes one decode step reads: every matrix and norm once, one row of the embedding (all of it when tied to the classifier). */
  bytesPerToken(embedName: string, vocabSize: number, tied: boolean): number {
    let bytes = 0;
    for (const m of this.matrices.values()) {
      const size = m.weights.size + (m.scales?.size ?? 0);
      bytes += m.name === embedName ? size / vocabSize + (tied ? size : 0) : size;
    }
    for (const v of this.vectors.values()) bytes += v.size;
    return Math.round(bytes);
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
