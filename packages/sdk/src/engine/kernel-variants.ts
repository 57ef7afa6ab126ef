/**
 * Every kernel the engine can assemble for a model: the forward pass's own steps (forwardSteps,
 * allLogitsSteps) turned into kernels by compileOp under every kernel choice variants.ts can make,
 * for every weight format and KV-cache precision, with whole matrices and with matrices split into
 * bands of rows, plus argmax and the logit processor. Nothing runs: the steps are bound to one small
 * stand-in buffer and the kernel cache compiles lazily, so listing costs no GPU memory and no shader
 * compilation — the caller decides what to compile (the default-limits test on Dawn, the Firefox lane
 * with Firefox's WGSL compiler). A test checks that a real forward pass assembles nothing outside this
 * list, so the two cannot drift apart.
 */
import type { ModelConfig } from '../model/config.js';
import { paramSpecs } from '../model/params.js';
import type { Quantization } from '../model/quant.js';
import { KernelCache, type Binding, type BindingKind, type KernelDescriptor } from '../gpu/kernel.js';
import { argmax } from '../gpu/kernels/argmax.js';
import { DEFAULT_CHUNK } from '../gpu/kernels/attention_split.js';
import type { KvDtype, WeightFormat } from '../gpu/kernels/formats.js';
import { logitProcessor } from '../gpu/kernels/logit_processor.js';
import { SPLIT_ROW_ALIGN } from '../gpu/limits.js';
import { chooseKernels, type KernelChoice } from '../gpu/variants.js';
import type { GpuMatrix } from '../gpu/weights.js';
import { allLogitsSteps, forwardSteps, type RunState, type StepWeights } from './forward.js';
import { compileOp, type OpContext } from './ops.js';

/** One pipeline the engine may build: a kernel's descriptor, the parameters it is specialised for, its source. */
export interface KernelVariant {
  /** `matvec_subgroup {"format":"q4f16",…}`: the descriptor's name and parameters. */
  key: string;
  descriptor: KernelDescriptor<unknown, string>;
  params: unknown;
  code: string;
  constants: Record<string, number>;
  /** Adapter features the WGSL enables. */
  features: GPUFeatureName[];
}

export interface VariantOptions {
  /** Default: the model's context window. */
  contextWindow?: number;
  quantizations?: Quantization[];
  kvDtypes?: KvDtype[];
}

const FORMATS: Record<Quantization, WeightFormat> = { q0f32: 'f32', q4f32_1: 'q4f32', q4f16_1: 'q4f16' };

/** The distinct kernel choices variants.ts makes: each preference under every set of optional features. */
export function everyKernelChoice(): KernelChoice[] {
  const featureSets: string[][] = [[], ['shader-f16'], ['subgroups'], ['subgroups', 'shader-f16']];
  const choices = new Map<string, KernelChoice>();
  for (const preference of ['fast', 'baseline'] as const) {
    for (const features of featureSets) {
      const choice = chooseKernels(new Set(features), preference);
      choices.set(JSON.stringify(choice), choice);
    }
  }
  return [...choices.values()];
}

/**
 * Every pipeline the engine may build for `config` (one decoder layer stands for all: they are alike),
 * deduplicated by source and constants, in a stable order.
 */
export function engineKernelVariants(device: GPUDevice, config: ModelConfig, options: VariantOptions = {}): KernelVariant[] {
  const c = { ...config, numLayers: 1 };
  const contextWindow = Math.min(options.contextWindow ?? c.contextWindow, c.contextWindow);
  // One buffer stands in for every binding: 1 KiB holds the second band's offset (64 rows × 4 bytes).
  const stand = device.createBuffer({ label: 'kernel listing stand-in', size: 1024, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.UNIFORM });
  const state: RunState = {
    tokenIds: stand, step: stand, x: stand, xb: stand, qkv: stand, q: stand, att: stand, gateUp: stand, act: stand,
    kCache: [stand], vCache: [stand], xbLast: stand, logits: stand, argmax: stand,
  };
  const variants = new Map<string, KernelVariant>();
  try {
    for (const quantization of options.quantizations ?? (['q0f32', 'q4f32_1', 'q4f16_1'] as Quantization[])) {
      for (const split of [false, true]) {
        const weights = standInWeights(c, FORMATS[quantization], stand, split);
        for (const kvDtype of options.kvDtypes ?? (['f32', 'f16'] as KvDtype[])) {
          for (const choice of everyKernelChoice()) {
            const kernels = new KernelCache(device, { listing: true });
            const ctx: OpContext = { kernels, choice, config: c, kvDtype, contextWindow, attentionChunk: DEFAULT_CHUNK, step: stand, ropeCos: stand, ropeSin: stand, attentionPartials: stand };
            const { body, head } = forwardSteps(c, weights, state);
            for (const op of [...body, ...head, ...allLogitsSteps(c, weights, state, stand)]) compileOp(op, ctx);
            // Bound by ForwardPass itself rather than through a step (the processor's list grows in powers of two from 256).
            kernels.compile(argmax, { vocab: c.vocabSize });
            kernels.compile(logitProcessor, { capacity: 256 });
            for (const { descriptor, params } of kernels.specialisations) {
              const code = descriptor.code(params);
              const constants = descriptor.constants(params);
              const id = `${descriptor.name}|${code}|${JSON.stringify(constants)}`;
              if (!variants.has(id)) {
                variants.set(id, { key: `${descriptor.name} ${JSON.stringify(params)}`, descriptor, params, code, constants, features: descriptor.features?.(params) ?? [] });
              }
            }
          }
        }
      }
    }
  } finally {
    stand.destroy();
  }
  return [...variants.values()];
}

