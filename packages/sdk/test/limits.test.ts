/**
 * What a model needs from a GPU, checked against adapters described by plain limit objects: the
 * numbers a page shows ("needs X, this GPU allows Y; try contextWindow ≤ N") come from here.
 */
import { describe, expect, it } from 'vitest';
import { BAICHUAN_7B } from '../src/model/config.js';
import { checkAdapter, DEFAULT_LIMITS, gpuMemoryBytes, modelGpuRequirements, runStateSizes } from '../src/gpu/limits.js';
import { GpuLimitsError, requestModelDevice } from '../src/gpu/device.js';
import { GpuUploadError, GpuWeights } from '../src/gpu/weights.js';
import { tinyBaichuanConfig } from '../../cli/src/random-model.js';
import { nodeAdapter } from '../../cli/src/gpu.js';

const GiB = 2 ** 30;
const adapter = (limits: Record<string, number>, features: string[] = []) => ({ limits: { ...DEFAULT_LIMITS, ...limits }, features });

describe('modelGpuRequirements', () => {
  it('lists Baichuan-7B q4f16_1 at 4,096 tokens: the 131 MB embedding is the largest buffer, 6.2 GB in all', () => {
    const needs = modelGpuRequirements(BAICHUAN_7B, 'q4f16_1');
    expect(needs.contextWindow).toBe(4096);
    expect(needs.kvDtype).toBe('f16');
    expect(needs.largestBuffer.bytes).toBe(64000 * 512 * 4);
    expect(needs.largestBuffer.name).toBe('model.embed_tokens.q_weight');
    const kv = needs.buffers.find((b) => b.name.startsWith('k cache'))!;
    expect(kv).toMatchObject({ bytes: 4096 * 4096 * 2, count: 32 });
    expect(needs.totalBytes).toBeGreaterThan(6.1e9);
    expect(needs.totalBytes).toBeLessThan(6.4e9);
    expect(gpuMemoryBytes(BAICHUAN_7B, 'q4f16_1')).toBe(needs.totalBytes);
    expect(needs.optionalFeatures).toEqual(['subgroups', 'shader-f16']);
  });

  it('sizes the run state as the forward pass allocates it', () => {
    const s = runStateSizes(BAICHUAN_7B, 4096, 512, 'f16');
    expect(s.gateUp).toBe(512 * 2 * 11008 * 4);
    expect(s.kvCache).toBe(4096 * 4096 * 2);
    expect(s.ropeTable).toBe(4096 * 64 * 4);
    expect(s.attentionPartials).toBe(32 * 16 * 130 * 4);
  });
});

