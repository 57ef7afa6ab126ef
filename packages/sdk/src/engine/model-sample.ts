/**
 * One decoder layer and the head of a model on scratch GPU buffers: the forward pass's own step list
 * (forward.ts's forwardSteps, compiled by ops.ts for a given KernelChoice) before the weights exist.
 *
 * It serves two ends while a model is still downloading or uploading:
 * - `held: 'sample'`: the matrices hold the first rows of the model's real shapes (zeros; speed does
 *   not depend on the values), enough for the kernel timings of engine/kernel-tuning.ts, which run the
 *   first workgroups of a dispatch only;
 * - `held: 'none'`: placeholder buffers, never dispatched: the pipelines a choice will use, compiled
 *   ahead into the load's KernelCache with the very parameters the real forward pass will ask for.
 */
import type { ModelConfig } from '../model/config.js';
import { classifierName, layerParamNames, paramSpecs } from '../model/params.js';
import { groupsPerRow, isQuantized, wordsPerRow, type Quantization } from '../model/quant.js';
import { ropeTables } from '../model/rope.js';
import { storageBuffer, storageBufferWith, uniformBuffer } from '../gpu/buffers.js';
import type { Dispatch, KernelCache, StepShape } from '../gpu/kernel.js';
import { argmax } from '../gpu/kernels/argmax.js';
import { DEFAULT_CHUNK } from '../gpu/kernels/attention_split.js';
import type { KvDtype, WeightFormat } from '../gpu/kernels/formats.js';
import { logitProcessor } from '../gpu/kernels/logit_processor.js';
import { STEP_BYTES, stepData } from '../gpu/kernels/step.js';
import { runStateSizes } from '../gpu/limits.js';
import type { KernelChoice } from '../gpu/variants.js';
import type { GpuMatrix } from '../gpu/weights.js';
import { activeDispatches, forwardSteps, lastToken, type StepWeights, type StepBuffers } from './forward.js';
import { compileOp, type Op } from './ops.js';

/** The model a sample stands for: its shapes, formats and the run-time sizes a load uses. */
export interface SampledModel {
  config: ModelConfig;
  quantization: Quantization;
  kvDtype: KvDtype;
  contextWindow: number;
  maxBatchTokens: number;
}

/** The weight format GpuWeights.upload gives a matrix of a quantizable tensor under `quantization`. */
export function matrixFormat(quantization: Quantization, quantizable: boolean): WeightFormat {
  if (!quantizable || !isQuantized(quantization)) return 'f32';
  return quantization === 'q4f16_1' ? 'q4f16' : 'q4f32';
}

/** GPU bytes of one row of a matrix: what a decode step streams per output. */
export function rowBytes(format: WeightFormat, cols: number): number {
  if (format === 'f32') return cols * 4;
  return wordsPerRow(cols) * 4 + groupsPerRow(cols) * (format === 'q4f16' ? 2 : 4);
}

/** Most bytes of rows a sampled matrix holds: enough rows to fill a GPU, little memory beside the model. */
const SAMPLE_BYTES = 32 * 2 ** 20;
/** Rows beyond the sample: the tallest workgroup tile (gemm's 64 rows) may run past it. */
export const TILE_SLACK_ROWS = 64;

/** A matrix of the sample: the model's shape, and how many of its rows the buffers hold. */
export interface SampledMatrix extends GpuMatrix {
  heldRows: number;
}

/** A compiled step of the sample: the op (by the forward pass's names) and its dispatches. */
export interface SampleStep {
  op: Op;
  dispatches: Dispatch[];
}

export class ModelSample {
  readonly matrices = new Map<string, SampledMatrix>();
  /** The token count prefill timings use: the larger GEMM tile, within the load's batch size. */
  readonly prefillTokens: number;
  /** The longest cache position attention timings use; the KV buffers hold positions up to it. */
  readonly longestPosition: number;
  private readonly owned: GPUBuffer[] = [];
  private readonly buffers: StepBuffers & { step: GPUBuffer; argmax: GPUBuffer };
  private readonly vectors = new Map<string, GPUBuffer>();
  private readonly fixed: { ropeCos: GPUBuffer; ropeSin: GPUBuffer; partials: GPUBuffer; list: GPUBuffer; params: GPUBuffer };