/**
 * Matrices of the config's shapes whose buffers are all `stand`: whole, or (split) in two bands of
 * rows — the first SPLIT_ROW_ALIGN rows and the rest — as GpuWeights holds a matrix larger than a binding.
 */
function standInWeights(c: ModelConfig, format: WeightFormat, stand: GPUBuffer, split: boolean): StepWeights {
  const matrices = new Map<string, GpuMatrix>();
  for (const spec of paramSpecs(c)) {
    if (spec.shape.length !== 2) continue;
    const [rows, cols] = spec.shape as [number, number];
    const scales = format === 'f32' ? undefined : stand;
    const bands =
      split && rows > SPLIT_ROW_ALIGN
        ? [
            { row0: 0, rows: SPLIT_ROW_ALIGN, weights: stand, scales },
            { row0: SPLIT_ROW_ALIGN, rows: rows - SPLIT_ROW_ALIGN, weights: stand, scales },
          ]
        : [{ row0: 0, rows, weights: stand, scales }];
    matrices.set(spec.name, { name: spec.name, format, rows, cols, bands });
  }
  return {
    matrix: (name) => matrices.get(name) ?? missing(name),
    vector: () => stand,
  };
}

function missing(name: string): never {
  throw new Error(`kernel listing: no matrix ${name}`);
}

const BUFFER_TYPE: Record<BindingKind, GPUBufferBindingType> = { read: 'read-only-storage', write: 'storage', uniform: 'uniform' };

/** How many storage buffers (read-only or read-write) a variant binds: WebGPU's default allows 8 per stage. */
export function storageBindings(v: KernelVariant): number {
  return Object.values(v.descriptor.bindings(v.params) as Partial<Record<string, Binding>>).filter((b) => b && b.kind !== 'uniform').length;
}

/**
 * Compiles a variant's pipeline on `device` with the layout the engine gives it, bypassing the
 * engine's own feature check (to learn what the WGSL compiler says): undefined when it compiles,
 * else the compiler's and the validation's messages.
 */
export async function compileVariant(device: GPUDevice, v: KernelVariant): Promise<string | undefined> {
  device.pushErrorScope('internal');
  device.pushErrorScope('validation');
  const bindings = Object.values(v.descriptor.bindings(v.params) as Partial<Record<string, Binding>>).filter((b): b is Binding => b !== undefined);
  const layout = device.createBindGroupLayout({
    entries: bindings.map((b) => ({ binding: b.slot, visibility: GPUShaderStage.COMPUTE, buffer: { type: BUFFER_TYPE[b.kind] } })),
  });
  const module = device.createShaderModule({ label: v.descriptor.name, code: v.code });
  device.createComputePipeline({
    label: v.descriptor.name,
    layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
    compute: { module, entryPoint: 'main', constants: v.constants },
  });
  const validation = await device.popErrorScope();
  const internal = await device.popErrorScope();
  const info = await module.getCompilationInfo();
  const errors = info.messages.filter((m) => m.type === 'error').map((m) => `${m.lineNum}:${m.linePos} ${m.message}`);
  const problems = [...errors, validation?.message, internal?.message].filter((m): m is string => Boolean(m));
  return problems.length > 0 ? problems.join(' | ') : undefined;
}
