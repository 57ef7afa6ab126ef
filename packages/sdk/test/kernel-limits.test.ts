/**
 * Portable by construction: every kernel the engine can assemble for Baichuan-7B (every kernel choice,
 * weight format, KV precision, whole and split matrices; engineKernelVariants) stays within WebGPU's
 * default limits — at most 8 storage buffers per stage, 16 KiB of workgroup storage, 256 invocations per
 * workgroup, 65,535 workgroups per dimension at the largest step the engine dispatches — so nothing has
 * to be asked of an adapter beyond buffer sizes. Checked twice: statically from each descriptor, and
 * by compiling each pipeline on a device that has only the default limits (Dawn validates workgroup
 * storage and invocations there). Variants needing a feature this lane's adapter lacks are listed and
 * skipped; the lavapipe lane has them all.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_WORKGROUPS_PER_DIM } from '../src/gpu/kernel.js';
import { BATCH_TMAX } from '../src/gpu/kernels/matvec_batch.js';
import { fillRandom, streamRead } from '../src/gpu/kernels/bench.js';
import { DEFAULT_LIMITS, matrixRowBytes, modelGpuRequirements, type LimitName } from '../src/gpu/limits.js';
import { compileVariant, engineKernelVariants, everyKernelChoice, storageBindings, type KernelVariant } from '../src/engine/kernel-variants.js';
import { ForwardPass } from '../src/engine/forward.js';
import { GpuWeights } from '../src/gpu/weights.js';
import { BAICHUAN_7B } from '../src/model/config.js';
import { announceDevice, nodeAdapter } from '../../cli/src/gpu.js';
import { tinyBaichuanConfig } from '../../cli/src/random-model.js';
import { laneFeatures } from './helpers.js';

const CONTEXT = BAICHUAN_7B.contextWindow;
const BATCH = 512;

/** The steps the engine dispatches, at their extremes: one token at the first and last position, every batch kind, a full batch at the end of the context. */
const STEPS = [1, 2, BATCH_TMAX, BATCH_TMAX + 1, 16, 17, BATCH].flatMap((tokens) => [
  { tokens, startPos: 0 },
  { tokens, startPos: CONTEXT - tokens },
]);

let device: GPUDevice;
let variants: KernelVariant[];

beforeAll(async () => {
  const adapter = await nodeAdapter();
  // No required limits: the device has WebGPU's defaults, whatever the adapter could give.
  const features = (['shader-f16', 'subgroups'] as GPUFeatureName[]).filter((f) => adapter.features.has(f));
  device = await adapter.requestDevice({ label: 'default limits', requiredFeatures: features });
  announceDevice(device);
  variants = engineKernelVariants(device, BAICHUAN_7B, { contextWindow: CONTEXT });
  // The benchmark's own kernels, at Baichuan-7B sizes.
  const benchmark = [
    { descriptor: streamRead, params: { words: (256 * 2 ** 20) / 16 } },
    { descriptor: fillRandom, params: { mode: 'bits' as const, lo: 0, hi: 0, count: (64000 * 4096) / 8 } },
  ];
  for (const { descriptor, params } of benchmark) {
    variants.push({ key: `${descriptor.name} ${JSON.stringify(params)}`, descriptor: descriptor as never, params, code: descriptor.code(params as never), constants: descriptor.constants(params as never), features: [] });
  }
});