describe('checkAdapter', () => {
  it('fits a GPU with default limits and requests them, with the optional features it has', () => {
    const fit = checkAdapter(modelGpuRequirements(BAICHUAN_7B, 'q4f16_1'), adapter({}, ['subgroups', 'timestamp-query']));
    expect(fit.ok).toBe(true);
    if (!fit.ok) return;
    expect(fit.features).toEqual(['subgroups']);
    expect(fit.requiredLimits['maxStorageBufferBindingSize']).toBe(DEFAULT_LIMITS.maxStorageBufferBindingSize);
  });

  it('says which buffer does not fit, by how much, and the largest context window that would', () => {
    // A float32 cache of 32,768 positions × 512 values is 67 MB per layer; a GPU allowing 32 MiB
    // bindings holds 16,384 positions.
    const config = tinyBaichuanConfig({ hiddenSize: 512, numHeads: 4, numKvHeads: 4, headDim: 128, vocabSize: 1000, contextWindow: 32768 });
    const needs = modelGpuRequirements(config, 'q4f32_1', { maxBatchTokens: 1 });
    const fit = checkAdapter(needs, adapter({ maxStorageBufferBindingSize: 32 * 2 ** 20 }));
    expect(fit.ok).toBe(false);
    if (fit.ok) return;
    expect(fit.problems[0]).toMatchObject({ limit: 'maxStorageBufferBindingSize', needed: 32768 * 512 * 4, allowed: 32 * 2 ** 20 });
    expect(fit.problems[0]!.message).toContain('needs a 67 MB buffer (k cache (per layer)), this GPU allows 34 MB');
    expect(fit.suggestion.contextWindow).toBe(16384);
    expect(fit.problems[0]!.message).toContain('try contextWindow ≤ 16384');
  });

  it('suggests a smaller prefill batch when the activations are what does not fit', () => {
    // gate|up for 512 tokens: 512 × 22,016 × 4 = 45 MB.
    const needs = modelGpuRequirements(tinyBaichuanConfig({ intermediateSize: 11008, hiddenSize: 64 }), 'q4f16_1', { maxBatchTokens: 512, contextWindow: 256 });
    const fit = checkAdapter(needs, adapter({ maxStorageBufferBindingSize: 16 * 2 ** 20, maxBufferSize: 16 * 2 ** 20 }));
    expect(fit.ok).toBe(false);
    if (fit.ok) return;
    expect(fit.suggestion.maxBatchTokens).toBe(Math.floor((16 * 2 ** 20) / (2 * 11008 * 4)));
    expect(fit.problems[0]!.message).toContain('try maxBatchTokens ≤');
  });

  it('says when no setting helps: a weight tensor larger than any buffer', () => {
    const fit = checkAdapter(modelGpuRequirements(BAICHUAN_7B, 'q0f32'), adapter({ maxBufferSize: GiB, maxStorageBufferBindingSize: GiB / 2 }));
    expect(fit.ok).toBe(false);
    if (fit.ok) return;
    expect(fit.problems[0]!.message).toContain('model.embed_tokens.weight');
    expect(fit.problems[0]!.message).toContain('no smaller setting helps');
  });

  it('checks workgroup limits too', () => {
    const fit = checkAdapter(modelGpuRequirements(tinyBaichuanConfig(), 'q4f16_1'), adapter({ maxComputeWorkgroupStorageSize: 4096 }));
    expect(fit.ok).toBe(false);
    if (!fit.ok) expect(fit.problems.map((p) => p.limit)).toEqual(['maxComputeWorkgroupStorageSize']);
  });
});

describe('requestModelDevice', () => {
  it('throws GpuLimitsError before creating a device when the adapter falls short', async () => {
    const gpu = await nodeAdapter();
    const needs = modelGpuRequirements(BAICHUAN_7B, 'q4f16_1');
    const huge = { ...needs, limits: { ...needs.limits, maxStorageBufferBindingSize: gpu.limits.maxStorageBufferBindingSize + 4 } };
    await expect(requestModelDevice(gpu, huge)).rejects.toBeInstanceOf(GpuLimitsError);
  });

  it('requests exactly what the model needs; an upload that fails on the GPU becomes GpuUploadError and frees its buffers', async () => {
    const gpu = await nodeAdapter();
    const config = tinyBaichuanConfig();
    const needs = modelGpuRequirements(config, 'q4f16_1', { contextWindow: 64 });
    const device = await requestModelDevice(gpu, needs);
    try {
      expect(device.limits.maxStorageBufferBindingSize).toBe(Math.max(needs.largestBuffer.bytes, DEFAULT_LIMITS.maxStorageBufferBindingSize!));
      // A tensor whose buffer exceeds the device's limit: createBuffer fails inside the upload's error scope.
      const tooBig = new Float32Array(device.limits.maxBufferSize / 4 + 64);
      const tensors = (async function* () {
        yield { record: { name: 'model.embed_tokens.weight', shape: [config.vocabSize, config.hiddenSize], dtype: 'float32', format: 'raw' as const, nbytes: 0, byteOffset: 0 }, tensor: { dtype: 'float32' as const, data: tooBig } };
      })();
      await expect(GpuWeights.upload(device, config, tensors)).rejects.toBeInstanceOf(GpuUploadError);
    } finally {
      device.destroy();
    }
  });
});
