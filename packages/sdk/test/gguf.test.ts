/**
 * The GGUF the CPU path builds from an artifact, read back with `@huggingface/gguf` (an independent
 * reader): the metadata llama.cpp needs, every tensor's name, shape and type, the q/k row
 * permutation, 4-bit groups repacked into Q4_0 bit for bit, splits, and the vocabulary of Baichuan-7B's
 * tokenizer.model against llama.cpp's own vocabulary file for it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gguf } from '@huggingface/gguf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyBaichuanConfig, writeRandomModel } from '../../cli/src/random-model.js';
import { directorySource } from '../../cli/src/fs-source.js';
import { concatBytes } from '../src/model/arrays.js';
import { asFloat32, openArtifact, readTensors, type OpenedArtifact } from '../src/model/artifact.js';
import type { ModelConfig } from '../src/model/config.js';
import { planGguf, writeGguf, type GgufOptions } from '../src/model/gguf-artifact.js';
import { f16BitsToF32 } from '../src/model/half.js';
import { layerParamNames, quantizedNames } from '../src/model/params.js';
import { dequantizeQ4, type Quantization } from '../src/model/quant.js';
import { PIECE_TYPE, readSentencePieceVocab } from '../src/model/sentencepiece-vocab.js';
import { cpuContextWindow } from '../src/cpu/memory.js';
import { BAICHUAN_7B } from '../src/model/config.js';
import { CpuUnavailableError } from '../src/errors.js';
import { REPO_ROOT, sharedFile, tempDir } from './helpers.js';

interface Written {
  files: string[];
  opened: OpenedArtifact;
}

/** The artifact at `dir` as GGUF file(s) in `out`. */
async function toGguf(dir: string, out: string, options: GgufOptions = {}): Promise<Written> {
  const source = directorySource(dir);
  const opened = await openArtifact(source);
  const vocab = readSentencePieceVocab(new Uint8Array(readFileSync(join(dir, 'tokenizer.model'))));
  const plan = planGguf(opened, vocab, options);
  const parts: Uint8Array[][] = plan.files.map(() => []);
  await writeGguf(source, opened, plan, (file, piece) => void parts[file]!.push(piece.slice()));
  const files = plan.files.map((f, i) => {
    const path = join(out, `${Math.random().toString(36).slice(2)}-${f.name}`);
    writeFileSync(path, concatBytes(parts[i]!));
    return path;
  });
  return { files, opened };
}

/** Every float value of a GGUF tensor, decoded from the file's bytes (F32, F16, Q4_0, Q8_0). */
function ggufValues(file: string, dataOffset: bigint, t: { offset: bigint; shape: bigint[]; dtype: number }): Float32Array {
  const bytes = readFileSync(file);
  const count = t.shape.reduce((a, b) => a * Number(b), 1);
  const at = Number(dataOffset + t.offset);
  const view = new DataView(bytes.buffer, bytes.byteOffset + at);
  const out = new Float32Array(count);
  switch (t.dtype) {
    case 0: // F32
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
      return out;
    case 1: // F16
      for (let i = 0; i < count; i++) out[i] = f16BitsToF32(view.getUint16(2 * i, true));
      return out;
    case 2: // Q4_0: d, then 16 bytes: element j in the low nibble, j + 16 in the high one; value (n − 8)·d
      for (let b = 0; b < count / 32; b++) {
        const d = f16BitsToF32(view.getUint16(18 * b, true));
        for (let j = 0; j < 16; j++) {
          const byte = view.getUint8(18 * b + 2 + j);
          out[32 * b + j] = Math.fround(((byte & 15) - 8) * d);
          out[32 * b + j + 16] = Math.fround(((byte >> 4) - 8) * d);
        }
      }
      return out;
    case 8: // Q8_0: d, then 32 signed bytes
      for (let b = 0; b < count / 32; b++) {
        const d = f16BitsToF32(view.getUint16(34 * b, true));
        for (let j = 0; j < 32; j++) out[32 * b + j] = Math.fround(view.getInt8(34 * b + 2 + j) * d);
      }
      return out;
    default:
      throw new Error(`type ${t.dtype}`);
  }
}

/** The artifact's parameters as float32 matrices, by MLC's logical name. */
async function artifactFloats(dir: string, opened: OpenedArtifact): Promise<Map<string, Float32Array>> {
  const source = directorySource(dir);
  const raw = new Map<string, { shape: number[]; data: Float32Array | Uint32Array | Uint16Array; dtype: string }>();
  for await (const { record, tensor } of readTensors(source, opened.cache)) raw.set(record.name, { shape: record.shape, data: tensor.data, dtype: tensor.dtype });
  const out = new Map<string, Float32Array>();
  for (const [name, t] of raw) {
    if (name.endsWith('.q_scale')) continue;
    if (name.endsWith('.q_weight')) {
      const base = name.replace(/\.q_weight$/, '.weight');
      const scale = raw.get(quantizedNames(base).qScale)!;
      const rows = t.shape[0]!;
      const cols = scale.shape[1]! * 32;
      const scales = scale.dtype === 'float16' ? Float32Array.from(scale.data as Uint16Array, f16BitsToF32) : (scale.data as Float32Array);
      out.set(base, dequantizeQ4({ rows, cols, qWeight: t.data as Uint32Array, scales, scaleDtype: scale.dtype === 'float16' ? 'float16' : 'float32' }));
    } else {
      out.set(name, asFloat32({ dtype: t.dtype, data: t.data } as Parameters<typeof asFloat32>[0], name));
    }
  }
  return out;
}

