/**
 * The forward pass of a Baichuan/LLaMA decoder on the GPU, written as llama2.c's `forward()` is: the
 * run state (every activation buffer, by llama2.c's names), then the steps in order, each naming
 * what it reads and what it writes, with the residual adds spelled out:
 *
 *   x = embed(tokens)
 *   for each layer:
 *     xb = rmsnorm(x) · qkv = W_pack·xb · RoPE(q, k), cache k, v · att = attention(q, cache) · x += o_proj·att
 *     xb = rmsnorm(x) · gate|up = gate_up_proj·xb · act = silu(gate)·up · x += down_proj·act
 *   logits = classifier · rmsnorm(x[last])
 *
 * The list is built once, compiled once into dispatches (ops.ts picks the kernels), and running a
 * chunk of tokens is one loop over it. Each step only writes its token ids and the 8-byte step
 * uniform, records the dispatches and submits one command buffer.
 */
import type { ModelConfig } from '../model/config.js';
import { classifierName, EMBED_NAME, FINAL_NORM_NAME, layerParamNames } from '../model/params.js';
import { ropeTables } from '../model/rope.js';
import { readbackBuffer, storageBuffer, storageBufferWith, uniformBuffer } from '../gpu/buffers.js';
import { KernelCache, type CompileCounts, type Dispatch, type KernelDescriptor, type StepShape } from '../gpu/kernel.js';
import { argmax } from '../gpu/kernels/argmax.js';
import { DEFAULT_CHUNK } from '../gpu/kernels/attention_split.js';
import type { KvDtype } from '../gpu/kernels/formats.js';
import { ADJUSTMENT_BYTES, LOGIT_PARAMS_BYTES, logitProcessor } from '../gpu/kernels/logit_processor.js';
import { STEP_BYTES, stepData } from '../gpu/kernels/step.js';
import { maskWords, tokenMask } from '../gpu/kernels/token_mask.js';
import { runStateSizes } from '../gpu/limits.js';
import { chooseKernels, type KernelChoice } from '../gpu/variants.js';
import type { GpuWeights } from '../gpu/weights.js';
import { compileOp, type Op, type OpContext } from './ops.js';
import type { SamplingParams, TokenAdjustment } from './sampler.js';

export type { KvDtype };

export interface ForwardOptions {
  /** KV cache length in tokens; at most the model's context window (default: all of it). */
  contextWindow?: number;
  /** KV cache precision (default f32; loadModel picks f16 for q4f16_1 models). */
  kvDtype?: KvDtype;
  /** Most prompt tokens run in one batch; longer prompts run in chunks (default 512). */
  maxBatchTokens?: number;
  /**
   * `fast` (default here): the real-GPU kernels this device supports; `baseline`: the portable ones;
   * or a KernelChoice, e.g. what `auto` measured (loadModel measures; engine/kernel-tuning.ts).
   */
  kernels?: 'fast' | 'baseline' | KernelChoice;
  /** Pipelines to reuse: those a load compiled ahead, while the weights were still on their way. */
  kernelCache?: KernelCache;
}

/** What a step reads back: the greedy next token, the last position's logits, or every position's. */
export type StepOutput = 'argmax' | 'logits' | 'all-logits';

/** Penalties, biases and a grammar's mask applied to the last position's logits on the GPU, before argmax or readback. */
export interface LogitAdjustments {
  list: readonly TokenAdjustment[];
  params: SamplingParams;
  /**
   * The tokens allowed next (a TokenConstraint's bitmask). Called once the step's forward pass is
   * submitted, so the CPU works out the mask while the GPU computes the logits; the mask is uploaded
   * and applied (token_mask.wgsl) in a second submission before argmax or readback.
   */
  mask?: () => Promise<Uint32Array>;
}

/** The GPU time of one dispatch of a profiled step. */
export interface KernelTiming {
  /** The step's name (`layer 3 o_proj`). */
  step: string;
  /** The kernel that ran it (`matvec_subgroup`). */
  kernel: string;
  ms: number;
}

