/**
 * The forward pass of a Baichuan/LLaMA decoder on the GPU. It reads like llama2.c's `forward()`:
 *
 *   x = embed(tokens)
 *   for each layer:
 *     h = rmsnorm(x) → q|k|v = W_pack·h → RoPE(q, k), append k, v to the cache → attention → x += o_proj·a
 *     h = rmsnorm(x) → gate|up = gate_up_proj·h → x += down_proj·(silu(gate) * up)
 *   logits = classifier · rmsnorm(x[last]) → argmax
 *
 * Buffers and bind groups are created once; each step only writes its token ids and a 8-byte uniform
 * (token count, start position), records the dispatches and submits one command buffer.
 */
import { qkvSize, type ModelConfig } from '../model/config.js';
import { classifierName, EMBED_NAME, FINAL_NORM_NAME, layerParamNames } from '../model/params.js';
import { ropeTables } from '../model/rope.js';
import { readbackBuffer, storageBuffer, storageBufferWith, uniformBuffer } from '../gpu/buffers.js';
import { grid1D, KernelCache, type BindingShape, type CompiledKernel } from '../gpu/kernel-cache.js';
import { KERNELS, KV_FORMAT_WGSL, WEIGHT_FORMAT_WGSL, type KvDtype } from '../gpu/shaders.js';
import { weightConstants, type GpuMatrix, type GpuWeights } from '../gpu/weights.js';
import type { SamplingParams, TokenAdjustment } from './sampler.js';

/** Bindings: 0 input, 1 output, 2 weights, 3 scales (4-bit only), 4 step uniform. */
const WEIGHTED: BindingShape = { 0: 'read', 1: 'write', 2: 'read', 3: 'read', 4: 'uniform' };
const WEIGHTED_F32: BindingShape = { 0: 'read', 1: 'write', 2: 'read', 4: 'uniform' };
const NORM: BindingShape = { 0: 'read', 1: 'write', 2: 'read' };
const ROPE: BindingShape = { 0: 'read', 1: 'write', 2: 'write', 3: 'write', 4: 'uniform', 5: 'read', 6: 'read' };
const ATTENTION: BindingShape = { 0: 'read', 1: 'write', 2: 'read', 3: 'read', 4: 'uniform' };
const ELEMENTWISE: BindingShape = { 0: 'read', 1: 'write', 4: 'uniform' };
const ARGMAX: BindingShape = { 0: 'read', 1: 'write' };

const THREADS = 64;
/** Output rows per matvec workgroup (ROWS in matvec.wgsl). */
const MATVEC_ROWS = 4;

export interface ForwardOptions {
  /** KV cache length in tokens; at most the model's context window (default: all of it). */
  contextWindow?: number;
  /** KV cache precision (default f32; loadModel picks f16 for q4f16_1 models). */
  kvDtype?: KvDtype;
  /** Most prompt tokens run in one batch; longer prompts run in chunks (default 512). */
  maxBatchTokens?: number;
}

/** What a step reads back: the greedy next token, the last position's logits, or every position's. */
export type StepOutput = 'argmax' | 'logits' | 'all-logits';

/** Penalties and biases applied to the last position's logits on the GPU, before argmax or readback. */
export interface LogitAdjustments {
  list: readonly TokenAdjustment[];
  params: SamplingParams;
}

/** Most tokens the batched matvec takes (TMAX in matvec_batch.wgsl); longer batches use tiles. */
const SMALL_BATCH = 8;
/** Output rows per batched-matvec workgroup (ROWS in matvec_batch.wgsl). */
const BATCH_ROWS = 2;

/**
 * y = W·x through one bind group, by batch size: matvec for one token (decode), the batched matvec
 * for 2–8 (short prefills), tiled matmul beyond.
 */
class Linear {
  private readonly rows: number;
  private readonly matvec: CompiledKernel;
  private readonly matvecBatch: CompiledKernel;
  private readonly matmul: CompiledKernel;
  private readonly bindGroup: GPUBindGroup;

