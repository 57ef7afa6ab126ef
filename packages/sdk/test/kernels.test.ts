/**
 * Each WGSL kernel against its CPU twin in reference/kernels.ts, on small odd shapes (a K that is not
 * a multiple of 32, so the padded quantization group is exercised; grouped-query heads; ties in argmax).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { readBuffer, storageBuffer, storageBufferWith, uniformBuffer } from '../src/gpu/buffers.js';
import { KernelCache, type KernelDescriptor, type StepShape } from '../src/gpu/kernel.js';
import { matrixRowBytes, splitRows, type RowBand } from '../src/gpu/limits.js';
import { argmax } from '../src/gpu/kernels/argmax.js';
import { attention } from '../src/gpu/kernels/attention.js';
import { attentionCombine, attentionSplit, maxChunks, type SplitAttentionParams } from '../src/gpu/kernels/attention_split.js';
import { fillArgs, fillRandom, streamRead, streamThreads, STREAM_PER_THREAD, type FillMode } from '../src/gpu/kernels/bench.js';
import { embedding } from '../src/gpu/kernels/embedding.js';
import type { KvDtype, WeightFormat } from '../src/gpu/kernels/formats.js';
import { gemm } from '../src/gpu/kernels/gemm.js';
import { logitProcessor } from '../src/gpu/kernels/logit_processor.js';
import { matmul } from '../src/gpu/kernels/matmul.js';
import { matvec, type LinearParams } from '../src/gpu/kernels/matvec.js';
import { matvecBatch } from '../src/gpu/kernels/matvec_batch.js';
import { matvecSubgroup } from '../src/gpu/kernels/matvec_subgroup.js';
import { rmsnorm } from '../src/gpu/kernels/rmsnorm.js';
import { rope, type HeadParams } from '../src/gpu/kernels/rope.js';
import { stepData } from '../src/gpu/kernels/step.js';
import { swiglu } from '../src/gpu/kernels/swiglu.js';
import { maskWords, tokenMask } from '../src/gpu/kernels/token_mask.js';
import { f16ArrayToF32, f32ToF16Bits } from '../src/model/half.js';
import { dequantizeQ4, quantizeQ4 } from '../src/model/quant.js';
import { mulberry32 } from '../src/model/random.js';
import { ropeTables } from '../src/model/rope.js';
import * as cpu from '../src/reference/kernels.js';
import { gpuDevice, hasFeatures, maxAbsDiff } from './helpers.js';

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

/** Compiles `descriptor` for `params`, binds `buffers` by name and runs one step. */
async function run<P, B extends string>(descriptor: KernelDescriptor<P, B>, params: P, buffers: Partial<Record<B, GPUBuffer | GPUBufferBinding>>, step: StepShape = { tokens: 1, startPos: 0 }) {
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  kernels.compile(descriptor, params).bind(buffers).encode(pass, step);
  pass.end();
  device.queue.submit([encoder.finish()]);
}

async function floats(buffer: GPUBuffer, count: number): Promise<Float32Array> {
  return new Float32Array(await readBuffer(device, buffer, count * 4));
}

function stepBuffer(step: StepShape): GPUBuffer {
  const b = uniformBuffer(device, 8, 'step');
  device.queue.writeBuffer(b, 0, stepData(step));
  return b;
}

/** A weight matrix in one of the GPU formats, and the float32 values the GPU should see. */
function matrix(format: WeightFormat, rows: number, cols: number, seed: number) {
  const w = rand(rows * cols, seed, 0.5);
  if (format === 'f32') return { rows, cols, values: w, q: undefined, buffers: { weights: storageBufferWith(device, w, 'w'), scales: undefined } };
  const q = quantizeQ4(w, rows, cols, format === 'q4f16' ? 'float16' : 'float32');
  const scales = format === 'q4f16' ? Uint16Array.from(q.scales, (s) => f32ToF16Bits(s)) : q.scales;
  return { rows, cols, values: dequantizeQ4(q), q, buffers: { weights: storageBufferWith(device, q.qWeight, 'q'), scales: storageBufferWith(device, scales, 's') } };
}

