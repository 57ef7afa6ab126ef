/**
 * Tiny random models in Baichuan-7B's exact layout (fused W_pack, untied lm_head, 64,000-token
 * vocabulary, intermediate size 172 so the last quantization group is padded), at every quantization,
 * multi-head and grouped-query: the GPU forward pass must equal the CPU reference on the same
 * dequantized weights, with the fast kernels (subgroup matvec, split attention, gemm) and with the
 * portable ones.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { readTensors, openArtifact } from '../../sdk/src/model/artifact.js';
import { defaultKvDtype, type Quantization } from '../../sdk/src/model/quant.js';
import { matrixRowBytes } from '../../sdk/src/gpu/limits.js';
import { mulberry32 } from '../../sdk/src/model/random.js';
import { loadModel } from '../../sdk/src/engine/model.js';
import { directorySource } from '../src/fs-source.js';
import { tinyBaichuanConfig, writeRandomModel } from '../src/random-model.js';
import { ReferenceModel } from '../../sdk/src/reference/model.js';
import { collectReferenceWeights } from '../../sdk/src/reference/weights.js';
import { gpuDevice, LAZY_FAST, maxAbsDiff, tempDir } from '../../sdk/test/helpers.js';

const dir = tempDir();
afterAll(() => dir.remove());

const PREFILL = 17;
const DECODE = 16;

const cases: { quant: Quantization; kvHeads: number }[] = [
  { quant: 'q0f32', kvHeads: 4 },
  { quant: 'q0f32', kvHeads: 2 },
  { quant: 'q4f32_1', kvHeads: 4 },
  { quant: 'q4f32_1', kvHeads: 1 },
  { quant: 'q4f16_1', kvHeads: 4 },
  { quant: 'q4f16_1', kvHeads: 2 },
];

describe.each(cases)('random Baichuan-layout model, $quant, $kvHeads KV heads', ({ quant, kvHeads }) => {
  it(`GPU logits equal the CPU reference within 1e-3 over a ${PREFILL}-token prefill and ${DECODE} decode steps (2e-2 where q4f16 decodes in half precision)`, async () => {
    const config = tinyBaichuanConfig({ numKvHeads: kvHeads, numLayers: 2 });
    const out = `${dir.path}/${quant}-${kvHeads}`;
    await writeRandomModel(out, config, quant, 1000 + kvHeads);
    const source = directorySource(out);
    const { cache } = await openArtifact(source);
    const reference = new ReferenceModel(config, await collectReferenceWeights(config, readTensors(source, cache)), 64, defaultKvDtype(quant));
    const device = await gpuDevice();
    const gpu = await loadModel(device, source, { ...LAZY_FAST, contextWindow: 64, maxBatchTokens: 32 });
    // The stepwise model runs the portable kernels, the batched one the fast ones: each checks the other.
    const stepwise = await loadModel(device, source, { contextWindow: 64, kernels: 'baseline', warm: false });
    try {
      const V = config.vocabSize;
      const next = mulberry32(kvHeads);
      const prompt = Array.from({ length: PREFILL }, () => Math.floor(next() * V));
      const refLogits = reference.forward(prompt, 0);
      const gpuLogits = await gpu.forward.run(prompt, 0, 'all-logits');
      expect(maxAbsDiff(gpuLogits, refLogits)).toBeLessThan(1e-3);
      // The same prompt one token at a time must give the same logits as the batch.
      for (let t = 0; t < PREFILL; t++) {
        const single = await stepwise.forward.run([prompt[t]!], t, 'logits');
        expect(maxAbsDiff(single, gpuLogits.subarray(t * V, (t + 1) * V))).toBeLessThan(1e-3);
      }
      // The fast decode of q4f16 runs its dot products in half precision where the device has
      // shader-f16 (lavapipe): the CPU twin of that (kernels.test.ts) stays within 2e-2 of float32.
      const f16 = gpu.forward.choice.f16Arithmetic && quant === 'q4f16_1';
      let pos = PREFILL;
      for (let step = 0; step < DECODE; step++, pos++) {
        const token = Math.floor(next() * V);
        const ref = reference.forward([token], pos);
        const batchedThenDecode = await gpu.forward.run([token], pos, 'logits');
        const stepByStep = await stepwise.forward.run([token], pos, 'logits');
        expect(maxAbsDiff(batchedThenDecode, ref)).toBeLessThan(f16 ? 2e-2 : 1e-3);
        expect(maxAbsDiff(stepByStep, batchedThenDecode)).toBeLessThan(f16 ? 2e-2 : 1e-4);
        if (f16) expect(maxAbsDiff(stepByStep, ref)).toBeLessThan(1e-3); // the portable kernels stay in float32
      }
    } finally {
      gpu.dispose();
      stepwise.dispose();
    }
  });
});

describe.each(['q0f32', 'q4f16_1'] as Quantization[])('held in bands of rows, as on a GPU that binds less than a matrix (%s)', (quant) => {
  it('gives the CPU reference\'s logits with the embedding, gate|up and classifier split over several buffers', async () => {
    const config = tinyBaichuanConfig({ numLayers: 1, vocabSize: 1000 });
    const out = `${dir.path}/split-${quant}`;
    await writeRandomModel(out, config, quant, 77);
    const source = directorySource(out);
    const { cache } = await openArtifact(source);
    const reference = new ReferenceModel(config, await collectReferenceWeights(config, readTensors(source, cache)), 64, defaultKvDtype(quant));
    // Room for 64 rows of the widest matrix (down_proj: 172 columns) per buffer.
    const maxBindingBytes = 64 * matrixRowBytes(quant === 'q0f32' ? 'f32' : 'q4', 172);
    const device = await gpuDevice();
    // One kernel set for both ('auto' times the options at each load, and two loads may pick
    // differently: other summation orders, other last bits), so whole and banded differ only in bands.
    const gpu = await loadModel(device, source, { contextWindow: 64, maxBatchTokens: 32, maxBindingBytes, kernels: 'fast' });
    const whole = await loadModel(device, source, { contextWindow: 64, maxBatchTokens: 32, kernels: 'fast' });
    // Against the float32 reference; decode steps of q4f16 run in half precision where the device has shader-f16.
    const tolerance = gpu.forward.choice.f16Arithmetic && quant === 'q4f16_1' ? 2e-2 : 1e-3;
    try {
      const split = Object.fromEntries(gpu.weights.splitMatrices.map((m) => [m.name, m.bands.length]));
      expect(split).toEqual(quant === 'q0f32'
        ? { 'model.embed_tokens.weight': 8, 'model.layers.0.self_attn.W_pack.weight': 2, 'model.layers.0.mlp.gate_up_proj.weight': 3, 'lm_head.weight': 8 }
        : { 'model.embed_tokens.weight': 6, 'model.layers.0.mlp.gate_up_proj.weight': 2, 'lm_head.weight': 6 });
      expect(whole.weights.splitMatrices).toEqual([]);
      const prompt = [5, 999, 0, 500, 63, 64, 128, 7, 3];
      const banded = await gpu.forward.run(prompt, 0, 'all-logits');
      expect(maxAbsDiff(banded, reference.forward(prompt, 0))).toBeLessThan(1e-3);
      // Each row is computed by the same code whole or in a band: the same numbers.
      expect(maxAbsDiff(banded, await whole.forward.run(prompt, 0, 'all-logits'))).toBeLessThan(1e-6);
      for (const [i, token] of [998, 64, 1].entries()) {
        const logits = await gpu.forward.run([token], prompt.length + i, 'logits');
        expect(maxAbsDiff(logits, reference.forward([token], prompt.length + i))).toBeLessThan(tolerance);
        expect(maxAbsDiff(logits, await whole.forward.run([token], prompt.length + i, 'logits'))).toBeLessThan(1e-6);
      }
    } finally {
      gpu.dispose();
      whole.dispose();
    }
  });
});
