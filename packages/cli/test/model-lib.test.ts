/**
 * MLC model libraries against artifacts: the metadata reader on MLC's real prebuilt WebGPU libraries
 * (../shared/data/webllm-libs), our description of what a library declares (names, shapes, dtypes,
 * order) against those real ones, and `webchuan check-lib` on our converter's output for the
 * PyTorch-made tiny Baichuan checkpoint — a match, and mismatches that name their first difference.
 *
 * Here the matching Baichuan library is the parameter list built from our own specs, embedded in a
 * small wasm module of ours the way mlc_llm embeds it (a JSON string in a data segment), so these
 * cases need no compiler; real Baichuan libraries compiled by TVM (`webchuan compile-lib`) are
 * checked in compile-lib.test.ts and run in packages/sdk/test/webllm-tvm.browser.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BAICHUAN_7B, type ModelConfig } from '../../sdk/src/model/config.js';
import { paramLayout } from '../../sdk/src/model/encode.js';
import { expectedModelLibMetadata, modelLibDifferences, ModelLibFormatError, readArtifactIndex, readModelLibMetadata, type ModelLibMetadata } from '../../sdk/src/model/model-lib.js';
import { parseChatConfig } from '../../sdk/src/model/artifact.js';
import { directorySource } from '../src/fs-source.js';
import { REPO_ROOT, sharedFile, tempDir } from '../../sdk/test/helpers.js';

const libs = sharedFile('data/webllm-libs');
const tiny = sharedFile('reference/baichuan-tiny');
const QWEN = 'Qwen2-0.5B-Instruct-q4f32_1-ctx4k_cs1k-webgpu.wasm';
const TINYLLAMA = 'TinyLlama-1.1B-Chat-v0.4-q0f32-ctx2k_cs1k-webgpu.wasm';

const webchuan = (...args: string[]) => spawnSync(join(REPO_ROOT, 'node_modules/.bin/webchuan'), args, { encoding: 'utf8' });

/** Unsigned LEB128, as the wasm binary format writes sizes. */
function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

/** A valid wasm module with one memory and one active data segment holding `data` at address 1024. */
function wasmWithData(data: Uint8Array): Uint8Array {
  const section = (id: number, body: number[]) => [id, ...leb(body.length), ...body];
  const pages = Math.ceil((1024 + data.length) / 65536);
  const memory = section(5, [1, 0x00, ...leb(pages)]);
  const segment = [0x00, 0x41, ...leb(1024), 0x0b, ...leb(data.length), ...data]; // i32.const 1024 is positive and < 2^13, so its signed LEB equals the unsigned one
  const dataSection = section(11, [1, ...segment]);
  return new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...memory, ...dataSection]);
}

/** A library of ours that declares `meta`, surrounded by other strings as a real data segment is. */
function fakeLib(meta: ModelLibMetadata): Uint8Array {
  const text = `\u0000runtime strings {"not":"it"}\u0000${JSON.stringify(meta)}\u0000more strings\u0000`;
  return wasmWithData(new TextEncoder().encode(text));
}

describe.skipIf(!libs)('MLC model-library metadata', () => {
  const read = (name: string) => readModelLibMetadata(new Uint8Array(readFileSync(join(libs!, name))));

  it('reads the parameter list out of MLC\'s prebuilt WebGPU libraries', () => {
    const qwen = read(QWEN);
    expect(qwen.model_type).toBe('qwen2');
    expect(qwen.quantization).toBe('q4f32_1');
    expect(qwen.params[0]).toMatchObject({ name: 'model.embed_tokens.q_weight', shape: [151936, 112], dtype: 'uint32' });
    expect(qwen.params).toHaveLength(2 + 24 * 11 + 1); // embedding (2), 24 layers of 11 tensors (q|k|v has a bias), final norm; lm_head tied
    const tl = read(TINYLLAMA);
    expect(tl.model_type).toBe('llama');
    expect(tl.params[0]).toMatchObject({ name: 'model.embed_tokens.weight', shape: ['vocab_size', 2048], dtype: 'float32' });
  });

  it('refuses what is not a library, or a wasm without metadata', () => {
    expect(() => readModelLibMetadata(new TextEncoder().encode('<html>404</html>'))).toThrow(ModelLibFormatError);
    expect(() => readModelLibMetadata(wasmWithData(new TextEncoder().encode('just strings')))).toThrow(/no embedded mlc_llm metadata/);
  });

  it('our list of what a library declares equals what mlc_llm compiled into TinyLlama (llama, q0f32): names, order, shapes, dtypes', () => {
    const real = read(TINYLLAMA);
    const config: ModelConfig = { ...BAICHUAN_7B, modelType: 'llama', hiddenSize: 2048, intermediateSize: 5632, numLayers: 22, numHeads: 32, numKvHeads: 4, headDim: 64, vocabSize: 32003, contextWindow: 2048 };
    const ours = expectedModelLibMetadata(config, 'q0f32');
    const resolve = (p: ModelLibMetadata['params'][number]) => ({ name: p.name, dtype: p.dtype, shape: p.shape.map((d) => (d === 'vocab_size' ? 32003 : d)) });
    expect(ours.params.map(resolve)).toEqual(real.params.map(resolve));
  });

  it('our 4-bit layout (q_weight, q_scale) has the shapes and dtypes mlc_llm gave every linear layer of Qwen2 at q4f32_1', () => {
    const real = read(QWEN);
    const byName = new Map(real.params.map((p) => [p.name, p]));
    const linears: [string, number, number][] = [
      ['model.layers.0.self_attn.c_attn', 1152, 896],
      ['model.layers.0.self_attn.o_proj', 896, 896],
      ['model.layers.0.mlp.gate_up_proj', 9728, 896],
      ['model.layers.0.mlp.down_proj', 896, 4864],
      ['model.embed_tokens', 151936, 896],
    ];
    for (const [name, rows, cols] of linears) {
      const layout = paramLayout({ name: `${name}.weight`, shape: [rows, cols], quantizable: true }, 'q4f32_1');
      for (const t of [layout.main, layout.scales!]) expect({ name: t.name, shape: t.shape, dtype: t.dtype }).toEqual({ name: t.name, shape: byName.get(t.name)!.shape, dtype: byName.get(t.name)!.dtype });
    }
  });
});