/** Buffers holding rows band.row0 … of a matrix made by matrix(): what GpuWeights uploads for a band. */
function bandOf(format: WeightFormat, m: ReturnType<typeof matrix>, band: RowBand): { weights: GPUBuffer; scales?: GPUBuffer } {
  if (format === 'f32') return { weights: storageBufferWith(device, m.values.subarray(band.row0 * m.cols, (band.row0 + band.rows) * m.cols), 'w band') };
  const q = m.q!;
  const words = q.qWeight.length / m.rows;
  const groups = q.scales.length / m.rows;
  const scales = q.scales.subarray(band.row0 * groups, (band.row0 + band.rows) * groups);
  return {
    weights: storageBufferWith(device, q.qWeight.subarray(band.row0 * words, (band.row0 + band.rows) * words), 'q band'),
    scales: storageBufferWith(device, format === 'q4f16' ? Uint16Array.from(scales, (v) => f32ToF16Bits(v)) : scales, 's band'),
  };
}

/** Every matrix-product kernel and the batch sizes it serves. */
const PRODUCTS: { descriptor: KernelDescriptor<LinearParams, 'x' | 'y' | 'weights' | 'scales' | 'step'>; extra?: object; tokens: number[] }[] = [
  { descriptor: matvec, tokens: [1] },
  { descriptor: matvecSubgroup, extra: { arithmetic: 'f32' }, tokens: [1] },
  { descriptor: matvecBatch, tokens: [2, 5, 8] },
  { descriptor: matmul, tokens: [2, 9, 33] },
  { descriptor: gemm, extra: { tileTokens: 16 }, tokens: [2, 9, 16, 33] },
  { descriptor: gemm, extra: { tileTokens: 32 }, tokens: [2, 9, 33, 70] },
];

describe.each(['f32', 'q4f32', 'q4f16'] as WeightFormat[])('%s weights', (format) => {
  // K = 72 is not a multiple of 32 (a padded quantization group); N = 37 and 70 leave partial tiles.
  const K = 72;
  it.each(PRODUCTS.map((p) => [`${p.descriptor.name}${p.extra ? ` ${JSON.stringify(p.extra)}` : ''}`, p] as const))('%s equals the CPU matmul, with and without the residual add', async (_, product) => {
    for (const N of [37, 70]) {
      const m = matrix(format, N, K, 11 + N);
      for (const T of product.tokens) {
        const x = rand(T * K, T);
        const residual = rand(T * N, 99);
        for (const accumulate of [false, true]) {
          const y = storageBufferWith(device, residual, 'y');
          const params = { format, rows: N, cols: K, accumulate, ...product.extra };
          await run(product.descriptor, params, { x: storageBufferWith(device, x, 'x'), y, step: stepBuffer({ tokens: T, startPos: 0 }), ...m.buffers }, { tokens: T, startPos: 0 });
          const expected = cpu.matmul(x, m.values, N, K);
          if (accumulate) cpu.addInPlace(expected, residual);
          expect(maxAbsDiff(await floats(y, T * N), expected), `N=${N} T=${T}`).toBeLessThan(1e-4);
        }
      }
    }
  });

  it.each(PRODUCTS.map((p) => [`${p.descriptor.name}${p.extra ? ` ${JSON.stringify(p.extra)}` : ''}`, p] as const))('%s over a matrix split into bands of rows (each band its own buffers, y bound at its first row) equals the CPU matmul', async (_, product) => {
    // 150 rows in bands of 64, 64 and 22, as splitRows cuts a matrix larger than a binding.
    const N = 150;
    const bands = splitRows(N, matrixRowBytes(format === 'f32' ? 'f32' : 'q4', K), 64 * matrixRowBytes(format === 'f32' ? 'f32' : 'q4', K));
    expect(bands.map((b) => b.rows)).toEqual([64, 64, 22]);
    const whole = matrix(format, N, K, 5);
    for (const T of product.tokens) {
      const x = storageBufferWith(device, rand(T * K, T + 40), 'x');
      const residual = rand(T * N, 98);
      const y = storageBufferWith(device, residual, 'y');
      for (const band of bands) {
        const params = { format, rows: band.rows, cols: K, accumulate: true, outRows: N, ...product.extra };
        // The band's rows of the whole matrix in their own buffers; its outputs from y[row0] on.
        await run(product.descriptor, params, { x, y: { buffer: y, offset: band.row0 * 4 }, step: stepBuffer({ tokens: T, startPos: 0 }), ...bandOf(format, whole, band) }, { tokens: T, startPos: 0 });
      }
      const expected = cpu.matmul(await floats(x, T * K), whole.values, N, K);
      cpu.addInPlace(expected, residual);
      expect(maxAbsDiff(await floats(y, T * N), expected), `T=${T}`).toBeLessThan(1e-4);
    }
  });

  it('embedding looks up and dequantizes rows, from a table split into bands too', async () => {
    const V = 150;
    const m = matrix(format, V, K, 13);
    const tokens = [149, 3, 64, 63, 127, 128, 0, 3];
    const step = { tokens: tokens.length, startPos: 0 };
    const ids = storageBufferWith(device, new Uint32Array(tokens), 'ids');
    const out = storageBuffer(device, tokens.length * K * 4, 'out');
    for (const band of splitRows(V, matrixRowBytes(format === 'f32' ? 'f32' : 'q4', K), 64 * matrixRowBytes(format === 'f32' ? 'f32' : 'q4', K))) {
      await run(embedding, { format, cols: K, band }, { ids, out, step: stepBuffer(step), ...bandOf(format, m, band) }, step);
    }
    expect(maxAbsDiff(await floats(out, tokens.length * K), cpu.embedding(m.values, K, tokens))).toBe(0);
  });

  it('embedding looks up and dequantizes rows', async () => {
    const V = 40;
    const m = matrix(format, V, K, 12);
    const tokens = [3, 39, 0, 3, 17];
    const out = storageBuffer(device, tokens.length * K * 4, 'out');
    const step = { tokens: tokens.length, startPos: 0 };
    await run(embedding, { format, cols: K }, { ids: storageBufferWith(device, new Uint32Array(tokens), 'ids'), out, step: stepBuffer(step), ...m.buffers }, step);
    expect(maxAbsDiff(await floats(out, tokens.length * K), cpu.embedding(m.values, K, tokens))).toBe(0);
  });
});

