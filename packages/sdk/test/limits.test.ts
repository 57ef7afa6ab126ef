/**
 * What a model needs from a GPU, checked against adapters described by plain limit objects: the
 * numbers a page shows ("needs X, this GPU allows Y; try contextWindow ≤ N") come from here.
 */
import { describe, expect, it } from 'vitest';
import { BAICHUAN_7B } from '../src/model/config.js';
import { checkAdapter, DEFAULT_LIMITS, gpuMemoryBytes, modelGpuRequirements, runStateSizes, splitRows } from '../src/gpu/limits.js';
import { GpuLimitsError, requestModelDevice } from '../src/gpu/device.js';
import { GpuUploadError, GpuWeights } from '../src/gpu/weights.js';
import { tinyBaichuanConfig } from '../../cli/src/random-model.js';
import { nodeAdapter } from '../../cli/src/gpu.js';

const GiB = 2 ** 30;
const adapter = (limits: Record<string, number>, features: string[] = []) => ({ limits: { ...DEFAULT_LIMITS, ...limits }, features });

describe('splitRows', () => {
  it('keeps a matrix whole when it fits, else cuts the fewest near-equal bands of multiples of 64 rows', () => {
    expect(splitRows(1000, 100, 100_000)).toEqual([{ row0: 0, rows: 1000 }]);
    // 64,000 float32 rows of 4,096 values (1 GB) under 128 MiB: 8 bands of 8,000 rows (125 × 64).
    const bands = splitRows(64000, 4096 * 4, 128 * 2 ** 20);
    expect(bands.length).toBe(8);
    expect(new Set(bands.map((b) => b.rows))).toEqual(new Set([8000]));
    // Uneven: 150 rows at most 64 per band.
    expect(splitRows(150, 10, 640)).toEqual([{ row0: 0, rows: 64 }, { row0: 64, rows: 64 }, { row0: 128, rows: 22 }]);
    for (const b of splitRows(22016, 4096 * 4, 128 * 2 ** 20)) {
      expect(b.row0 % 64).toBe(0);
      expect(b.rows * 4096 * 4).toBeLessThanOrEqual(128 * 2 ** 20);
    }
    expect(() => splitRows(1000, 100, 6399)).toThrow(/a band of 64 rows/);
  });
});

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

  it('splits weight matrices larger than a binding into bands, asking for as much binding as helps', () => {
    const needs = modelGpuRequirements(BAICHUAN_7B, 'q0f32');
    expect(needs.largestBuffer).toMatchObject({ name: 'model.embed_tokens.weight', bytes: 64000 * 4096 * 4 });
    // What it needs at the least: its largest unsplittable buffer (a float32 4,096-token KV cache layer).
    expect(needs.bindingNeed).toMatchObject({ name: 'k cache (per layer)', bytes: 4096 * 4096 * 4 });
    const fit = checkAdapter(needs, adapter({ maxBufferSize: GiB, maxStorageBufferBindingSize: GiB / 2 }));
    expect(fit.ok).toBe(true);
    if (!fit.ok) return;
    expect(fit.requiredLimits['maxStorageBufferBindingSize']).toBe(GiB / 2);
    expect(fit.requiredLimits['maxBufferSize']).toBe(64000 * 4096 * 4); // all it would use
    expect(fit.split.map((m) => [m.name, m.bands])).toEqual([['model.embed_tokens.weight', 2], ['lm_head.weight', 2]]);
    // On a 4-GiB adapter it asks for the whole 1 GB binding instead.
    const roomy = checkAdapter(needs, adapter({ maxBufferSize: 4 * GiB, maxStorageBufferBindingSize: 4 * GiB }));
    expect(roomy.ok && roomy.requiredLimits['maxStorageBufferBindingSize']).toBe(64000 * 4096 * 4);
    expect(roomy.ok && roomy.split).toEqual([]);
  });

  it('says when no setting helps: a band of 64 rows of a weight matrix larger than any binding', () => {
    // down_proj's rows are 11,008 float32 values: 64 of them are 2.8 MB.
    const needs = modelGpuRequirements(BAICHUAN_7B, 'q0f32', { contextWindow: 16, maxBatchTokens: 1 });
    const fit = checkAdapter(needs, adapter({ maxBufferSize: 2 ** 20, maxStorageBufferBindingSize: 2 ** 20 }));
    expect(fit.ok).toBe(false);
    if (fit.ok) return;
    expect(fit.problems[0]!.message).toContain('needs a 2.8 MB buffer (64 rows of model.layers.0.mlp.down_proj.weight)');
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
      // A vector (never split) whose buffer exceeds the device's limit: createBuffer fails inside the upload's error scope.
      const tooBig = new Float32Array(device.limits.maxBufferSize / 4 + 64);
      const tensors = (async function* () {
        yield { record: { name: 'model.norm.weight', shape: [config.hiddenSize], dtype: 'float32', format: 'raw' as const, nbytes: 0, byteOffset: 0 }, tensor: { dtype: 'float32' as const, data: tooBig } };
      })();
      await expect(GpuWeights.upload(device, config, tensors)).rejects.toBeInstanceOf(GpuUploadError);
    } finally {
      device.destroy();
    }
  });
});
