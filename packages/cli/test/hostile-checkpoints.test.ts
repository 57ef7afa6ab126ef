/**
 * Hostile and broken checkpoints through the real `webchuan convert`: each one ends with exit code 1
 * and a message naming the file and the problem, within 20 s, and writes no output. None of them may
 * loop, exhaust memory, crash Node, read outside the model folder or turn into garbage weights.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../sdk/test/helpers.js';
import { stateDictPickle, writeZip } from '../scripts/torch-save.js';
import { startCli } from './cli-run.js';
import { configFromHf } from '../src/convert.js';
import { BadCheckpointError } from '../../sdk/src/errors.js';
import { hfDir, safetensorsBytes, shapes, TINY, torchCheckpoint, values, type TensorShapes } from './checkpoints.js';

const dir = tempDir();
afterAll(() => dir.remove());

const LIMIT_MS = 20_000;

/** Converts `input`, which must fail: exit 1, a message matching `message`, in time, no output. */
async function expectRejected(input: string, message: RegExp): Promise<void> {
  const out = join(dir.path, 'out', input.split('/').at(-1)!);
  const result = await startCli(['convert', input, '--quant', 'q0f32', '--out', out], undefined, LIMIT_MS);
  expect(result.signal, `killed after ${Math.round(result.ms)} ms; stderr: ${result.stderr.slice(-500)}`).toBeNull();
  expect(result.code, result.stderr).toBe(1);
  expect(result.stderr).toMatch(message);
  expect(result.ms).toBeLessThan(LIMIT_MS);
  expect(existsSync(out)).toBe(false);
}

interface Part {
  name: string;
  shape: number[];
  /** The storage's bytes (by default, the values the shape asks for). */
  bytes?: Uint8Array;
}

/** A torch.save checkpoint assembled from parts: `pickle` may be edited, storages chosen freely. */
async function torchFrom(name: string, parts: Part[], editPickle: (pickle: Uint8Array) => Uint8Array = (p) => p): Promise<string> {
  const folder = hfDir(dir.path, name);
  const pickle = editPickle(stateDictPickle(parts.map((p) => ({ name: p.name, shape: p.shape, dtype: 'float32' }))));
  await writeZip(join(folder, 'pytorch_model.bin'), [
    { name: 'archive/data.pkl', bytes: pickle },
    ...parts.map((p, i) => ({ name: `archive/data/${i}`, bytes: p.bytes ?? new Uint8Array(values(p.shape, i).buffer) })),
    { name: 'archive/version', bytes: new TextEncoder().encode('3\n') },
  ]);
  return folder;
}

const tinyParts = (): Part[] => shapes().map(([name, shape]) => ({ name, shape }));

/** Overwrites fields of `entry`'s central-directory record (its ZIP64 sizes), as a lying directory would. */
function patchCentralSize(file: string, entry: string, size: bigint): void {
  const bytes = readFileSync(file);
  const name = Buffer.from(entry);
  for (let at = bytes.length - 46; at >= 0; at--) {
    if (bytes.readUInt32LE(at) !== 0x02014b50 || bytes.readUInt16LE(at + 28) !== name.length) continue;
    if (!bytes.subarray(at + 46, at + 46 + name.length).equals(name)) continue;
    const extra = at + 46 + name.length;
    bytes.writeBigUInt64LE(size, extra + 4);
    bytes.writeBigUInt64LE(size, extra + 12);
    writeFileSync(file, bytes);
    return;
  }
  throw new Error(`no central record for ${entry}`);
}

/** The pickle with the storage offset of tensor `index` (written as BININT 0 after BINPERSID) set to `offset`. */
function withStorageOffset(index: number, offset: number) {
  return (pickle: Uint8Array): Uint8Array => {
    const out = pickle.slice();
    let seen = 0;
    for (let i = 0; i + 6 <= out.length; i++) {
      if (out[i] === 0x51 && out[i + 1] === 0x4a && seen++ === index) {
        new DataView(out.buffer).setInt32(i + 2, offset, true);
        return out;
      }
    }
    throw new Error('no storage offset found');
  };
}