describe('f16 arithmetic (matvec_subgroup for q4f16 on shader-f16 adapters)', () => {
  const K = 200;
  const N = 9;
  it('the CPU twin (half-precision four-term dots) stays within half-precision error of the exact product', () => {
    const w = rand(N * K, 21, 0.5);
    const q = quantizeQ4(w, N, K, 'float16');
    const x = rand(K, 22, 2);
    const exact = cpu.matmul(x, dequantizeQ4(q), N, K);
    const half = cpu.matvecQ4F16(x, q);
    const diff = maxAbsDiff(half, exact);
    expect(diff).toBeGreaterThan(0); // it does round
    expect(diff).toBeLessThan(0.02);
  });

  it('runs on the GPU and equals its CPU twin (needs shader-f16: skipped on SwiftShader, run on the lavapipe lane)', async (ctx) => {
    if (!hasFeatures(device, ['shader-f16', 'subgroups'])) {
      ctx.skip();
      return;
    }
    const w = rand(N * K, 21, 0.5);
    const q = quantizeQ4(w, N, K, 'float16');
    const x = rand(K, 22, 2);
    const y = storageBuffer(device, N * 4, 'y');
    const scales = Uint16Array.from(q.scales, (s) => f32ToF16Bits(s));
    await run(matvecSubgroup, { format: 'q4f16', rows: N, cols: K, accumulate: false, arithmetic: 'f16' }, {
      x: storageBufferWith(device, x, 'x'), y, weights: storageBufferWith(device, q.qWeight, 'q'), scales: storageBufferWith(device, scales, 's'), step: stepBuffer({ tokens: 1, startPos: 0 }),
    });
    expect(maxAbsDiff(await floats(y, N), cpu.matvecQ4F16(x, q))).toBeLessThan(2e-3);
  });

  it('its WGSL differs from the tested f32 instantiation only in the arithmetic type and the enable', () => {
    const params = { format: 'q4f16' as const, rows: N, cols: K, accumulate: false };
    const f32 = matvecSubgroup.code({ ...params, arithmetic: 'f32' });
    const f16 = matvecSubgroup.code({ ...params, arithmetic: 'f16' });
    expect(f16.startsWith('enable f16;\n')).toBe(true);
    // Everything but comments, the enable and the alias is the code the f32 tests run.
    const body = (code: string) => code.split('\n').filter((l) => !l.startsWith('//') && !/^alias F = f(16|32);$/.test(l) && l !== 'enable f16;').join('\n');
    expect(body(f16)).toBe(body(f32));
    expect(f16).toMatch(/^alias F = f16;$/m);
    expect(matvecSubgroup.features!({ ...params, arithmetic: 'f16' })).toEqual(['subgroups', 'shader-f16']);
  });
});