/** The buffers the steps flow through: llama2.c's RunState, [tokens, width] each. */
export interface StepBuffers {
  tokenIds: GPUBuffer;
  /** The residual stream. */
  x: GPUBuffer;
  /** x normalized: the input of the q|k|v and gate|up projections. */
  xb: GPUBuffer;
  qkv: GPUBuffer;
  /** q after RoPE (k and v go straight into the cache). */
  q: GPUBuffer;
  /** The attention output: the input of o_proj. */
  att: GPUBuffer;
  gateUp: GPUBuffer;
  /** silu(gate) · up: the input of down_proj. */
  act: GPUBuffer;
  /** One per layer of the step list. */
  kCache: GPUBuffer[];
  vCache: GPUBuffer[];
  /** The last token's x normalized, and the logits it gives. */
  xbLast: GPUBuffer;
  logits: GPUBuffer;
}

/** llama2.c's RunState: the step buffers, the step uniform and the argmax result. */
export interface RunState extends StepBuffers {
  step: GPUBuffer;
  argmax: GPUBuffer;
}

/** Where the steps find the model's parameters: the uploaded weights, or stand-ins of the right shapes (engine/model-sample.ts, engine/kernel-variants.ts). */
export type StepWeights = Pick<GpuWeights, 'matrix' | 'vector'>;

/**
 * The forward pass, in order: the body (embedding, then `layers` decoder layers) that runs for every
 * token, and the head (final norm and classifier) that runs on the last token only.
 */
export function forwardSteps(c: ModelConfig, w: StepWeights, s: StepBuffers, layers = c.numLayers): { body: Op[]; head: Op[] } {
  const body: Op[] = [{ name: 'embed', op: 'embed', ids: s.tokenIds, table: w.matrix(EMBED_NAME), out: s.x }];
  for (let l = 0; l < layers; l++) {
    const p = layerParamNames(c, l);
    const at = (what: string) => `layer ${l} ${what}`;
    const kCache = s.kCache[l]!;
    const vCache = s.vCache[l]!;
    body.push(
      { name: at('attention norm'), op: 'rmsnorm', x: s.x, weight: w.vector(p.inputNorm), out: s.xb },
      { name: at('qkv'), op: 'matmul', x: s.xb, w: w.matrix(p.qkv), out: s.qkv },
      { name: at('rope'), op: 'rope', qkv: s.qkv, q: s.q, kCache, vCache },
      { name: at('attention'), op: 'attention', q: s.q, kCache, vCache, out: s.att },
      { name: at('o_proj'), op: 'matmul', x: s.att, w: w.matrix(p.o), out: s.x, residual: true }, // x += o_proj·att
      { name: at('ffn norm'), op: 'rmsnorm', x: s.x, weight: w.vector(p.postNorm), out: s.xb },
      { name: at('gate_up'), op: 'matmul', x: s.xb, w: w.matrix(p.gateUp), out: s.gateUp },
      { name: at('swiglu'), op: 'swiglu', gateUp: s.gateUp, out: s.act },
      { name: at('down'), op: 'matmul', x: s.act, w: w.matrix(p.down), out: s.x, residual: true }, // x += down·act
    );
  }
  const head: Op[] = [
    { name: 'final norm', op: 'rmsnorm', x: s.x, weight: w.vector(FINAL_NORM_NAME), out: s.xbLast, lastRow: true },
    { name: 'classifier', op: 'matmul', x: s.xbLast, w: w.matrix(classifierName(c)), out: s.logits },
  ];
  return { body, head };
}

/**
 * The token counts, up to `maxBatchTokens`, of the steps that run a distinct set of `steps`'s
 * dispatches: the smallest count of each set (1: decode; 2: the batched matvec; 9 and 17: the GEMM's
 * 16- and 32-token tiles). Running these sizes once runs every pipeline a request can use.
 */
