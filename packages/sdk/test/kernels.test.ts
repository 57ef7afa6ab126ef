/**
 * Each WGSL kernel against its CPU twin in reference/kernels.ts, on small odd shapes (a K that is not
 * a multiple of 32, so the padded quantization group is exercised; grouped-query heads; ties in argmax).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { readBuffer, storageBuffer, storageBufferWith, uniformBuffer } from '../src/gpu/buffers.js';
import { KernelCache, type BindingShape } from '../src/gpu/kernel-cache.js';
import { KERNELS, KV_FORMAT_WGSL, WEIGHT_FORMAT_WGSL, type WeightFormat } from '../src/gpu/shaders.js';
import { weightConstants } from '../src/gpu/weights.js';
import { f16ArrayToF32, f32ToF16Bits } from '../src/model/half.js';
import { dequantizeQ4, quantizeQ4 } from '../src/model/quant.js';
import { mulberry32 } from '../src/model/random.js';
import { ropeTables } from '../src/model/rope.js';
import * as cpu from '../src/reference/kernels.js';
import { gpuDevice, maxAbsDiff } from './helpers.js';

let device: GPUDevice;
let kernels: KernelCache;
beforeAll(async () => {
  device = await gpuDevice();
  kernels = new KernelCache(device);
});

const rand = (n: number, seed: number, scale = 1) => {
  const next = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (next() * 2 - 1) * scale);
};

async function run(code: string, constants: Record<string, number>, shape: BindingShape, buffers: Record<number, GPUBuffer>, workgroups: [number, number]) {
  const kernel = kernels.get('test', code, constants, shape);
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(kernel.pipeline);
  pass.setBindGroup(0, kernels.bindGroup(kernel, buffers));
  pass.dispatchWorkgroups(...workgroups);
  pass.end();
  device.queue.submit([encoder.finish()]);
}

async function floats(buffer: GPUBuffer, count: number): Promise<Float32Array> {
  return new Float32Array(await readBuffer(device, buffer, count * 4));
}

function step(tokens: number, startPos: number): GPUBuffer {
  const b = uniformBuffer(device, 8, 'step');
  device.queue.writeBuffer(b, 0, new Uint32Array([tokens, startPos]));
  return b;
}

/** A weight matrix in one of the GPU formats, and the float32 values the GPU should see. */
function matrix(format: WeightFormat, rows: number, cols: number, seed: number) {
  const w = rand(rows * cols, seed, 0.5);
  if (format === 'f32') return { values: w, buffers: { 2: storageBufferWith(device, w, 'w') } as Record<number, GPUBuffer>, shape: { 0: 'read', 1: 'write', 2: 'read', 4: 'uniform' } as BindingShape };
  const q = quantizeQ4(w, rows, cols, format === 'q4f16' ? 'float16' : 'float32');
  const scales = format === 'q4f16' ? Uint16Array.from(q.scales, (s) => f32ToF16Bits(s)) : q.scales;
  return {
    values: dequantizeQ4(q),
    buffers: { 2: storageBufferWith(device, q.qWeight, 'q'), 3: storageBufferWith(device, scales, 's') } as Record<number, GPUBuffer>,
    shape: { 0: 'read', 1: 'write', 2: 'read', 3: 'read', 4: 'uniform' } as BindingShape,
  };
}

