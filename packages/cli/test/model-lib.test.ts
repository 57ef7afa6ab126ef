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
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BAICHUAN_7B, type ModelConfig } from '../../sdk/src/model/config.js';
import { paramLayout } from '../../sdk/src/model/encode.js';
import { expectedModelLibMetadata, modelLibDifferences, ModelLibFormatError, readArtifactIndex, readModelLibMetadata, type ModelLibMetadata } from '../../sdk/src/model/model-lib.js';
import { parseChatConfig } from '../../sdk/src/model/artifact.js';
import { directorySource } from '../src/fs-source.js';
import { tinyBaichuanConfig, writeRandomModel } from '../src/random-model.js';
import { BadArtifactError } from '../../sdk/src/errors.js';
import { REPO_ROOT, sharedFile, tempDir } from '../../sdk/test/helpers.js';
import { fakeLib, wasmWithData } from './fake-lib.js';

const libs = sharedFile('data/webllm-libs');
const tiny = sharedFile('reference/baichuan-tiny');
const QWEN = 'Qwen2-0.5B-Instruct-q4f32_1-ctx4k_cs1k-webgpu.wasm';
const TINYLLAMA = 'TinyLlama-1.1B-Chat-v0.4-q0f32-ctx2k_cs1k-webgpu.wasm';

const webchuan = (...args: string[]) => spawnSync(join(REPO_ROOT, 'node_modules/.bin/webchuan'), args, { encoding: 'utf8' });

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

describe('library metadata of the wrong types: a typed error naming the field, never a bare TypeError', () => {
  const dir = tempDir();
  const artifact = join(dir.path, 'tiny');
  beforeAll(() => writeRandomModel(artifact, tinyBaichuanConfig({ vocabSize: 300 }), 'q0f32', 1));
  afterAll(() => dir.remove());

  const good = { model_type: 'llama', quantization: 'q0f32', context_window_size: 256, prefill_chunk_size: 256, params: [{ name: 'model.norm.weight', shape: [64], dtype: 'float32', preprocs: [] }] };
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['model_type a number', { ...good, model_type: 5 }, /model_type must be a string, got 5/],
    ['params an object', { ...good, params: { a: 1 } }, /params must be a list/],
    ['a parameter that is a string', { ...good, params: ['model.norm.weight'] }, /params\[0\] must be an object/],
    ['a parameter name that is a number', { ...good, params: [{ name: 7, shape: [64], dtype: 'float32' }] }, /params\[0\]\.name must be a non-empty string, got 7/],
    ['a shape that is a string', { ...good, params: [{ name: 'w', shape: '64', dtype: 'float32' }] }, /params\[0\]\.shape must be a list, got "64"/],
    ['a negative dimension', { ...good, params: [{ name: 'w', shape: [64, -1], dtype: 'float32' }] }, /params\[0\]\.shape\[1\] \(w\) must be a size/],
    ['a dtype that is null', { ...good, params: [{ name: 'w', shape: [64], dtype: null }] }, /params\[0\]\.dtype must be a string, got null/],
    ['a context window that is text', { ...good, context_window_size: 'big' }, /context_window_size must be an integer, got "big"/],
    ['kv_cache head counts as text', { ...good, kv_cache: { num_hidden_layers: 'two' } }, /kv_cache\.num_hidden_layers must be a non-negative integer/],
  ];
  const libFor = (what: string, meta: Record<string, unknown>) => {
    const lib = join(dir.path, `${what.replaceAll(' ', '-')}.wasm`);
    writeFileSync(lib, fakeLib(meta));
    return lib;
  };

  it('the reader: ModelLibFormatError (a BadArtifactError, code bad-artifact) naming the field, for each', () => {
    for (const [what, meta, message] of cases) {
      const lib = libFor(what, meta);
      let caught: unknown;
      try {
        readModelLibMetadata(new Uint8Array(readFileSync(lib)), lib);
      } catch (error) {
        caught = error;
      }
      expect(caught, what).toBeInstanceOf(ModelLibFormatError);
      expect(caught).toBeInstanceOf(BadArtifactError);
      expect((caught as BadArtifactError).code).toBe('bad-artifact');
      expect((caught as Error).message).toMatch(message);
      expect((caught as Error).message.startsWith(`${lib}: `)).toBe(true);
    }
  });

  it('`check-lib` and `random-model --for-lib`: exit 1 with the library and the field named', () => {
    for (const [what, meta, message] of [cases[3]!, cases[4]!]) {
      const lib = libFor(what, meta);
      for (const args of [['check-lib', lib, artifact], ['random-model', '--for-lib', lib, '--out', join(dir.path, 'out')]]) {
        const run = webchuan(...args);
        expect(run.status, run.stderr).toBe(1);
        expect(run.stderr).toMatch(message);
        expect(run.stderr).toContain(lib);
        expect(run.stderr).not.toMatch(/TypeError|is not a function|Cannot read properties/);
      }
    }
  });

  it('an artifact whose mlc-chat-config.json is null or whose tensor-cache.json has a shape of the wrong type: BadArtifactError naming the file', async () => {
    const source = (files: Record<string, string>) => ({ text: async (f: string) => files[f] ?? Promise.reject(new Error('missing')), bytes: async () => new Uint8Array() });
    const cache = JSON.parse(readFileSync(join(artifact, 'tensor-cache.json'), 'utf8'));
    const config = readFileSync(join(artifact, 'mlc-chat-config.json'), 'utf8');
    await expect(readArtifactIndex(source({ 'mlc-chat-config.json': 'null', 'tensor-cache.json': JSON.stringify(cache) }))).rejects.toThrow(BadArtifactError);
    await expect(readArtifactIndex(source({ 'mlc-chat-config.json': '{"model_type": 1}', 'tensor-cache.json': JSON.stringify(cache) }))).rejects.toThrow(/model_type must be a string/);
    await expect(readArtifactIndex(source({ 'mlc-chat-config.json': 'not json', 'tensor-cache.json': JSON.stringify(cache) }))).rejects.toThrow(/mlc-chat-config\.json is not JSON/);
    cache.records[0].records[0].shape = 'big';
    await expect(readArtifactIndex(source({ 'mlc-chat-config.json': config, 'tensor-cache.json': JSON.stringify(cache) }))).rejects.toThrow(/tensor-cache\.json: params_shard_0\.bin record 0 \(.*\): shape must be a list of sizes, got "big"/);
  });
});