export function distinctStepSizes(steps: readonly { dispatches: Dispatch[] }[], maxBatchTokens: number): number[] {
  const all = steps.flatMap(({ dispatches }) => dispatches);
  const sizes: number[] = [];
  const seen = new Set<string>();
  for (let tokens = 1; tokens <= maxBatchTokens; tokens++) {
    const shape = { tokens, startPos: 0 };
    const signature = all.map((d) => (!d.when || d.when(shape) ? '1' : '0')).join('');
    if (!seen.has(signature)) {
      seen.add(signature);
      sizes.push(tokens);
    }
  }
  return sizes;
}

/**
 * What a typical first request runs, when the page does not say (LoadOptions.firstPromptTokens): a
 * prompt of this many tokens, then decode steps. A chat turn or a sentence to complete is 9–16
 * tokens, and with the GEMM prefill one pipeline set serves every prompt of 9–16 tokens.
 */
export const TYPICAL_FIRST_PROMPT_TOKENS = 16;

/**
 * The step sizes a first request of `promptTokens` tokens runs: its prompt (in chunks of at most
 * `maxBatchTokens`) and the one-token decode step. What a load compiles and runs before "ready";
 * every other size compiles after it (ForwardPass.prepare()).
 */
export function firstRequestStepSizes(maxBatchTokens: number, promptTokens = TYPICAL_FIRST_PROMPT_TOKENS): number[] {
  const prompt = Math.max(1, Math.floor(promptTokens));
  const sizes = new Set([1, Math.min(prompt, maxBatchTokens)]);
  if (prompt > maxBatchTokens && prompt % maxBatchTokens > 0) sizes.add(prompt % maxBatchTokens);
  return [...sizes];
}

/** The dispatches of `steps` that a step of `shape` runs. */
export function activeDispatches(steps: readonly { dispatches: Dispatch[] }[], shape: StepShape): Dispatch[] {
  return steps.flatMap(({ dispatches }) => dispatches.filter((d) => !d.when || d.when(shape)));
}

/** A step of the list with its compiled dispatches. */
interface Compiled {
  op: Op;
  dispatches: Dispatch[];
}

/**
 * The shape the last-token head (final norm into one row, classifier) is dispatched with: one token,
 * whatever the chunk's length. Dispatched with the chunk's n tokens, the classifier picked the batch
 * kernel and wrote n rows of logits into the one-row buffer; robust buffer access clamps those writes
 * onto its last element, so logits[vocab - 1] after every multi-token prompt was garbage (found on the
 * poetry model: `梦李白·其一->杜甫\n` greedy-continued with id 4999). The norm still reads the chunk's
 * last row from the step uniform.
 */
export function lastToken(shape: StepShape): StepShape {
  return { tokens: 1, startPos: shape.startPos + shape.tokens - 1 };
}

/** Norm + classifier over every position into `out` ([tokens, vocab]), for tests and scoring. */
export function allLogitsSteps(c: ModelConfig, w: StepWeights, s: StepBuffers, out: GPUBuffer): Op[] {
  return [
    { name: 'final norm (all)', op: 'rmsnorm', x: s.x, weight: w.vector(FINAL_NORM_NAME), out: s.xb },
    { name: 'classifier (all)', op: 'matmul', x: s.xb, w: w.matrix(classifierName(c)), out },
  ];
}