describe('hostile checkpoints through `webchuan convert`', () => {
  it('a pickle cut off inside a GLOBAL opcode', async () => {
    // PROTO 2, then GLOBAL "collections\nOrderedDict\n" cut inside its module name.
    const input = await torchFrom('cut-global', tinyParts(), (p) => p.slice(0, 8));
    await expectRejected(input, /pytorch_model\.bin: .*data\.pkl.*truncated/);
  });

  it('a zip directory claiming a 2 GiB data.pkl', async () => {
    const input = await torchFrom('huge-pkl', tinyParts());
    patchCentralSize(join(input, 'pytorch_model.bin'), 'archive/data.pkl', 2n ** 31n);
    await expectRejected(input, /pytorch_model\.bin: .*archive\/data\.pkl/);
  });

  it('num_hidden_layers: 1e7 in config.json', async () => {
    const input = await torchCheckpoint(dir.path, 'many-layers');
    const config = JSON.parse(readFileSync(join(input, 'config.json'), 'utf8'));
    writeFileSync(join(input, 'config.json'), JSON.stringify({ ...config, num_hidden_layers: 1e7 }));
    await expectRejected(input, /config\.json: .*num_hidden_layers/);
  });

  it('a negative storage offset', async () => {
    const parts = tinyParts();
    const norm = parts.findIndex((p) => p.name === 'model.norm.weight');
    const input = await torchFrom('negative-offset', parts, withStorageOffset(norm, -5));
    await expectRejected(input, /pytorch_model\.bin: .*model\.norm\.weight.*negative/);
  });

  it('a negative row count in a fused projection (gate rows -I, up rows 3I: the sum matches)', async () => {
    const parts = tinyParts().map((p): Part => {
      if (p.name.endsWith('gate_proj.weight')) return { name: p.name, shape: [-TINY.intermediate, TINY.hidden], bytes: new Uint8Array(0) };
      if (p.name.endsWith('up_proj.weight')) return { name: p.name, shape: [3 * TINY.intermediate, TINY.hidden] };
      return p;
    });
    const input = await torchFrom('negative-rows', parts);
    await expectRejected(input, /pytorch_model\.bin: .*gate_proj\.weight.*negative/);
  });

  it('negative data_offsets in a safetensors header', async () => {
    const input = hfDir(dir.path, 'negative-safetensors');
    writeFileSync(join(input, 'model.safetensors'), safetensorsBytes(shapes(), 'F32', (header) => {
      const norm = header['model.norm.weight']!;
      const length = norm.data_offsets[1]! - norm.data_offsets[0]!;
      norm.data_offsets = [-length, 0];
    }));
    await expectRejected(input, /model\.safetensors: .*model\.norm\.weight.*data_offsets/);
  });

  it('a zip directory that says a storage is larger than it is (it would read the next entry as weights)', async () => {
    const parts = tinyParts();
    const norm = parts.findIndex((p) => p.name === 'model.norm.weight');
    parts[norm] = { ...parts[norm]!, bytes: new Uint8Array(values([TINY.hidden / 2], 1).buffer) };
    const input = await torchFrom('lying-size', parts);
    patchCentralSize(join(input, 'pytorch_model.bin'), `archive/data/${norm}`, BigInt(TINY.hidden * 4));
    await expectRejected(input, new RegExp(`pytorch_model\\.bin: .*archive/data/${norm}`));
  });

  it('a weight_map entry that leads outside the model folder', async () => {
    const elsewhere = await torchCheckpoint(dir.path, 'elsewhere');
    const input = hfDir(dir.path, 'escaping-index');
    const weightMap = Object.fromEntries(shapes().map(([name]) => [name, '../elsewhere/pytorch_model.bin']));
    writeFileSync(join(input, 'pytorch_model.bin.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    expect(existsSync(join(elsewhere, 'pytorch_model.bin'))).toBe(true);
    await expectRejected(input, /pytorch_model\.bin\.index\.json: .*\.\.\/elsewhere\/pytorch_model\.bin.*outside/);
  });

  it('a safetensors index naming an absolute path', async () => {
    const input = hfDir(dir.path, 'absolute-index');
    mkdirSync(join(dir.path, 'abs'), { recursive: true });
    writeFileSync(join(dir.path, 'abs', 'model.safetensors'), safetensorsBytes(shapes()));
    const weightMap = Object.fromEntries(shapes().map(([name]) => [name, join(dir.path, 'abs', 'model.safetensors')]));
    writeFileSync(join(input, 'model.safetensors.index.json'), JSON.stringify({ weight_map: weightMap }));
    await expectRejected(input, /model\.safetensors\.index\.json: .*outside/);
  });

  it('a tensor that appears in two shards', async () => {
    const input = hfDir(dir.path, 'duplicate');
    const all: TensorShapes = shapes();
    writeFileSync(join(input, 'model-00001-of-00002.safetensors'), safetensorsBytes(all));
    writeFileSync(join(input, 'model-00002-of-00002.safetensors'), safetensorsBytes(all.slice(0, 1)));
    await expectRejected(input, /model-0000[12]-of-00002\.safetensors: .*model\.embed_tokens\.weight.*also in/);
  });
  it('a FIFO where a weight file, config.json or tokenizer.model should be: refused at once, not waited on', async () => {
    // Nothing ever writes to these pipes: a converter that opens one for reading blocks forever.
    const weights = hfDir(dir.path, 'fifo-weights');
    execFileSync('mkfifo', [join(weights, 'pytorch_model.bin')]);
    await expectRejected(weights, /pytorch_model\.bin: is a FIFO \(named pipe\), not a regular file/);
    const config = await torchCheckpoint(dir.path, 'fifo-config');
    rmSync(join(config, 'config.json'));
    execFileSync('mkfifo', [join(config, 'config.json')]);
    await expectRejected(config, /config\.json: is a FIFO/);
    const tokenizer = await torchCheckpoint(dir.path, 'fifo-tokenizer');
    rmSync(join(tokenizer, 'tokenizer.model'));
    execFileSync('mkfifo', [join(tokenizer, 'tokenizer.model')]);
    await expectRejected(tokenizer, /tokenizer\.model: is a FIFO/);
  });

  it('hidden_act other than silu, and BOS/EOS ids outside the vocabulary: refused, not converted quietly', async () => {
    const withConfig = async (name: string, fields: Record<string, unknown>) => {
      const input = await torchCheckpoint(dir.path, name);
      const config = JSON.parse(readFileSync(join(input, 'config.json'), 'utf8'));
      writeFileSync(join(input, 'config.json'), JSON.stringify({ ...config, ...fields }));
      return input;
    };
    await expectRejected(await withConfig('gelu', { hidden_act: 'gelu' }), /config\.json: hidden_act "gelu" is not supported/);
    await expectRejected(await withConfig('bos-out', { bos_token_id: TINY.vocab }), new RegExp(`config\\.json: bos_token_id ${TINY.vocab} is not a token of the ${TINY.vocab}-token vocabulary`));
    await expectRejected(await withConfig('eos-out', { eos_token_id: [2, 99_999] }), /config\.json: eos_token_id \[2,99999\]: 99999 is not a token/);
  });

  it('other config.json fields the engine would read differently: types, RoPE scaling, negative ids (configFromHf)', () => {
    const base = { model_type: 'baichuan', vocab_size: 100, hidden_size: 64, intermediate_size: 172, num_hidden_layers: 1, num_attention_heads: 4, hidden_act: 'silu' };
    expect(configFromHf(base, false).vocabSize).toBe(100); // the base is fine
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ hidden_act: 'relu' }, /hidden_act "relu"/],
      [{ hidden_act: 5 }, /hidden_act 5/],
      [{ rope_scaling: { type: 'linear', factor: 2 } }, /rope_scaling/],
      [{ tie_word_embeddings: 'false' }, /tie_word_embeddings must be true or false/],
      [{ rms_norm_eps: '1e-6' }, /rms_norm_eps must be a number/],
      [{ rope_theta: Number.NaN }, /rope_theta must be a number/],
      [{ bos_token_id: -1 }, /bos_token_id -1 is not a token/],
      [{ bos_token_id: 1.5 }, /bos_token_id 1\.5 is not a token/],
      [{ eos_token_id: 100 }, /eos_token_id 100/],
      [{ eos_token_id: [] }, /eos_token_id is an empty list/],
      [{ eos_token_id: ['2'] }, /eos_token_id \["2"\]/],
      [{ vocab_size: 2 }, /token id 2 \(BOS\/EOS, by default 1 and 2\) is outside the 2-token vocabulary/],
    ];
    for (const [fields, message] of cases) {
      let caught: unknown;
      try {
        configFromHf({ ...base, ...fields }, false);
      } catch (error) {
        caught = error;
      }
      expect(caught, JSON.stringify(fields)).toBeInstanceOf(BadCheckpointError);
      expect((caught as Error).message).toMatch(message);
    }
  });
});