describe('`webchuan random-model` (--for-lib or not) sizes the model before it writes a byte', () => {
  const dir = tempDir();
  afterAll(() => dir.remove());
  const libWith = (name: string, params: { name: string; shape: (number | string)[]; dtype: string }[]) => {
    const lib = join(dir.path, `${name}.wasm`);
    writeFileSync(lib, fakeLib({ model_type: 'llama', quantization: 'q0f32', context_window_size: 256, prefill_chunk_size: 256, params: [{ name: 'model.embed_tokens.weight', shape: [1000, 64], dtype: 'float32' }, ...params] }));
    return lib;
  };
  /** The run must fail at once, leaving nothing where it would have written (no output, no hidden partial). */
  const expectRefused = (lib: string, out: string, message: RegExp) => {
    const started = performance.now();
    const run = webchuan('random-model', '--for-lib', lib, '--out', out);
    expect(run.status, run.stderr).toBe(1);
    expect(run.stderr).toMatch(message);
    expect(performance.now() - started).toBeLessThan(30_000);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dirname(out)).filter((f) => f.startsWith('.'))).toEqual([]);
  };

  it('a [1e9, 1000] float32 tensor (4 TB): over the bound, refused before anything is written', () => {
    expectRefused(libWith('huge', [{ name: 'model.layers.0.mlp.down_proj.weight', shape: [1e9, 1000], dtype: 'float32' }]), join(dir.path, 'huge-out'), /4\.0 TB of parameters or more .*over the 68\.7 GB a random model may take: nothing was written/);
  });

  it('a vocabulary the synthetic tokenizer cannot hold (its tokenizer.json is built in memory)', () => {
    const vocab = join(dir.path, 'vocab.wasm');
    writeFileSync(vocab, fakeLib({ model_type: 'llama', quantization: 'q0f32', params: [{ name: 'model.embed_tokens.weight', shape: ['vocab_size', 64], dtype: 'float32' }] }));
    const run = webchuan('random-model', '--for-lib', vocab, '--vocab', '1000000000', '--out', join(dir.path, 'vocab-out'));
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/a vocabulary of 1000000000 tokens/);
    expect(existsSync(join(dir.path, 'vocab-out'))).toBe(false);
  });

  it('random-model --layers 100000 (about 20 GB of a tiny shape): refused before anything is written', () => {
    const out = join(dir.path, 'many-layers');
    const run = webchuan('random-model', '--layers', '100000', '--out', out);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/--layers 100000: random models have at most 1024 layers/);
    expect(existsSync(out)).toBe(false);
  });

  it.skipIf(!existsSync('/dev/shm') || statfsSync('/dev/shm').bavail * statfsSync('/dev/shm').bsize > 60e9)('60 GB (under the bound) where /dev/shm has less free: refused for the free space', () => {
    const out = join('/dev/shm', `webchuan-test-${process.pid}`, 'model');
    mkdirSync(dirname(out));
    try {
      expectRefused(libWith('sixty', [{ name: 'model.layers.0.mlp.down_proj.weight', shape: [15_000_000, 1000], dtype: 'float32' }]), out, /needs 60\.\d GB on disk, and .* is free there: nothing was written/);
    } finally {
      rmSync(dirname(out), { recursive: true, force: true });
    }
  });
});