/** Rows [r0, r1) of a row-major matrix, permuted as llama.cpp's converter permutes q and k (heads of d rows). */
function permutedRows(m: Float32Array, cols: number, r0: number, r1: number, heads: number): Float32Array {
  const rows = r1 - r0;
  const d = rows / heads;
  const out = new Float32Array(rows * cols);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < d / 2; i++) {
      out.set(m.subarray((r0 + h * d + i) * cols, (r0 + h * d + i + 1) * cols), (h * d + 2 * i) * cols);
      out.set(m.subarray((r0 + h * d + d / 2 + i) * cols, (r0 + h * d + d / 2 + i + 1) * cols), (h * d + 2 * i + 1) * cols);
    }
  }
  return out;
}

describe('GGUF from an artifact', () => {
  const dir = tempDir('webchuan-gguf-');
  const config: ModelConfig = tinyBaichuanConfig({ numKvHeads: 2, vocabSize: 300, intermediateSize: 96 });
  const artifact = (q: Quantization) => join(dir.path, q);
  beforeAll(async () => {
    const tokenizer = join(REPO_ROOT, 'models/poetry/checkpoint/tokenizer.model');
    const pieces = readSentencePieceVocab(new Uint8Array(readFileSync(tokenizer))).pieces.length;
    for (const q of ['q0f32', 'q4f16_1', 'q4f32_1'] as const) await writeRandomModel(artifact(q), { ...config, vocabSize: pieces + 7 }, q, 21, tokenizer);
  });
  afterAll(() => dir.remove());

  it('writes the llama metadata and vocabulary llama.cpp reads, with add_space_prefix from the SentencePiece model', async () => {
    const { files, opened } = await toGguf(artifact('q4f16_1'), dir.path, { name: 'tiny' });
    const { metadata, tensorInfos } = await gguf(files[0]!, { allowLocalFile: true });
    const c = opened.info.config;
    const m = metadata as unknown as Record<string, unknown>;
    expect(m['general.architecture']).toBe('llama');
    expect(m['llama.block_count']).toBe(c.numLayers);
    expect(m['llama.attention.head_count_kv']).toBe(2);
    expect(m['llama.rope.dimension_count']).toBe(c.headDim);
    expect(m['tokenizer.ggml.model']).toBe('llama');
    expect(m['tokenizer.ggml.add_bos_token']).toBe(false);
    // The poetry tokenizer's normalizer adds no dummy prefix.
    expect(m['tokenizer.ggml.add_space_prefix']).toBe(false);
    const tokens = m['tokenizer.ggml.tokens'] as string[];
    expect(tokens).toHaveLength(c.vocabSize);
    expect(tokens.slice(-7)).toEqual(Array.from({ length: 7 }, (_, i) => `[PAD${c.vocabSize - 7 + i}]`));
    const names = tensorInfos.map((t) => t.name);
    expect(names).toContain('blk.1.attn_k.weight');
    expect(names).toContain('output.weight');
    expect(names).not.toContain('blk.0.attn_qkv.weight');
    expect(names).toHaveLength(2 + 1 + c.numLayers * 9);
    const k = tensorInfos.find((t) => t.name === 'blk.0.attn_k.weight')!;
    expect(k.shape).toEqual([BigInt(c.hiddenSize), BigInt(c.numKvHeads * c.headDim)]);
    expect(k.dtype).toBe(2); // Q4_0
  });

  for (const [q, type, tolerance] of [['q4f16_1', 'auto', 0], ['q0f32', 'auto', 0], ['q0f32', 'F16', 2 ** -11], ['q0f32', 'Q8_0', 1 / 127], ['q4f32_1', 'auto', 2 ** -11]] as const) {
    it(`${q} as ${type}: every tensor holds the artifact's values (q and k rows permuted), within ${tolerance} of the largest`, async () => {
      const { files, opened } = await toGguf(artifact(q), dir.path, { weightType: type });
      const parsed = await gguf(files[0]!, { allowLocalFile: true });
      const values = await artifactFloats(artifact(q), opened);
      const c = opened.info.config;
      const n = layerParamNames(c, 0);
      const qRows = c.numHeads * c.headDim;
      const kvRows = c.numKvHeads * c.headDim;
      const expected: [string, Float32Array][] = [
        ['token_embd.weight', values.get('model.embed_tokens.weight')!],
        ['blk.0.attn_q.weight', permutedRows(values.get(n.qkv)!, c.hiddenSize, 0, qRows, c.numHeads)],
        ['blk.0.attn_k.weight', permutedRows(values.get(n.qkv)!, c.hiddenSize, qRows, qRows + kvRows, c.numKvHeads)],
        ['blk.0.attn_v.weight', values.get(n.qkv)!.subarray((qRows + kvRows) * c.hiddenSize)],
        ['blk.0.ffn_gate.weight', values.get(n.gateUp)!.subarray(0, c.intermediateSize * c.hiddenSize)],
        ['blk.0.ffn_up.weight', values.get(n.gateUp)!.subarray(c.intermediateSize * c.hiddenSize)],
        ['blk.0.ffn_down.weight', values.get(n.down)!],
        ['blk.0.attn_norm.weight', values.get(n.inputNorm)!],
        ['output.weight', values.get('lm_head.weight')!],
      ];
      for (const [name, want] of expected) {
        const info = parsed.tensorInfos.find((t) => t.name === name)!;
        const got = ggufValues(files[0]!, parsed.tensorDataOffset, info);
        let scale = 0;
        for (const v of want) scale = Math.max(scale, Math.abs(v));
        let worst = 0;
        for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
        expect(got.length, name).toBe(want.length);
        if (tolerance === 0) expect(worst, name).toBe(0);
        else expect(worst, name).toBeLessThanOrEqual(tolerance * scale * 1.01);
      }
    });
  }

  it('splits a model into llama.cpp\'s -0000N-of-0000M files, metadata in the first, every tensor once', async () => {
    const whole = await toGguf(artifact('q0f32'), dir.path);
    const split = await toGguf(artifact('q0f32'), dir.path, { maxFileBytes: 2 * 1024 * 1024 });
    expect(split.files.length).toBeGreaterThan(2);
    expect(split.files[0]).toMatch(/model-00001-of-\d{5}\.gguf$/);
    const parsed = await Promise.all(split.files.map((f) => gguf(f, { allowLocalFile: true })));
    const m0 = parsed[0]!.metadata as unknown as Record<string, unknown>;
    expect(m0['split.count']).toBe(split.files.length);
    expect(m0['general.architecture']).toBe('llama');
    expect((parsed[1]!.metadata as unknown as Record<string, unknown>)['general.architecture']).toBeUndefined();
    const names = parsed.flatMap((p) => p.tensorInfos.map((t) => t.name));
    const all = (await gguf(whole.files[0]!, { allowLocalFile: true })).tensorInfos.map((t) => t.name);
    expect(names).toEqual(all);
  });

  it("reads Baichuan-7B's tokenizer.model as llama.cpp's own vocabulary file has it; its normalizer adds a dummy prefix", async () => {
    const model = sharedFile('data/baichuan-7b/tokenizer.model');
    const reference = sharedFile('data/baichuan-7b/ggml-vocab-baichuan.gguf');
    if (!model || !reference) return;
    const vocab = readSentencePieceVocab(new Uint8Array(readFileSync(model)));
    const { metadata } = await gguf(reference, { allowLocalFile: true });
    const m = metadata as unknown as Record<string, unknown>;
    expect(vocab.pieces).toEqual(m['tokenizer.ggml.tokens']);
    expect(Array.from(vocab.scores)).toEqual(m['tokenizer.ggml.scores']);
    // The 2023 llama.cpp converter wrote the 390 user-defined pieces (ids 3–392) as NORMAL; the model says USER_DEFINED.
    const types = m['tokenizer.ggml.token_type'] as number[];
    const differ = [...vocab.types.keys()].filter((i) => vocab.types[i] !== types[i]);
    expect(differ).toEqual(Array.from({ length: 390 }, (_, i) => i + 3));
    expect(differ.every((i) => vocab.types[i] === PIECE_TYPE.USER_DEFINED)).toBe(true);
    expect(vocab.addDummyPrefix).toBe(true);
    expect([vocab.unkId, vocab.bosId, vocab.eosId, vocab.padId]).toEqual([0, 1, 2, -1]);
    expect(vocab.modelType).toBe('bpe');
  });

  it('refuses a Baichuan-7B-shaped model on the CPU path up front with the numbers; the poetry shape fits', () => {
    expect(() => cpuContextWindow(BAICHUAN_7B, 'q4f16_1', undefined)).toThrow(CpuUnavailableError);
    try {
      cpuContextWindow(BAICHUAN_7B, 'q4f16_1', 512);
    } catch (error) {
      expect((error as CpuUnavailableError).message).toMatch(/needs [\d.]+ GB \([\d.]+ GB of weights, [\d.]+ MB of KV cache for 512 tokens.*holds 4\.3 GB/);
      expect((error as CpuUnavailableError).neededBytes).toBeGreaterThan((error as CpuUnavailableError).limitBytes);
    }
    const poetry = cpuContextWindow({ ...BAICHUAN_7B, hiddenSize: 256, intermediateSize: 704, numLayers: 4, numHeads: 4, numKvHeads: 4, headDim: 64, vocabSize: 5000, contextWindow: 512 }, 'q4f16_1', undefined);
    expect(poetry.contextWindow).toBe(512);
  });
});