  constructor(kernels: KernelCache, w: GpuMatrix, x: GPUBuffer, y: GPUBuffer, step: GPUBuffer, accumulate: boolean) {
    const shape = w.scales ? WEIGHTED : WEIGHTED_F32;
    const format = weightConstants(w);
    const constants = { ...format, K: w.cols, N: w.rows, ACCUMULATE: accumulate ? 1 : 0 };
    const prefix = WEIGHT_FORMAT_WGSL[w.format];
    // Narrow rows (tiny models) get narrow workgroups rather than threads with nothing to do.
    const words = format['W_WORDS']!;
    const threads = Math.min(64, Math.max(8, 2 ** Math.ceil(Math.log2(words))));
    this.matvec = kernels.get(`matvec/${w.format}`, prefix + KERNELS.matvec, { ...constants, WG: threads }, shape);
    // Its last step needs one thread per (row, token): 2 × 8.
    this.matvecBatch = kernels.get(`matvec_batch/${w.format}`, prefix + KERNELS.matvecBatch, { ...constants, WG: Math.max(16, threads) }, shape);
    this.matmul = kernels.get(`matmul/${w.format}`, prefix + KERNELS.matmul, constants, shape);
    const buffers: Record<number, GPUBuffer> = { 0: x, 1: y, 2: w.weights, 4: step };
    if (w.scales) buffers[3] = w.scales;
    this.bindGroup = kernels.bindGroup(this.matvec, buffers, w.name);
    this.rows = w.rows;
  }

  encode(pass: GPUComputePassEncoder, tokens: number): void {
    if (tokens === 1) {
      pass.setPipeline(this.matvec.pipeline);
      pass.setBindGroup(0, this.bindGroup);
      pass.dispatchWorkgroups(...grid1D(Math.ceil(this.rows / MATVEC_ROWS)));
    } else if (tokens <= SMALL_BATCH) {
      pass.setPipeline(this.matvecBatch.pipeline);
      pass.setBindGroup(0, this.bindGroup);
      pass.dispatchWorkgroups(...grid1D(Math.ceil(this.rows / BATCH_ROWS)));
    } else {
      pass.setPipeline(this.matmul.pipeline);
      pass.setBindGroup(0, this.bindGroup);
      pass.dispatchWorkgroups(Math.ceil(this.rows / 32), Math.ceil(tokens / 32));
    }
  }
}

/** A kernel bound to its buffers once, dispatched with a workgroup count that depends on the step. */
class Bound {
  constructor(
    private readonly kernel: CompiledKernel,
    private readonly bindGroup: GPUBindGroup,
    private readonly workgroups: (tokens: number) => [number, number],
  ) {}

  encode(pass: GPUComputePassEncoder, tokens: number): void {
    pass.setPipeline(this.kernel.pipeline);
    pass.setBindGroup(0, this.bindGroup);
    pass.dispatchWorkgroups(...this.workgroups(tokens));
  }
}

interface LayerOps {
  inputNorm: Bound;
  qkv: Linear;
  rope: Bound;
  attention: Bound;
  o: Linear;
  postNorm: Bound;
  gateUp: Linear;
  swiglu: Bound;
  down: Linear;
}

export class ForwardPass {
  readonly contextWindow: number;
  readonly kvDtype: KvDtype;
  readonly maxBatchTokens: number;
  private readonly kernels: KernelCache;
  private readonly owned: GPUBuffer[] = [];
  private readonly tokenIds: GPUBuffer;
  private readonly step: GPUBuffer;
  private readonly hidden: GPUBuffer;
  private readonly normed: GPUBuffer;
  private readonly lastHidden: GPUBuffer;
  private readonly logits: GPUBuffer;
  private readonly argmaxOut: GPUBuffer;
  private readonly argmaxRead: GPUBuffer;
  private readonly logitsRead: GPUBuffer;
  private readonly embed: Bound;
  private readonly layers: LayerOps[] = [];
  private readonly finalNorm: Bound;
  private readonly classifier: Linear;
  private readonly argmax: Bound;
  private allLogits?: { buffer: GPUBuffer; read: GPUBuffer; norm: Bound; classifier: Linear };
  private processor?: { kernel: CompiledKernel; params: GPUBuffer; list?: GPUBuffer; capacity: number; bindGroup?: GPUBindGroup };