describe.each(['f32', 'q4f32', 'q4f16'] as WeightFormat[])('%s weights', (format) => {
  const K = 72;
  const N = 37;

  it('matvec (decode), batched matvec (2–8 tokens) and matmul (prefill) equal the CPU matmul, with and without the residual add', async () => {
    const m = matrix(format, N, K, 11);
    const constants = { ...weightConstants({ format, cols: K }), K, N };
    const kernelsFor = (T: number): [string, Record<string, number>, [number, number]][] => {
      const list: [string, Record<string, number>, [number, number]][] = [];
      if (T === 1) list.push([KERNELS.matvec, { ...constants, WG: 16 }, [Math.ceil(N / 4), 1]]);
      if (T >= 2 && T <= 8) list.push([KERNELS.matvecBatch, { ...constants, WG: 16 }, [Math.ceil(N / 2), 1]]);
      if (T >= 2) list.push([KERNELS.matmul, constants, [Math.ceil(N / 32), Math.ceil(T / 32)]]);
      return list;
    };
    for (const T of [1, 2, 5, 8, 33]) {
      const x = rand(T * K, T);
      const residual = rand(T * N, 99);
      for (const [kernel, c, grid] of kernelsFor(T)) {
        for (const accumulate of [0, 1]) {
          const y = storageBufferWith(device, residual, 'y');
          await run(WEIGHT_FORMAT_WGSL[format] + kernel, { ...c, ACCUMULATE: accumulate }, m.shape, { 0: storageBufferWith(device, x, 'x'), 1: y, 4: step(T, 0), ...m.buffers }, grid);
          const expected = cpu.matmul(x, m.values, N, K);
          if (accumulate) cpu.addInPlace(expected, residual);
          expect(maxAbsDiff(await floats(y, T * N), expected), `T=${T}`).toBeLessThan(1e-4);
        }
      }
    }
  });

  it('embedding looks up and dequantizes rows', async () => {
    const V = 40;
    const m = matrix(format, V, K, 12);
    const tokens = [3, 39, 0, 3, 17];
    const out = storageBuffer(device, tokens.length * K * 4, 'out');
    await run(WEIGHT_FORMAT_WGSL[format] + KERNELS.embedding, { ...weightConstants({ format, cols: K }), K }, m.shape,
      { 0: storageBufferWith(device, new Uint32Array(tokens), 'ids'), 1: out, 4: step(tokens.length, 0), ...m.buffers }, [Math.ceil((tokens.length * 9) / 64), 1]);
    expect(maxAbsDiff(await floats(out, tokens.length * K), cpu.embedding(m.values, K, tokens))).toBe(0);
  });
});

