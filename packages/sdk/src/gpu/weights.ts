/**
 * The model's parameters in GPU buffers. Uploads stream tensor by tensor as they come out of the
 * artifact's shards: each tensor goes to the GPU through queue.writeBuffer (which copies it into the
 * driver's staging memory at once, so the caller's bytes can be dropped), and every few tens of MB
 * the upload waits for the GPU to drain those staging copies — so neither JS nor the driver ever
 * holds a second copy of the whole model. Out-of-memory and validation errors during the upload
 * are caught with error scopes and become GpuUploadError, with everything uploaded so far freed.
 *
 * A matrix larger than the device binds at once (maxStorageBufferBindingSize: 128 MiB on many phones
 * and on Mesa's lavapipe, where a float32 Baichuan-7B embedding is 1 GB) is held as bands of rows,
 * each in its own buffers (limits.ts splitRows); the forward pass dispatches its kernels once per band.
 */
import type { ModelConfig } from '../model/config.js';
import { paramSpecs, quantizedNames, type ParamSpec } from '../model/params.js';
import { asFloat32, type NamedTensor } from '../model/artifact.js';
import { groupsPerRow, isQuantized, wordsPerRow, type Quantization } from '../model/quant.js';
import { align4, storageBuffer, uniformBuffer } from './buffers.js';
import { KernelCache } from './kernel.js';
import { matrixRowBytes, splitRows, type RowBand } from './limits.js';
import { fillArgs, fillRandom } from './kernels/bench.js';
import type { WeightFormat } from './kernels/formats.js';

/** Rows row0 … row0 + rows − 1 of a matrix in their own buffers. `scales` is present for the 4-bit formats. */
export interface GpuMatrixBand extends RowBand {
  weights: GPUBuffer;
  scales?: GPUBuffer;
}

/** A [rows, cols] weight matrix on the GPU: one band, or several where the device cannot bind it whole. */
export interface GpuMatrix {
  name: string;
  format: WeightFormat;
  rows: number;
  cols: number;
  bands: GpuMatrixBand[];
}

export interface WeightOptions {
  /**
   * Most bytes one buffer of a matrix may hold (default: what the device binds at once, the lesser of
   * maxStorageBufferBindingSize and maxBufferSize). Tests set it low to split tiny models.
   */
  maxBindingBytes?: number;
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
  /** Most bytes in one buffer of a matrix. */
  private readonly maxBytes: number;