  constructor(
    private readonly device: GPUDevice,
    private readonly kernels: KernelCache,
    readonly model: SampledModel,
    held: 'sample' | 'none',
  ) {
    const c = model.config;
    const sampled = held === 'sample';
    this.prefillTokens = Math.min(32, model.maxBatchTokens);
    this.longestPosition = Math.min(model.contextWindow - 1, 2047);
    const buf = (bytes: number, label: string) => this.own(storageBuffer(device, sampled ? bytes : 256, `sample ${label}`));
    // Rows are held for the matrices that get timed: a layer's and the classifier (not an untied embedding).
    const layer = layerParamNames(c, 0);
    const timed = new Set([layer.qkv, layer.o, layer.gateUp, layer.down, classifierName(c)]);
    for (const spec of paramSpecs(c)) {
      if (spec.shape.length === 1) {
        this.vectors.set(spec.name, buf(spec.shape[0]! * 4, spec.name));
        continue;
      }
      const [rows, cols] = spec.shape as [number, number];
      const format = matrixFormat(model.quantization, spec.quantizable);
      const heldRows = sampled && timed.has(spec.name) ? Math.min(rows, Math.max(256, Math.floor(SAMPLE_BYTES / rowBytes(format, cols))) + TILE_SLACK_ROWS) : 0;
      const weights = format === 'f32' ? heldRows * cols * 4 : heldRows * wordsPerRow(cols) * 4;
      const scales = format === 'f32' ? undefined : buf(heldRows * groupsPerRow(cols) * (format === 'q4f16' ? 2 : 4), `${spec.name} scales`);
      this.matrices.set(spec.name, { name: spec.name, format, rows, cols, heldRows, bands: [{ row0: 0, rows, weights: buf(weights, spec.name), scales }] });
    }
    // Activations for the prefill timing's tokens at the model's full widths (outputs are indexed by
    // token × rows); the caches only up to the positions timed.
    const size = runStateSizes(c, this.longestPosition + 1, this.prefillTokens, model.kvDtype, DEFAULT_CHUNK);
    this.buffers = {
      tokenIds: buf(size.tokenIds, 'token ids'),
      step: this.own(uniformBuffer(device, STEP_BYTES, 'sample step')),
      x: buf(size.x, 'x'),
      xb: buf(size.xb, 'xb'),
      qkv: buf(size.qkv, 'qkv'),
      q: buf(size.q, 'q'),
      att: buf(size.att, 'att'),
      gateUp: buf(size.gateUp, 'gate_up'),
      act: buf(size.act, 'act'),
      kCache: [buf(size.kvCache, 'k cache')],
      vCache: [buf(size.kvCache, 'v cache')],
      xbLast: buf(size.xbLast, 'xb last'),
      logits: buf(size.logits, 'logits'),
      argmax: buf(size.argmax, 'argmax'),
    };
    const tables = ropeTables(c.headDim, c.ropeTheta, 1);
    this.fixed = {
      ropeCos: this.own(storageBufferWith(device, tables.cos, 'sample rope cos')),
      ropeSin: this.own(storageBufferWith(device, tables.sin, 'sample rope sin')),
      partials: buf(size.attentionPartials, 'attention partials'),
      list: buf(size.logitAdjustments, 'logit adjustments'),
      params: this.own(uniformBuffer(device, 16, 'sample logit params')),
    };
  }

  private own(buffer: GPUBuffer): GPUBuffer {
    this.owned.push(buffer);
    return buffer;
  }

  private get params(): StepWeights {
    return {
      matrix: (name) => {
        const m = this.matrices.get(name);
        if (!m) throw new Error(`sample: no matrix ${name}`);
        return m;
      },
      vector: (name) => {
        const v = this.vectors.get(name);
        if (!v) throw new Error(`sample: no vector ${name}`);
        return v;
      },
    };
  }

  /** The step list of one layer and the head, compiled for `choice` (pipelines compile lazily, or by prepare()). */
  steps(choice: KernelChoice): { body: SampleStep[]; head: SampleStep[] } {
    const m = this.model;
    const context = {
      kernels: this.kernels,
      choice,
      config: m.config,
      kvDtype: m.kvDtype,
      contextWindow: m.contextWindow,
      attentionChunk: DEFAULT_CHUNK,
      step: this.buffers.step,
      ropeCos: this.fixed.ropeCos,
      ropeSin: this.fixed.ropeSin,
      attentionPartials: this.fixed.partials,
    };
    const { body, head } = forwardSteps(m.config, this.params, this.buffers, 1);
    const compile = (op: Op): SampleStep => ({ op, dispatches: compileOp(op, context) });
    return { body: body.map(compile), head: head.map(compile) };
  }

  /**
   * Every pipeline a forward pass with `choice` uses for steps of these token counts (one layer
   * stands for all: layers differ only in their buffers), plus argmax and the logit processor.
   */
  pipelines(choice: KernelChoice, sizes: readonly number[]): Dispatch[] {
    const { body, head } = this.steps(choice);
    const out = new Map<string, Dispatch>();
    const add = (d: Dispatch) => out.set(d.pipelineKey, d);
    for (const tokens of sizes) {
      const shape = { tokens, startPos: 0 };
      activeDispatches(body, shape).forEach(add);
      activeDispatches(head, lastToken(shape)).forEach(add);
    }
    add(this.kernels.compile(argmax, { vocab: this.model.config.vocabSize }).bind({ logits: this.buffers.logits, result: this.buffers.argmax }, 'sample argmax'));
    add(this.kernels.compile(logitProcessor, { capacity: 256 }).bind({ list: this.fixed.list, logits: this.buffers.logits, params: this.fixed.params }, 'sample logit processor'));
    return [...out.values()];
  }

  /** Writes the step uniform the sample's dispatches read (token count and first position). */
  writeStep(shape: StepShape): void {
    this.device.queue.writeBuffer(this.buffers.step, 0, stepData(shape));
  }

  /** The step uniform, for passes that must write it between dispatches of different shapes. */
  get stepBuffer(): GPUBuffer {
    return this.buffers.step;
  }

  destroy(): void {
    for (const b of this.owned) b.destroy();
    this.owned.length = 0;
  }
}