  constructor(
    private readonly device: GPUDevice,
    readonly config: ModelConfig,
    private readonly weights: GpuWeights,
    options: ForwardOptions = {},
  ) {
    const c = config;
    if (c.headDim % 4 !== 0) throw new Error(`forward: head_dim ${c.headDim} is not a multiple of 4, which rope.wgsl needs`);
    this.kvDtype = options.kvDtype ?? 'f32';
    this.contextWindow = Math.min(options.contextWindow ?? c.contextWindow, c.contextWindow);
    this.maxBatchTokens = Math.max(1, Math.min(options.maxBatchTokens ?? 512, this.contextWindow));
    const T = this.maxBatchTokens;
    const H = c.hiddenSize;
    const attnWidth = c.numHeads * c.headDim;
    const kvWidth = c.numKvHeads * c.headDim;
    const kernels = (this.kernels = new KernelCache(device));
    const buf = (floats: number, label: string) => this.own(storageBuffer(device, floats * 4, label));

    this.tokenIds = buf(T, 'token ids');
    this.step = this.own(uniformBuffer(device, 8, 'step'));
    this.hidden = buf(T * H, 'hidden');
    this.normed = buf(T * H, 'normed');
    const qkv = buf(T * qkvSize(c), 'qkv');
    const q = buf(T * attnWidth, 'q');
    const attn = buf(T * attnWidth, 'attention out');
    const gateUp = buf(T * 2 * c.intermediateSize, 'gate_up');
    const act = buf(T * c.intermediateSize, 'swiglu');
    this.lastHidden = buf(H, 'last hidden');
    const lastNormed = buf(H, 'last normed');
    this.logits = buf(c.vocabSize, 'logits');
    this.argmaxOut = buf(1, 'argmax');
    this.argmaxRead = this.own(readbackBuffer(device, 4, 'argmax read'));
    this.logitsRead = this.own(readbackBuffer(device, c.vocabSize * 4, 'logits read'));
    const tables = ropeTables(c.headDim, c.ropeTheta, this.contextWindow);
    const cos = this.own(storageBufferWith(device, tables.cos, 'rope cos'));
    const sin = this.own(storageBufferWith(device, tables.sin, 'rope sin'));

    const embedW = weights.matrix(EMBED_NAME);
    const embedKernel = kernels.get(
      `embedding/${embedW.format}`,
      WEIGHT_FORMAT_WGSL[embedW.format] + KERNELS.embedding,
      { ...weightConstants(embedW), K: H },
      embedW.scales ? WEIGHTED : WEIGHTED_F32,
    );
    const embedBuffers: Record<number, GPUBuffer> = { 0: this.tokenIds, 1: this.hidden, 2: embedW.weights, 4: this.step };
    if (embedW.scales) embedBuffers[3] = embedW.scales;
    this.embed = new Bound(embedKernel, kernels.bindGroup(embedKernel, embedBuffers), (t) =>
      grid1D(Math.ceil((t * Math.ceil(H / 8)) / THREADS)),
    );

    const normKernel = kernels.get('rmsnorm', KERNELS.rmsnorm, { H, EPS: c.rmsNormEps }, NORM);
    const norm = (x: GPUBuffer, out: GPUBuffer, weight: GPUBuffer) =>
      new Bound(normKernel, kernels.bindGroup(normKernel, { 0: x, 1: out, 2: weight }), (t) => [t, 1]);
    const heads = { HEAD_DIM: c.headDim, N_HEADS: c.numHeads, N_KV_HEADS: c.numKvHeads };
    const kv = KV_FORMAT_WGSL[this.kvDtype];
    const ropeKernel = kernels.get(`rope/${this.kvDtype}`, kv.store + KERNELS.rope, heads, ROPE);
    const attentionKernel = kernels.get(`attention/${this.kvDtype}`, kv.load + KERNELS.attention, heads, ATTENTION);
    const swigluKernel = kernels.get('swiglu', KERNELS.swiglu, { I: c.intermediateSize }, ELEMENTWISE);
    const ropeThreads = (c.numHeads + 2 * c.numKvHeads) * (c.headDim / 4);
    const kvBytesPerValue = this.kvDtype === 'f16' ? 2 : 4;

    for (let l = 0; l < c.numLayers; l++) {
      const names = layerParamNames(c, l);
      const kCache = this.own(storageBuffer(device, this.contextWindow * kvWidth * kvBytesPerValue, `k cache ${l}`));
      const vCache = this.own(storageBuffer(device, this.contextWindow * kvWidth * kvBytesPerValue, `v cache ${l}`));
      this.layers.push({
        inputNorm: norm(this.hidden, this.normed, weights.vector(names.inputNorm)),
        qkv: new Linear(kernels, weights.matrix(names.qkv), this.normed, qkv, this.step, false),
        rope: new Bound(
          ropeKernel,
          kernels.bindGroup(ropeKernel, { 0: qkv, 1: q, 2: kCache, 3: vCache, 4: this.step, 5: cos, 6: sin }),
          (t) => grid1D(Math.ceil((t * ropeThreads) / THREADS)),
        ),
        attention: new Bound(
          attentionKernel,
          kernels.bindGroup(attentionKernel, { 0: q, 1: attn, 2: kCache, 3: vCache, 4: this.step }),
          (t) => [c.numHeads, t],
        ),
        o: new Linear(kernels, weights.matrix(names.o), attn, this.hidden, this.step, true),
        postNorm: norm(this.hidden, this.normed, weights.vector(names.postNorm)),
        gateUp: new Linear(kernels, weights.matrix(names.gateUp), this.normed, gateUp, this.step, false),
        swiglu: new Bound(
          swigluKernel,
          kernels.bindGroup(swigluKernel, { 0: gateUp, 1: act, 4: this.step }),
          (t) => grid1D(Math.ceil((t * c.intermediateSize) / THREADS)),
        ),
        down: new Linear(kernels, weights.matrix(names.down), act, this.hidden, this.step, true),
      });
    }
    this.finalNorm = norm(this.lastHidden, lastNormed, weights.vector(FINAL_NORM_NAME));
    this.classifier = new Linear(kernels, weights.matrix(classifierName(c)), lastNormed, this.logits, this.step, false);
    const argmaxKernel = kernels.get('argmax', KERNELS.argmax, { V: c.vocabSize }, ARGMAX);
    this.argmax = new Bound(argmaxKernel, kernels.bindGroup(argmaxKernel, { 0: this.logits, 1: this.argmaxOut }), () => [1, 1]);
  }