describe('layer kernels', () => {
  it('rmsnorm, every row and the last row only', async () => {
    const H = 100;
    const x = rand(3 * H, 1, 3);
    const w = rand(H, 2);
    const step = { tokens: 3, startPos: 0 };
    const expected = cpu.rmsNorm(x, w, 1e-5);
    for (const lastRow of [false, true]) {
      const out = storageBuffer(device, x.byteLength, 'out');
      await run(rmsnorm, { hidden: H, eps: 1e-5, lastRow }, { x: storageBufferWith(device, x, 'x'), out, weight: storageBufferWith(device, w, 'w'), step: stepBuffer(step) }, step);
      const got = await floats(out, lastRow ? H : x.length);
      expect(maxAbsDiff(got, lastRow ? expected.subarray(2 * H) : expected)).toBeLessThan(1e-5);
    }
  });

  it.each(['f32', 'f16'] as KvDtype[])('rope + KV cache append (%s cache), causal grouped-query attention (per head, and split over keys for decode)', async (kvDtype) => {
    const heads: HeadParams = { headDim: 8, numHeads: 4, numKvHeads: 2, kvDtype };
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
    // Chunks of 16 keys: decode at position 73 spans five chunks, the last one partial.
    const split: SplitAttentionParams = { ...heads, chunk: 16, contextWindow: ctx };
    const chunks = maxChunks(split);
    const partials = storageBuffer(device, 4 * chunks * 10 * 4, 'partials');
    const readCache = async (buffer: GPUBuffer, count: number) =>
      kvDtype === 'f32' ? floats(buffer, count) : f16ArrayToF32(new Uint16Array(await readBuffer(device, buffer, count * 2)));
    let pos = 0;
    for (const T of [70, 3, 1, 1]) { // 70 keys span two 64-key tiles of the online softmax
      const qkv = rand(T * width, T + pos, 2);
      const q = storageBuffer(device, T * 32 * 4, 'q');
      const out = storageBuffer(device, T * 32 * 4, 'out');
      const shape = { tokens: T, startPos: pos };
      const step = stepBuffer(shape);
      await run(rope, heads, { qkv: storageBufferWith(device, qkv, 'qkv'), q, kCache: gpuK, vCache: gpuV, step, cos, sin }, shape);
      const cpuQ = cpu.ropeAndCache(qkv, heads, pos, tables.cos, tables.sin, cpuK, cpuV, kvDtype);
      expect(maxAbsDiff(await floats(q, T * 32), cpuQ)).toBeLessThan(1e-5);
      await run(attention, heads, { q, out, kCache: gpuK, vCache: gpuV, step }, shape);
      const expected = cpu.attention(cpuQ, heads, pos, cpuK, cpuV);
      expect(maxAbsDiff(await floats(out, T * 32), expected)).toBeLessThan(1e-4);
      if (T === 1) {
        await run(attentionSplit, split, { q, partials, kCache: gpuK, vCache: gpuV, step }, shape);
        const used = Math.ceil((pos + 1) / 16);
        const cpuPartials = cpu.attentionPartials(cpuQ, heads, pos, cpuK, cpuV, 16, chunks);
        const gpuPartials = await floats(partials, cpuPartials.length);
        for (let h = 0; h < 4; h++) {
          const n = used * 10;
          expect(maxAbsDiff(gpuPartials.subarray(h * chunks * 10, h * chunks * 10 + n), cpuPartials.subarray(h * chunks * 10, h * chunks * 10 + n)), `head ${h}`).toBeLessThan(1e-4);
        }
        const combined = storageBuffer(device, 32 * 4, 'combined');
        await run(attentionCombine, split, { partials, out: combined, step }, shape);
        const got = await floats(combined, 32);
        expect(maxAbsDiff(got, cpu.attentionCombine(cpuPartials, 4, 8, used, chunks))).toBeLessThan(1e-5);
        expect(maxAbsDiff(got, expected)).toBeLessThan(1e-4);
      }
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
    const step = { tokens: 2, startPos: 0 };
    await run(swiglu, { intermediate: I }, { gateUp: storageBufferWith(device, gu, 'gu'), out, step: stepBuffer(step) }, step);
    expect(maxAbsDiff(await floats(out, 2 * I), cpu.swiglu(gu, I))).toBeLessThan(1e-5);
  });

  it('argmax picks the largest value, the lowest index among ties', async () => {
    for (const [values, seed] of [[rand(64000, 3), 0], [Float32Array.from([1, 5, 2, 5, 5, -1]), 1]] as const) {
      const out = storageBuffer(device, 4, 'out');
      await run(argmax, { vocab: values.length }, { logits: storageBufferWith(device, values, 'l'), result: out });
      expect(new Uint32Array(await readBuffer(device, out, 4))[0], `case ${seed}`).toBe(cpu.argmax(values));
    }
  });
});

describe('benchmark kernels', () => {
  it('stream_read sums what each thread read, like its twin', async () => {
    const words = 5000; // vec4 words: not a multiple of a workgroup's share
    const data = new Uint32Array(words * 4);
    const next = mulberry32(5);
    for (let i = 0; i < data.length; i++) data[i] = Math.floor(next() * 2 ** 32);
    const threads = streamThreads({ words });
    const out = storageBuffer(device, threads * 4, 'out');
    await run(streamRead, { words }, { data: storageBufferWith(device, data, 'data'), out });
    expect(Array.from(new Uint32Array(await readBuffer(device, out, threads * 4)))).toEqual(Array.from(cpu.streamReadSums(data, threads, STREAM_PER_THREAD)));
  });

  it.each(['bits', 'f16', 'f32'] as FillMode[])('fill_random (%s) writes what its twin computes', async (mode) => {
    const count = 1000;
    const out = storageBuffer(device, count * 4, 'out');
    const args = uniformBuffer(device, 8, 'args');
    device.queue.writeBuffer(args, 0, fillArgs(1234, count));
    await run(fillRandom, { mode, lo: -0.5, hi: 2, count }, { out, args });
    const got = new Uint32Array(await readBuffer(device, out, count * 4));
    const expected = cpu.fillRandomWords(mode, 1234, -0.5, 2, count);
    if (mode === 'bits') expect(Array.from(got)).toEqual(Array.from(expected));
    else {
      const values = (w: Uint32Array) => (mode === 'f32' ? new Float32Array(w.buffer) : f16ArrayToF32(new Uint16Array(w.buffer)));
      expect(maxAbsDiff(values(got), values(expected))).toBeLessThan(mode === 'f32' ? 1e-6 : 2e-3);
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
    await run(logitProcessor, { capacity: list.length }, { list: storageBufferWith(device, new Uint8Array(data), 'list'), logits: gpuLogits, params: u });
    const expected = logits.slice();
    applyAdjustments(expected, list, params);
    expect(maxAbsDiff(await floats(gpuLogits, V), expected)).toBeLessThan(1e-5);
  });
});

describe('token mask', () => {
  it.each([300, 64000])('gives the lowest float to every disallowed token of a %i-token vocabulary, like its twin', async (V) => {
    const logits = rand(V, 9, 5);
    const next = mulberry32(V);
    const mask = new Uint32Array(maskWords(V));
    // A sparse mask (as inside a JSON string's quotes) with the last, partial word's bits set too.
    for (let i = 0; i < mask.length; i++) mask[i] = next() < 0.5 ? 0 : Math.floor(next() * 2 ** 32);
    mask[mask.length - 1] = 0xffffffff;
    const gpuLogits = storageBufferWith(device, logits, 'logits');
    await run(tokenMask, { vocab: V }, { mask: storageBufferWith(device, mask, 'mask'), logits: gpuLogits });
    const expected = logits.slice();
    cpu.applyTokenMask(expected, mask);
    const got = await floats(gpuLogits, V);
    expect(Array.from(got)).toEqual(Array.from(expected));
    const masked = got.filter((l) => l === cpu.MASKED_LOGIT).length;
    expect(masked).toBeGreaterThan(V / 4);
    expect(masked).toBeLessThan(V);
  });
});
