/**
 * "Can this device run it?" on adapters described by their limits: the verdict comes from the same
 * requirements the engine checks before downloading (engineFit), so it says "does not fit" with the
 * numbers exactly when a load would be refused.
 */
import { describe, expect, it } from 'vitest';
import { deviceVerdict, isSoftwareAdapter, softwareSecondsPerToken, type AdapterFacts, type CpuFacts } from '../src/engine/device-fit.js';
import { engineFit } from '../src/engine/requirements.js';
import { buildChatConfig } from '../src/model/artifact.js';
import { BAICHUAN_7B } from '../src/model/config.js';
import { InvalidRequestError } from '../src/errors.js';

const baichuan = buildChatConfig(BAICHUAN_7B, 'q4f16_1', { tokenizerFiles: ['tokenizer.model'] });
const GB = 1e9;
const model = { chatConfig: baichuan, downloadBytes: 3.94 * GB };

/** A desktop GPU as Chrome describes it: 2 GiB bindings, 4 GiB buffers. */
const desktop: AdapterFacts = {
  vendor: 'nvidia',
  architecture: 'ada-lovelace',
  limits: { maxStorageBufferBindingSize: 2 ** 31 - 4, maxBufferSize: 2 ** 32, maxStorageBuffersPerShaderStage: 10, maxComputeWorkgroupStorageSize: 32768, maxComputeInvocationsPerWorkgroup: 1024, maxComputeWorkgroupSizeX: 1024 },
  features: ['subgroups', 'shader-f16'],
};
/** A phone-class adapter with WebGPU's default limits. */
const small: AdapterFacts = { vendor: 'arm', architecture: 'valhall', limits: {}, features: [] };
/** What SwiftShader reports in Chromium. */
const swiftshader: AdapterFacts = { ...desktop, vendor: 'google', architecture: 'swiftshader', description: 'SwiftShader Device (Subzero)', features: ['subgroups'] };