describe("every kernel variant within WebGPU's default limits", () => {
  it('lists every variant: each kernel under every choice, format and KV precision', () => {
    const names = new Set(variants.map((v) => v.descriptor.name));
    for (const name of ['embedding', 'rmsnorm', 'matvec', 'matvec_subgroup', 'matvec_batch', 'matmul', 'gemm', 'rope', 'attention', 'attention_split', 'attention_combine', 'swiglu', 'argmax', 'logit_processor']) {
      expect(names, name).toContain(name);
    }
    expect(everyKernelChoice().length).toBeGreaterThanOrEqual(4);
    expect(variants.some((v) => v.features.includes('shader-f16'))).toBe(true);
    console.log(`${variants.length} pipelines: ${[...names].join(', ')}`);
  });

  it('asks no adapter for more than the defaults but buffer sizes', () => {
    const needs = modelGpuRequirements(BAICHUAN_7B, 'q4f16_1', { contextWindow: CONTEXT, maxBatchTokens: BATCH });
    for (const [limit, value] of Object.entries(needs.limits) as [LimitName, number][]) {
      if (limit === 'maxStorageBufferBindingSize' || limit === 'maxBufferSize') continue;
      expect(value, limit).toBeLessThanOrEqual(DEFAULT_LIMITS[limit]!);
    }
    expect(device.limits.maxStorageBuffersPerShaderStage).toBe(8);
    expect(device.limits.maxComputeWorkgroupStorageSize).toBe(16384);
    expect(device.limits.maxComputeInvocationsPerWorkgroup).toBe(256);
    expect(device.limits.maxComputeWorkgroupsPerDimension).toBe(65535);
  });

  it('binds at most 8 storage buffers, and dispatches at most 65,535 workgroups per dimension at every step', () => {
    for (const v of variants) {
      expect(storageBindings(v), v.key).toBeLessThanOrEqual(8);
      for (const step of STEPS) {
        const grid = v.descriptor.workgroups(v.params, step);
        for (const n of grid) expect(n, `${v.key} at ${JSON.stringify(step)}`).toBeLessThanOrEqual(MAX_WORKGROUPS_PER_DIM);
      }
    }
  });

  it('compiles on a device with only the default limits (16 KiB workgroup storage, 256 invocations)', async () => {
    const unavailable = variants.filter((v) => v.features.some((f) => !device.features.has(f)));
    for (const feature of laneFeatures()) expect(device.features.has(feature as GPUFeatureName), `this lane promises ${feature}`).toBe(true);
    if (unavailable.length > 0) console.warn(`[skip] ${unavailable.length} variants need features this adapter lacks: ${[...new Set(unavailable.flatMap((v) => v.features))].join(', ')}`);
    const failures: string[] = [];
    for (const v of variants) {
      if (unavailable.includes(v)) continue;
      const problem = await compileVariant(device, v);
      if (problem) failures.push(`${v.key}: ${problem}`);
    }
    expect(failures).toEqual([]);
  }, 600_000);
});

describe('the list is what the engine assembles', () => {
  it('a forward pass (fast and portable kernels, float and 4-bit weights, whole and split matrices) binds only listed kernels', async () => {
    const config = tinyBaichuanConfig({ vocabSize: 300, numLayers: 1 });
    // Compared by source and constants, but those that only place a band (its rows, where it starts):
    // the listing splits matrices at 64 rows, the forward pass where its buffer limit falls.
    const identity = (name: string, code: string, constants: Record<string, number>) => {
      const { N: _n, Y_STRIDE: _s, ROW0: _r, ROWS: _rows, ...shape } = constants;
      return `${name}|${code}|${JSON.stringify(shape)}`;
    };
    const listed = new Set(engineKernelVariants(device, config, { contextWindow: 64 }).map((v) => identity(v.descriptor.name, v.code, v.constants)));
    for (const quantization of ['q0f32', 'q4f16_1'] as const) {
      // Room for 64 rows of the widest matrix (down_proj: 172 columns) only: the 300-row embedding and
      // classifier and the 344-row gate|up are split into bands.
      const weights = await GpuWeights.random(device, config, quantization, 1, { maxBindingBytes: 64 * matrixRowBytes(quantization === 'q0f32' ? 'f32' : 'q4', 172) });
      expect(weights.splitMatrices.map((m) => m.name)).toEqual(expect.arrayContaining(['model.embed_tokens.weight', 'model.layers.0.mlp.gate_up_proj.weight', 'lm_head.weight']));
      for (const kernels of ['fast', 'baseline'] as const) {
        const forward = new ForwardPass(device, config, weights, { contextWindow: 64, maxBatchTokens: 32, kernels, kvDtype: quantization === 'q4f16_1' ? 'f16' : 'f32' });
        await forward.run([1, 2, 3], 0, 'all-logits');
        await forward.run([4], 3, 'logits', { list: [{ id: 5, inContext: true, generatedCount: 1, bias: 0 }], params: { repetition_penalty: 1.1 } });
        for (const { descriptor, params } of forward.assembledKernels) {
          expect(listed, `${descriptor.name} ${JSON.stringify(params)}`).toContain(identity(descriptor.name, descriptor.code(params), descriptor.constants(params)));
        }
        forward.destroy();
      }
      weights.destroy();
    }
  });
});