export class ForwardPass {
  readonly contextWindow: number;
  readonly kvDtype: KvDtype;
  readonly maxBatchTokens: number;
  /** The kernels this pass runs on this device. */
  readonly choice: KernelChoice;
  private readonly kernels: KernelCache;
  private readonly owned: GPUBuffer[] = [];
  private readonly s: RunState;
  private readonly context: OpContext;
  /** Embedding and every layer: run for every token. */
  private readonly body: Compiled[];
  /** Final norm and classifier on the last token only: what generation needs. */
  private readonly lastTokenHead: Compiled[];
  private readonly argmaxRead: GPUBuffer;
  private readonly logitsRead: GPUBuffer;
  private readonly argmax: Dispatch;
  private allLogits?: { buffer: GPUBuffer; read: GPUBuffer; head: Compiled[] };
  /** Step kinds (token count, output) whose pipelines are all compiled: recorded without looking. */
  private readonly compiledSteps = new Set<string>();
  /**
   * Milliseconds steps have waited for pipelines not compiled yet (a size nobody prepared, or one
   * still compiling after "ready"): the part of a request's time that was GPU kernel preparation.
   */
  compileWaitMs = 0;
  private processor?: { params: GPUBuffer; list: GPUBuffer; capacity: number; dispatch: Dispatch };
  private masker?: { mask: GPUBuffer; dispatch: Dispatch };

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
    const kernels = options.kernels ?? 'fast';
    this.choice = typeof kernels === 'string' ? chooseKernels(device.features, kernels) : kernels;
    this.kernels = options.kernelCache ?? new KernelCache(device);

    // The run state, sized by the same function that tells a page whether the model fits (gpu/limits.ts).
    const size = runStateSizes(c, this.contextWindow, this.maxBatchTokens, this.kvDtype, DEFAULT_CHUNK);
    const buf = (bytes: number, label: string) => this.own(storageBuffer(device, bytes, label));
    const s: RunState = (this.s = {
      tokenIds: buf(size.tokenIds, 'token ids'),
      step: this.own(uniformBuffer(device, STEP_BYTES, 'step')),
      x: buf(size.x, 'x'),
      xb: buf(size.xb, 'xb'),
      qkv: buf(size.qkv, 'qkv'),
      q: buf(size.q, 'q'),
      att: buf(size.att, 'att'),
      gateUp: buf(size.gateUp, 'gate_up'),
      act: buf(size.act, 'act'),
      kCache: Array.from({ length: c.numLayers }, (_, l) => buf(size.kvCache, `k cache ${l}`)),
      vCache: Array.from({ length: c.numLayers }, (_, l) => buf(size.kvCache, `v cache ${l}`)),
      xbLast: buf(size.xbLast, 'xb last'),
      logits: buf(size.logits, 'logits'),
      argmax: buf(size.argmax, 'argmax'),
    });
    this.argmaxRead = this.own(readbackBuffer(device, size.argmax, 'argmax read'));
    this.logitsRead = this.own(readbackBuffer(device, size.logits, 'logits read'));
    const tables = ropeTables(c.headDim, c.ropeTheta, this.contextWindow);
    this.context = {
      kernels: this.kernels,
      choice: this.choice,
      config: c,
      kvDtype: this.kvDtype,
      contextWindow: this.contextWindow,
      attentionChunk: DEFAULT_CHUNK,
      step: s.step,
      ropeCos: this.own(storageBufferWith(device, tables.cos, 'rope cos')),
      ropeSin: this.own(storageBufferWith(device, tables.sin, 'rope sin')),
      attentionPartials: buf(size.attentionPartials, 'attention partials'),
    };