  private own(buffer: GPUBuffer): GPUBuffer {
    this.owned.push(buffer);
    return buffer;
  }

  /** Runs the model over `tokens` placed at positions startPos…, reading back the next token id. */
  async run(tokens: ArrayLike<number>, startPos: number, output: 'argmax', adjust?: LogitAdjustments): Promise<number>;
  /** …reading back the logits of the last position ([vocab]). */
  async run(tokens: ArrayLike<number>, startPos: number, output: 'logits', adjust?: LogitAdjustments): Promise<Float32Array>;
  /** …reading back the logits of every position ([tokens, vocab]). */
  async run(tokens: ArrayLike<number>, startPos: number, output: 'all-logits'): Promise<Float32Array>;
  async run(tokens: ArrayLike<number>, startPos: number, output: StepOutput, adjust?: LogitAdjustments): Promise<number | Float32Array> {
    const n = tokens.length;
    if (n === 0) throw new Error('forward: no tokens to run');
    if (startPos + n > this.contextWindow) {
      throw new RangeError(`forward: positions ${startPos}..${startPos + n - 1} exceed the context window of ${this.contextWindow}`);
    }
    const V = this.config.vocabSize;
    const all = output === 'all-logits' ? new Float32Array(n * V) : undefined;
    let result: number | Float32Array = 0;
    for (let offset = 0; offset < n; offset += this.maxBatchTokens) {
      const chunk = Array.from({ length: Math.min(this.maxBatchTokens, n - offset) }, (_, i) => tokens[offset + i]!);
      const last = offset + chunk.length === n;
      if (all) {
        all.set((await this.runChunk(chunk, startPos + offset, 'all-logits')) as Float32Array, offset * V);
      } else if (last) {
        result = await this.runChunk(chunk, startPos + offset, output as 'argmax' | 'logits', adjust);
      } else {
        await this.runChunk(chunk, startPos + offset, 'none');
      }
    }
    return all ?? result;
  }