describe('layer kernels', () => {
  it('rmsnorm', async () => {
    const H = 100;
    const x = rand(3 * H, 1, 3);
    const w = rand(H, 2);
    const out = storageBuffer(device, x.byteLength, 'out');
    await run(KERNELS.rmsnorm, { H, EPS: 1e-5 }, { 0: 'read', 1: 'write', 2: 'read' }, { 0: storageBufferWith(device, x, 'x'), 1: out, 2: storageBufferWith(device, w, 'w') }, [3, 1]);
    expect(maxAbsDiff(await floats(out, x.length), cpu.rmsNorm(x, w, 1e-5))).toBeLessThan(1e-5);
  });

  it.each(['f32', 'f16'] as const)('rope + KV cache append (%s cache), then causal grouped-query attention, across batches', async (kvDtype) => {
    const heads = { headDim: 8, numHeads: 4, numKvHeads: 2 };
    const constants = { HEAD_DIM: 8, N_HEADS: 4, N_KV_HEADS: 2 };
    const ctx = 80;
    const width = (4 + 2 * 2) * 8;
    const tables = ropeTables(8, 10000, ctx);
    const kv = 2 * 8;
    const bytes = kvDtype === 'f16' ? 2 : 4;
    const gpuK = storageBuffer(device, ctx * kv * bytes, 'k');
    const gpuV = storageBuffer(device, ctx * kv * bytes, 'v');
    const cpuK = new Float32Array(ctx * kv);
    const cpuV = new Float32Array(ctx * kv);
    const cos = storageBufferWith(device, tables.cos, 'cos');
    const sin = storageBufferWith(device, tables.sin, 'sin');
    const format = KV_FORMAT_WGSL[kvDtype];
    const readCache = async (buffer: GPUBuffer, count: number) =>
      kvDtype === 'f32' ? floats(buffer, count) : f16ArrayToF32(new Uint16Array(await readBuffer(device, buffer, count * 2)));
    let pos = 0;
    for (const T of [70, 3, 1]) { // 70 keys span two 64-key tiles of the online softmax
      const qkv = rand(T * width, T + pos, 2);
      const q = storageBuffer(device, T * 32 * 4, 'q');
      const out = storageBuffer(device, T * 32 * 4, 'out');
      const s = step(T, pos);
      await run(format.store + KERNELS.rope, constants, { 0: 'read', 1: 'write', 2: 'write', 3: 'write', 4: 'uniform', 5: 'read', 6: 'read' },
        { 0: storageBufferWith(device, qkv, 'qkv'), 1: q, 2: gpuK, 3: gpuV, 4: s, 5: cos, 6: sin }, [Math.ceil((T * 8 * 2) / 64), 1]);
      const cpuQ = cpu.ropeAndCache(qkv, heads, pos, tables.cos, tables.sin, cpuK, cpuV, kvDtype);
      expect(maxAbsDiff(await floats(q, T * 32), cpuQ)).toBeLessThan(1e-5);
      await run(format.load + KERNELS.attention, constants, { 0: 'read', 1: 'write', 2: 'read', 3: 'read', 4: 'uniform' }, { 0: q, 1: out, 2: gpuK, 3: gpuV, 4: s }, [4, T]);
      expect(maxAbsDiff(await floats(out, T * 32), cpu.attention(cpuQ, heads, pos, cpuK, cpuV))).toBeLessThan(1e-4);
      pos += T;
    }
    // f16: the GPU may round a value to either neighbour; allow one f16 step at |x| < 8.
    const tolerance = kvDtype === 'f32' ? 1e-5 : 8 * 2 ** -10;
    expect(maxAbsDiff(await readCache(gpuK, pos * kv), cpuK.subarray(0, pos * kv))).toBeLessThan(tolerance);
    expect(maxAbsDiff(await readCache(gpuV, pos * kv), cpuV.subarray(0, pos * kv))).toBeLessThanOrEqual(kvDtype === 'f32' ? 0 : tolerance);
  });

  it('swiglu', async () => {
    const I = 50;
    const gu = rand(2 * 2 * I, 5, 4);
    const out = storageBuffer(device, 2 * I * 4, 'out');
    await run(KERNELS.swiglu, { I }, { 0: 'read', 1: 'write', 4: 'uniform' }, { 0: storageBufferWith(device, gu, 'gu'), 1: out, 4: step(2, 0) }, [2, 1]);
    expect(maxAbsDiff(await floats(out, 2 * I), cpu.swiglu(gu, I))).toBeLessThan(1e-5);
  });

  it('argmax picks the largest value, the lowest index among ties', async () => {
    for (const [values, seed] of [[rand(64000, 3), 0], [Float32Array.from([1, 5, 2, 5, 5, -1]), 1]] as const) {
      const out = storageBuffer(device, 4, 'out');
      await run(KERNELS.argmax, { V: values.length }, { 0: 'read', 1: 'write' }, { 0: storageBufferWith(device, values, 'l'), 1: out }, [1, 1]);
      expect(new Uint32Array(await readBuffer(device, out, 4))[0], `case ${seed}`).toBe(cpu.argmax(values));
    }
  });
});

describe('logit processor', () => {
  it('applies repetition, presence and frequency penalties and biases like the CPU sampler', async () => {
    const { adjustments, applyAdjustments } = await import('../src/engine/sampler.js');
    const V = 300;
    const logits = rand(V, 8, 5);
    const params = { repetition_penalty: 1.3, presence_penalty: 0.4, frequency_penalty: 0.2, logit_bias: { '7': 3, '250': -100 } };
    const list = adjustments(params, [1, 2, 3, 7, 7, 100, 299], [3, 3, 100, 5]);
    const gpuLogits = storageBufferWith(device, logits, 'logits');
    const data = new ArrayBuffer(list.length * 16);
    list.forEach((a, i) => {
      new Uint32Array(data, i * 16, 3).set([a.id, a.inContext ? 1 : 0, a.generatedCount]);
      new Float32Array(data, i * 16 + 12, 1)[0] = a.bias;
    });
    const p = new ArrayBuffer(16);
    new Uint32Array(p)[0] = list.length;
    new Float32Array(p).set([1.3, 0.4, 0.2], 1);
    const u = uniformBuffer(device, 16, 'params');
    device.queue.writeBuffer(u, 0, p);
    await run(KERNELS.logitProcessor, {}, { 0: 'read', 1: 'write', 4: 'uniform' }, { 0: storageBufferWith(device, new Uint8Array(data), 'list'), 1: gpuLogits, 4: u }, [1, 1]);
    const expected = logits.slice();
    applyAdjustments(expected, list, params);
    expect(maxAbsDiff(await floats(gpuLogits, V), expected)).toBeLessThan(1e-5);
  });
});