    const { body, head } = forwardSteps(c, weights, s);
    this.body = body.map((op) => this.compile(op));
    this.lastTokenHead = head.map((op) => this.compile(op));
    this.argmax = this.kernels.compile(argmax, { vocab: c.vocabSize }).bind({ logits: s.logits, result: s.argmax }, 'argmax');
  }

  /** Every kernel this pass has bound, with its parameters (its pipelines compile on first use). */
  get assembledKernels(): { descriptor: KernelDescriptor<unknown, string>; params: unknown }[] {
    return this.kernels.specialisations;
  }

  private compile(op: Op): Compiled {
    return { op, dispatches: compileOp(op, this.context) };
  }

  private own(buffer: GPUBuffer): GPUBuffer {
    this.owned.push(buffer);
    return buffer;
  }

  /** Records `steps` for one chunk of tokens: one loop over the list. */
  private record(pass: GPUComputePassEncoder, steps: readonly Compiled[], shape: StepShape): void {
    for (const d of activeDispatches(steps, shape)) d.encode(pass, shape);
  }

  /**
   * Token counts that exercise every pipeline a request can use, one per distinct set of dispatches
   * (1: decode; a few tokens: the batched matvec; more: the prefill GEMM's tile sizes), up to maxBatchTokens.
   */
  stepSizes(): number[] {
    return distinctStepSizes(this.body, this.maxBatchTokens);
  }

  /** What a step of `tokens` tokens dispatches (body, last-token head, argmax), with the shape each runs at. */
  private dispatchesOf(tokens: number): { dispatch: Dispatch; shape: StepShape }[] {
    const shape = { tokens, startPos: 0 };
    return [
      ...activeDispatches(this.body, shape).map((dispatch) => ({ dispatch, shape })),
      ...activeDispatches(this.lastTokenHead, lastToken(shape)).map((dispatch) => ({ dispatch, shape: lastToken(shape) })),
      { dispatch: this.argmax, shape },
    ];
  }

  /**
   * Compiles ahead (createComputePipelineAsync) every pipeline steps of these sizes use (default:
   * stepSizes(), all of them), and the logit processor's; a step whose pipelines are not compiled
   * waits for them (ensureCompiled). A load runs this for the first request's sizes before "ready",
   * then for all sizes in the background.
   */
  async prepare(sizes: readonly number[] = this.stepSizes(), onProgress?: (p: { stage: 'compiling'; done: number; total: number }) => void): Promise<void> {
    const dispatches = new Map<string, Dispatch>();
    for (const tokens of sizes) for (const { dispatch } of this.dispatchesOf(tokens)) dispatches.set(dispatch.pipelineKey, dispatch);
    const processor = this.processorFor(1).dispatch;
    dispatches.set(processor.pipelineKey, processor);
    const total = dispatches.size;
    let done = 0;
    onProgress?.({ stage: 'compiling', done, total });
    await Promise.all([...dispatches.values()].map((d) => d.prepare().then(() => onProgress?.({ stage: 'compiling', done: ++done, total }))));
  }

  /**
   * Runs one workgroup of every pipeline steps of these sizes use (default: all), once each, and
   * waits for the GPU. Some drivers compile a pipeline only at its first dispatch (Mesa's lavapipe
   * JIT-compiles there, seconds per kernel), and buffers are zeroed on their first use: both happen
   * here instead of in the first request. The cache positions it writes hold nothing a request reads.
   */
  async warm(sizes: readonly number[] = this.stepSizes(), onProgress?: (p: { stage: 'compiling'; done: number; total: number }) => void): Promise<void> {
    await this.prepare(sizes);
    // One submit per pipeline, each awaited: where the pipeline's compile really happens at its first
    // use (in Chromium's GPU process after a createComputePipeline that returned at once; in
    // lavapipe's JIT), `done` counts the pipelines that are ready.
    const runs: { dispatch: Dispatch; shape: StepShape; tokens: number }[] = [];
    const seen = new Set<string>();
    for (const tokens of sizes) {
      for (const { dispatch, shape } of this.dispatchesOf(tokens)) {
        if (!seen.has(dispatch.pipelineKey)) runs.push({ dispatch, shape, tokens });
        seen.add(dispatch.pipelineKey);
      }
    }
    const processor = this.processorFor(1).dispatch;
    if (!seen.has(processor.pipelineKey)) runs.push({ dispatch: processor, shape: { tokens: 1, startPos: 0 }, tokens: 1 });
    let done = 0;
    onProgress?.({ stage: 'compiling', done, total: runs.length });
    for (const { dispatch, shape, tokens } of runs) {
      this.device.queue.writeBuffer(this.s.step, 0, stepData({ tokens, startPos: 0 }));
      const encoder = this.device.createCommandEncoder({ label: `warm ${dispatch.kernel} ${tokens}` });
      const pass = encoder.beginComputePass();
      dispatch.encode(pass, shape, 1);
      pass.end();
      this.device.queue.submit([encoder.finish()]);
      await this.device.queue.onSubmittedWorkDone();
      onProgress?.({ stage: 'compiling', done: ++done, total: runs.length });
    }
  }

  /** Pipelines compiled ahead and at their first dispatch: after warm(), requests add no late ones. */
  get compiles(): CompileCounts {
    return this.kernels.compiles;
  }

  /** Every pipeline a step list of these sizes uses, by key: what `bench --kernels all` compares phases by. */
  pipelineKeys(tokens: number): string[] {
    return this.dispatchesOf(tokens).map(({ dispatch }) => dispatch.pipelineKey);
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

  /** Writes a chunk's token ids and step uniform. */
  private begin(tokens: number[], startPos: number): StepShape {
    const c = this.config;
    for (const id of tokens) {
      if (!Number.isInteger(id) || id < 0 || id >= c.vocabSize) throw new RangeError(`forward: token id ${id} is outside the vocabulary of ${c.vocabSize}`);
    }
    const shape = { tokens: tokens.length, startPos };
    this.device.queue.writeBuffer(this.s.tokenIds, 0, new Uint32Array(tokens));
    this.device.queue.writeBuffer(this.s.step, 0, stepData(shape));
    return shape;
  }

  /**
   * Waits until every pipeline a step of `shape` with `output` records is compiled: those compiled
   * ahead are there; one still compiling (after "ready") is awaited rather than compiled twice; one
   * nobody prepared compiles now. The time counts in compileWaitMs.
   */
  private async ensureCompiled(shape: StepShape, output: StepOutput | 'none', adjust?: LogitAdjustments): Promise<void> {
    const key = `${shape.tokens}|${output}`;
    const processor = adjust && adjust.list.length > 0 ? this.processorFor(adjust.list.length).dispatch : undefined;
    if (this.compiledSteps.has(key) && (!processor || processor.compiled)) return;
    const needed = activeDispatches(this.body, shape);
    if (output === 'all-logits') needed.push(...activeDispatches(this.allLogitsHead().head, shape));
    else if (output !== 'none') needed.push(...activeDispatches(this.lastTokenHead, lastToken(shape)));
    if (output === 'argmax') needed.push(this.argmax);
    if (processor) needed.push(processor);
    const missing = new Map(needed.filter((d) => !d.compiled).map((d) => [d.pipelineKey, d]));
    if (missing.size > 0) {
      const t0 = performance.now();
      await Promise.all([...missing.values()].map((d) => d.prepare(true)));
      // In a browser a blocking createComputePipeline returns at once and the GPU process compiles
      // it before the work submitted after it: waiting for the queue here times the compile.
      await this.device.queue.onSubmittedWorkDone();
      this.compileWaitMs += performance.now() - t0;
    }
    this.compiledSteps.add(key);
  }

  private async runChunk(tokens: number[], startPos: number, output: StepOutput | 'none', adjust?: LogitAdjustments): Promise<number | Float32Array> {
    await this.ensureCompiled({ tokens: tokens.length, startPos }, output, adjust);
    const shape = this.begin(tokens, startPos);
    const V = this.config.vocabSize;
    const encoder = this.device.createCommandEncoder({ label: `forward ${shape.tokens}@${startPos}` });
    const pass = encoder.beginComputePass();
    this.record(pass, this.body, shape);
    if (output === 'all-logits') {
      const all = this.allLogitsHead();
      this.record(pass, all.head, shape);
      pass.end();
      encoder.copyBufferToBuffer(all.buffer, 0, all.read, 0, shape.tokens * V * 4);
      this.device.queue.submit([encoder.finish()]);
      return this.readFloats(all.read, shape.tokens * V);
    }
    if (output === 'none') {
      pass.end();
      this.device.queue.submit([encoder.finish()]);
      return 0;
    }
    this.record(pass, this.lastTokenHead, lastToken(shape));
    if (adjust && adjust.list.length > 0) this.encodeAdjustments(pass, adjust);
    if (adjust?.mask) {
      // The logits are on their way; the grammar's mask is worked out meanwhile, then applied.
      pass.end();
      this.device.queue.submit([encoder.finish()]);
      return this.maskedOutput(output, await adjust.mask());
    }
    if (output === 'argmax') this.argmax.encode(pass, shape);
    pass.end();
    return this.submitAndRead(encoder, output);
  }

  /** Submits `encoder` with the copy of the step's result, and reads it back: the argmax's id, or the logits. */
  private async submitAndRead(encoder: GPUCommandEncoder, output: 'argmax' | 'logits'): Promise<number | Float32Array> {
    if (output === 'argmax') {
      encoder.copyBufferToBuffer(this.s.argmax, 0, this.argmaxRead, 0, 4);
      this.device.queue.submit([encoder.finish()]);
      await this.argmaxRead.mapAsync(GPUMapMode.READ);
      const id = new Uint32Array(this.argmaxRead.getMappedRange())[0]!;
      this.argmaxRead.unmap();
      return id;
    }
    const V = this.config.vocabSize;
    encoder.copyBufferToBuffer(this.s.logits, 0, this.logitsRead, 0, V * 4);
    this.device.queue.submit([encoder.finish()]);
    return this.readFloats(this.logitsRead, V);
  }

  /** The second submission of a masked step: upload the mask, apply it, then argmax or read back the logits. */
  private async maskedOutput(output: 'argmax' | 'logits', mask: Uint32Array): Promise<number | Float32Array> {
    const V = this.config.vocabSize;
    const words = maskWords(V);
    if (mask.length !== words) throw new Error(`forward: a token mask of ${mask.length} words for a vocabulary of ${V} (needs ${words})`);
    if (!this.masker) {
      const buffer = this.own(storageBuffer(this.device, words * 4, 'token mask'));
      this.masker = { mask: buffer, dispatch: this.kernels.compile(tokenMask, { vocab: V }).bind({ mask: buffer, logits: this.s.logits }, 'token mask') };
    }
    this.device.queue.writeBuffer(this.masker.mask, 0, mask as Uint32Array<ArrayBuffer>);
    const encoder = this.device.createCommandEncoder({ label: 'token mask' });
    const pass = encoder.beginComputePass();
    const one = { tokens: 1, startPos: 0 };
    this.masker.dispatch.encode(pass, one);
    if (output === 'argmax') this.argmax.encode(pass, one);
    pass.end();
    return this.submitAndRead(encoder, output);
  }

  /**
   * Runs one chunk (body and last-token head, then argmax) with every dispatch in its own compute
   * pass and GPU timestamps around it: the per-kernel breakdown of the benchmark. Needs a device
   * with the timestamp-query feature. The tokens' keys and values land in the cache as in run().
   */
  async profile(tokens: number[], startPos: number): Promise<KernelTiming[]> {
    if (!this.device.features.has('timestamp-query')) throw new Error('forward: profiling needs the timestamp-query feature');
    const shape = this.begin(tokens, startPos);
    const runs: { step: string; kernel: string; dispatch: Dispatch; shape?: StepShape }[] = [];
    for (const { op, dispatches } of this.body) {
      for (const d of dispatches) if (!d.when || d.when(shape)) runs.push({ step: op.name, kernel: d.kernel, dispatch: d });
    }
    for (const { op, dispatches } of this.lastTokenHead) {
      for (const d of dispatches) if (!d.when || d.when(lastToken(shape))) runs.push({ step: op.name, kernel: d.kernel, dispatch: d, shape: lastToken(shape) });
    }
    runs.push({ step: 'argmax', kernel: 'argmax', dispatch: this.argmax });
    const count = runs.length * 2;
    const querySet = this.device.createQuerySet({ type: 'timestamp', count });
    const resolved = this.device.createBuffer({ size: count * 8, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const read = readbackBuffer(this.device, count * 8, 'timestamps');
    const encoder = this.device.createCommandEncoder({ label: 'profile' });
    runs.forEach(({ dispatch, shape: own }, i) => {
      const pass = encoder.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
      dispatch.encode(pass, own ?? shape);
      pass.end();
    });
    encoder.resolveQuerySet(querySet, 0, count, resolved, 0);
    encoder.copyBufferToBuffer(resolved, 0, read, 0, count * 8);
    this.device.queue.submit([encoder.finish()]);
    await read.mapAsync(GPUMapMode.READ);
    const ns = new BigUint64Array(read.getMappedRange().slice(0));
    read.unmap();
    read.destroy();
    resolved.destroy();
    querySet.destroy();
    return runs.map(({ step, kernel }, i) => ({ step, kernel, ms: Number(ns[2 * i + 1]! - ns[2 * i]!) / 1e6 }));
  }

  private async readFloats(buffer: GPUBuffer, count: number): Promise<Float32Array> {
    await buffer.mapAsync(GPUMapMode.READ, 0, count * 4);
    const values = new Float32Array(buffer.getMappedRange(0, count * 4).slice(0));
    buffer.unmap();
    return values;
  }

  /** The logit processor with room for `count` adjustments (its list buffer grows in powers of two, from 256). */
  private processorFor(count: number): { params: GPUBuffer; list: GPUBuffer; capacity: number; dispatch: Dispatch } {
    if (!this.processor || count > this.processor.capacity) {
      this.processor?.list.destroy();
      const capacity = Math.max(256, 2 ** Math.ceil(Math.log2(count)));
      const params = this.processor?.params ?? this.own(uniformBuffer(this.device, LOGIT_PARAMS_BYTES, 'logit params'));
      const list = storageBuffer(this.device, capacity * ADJUSTMENT_BYTES, 'logit adjustments');
      const dispatch = this.kernels.compile(logitProcessor, { capacity }).bind({ list, logits: this.s.logits, params }, 'logit processor');
      this.processor = { params, list, capacity, dispatch };
    }
    return this.processor;
  }

  /** Writes the adjustment list and records the logit processor. */
  private encodeAdjustments(pass: GPUComputePassEncoder, adjust: LogitAdjustments): void {
    const count = adjust.list.length;
    const p = this.processorFor(count);
    const data = new ArrayBuffer(count * ADJUSTMENT_BYTES);
    const u32 = new Uint32Array(data);
    const f32 = new Float32Array(data);
    adjust.list.forEach((a, i) => {
      u32[i * 4] = a.id;
      u32[i * 4 + 1] = a.inContext ? 1 : 0;
      u32[i * 4 + 2] = a.generatedCount;
      f32[i * 4 + 3] = a.bias;
    });
    this.device.queue.writeBuffer(p.list, 0, data);
    const params = new ArrayBuffer(LOGIT_PARAMS_BYTES);
    new Uint32Array(params)[0] = count;
    new Float32Array(params).set([adjust.params.repetition_penalty ?? 1, adjust.params.presence_penalty ?? 0, adjust.params.frequency_penalty ?? 0], 1);
    this.device.queue.writeBuffer(p.params, 0, params);
    p.dispatch.encode(pass, { tokens: 1, startPos: 0 });
  }

  /** Norm + classifier over every position, for tests and scoring; built on first use. */
  private allLogitsHead(): { buffer: GPUBuffer; read: GPUBuffer; head: Compiled[] } {
    if (!this.allLogits) {
      const c = this.config;
      const bytes = this.maxBatchTokens * c.vocabSize * 4;
      const buffer = this.own(storageBuffer(this.device, bytes, 'all logits'));
      const read = this.own(readbackBuffer(this.device, bytes, 'all logits read'));
      this.allLogits = { buffer, read, head: allLogitsSteps(c, this.weights, this.s, buffer).map((op) => this.compile(op)) };
    }
    return this.allLogits;
  }

  /** Frees the activation and KV-cache buffers (the weights belong to their owner). */
  destroy(): void {
    for (const b of this.owned) b.destroy();
    this.owned.length = 0;
    this.processor?.list.destroy();
    this.processor = undefined;
    this.masker = undefined;
  }
}