  private async runChunk(tokens: number[], startPos: number, output: StepOutput | 'none', adjust?: LogitAdjustments): Promise<number | Float32Array> {
    const T = tokens.length;
    const c = this.config;
    for (const id of tokens) {
      if (!Number.isInteger(id) || id < 0 || id >= c.vocabSize) throw new RangeError(`forward: token id ${id} is outside the vocabulary of ${c.vocabSize}`);
    }
    this.device.queue.writeBuffer(this.tokenIds, 0, new Uint32Array(tokens));
    this.device.queue.writeBuffer(this.step, 0, new Uint32Array([T, startPos]));
    const encoder = this.device.createCommandEncoder({ label: `forward ${T}@${startPos}` });
    const pass = encoder.beginComputePass();
    this.embed.encode(pass, T);
    for (const layer of this.layers) {
      layer.inputNorm.encode(pass, T);
      layer.qkv.encode(pass, T);
      layer.rope.encode(pass, T);
      layer.attention.encode(pass, T);
      layer.o.encode(pass, T);
      layer.postNorm.encode(pass, T);
      layer.gateUp.encode(pass, T);
      layer.swiglu.encode(pass, T);
      layer.down.encode(pass, T);
    }
    pass.end();

    if (output === 'all-logits') {
      const head = this.allLogitsHead();
      const tail = encoder.beginComputePass();
      head.norm.encode(tail, T);
      head.classifier.encode(tail, T);
      tail.end();
      const bytes = T * c.vocabSize * 4;
      encoder.copyBufferToBuffer(head.buffer, 0, head.read, 0, bytes);
      this.device.queue.submit([encoder.finish()]);
      return this.readFloats(head.read, T * c.vocabSize);
    }
    if (output === 'none') {
      this.device.queue.submit([encoder.finish()]);
      return 0;
    }
    const H = c.hiddenSize;
    encoder.copyBufferToBuffer(this.hidden, (T - 1) * H * 4, this.lastHidden, 0, H * 4);
    const tail = encoder.beginComputePass();
    this.finalNorm.encode(tail, 1);
    this.classifier.encode(tail, 1);
    if (adjust && adjust.list.length > 0) this.encodeAdjustments(tail, adjust);
    if (output === 'argmax') this.argmax.encode(tail, 1);
    tail.end();
    if (output === 'argmax') {
      encoder.copyBufferToBuffer(this.argmaxOut, 0, this.argmaxRead, 0, 4);
      this.device.queue.submit([encoder.finish()]);
      await this.argmaxRead.mapAsync(GPUMapMode.READ);
      const id = new Uint32Array(this.argmaxRead.getMappedRange())[0]!;
      this.argmaxRead.unmap();
      return id;
    }
    encoder.copyBufferToBuffer(this.logits, 0, this.logitsRead, 0, c.vocabSize * 4);
    this.device.queue.submit([encoder.finish()]);
    return this.readFloats(this.logitsRead, c.vocabSize);
  }