describe.skipIf(!libs || !tiny)('`webchuan check-lib` on our converter\'s output for the PyTorch-made tiny Baichuan', () => {
  const dir = tempDir();
  const artifact = join(dir.path, 'baichuan-tiny-q4f16_1');
  let metadata: ModelLibMetadata;

  beforeAll(() => {
    const converted = webchuan('convert', tiny!, '--quant', 'q4f16_1', '--out', artifact);
    expect(converted.status, converted.stderr).toBe(0);
    const info = parseChatConfig(JSON.parse(readFileSync(join(artifact, 'mlc-chat-config.json'), 'utf8')));
    metadata = expectedModelLibMetadata(info.config, info.quantization, info.prefillChunkSize);
  }, 120_000);
  afterAll(() => dir.remove());

  it('a library declaring the parameters of our Baichuan specs fits, read back out of a wasm module', async () => {
    const lib = join(dir.path, 'baichuan-tiny-q4f16_1-webgpu.wasm');
    writeFileSync(lib, fakeLib(metadata));
    await WebAssembly.compile(readFileSync(lib)); // a well-formed module, not just bytes we can parse
    expect(readModelLibMetadata(new Uint8Array(readFileSync(lib)))).toEqual(metadata);
    const { chatConfig, cache } = await readArtifactIndex(directorySource(artifact));
    expect(modelLibDifferences(metadata, cache, chatConfig)).toEqual([]);
    expect(metadata.params.length).toBe(cache.records.flatMap((s) => s.records).length);
    const run = webchuan('check-lib', lib, artifact);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain(`all ${metadata.params.length} parameters match`);
  });

  it('a q4f32_1 Baichuan library does not fit the q4f16_1 artifact: quantization first, then the first scale stored as float16', async () => {
    const lib = join(dir.path, 'baichuan-tiny-q4f32_1-webgpu.wasm');
    writeFileSync(lib, fakeLib({ ...metadata, quantization: 'q4f32_1', params: metadata.params.map((p) => (p.name.endsWith('q_scale') ? { ...p, dtype: 'float32' } : p)) }));
    const run = webchuan('check-lib', lib, artifact);
    expect(run.status).toBe(1);
    const lines = run.stderr.trim().split('\n');
    expect(lines[0]).toContain('quantization: the library is compiled for q4f32_1, the artifact is q4f16_1');
    expect(lines[1]).toBe('  parameter model.embed_tokens.q_scale: the library expects float32, the artifact stores float16');
  });

  it('MLC\'s Qwen2 library does not fit it: the model type first, and the embedding is the first parameter that differs', async () => {
    const run = webchuan('check-lib', join(libs!, QWEN), artifact);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`does not fit the artifact ${artifact}: model type: the library is compiled for "qwen2", the artifact's mlc-chat-config.json says "baichuan"`);
    const { cache } = await readArtifactIndex(directorySource(artifact));
    const params = modelLibDifferences(readModelLibMetadata(new Uint8Array(readFileSync(join(libs!, QWEN)))), cache);
    expect(params[0]).toBe('parameter model.embed_tokens.q_weight: the library expects shape [151936, 112], the artifact has [64000, 8]');
    expect(params).toContain('tensor model.layers.0.self_attn.W_pack.q_weight of the artifact is not a parameter of the library');
  });
});