describe('deviceVerdict', () => {
  it('runs Baichuan-7B on a desktop GPU, with the GPU memory the engine would allocate', () => {
    const v = deviceVerdict(model, { adapter: desktop, storage: { quota: 100 * GB, usage: 0 } });
    expect(v.kind).toBe('runs');
    expect(v.gpuBytes).toBe(engineFit(baichuan, desktop).needs.totalBytes);
    expect(v.gpuBytes).toBeGreaterThan(5 * GB); // 4-bit weights and a half-float 4,096-token KV cache
  });

  it('runs Baichuan-7B on phone-sized limits (128 MiB bindings): matrices larger than that are split into bands, and the verdict says so', () => {
    // 4-bit Baichuan-7B's largest tensor (131 MB) just fits WebGPU's default 134 MB binding: nothing to split.
    const q4 = deviceVerdict(model, { adapter: small });
    expect(q4.kind).toBe('runs');
    expect(q4.split).toEqual([]);
    expect(q4.summary).toBe('Runs here.');
    // float32's embedding and classifier are 1,049 MB each, its gate|up 361 MB, W_pack 201 MB, down 180 MB.
    const f32 = buildChatConfig(BAICHUAN_7B, 'q0f32', { tokenizerFiles: ['tokenizer.model'] });
    const v = deviceVerdict({ chatConfig: f32, downloadBytes: 28e9 }, { adapter: small });
    const fit = engineFit(f32, small).fit;
    expect(fit.ok).toBe(true); // the worker loads it
    expect(v.kind).toBe('runs');
    const split = Object.fromEntries(v.split.map((m) => [m.name, m.bands]));
    expect(split['model.embed_tokens.weight']).toBe(8);
    expect(split['lm_head.weight']).toBe(8);
    expect(split['model.layers.0.mlp.gate_up_proj.weight']).toBe(3);
    expect(split['model.layers.0.self_attn.W_pack.weight']).toBe(2);
    expect(split['model.layers.0.self_attn.o_proj.weight']).toBeUndefined(); // 67 MB: whole
    expect(v.split.length).toBe(2 + 3 * 32);
    expect(v.summary).toBe("Runs here (98 of its weight tensors are split into bands to fit this GPU's 128 MiB buffer bindings).");
  });

  it('says what does not fit, with the numbers', () => {
    // Below WebGPU's minimum limits (no adapter has them): a 4,096-token KV cache layer is 34 MB.
    const tiny: AdapterFacts = { ...small, limits: { maxStorageBufferBindingSize: 16 * 2 ** 20, maxBufferSize: 16 * 2 ** 20 } };
    const v = deviceVerdict(model, { adapter: tiny });
    expect(v.kind).toBe('does-not-fit');
    const fit = engineFit(baichuan, tiny).fit;
    expect(fit.ok).toBe(false); // the worker would refuse this load before any download
    expect(v.summary).toMatch(/^Does not fit: needs a 45 MB buffer \(gate\|up\), this GPU allows 17 MB \(maxStorageBufferBindingSize\); try contextWindow ≤ 190;/);
    if (v.kind === 'does-not-fit') expect(v.reasons.length).toBe(fit.ok ? 0 : fit.problems.length);
  });

  it('flags a software GPU and estimates its speed from the weights it streams', () => {
    expect(isSoftwareAdapter(swiftshader)).toBe(true);
    expect(isSoftwareAdapter({ ...desktop, isFallbackAdapter: true })).toBe(true);
    expect(isSoftwareAdapter(desktop)).toBe(false);
    const v = deviceVerdict(model, { adapter: swiftshader });
    expect(v.kind).toBe('software');
    if (v.kind !== 'software') return;
    expect(v.secondsPerToken).toBeGreaterThan(60); // 3.9 GB of weights a token through the CPU
    expect(v.summary).toMatch(/software GPU.*expect about \d+ (s|min) per token/);
    const tiny = deviceVerdict({ chatConfig: buildChatConfig({ ...BAICHUAN_7B, hiddenSize: 256, intermediateSize: 688, numLayers: 4, numHeads: 4, numKvHeads: 4, headDim: 64, vocabSize: 5000, contextWindow: 512 }, 'q4f32_1', { tokenizerFiles: [] }), downloadBytes: 4e6 }, { adapter: swiftshader });
    expect(tiny.kind === 'software' && tiny.secondsPerToken).toBeLessThan(1);
    expect(softwareSecondsPerToken(2e9)).toBeGreaterThan(softwareSecondsPerToken(1e9));
  });

  it('refuses a model the site cannot store, and counts what is already cached', () => {
    const full = deviceVerdict(model, { adapter: desktop, storage: { quota: 5 * GB, usage: 2 * GB } });
    expect(full.kind).toBe('does-not-fit');
    expect(full.summary).toContain('needs 3.9 GB of storage, this site may use 3.0 GB more');
    expect(deviceVerdict({ ...model, cachedBytes: 3.94 * GB }, { adapter: desktop, storage: { quota: 5 * GB, usage: 4.5 * GB } }).kind).toBe('runs');
  });

  it('says when there is no WebGPU or no adapter', () => {
    expect(deviceVerdict(model, { adapter: undefined }).kind).toBe('no-webgpu');
    expect(deviceVerdict(model, { adapter: null }).summary).toMatch(/no GPU adapter/);
  });

  it('a limit reported as NaN (or text, or negative) is unknown: never "allows NaN MB", never "Runs here."', () => {
    for (const bad of [Number.NaN, 'lots', -1, Infinity]) {
      const v = deviceVerdict(model, { adapter: { ...desktop, limits: { ...desktop.limits, maxStorageBufferBindingSize: bad as number } }, storage: { quota: 100 * GB, usage: 0 } });
      expect(v.kind, String(bad)).toBe('unknown');
      expect(v.summary).not.toMatch(/NaN MB|Runs here/);
      expect(v.summary).toMatch(/^Cannot tell whether it runs here.*maxStorageBufferBindingSize \(this browser reports .*; the model needs a [\d.]+ MB buffer\)/);
      expect(v.unchecked).toHaveLength(1);
    }
    // A limit that is known and too small still says "does not fit", with its numbers.
    const both = deviceVerdict(model, { adapter: { ...small, limits: { maxBufferSize: Number.NaN, maxStorageBufferBindingSize: 1e6 } } });
    expect(both.kind).toBe('does-not-fit');
    expect(both.summary).toMatch(/this GPU allows 1\.0 MB \(maxStorageBufferBindingSize\)/);
    expect(both.summary).not.toMatch(/NaN/);
  });

  it('a storage quota reported as NaN: storage is named as not checked, never a plain "Runs here."', () => {
    for (const storage of [{ quota: Number.NaN, usage: 0 }, { quota: 100 * GB, usage: Number.NaN }, { quota: undefined as unknown as number, usage: 0 }]) {
      const v = deviceVerdict(model, { adapter: desktop, storage });
      expect(v.kind).toBe('runs');
      expect(v.summary).not.toBe('Runs here.');
      expect(v.summary).toMatch(/^Runs on this GPU\. Not checked: storage \(this browser reports its quota as .* and its usage as .*; the model needs 3\.9 GB\)\.$/);
    }
    const software = deviceVerdict(model, { adapter: swiftshader, storage: { quota: Number.NaN, usage: 0 } });
    expect(software.summary).toMatch(/per token\. Not checked: storage/);
    // Nothing left to store (all cached): nothing to check either.
    expect(deviceVerdict({ ...model, cachedBytes: model.downloadBytes }, { adapter: desktop, storage: { quota: Number.NaN, usage: 0 } }).summary).toBe('Runs here.');
  });

  it('missing limits (or features) are WebGPU\'s defaults, which every adapter has: an answer, not a throw', () => {
    const adapter = { vendor: 'x' } as unknown as AdapterFacts;
    const v = deviceVerdict(model, { adapter });
    expect(v.kind).toBe(deviceVerdict(model, { adapter: small }).kind);
    expect(v.summary).toBe(deviceVerdict(model, { adapter: small }).summary);
    expect(deviceVerdict(model, { adapter: { limits: undefined, features: 5 } as unknown as AdapterFacts }).kind).toBe('runs');
  });

  it('model facts that are not numbers are the caller\'s error, named: InvalidRequestError', () => {
    expect(() => deviceVerdict({ ...model, downloadBytes: Number.NaN }, { adapter: desktop })).toThrow(InvalidRequestError);
    expect(() => deviceVerdict({ ...model, contextWindow: Number.NaN }, { adapter: desktop })).toThrow(/contextWindow: must be a positive integer, got NaN/);
    // A cached size that is no number counts as nothing cached (the storage check errs on the safe side).
    const v = deviceVerdict({ ...model, cachedBytes: Number.NaN }, { adapter: desktop, storage: { quota: 5 * GB, usage: 2 * GB } });
    expect(v.kind).toBe('does-not-fit');
  });

  describe("with the CPU path's facts (backend 'auto')", () => {
    const cpu: CpuFacts = { wasm: true, memory64: true, jspi: true, threads: false, cores: 2, probeBytesPerSecond: 2e9 };
    const poetry = { chatConfig: buildChatConfig({ ...BAICHUAN_7B, hiddenSize: 256, intermediateSize: 704, numLayers: 4, numHeads: 4, numKvHeads: 4, headDim: 64, vocabSize: 5000, contextWindow: 512 }, 'q4f16_1', { tokenizerFiles: [] }), downloadBytes: 3.6e6 };

    it('keeps a hardware GPU that holds the model on WebGPU', () => {
      expect(deviceVerdict(model, { adapter: desktop, cpu }).path).toBe('webgpu');
    });

    it('sends no WebGPU and a software adapter to the CPU path, with a speed from the probe', () => {
      for (const adapter of [undefined, null, swiftshader]) {
        const v = deviceVerdict(poetry, { adapter, cpu });
        expect(v.kind).toBe('cpu');
        if (v.kind !== 'cpu') return;
        expect(v.path).toBe('cpu');
        expect(v.summary).toMatch(/^Runs on the CPU \(llama\.cpp, 1 thread\) because (no WebGPU here|the only GPU here is a software one): expect about \d+ tokens\/s\.$/);
      }
      const slow = deviceVerdict(poetry, { adapter: undefined, cpu: { ...cpu, probeBytesPerSecond: 1e9 } });
      const fast = deviceVerdict(poetry, { adapter: undefined, cpu });
      expect(slow.kind === 'cpu' && fast.kind === 'cpu' && fast.tokensPerSecond / slow.tokensPerSecond).toBeCloseTo(2, 5);
      const threaded = deviceVerdict(poetry, { adapter: undefined, cpu: { ...cpu, threads: true, cores: 8 } });
      expect(threaded.kind === 'cpu' && threaded.threads).toBe(4);
      // The WebGPU engine alone, when asked for: a software GPU stays a software GPU.
      expect(deviceVerdict(poetry, { adapter: swiftshader, cpu }, { backend: 'webchuan' }).kind).toBe('software');
    });

    it('says when neither path can hold the model, with the CPU\'s numbers', () => {
      const v = deviceVerdict(model, { adapter: undefined, cpu });
      expect(v.kind).toBe('does-not-fit');
      expect(v.path).toBeNull();
      expect(v.summary).toMatch(/^Does not fit: on the CPU, it needs [\d.]+ GB even with a context window of 256 tokens \([\d.]+ GB of weights.*llama\.cpp's wasm memory holds 4\.3 GB/);
      expect(deviceVerdict(poetry, { adapter: undefined, cpu: { ...cpu, wasm: false } }).summary).toMatch(/SIMD or exception handling/);
    });
  });
});