  private async readFloats(buffer: GPUBuffer, count: number): Promise<Float32Array> {
    await buffer.mapAsync(GPUMapMode.READ, 0, count * 4);
    const values = new Float32Array(buffer.getMappedRange(0, count * 4).slice(0));
    buffer.unmap();
    return values;
  }

  /** Writes the adjustment list (growing its buffer when needed) and records the logit processor. */
  private encodeAdjustments(pass: GPUComputePassEncoder, adjust: LogitAdjustments): void {
    const count = adjust.list.length;
    if (!this.processor) {
      const kernel = this.kernels.get('logit processor', KERNELS.logitProcessor, {}, { 0: 'read', 1: 'write', 4: 'uniform' });
      this.processor = { kernel, params: this.own(uniformBuffer(this.device, 16, 'logit params')), capacity: 0 };
    }
    const p = this.processor;
    if (count > p.capacity) {
      p.list?.destroy();
      p.capacity = Math.max(256, 2 ** Math.ceil(Math.log2(count)));
      p.list = storageBuffer(this.device, p.capacity * 16, 'logit adjustments');
      p.bindGroup = this.kernels.bindGroup(p.kernel, { 0: p.list, 1: this.logits, 4: p.params });
    }
    const data = new ArrayBuffer(count * 16);
    const u32 = new Uint32Array(data);
    const f32 = new Float32Array(data);
    adjust.list.forEach((a, i) => {
      u32[i * 4] = a.id;
      u32[i * 4 + 1] = a.inContext ? 1 : 0;
      u32[i * 4 + 2] = a.generatedCount;
      f32[i * 4 + 3] = a.bias;
    });
    this.device.queue.writeBuffer(p.list!, 0, data);
    const params = new ArrayBuffer(16);
    new Uint32Array(params)[0] = count;
    new Float32Array(params).set([adjust.params.repetition_penalty ?? 1, adjust.params.presence_penalty ?? 0, adjust.params.frequency_penalty ?? 0], 1);
    this.device.queue.writeBuffer(p.params, 0, params);
    pass.setPipeline(p.kernel.pipeline);
    pass.setBindGroup(0, p.bindGroup!);
    pass.dispatchWorkgroups(Math.ceil(count / 64));
  }

  /** Norm + classifier over every position, for tests and scoring; built on first use. */
  private allLogitsHead() {
    if (!this.allLogits) {
      const c = this.config;
      const T = this.maxBatchTokens;
      const buffer = this.own(storageBuffer(this.device, T * c.vocabSize * 4, 'all logits'));
      const read = this.own(readbackBuffer(this.device, T * c.vocabSize * 4, 'all logits read'));
      const normKernel = this.kernels.get('rmsnorm', KERNELS.rmsnorm, { H: c.hiddenSize, EPS: c.rmsNormEps }, NORM);
      const norm = new Bound(
        normKernel,
        this.kernels.bindGroup(normKernel, { 0: this.hidden, 1: this.normed, 2: this.weights.vector(FINAL_NORM_NAME) }),
        (t) => [t, 1],
      );
      const classifier = new Linear(this.kernels, this.weights.matrix(classifierName(c)), this.normed, buffer, this.step, false);
      this.allLogits = { buffer, read, norm, classifier };
    }
    return this.allLogits;
  }

  /** Frees the activation and KV-cache buffers (the weights belong to their owner). */
  destroy(): void {
    for (const b of this.owned) b.destroy();
    this.owned.length = 0;
    this.processor?.list?.destroy();
    this.processor = undefined;
  }
}