  private constructor(
    private readonly device: GPUDevice,
    options: WeightOptions,
  ) {
    this.maxBytes = Math.min(options.maxBindingBytes ?? Infinity, device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
  }

  /** The bands a [rows, cols] matrix is held in, by the row bytes of its widest buffer. */
  private bandsOf(rows: number, cols: number, storage: 'f32' | 'q4'): RowBand[] {
    return splitRows(rows, matrixRowBytes(storage, cols), this.maxBytes);
  }

  /**
   * Uploads every tensor the config needs from `tensors`, checking names and shapes against the
   * config; throws naming the first tensor that is missing, unexpected or of the wrong shape, or
   * GpuUploadError when the GPU fails. Nothing stays allocated after a failure.
   */
  static async upload(device: GPUDevice, config: ModelConfig, tensors: AsyncIterable<NamedTensor>, options: WeightOptions = {}): Promise<GpuWeights> {
    return GpuWeights.guarded(device, options, (weights) => weights.fill(config, tensors));
  }

  /**
   * Weights of `config`'s shape filled with pseudo-random values straight in GPU memory (for the
   * benchmark: a 3.9 GB Baichuan-7B shape without a file or a CPU copy). 4-bit codes are uniform,
   * scales uniform in [0.5, 1.5]·scaleMagnitude, norm weights 1.
   */
  static async random(device: GPUDevice, config: ModelConfig, quantization: Quantization, seed: number, options: WeightOptions = {}): Promise<GpuWeights> {
    return GpuWeights.guarded(device, options, async (weights) => {
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
          const bands = weights.bandsOf(rows, cols, 'f32').map((band) => {
            const buffer = weights.own(storageBuffer(device, band.rows * cols * 4, bandLabel(spec.name, band, rows)));
            fill(buffer, 'f32', -Math.sqrt(3 / cols), Math.sqrt(3 / cols));
            return { ...band, weights: buffer };
          });
          weights.matrices.set(spec.name, { name: spec.name, format: 'f32', rows, cols, bands });
          await weights.flushEvery(rows * cols * 4);
          continue;
        }
        const names = quantizedNames(spec.name);
        const f16 = quantization === 'q4f16_1';
        const bands = weights.bandsOf(rows, cols, 'q4').map((band) => {
          const q = weights.own(storageBuffer(device, band.rows * wordsPerRow(cols) * 4, bandLabel(names.qWeight, band, rows)));
          fill(q, 'bits', 0, 0);
          const s = weights.own(storageBuffer(device, align4(band.rows * groupsPerRow(cols) * (f16 ? 2 : 4)), bandLabel(names.qScale, band, rows)));
          fill(s, f16 ? 'f16' : 'f32', 0.5 * scale, 1.5 * scale);
          return { ...band, weights: q, scales: s };
        });
        weights.matrices.set(spec.name, { name: spec.name, format: f16 ? 'q4f16' : 'q4f32', rows, cols, bands });
        await weights.flushEvery(bands.reduce((n, b) => n + b.weights.size + b.scales.size, 0));
      }
      await device.queue.onSubmittedWorkDone();
      args.destroy();
    });
  }

  /** Runs `work` on fresh weights inside out-of-memory and validation error scopes. */
  private static async guarded(device: GPUDevice, options: WeightOptions, work: (weights: GpuWeights) => Promise<void>): Promise<GpuWeights> {
    const weights = new GpuWeights(device, options);
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
    const pending = new Map<string, Partial<Record<'q_weight' | 'q_scale', { buffers: GPUBuffer[]; dtype: string }>>>();
    for await (const { record, tensor } of tensors) {
      const target = byStoredName.get(record.name);
      if (!target) throw new Error(`artifact: unexpected tensor ${record.name} for a ${config.modelType} model`);
      const { spec, part } = target;
      if (part === 'weight') {
        if (!sameShape(record.shape, spec.shape)) {
          throw new Error(`artifact: ${record.name} has shape [${record.shape}], the config needs [${spec.shape}]`);
        }
        const values = asFloat32(tensor, record.name);
        if (spec.shape.length === 1) {
          this.vectors.set(spec.name, await this.upload(values, record.name));
          continue;
        }
        const [rows, cols] = spec.shape as [number, number];
        const bands: GpuMatrixBand[] = [];
        for (const band of this.bandsOf(rows, cols, 'f32')) {
          bands.push({ ...band, weights: await this.upload(rowsOf(values, band, cols * 4), bandLabel(record.name, band, rows)) });
        }
        this.matrices.set(spec.name, { name: spec.name, format: 'f32', rows, cols, bands });
        continue;
      }
      const [rows, cols] = spec.shape as [number, number];
      const expected = part === 'q_weight' ? [rows, wordsPerRow(cols)] : [rows, groupsPerRow(cols)];
      if (!sameShape(record.shape, expected)) {
        throw new Error(`artifact: ${record.name} has shape [${record.shape}], the config needs [${expected}]`);
      }
      if (part === 'q_weight' && tensor.dtype !== 'uint32') throw new Error(`artifact: ${record.name} must be uint32, found ${record.dtype}`);
      if (part === 'q_scale' && tensor.dtype === 'uint32') throw new Error(`artifact: ${record.name} must be float16 or float32`);
      // Codes and scales split at the same rows, chosen by the codes' (wider) rows.
      const bands = this.bandsOf(rows, cols, 'q4');
      const rowBytes = tensor.data.byteLength / rows;
      const buffers: GPUBuffer[] = [];
      for (const band of bands) buffers.push(await this.upload(rowsOf(tensor.data, band, rowBytes), bandLabel(record.name, band, rows)));
      const parts = pending.get(spec.name) ?? {};
      parts[part] = { buffers, dtype: tensor.dtype };
      pending.set(spec.name, parts);
      if (parts.q_weight && parts.q_scale) {
        const { q_weight: q, q_scale: s } = parts;
        this.matrices.set(spec.name, {
          name: spec.name,
          format: s.dtype === 'float16' ? 'q4f16' : 'q4f32',
          rows,
          cols,
          bands: bands.map((band, i) => ({ ...band, weights: q.buffers[i]!, scales: s.buffers[i]! })),
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
      const size = m.bands.reduce((n, b) => n + b.weights.size + (b.scales?.size ?? 0), 0);
      bytes += m.name === embedName ? size / vocabSize + (tied ? size : 0) : size;
    }
    for (const v of this.vectors.values()) bytes += v.size;
    return Math.round(bytes);
  }

  /** How many of the matrices are split into more than one band. */
  get splitMatrices(): GpuMatrix[] {
    return [...this.matrices.values()].filter((m) => m.bands.length > 1);
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

/** The bytes of `band`'s rows of a row-major tensor with `rowBytes` per row. */
function rowsOf(data: ArrayBufferView, band: RowBand, rowBytes: number): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset + band.row0 * rowBytes, band.rows * rowBytes);
}

/** A buffer's label: the tensor's name, with its rows when it holds a band of them. */
function bandLabel(name: string, band: RowBand, rows: number): string {
  return band.rows === rows ? name : `${name} [rows ${band.row0}..${band.row0 + band.rows - 1}]`;
}
