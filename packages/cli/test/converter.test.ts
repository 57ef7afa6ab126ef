/**
 * `webchuan convert` on checkpoints we write ourselves in torch.save's ZIP64 format and as
 * safetensors: equal artifacts from both, and clear errors (naming the file and the problem) on
 * broken input, never leaving an output directory that looks complete.
 */
import { existsSync, readdirSync, readFileSync, rmSync, truncateSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { convertHf } from '../src/convert.js';
import { tempDir } from '../../sdk/test/helpers.js';
import { safetensorsCheckpoint as safetensorsCheckpointIn, shapes, TINY, torchCheckpoint as torchCheckpointIn, type TensorShapes } from './checkpoints.js';

const dir = tempDir();
afterAll(() => dir.remove());

const H = TINY.hidden;
const torchCheckpoint = (name: string, tensors?: TensorShapes) => torchCheckpointIn(dir.path, name, tensors);
const safetensorsCheckpoint = (name: string, dtype = 'F32') => safetensorsCheckpointIn(dir.path, name, dtype);

/** Asserts conversion fails with a message matching `pattern` and leaves nothing that looks like an artifact. */
async function expectFailure(input: string, pattern: RegExp): Promise<void> {
  const out = join(dir.path, 'out', `${Math.random()}`);
  await expect(convertHf(input, 'q4f16_1', out)).rejects.toThrow(pattern);
  expect(existsSync(out)).toBe(false);
  const parent = dirname(out);
  expect(existsSync(parent) ? readdirSync(parent).filter((f) => f.includes('partial')) : []).toEqual([]);
}

describe('webchuan convert', () => {
  it('gives byte-identical artifacts from a ZIP64 torch.save checkpoint and from safetensors, skipping inv_freq', async () => {
    const notes: string[] = [];
    const fromTorch = join(dir.path, 'a-torch');
    const fromSafe = join(dir.path, 'a-safe');
    await convertHf(await torchCheckpoint('torch'), 'q4f16_1', fromTorch, { onNote: (n) => notes.push(n) });
    await convertHf(safetensorsCheckpoint('safe'), 'q4f16_1', fromSafe);
    expect(notes).toEqual(['skipped model.layers.0.self_attn.rotary_emb.inv_freq (not needed for inference)']);
    expect(readFileSync(join(fromTorch, 'params_shard_0.bin')).equals(readFileSync(join(fromSafe, 'params_shard_0.bin')))).toBe(true);
    const cache = JSON.parse(readFileSync(join(fromTorch, 'tensor-cache.json'), 'utf8'));
    expect(cache.records[0].sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(cache.records[0].md5sum).toMatch(/^[0-9a-f]{32}$/);
    const names = cache.records.flatMap((s: { records: { name: string }[] }) => s.records.map((r) => r.name));
    expect(names).toContain('model.layers.0.self_attn.W_pack.q_weight');
    expect(names).toContain('model.layers.0.mlp.gate_up_proj.q_scale');
    const chat = JSON.parse(readFileSync(join(fromTorch, 'mlc-chat-config.json'), 'utf8'));
    expect(chat).toMatchObject({ model_type: 'baichuan', quantization: 'q4f16_1', tokenizer_files: ['tokenizer.model'] });
    expect(chat.conv_template.system_prefix_token_ids).toEqual([]);
  });

  it('names the file when the zip is truncated', async () => {
    const input = await torchCheckpoint('truncated');
    const file = join(input, 'pytorch_model.bin');
    truncateSync(file, Math.floor(readFileSync(file).length / 2));
    await expectFailure(input, /pytorch_model\.bin: (not a ZIP archive, or truncated|truncated)/);
  });

  it('names the tensor and the dtype when the dtype is unknown', async () => {
    await expectFailure(safetensorsCheckpoint('int-dtype', 'I32'), /model\.safetensors: tensor .* has dtype I32, expected F32, F16 or BF16/);
  });

  it('names the tensor when a shape does not match config.json', async () => {
    const input = await torchCheckpoint('bad-shape', shapes().map(([n, s]) => [n, n.endsWith('o_proj.weight') ? [H, H / 2] : s]));
    await expectFailure(input, /pytorch_model\.bin: model\.layers\.0\.self_attn\.o_proj\.weight has shape \[64,32\], which does not match config\.json/);
  });

  it('says which file is missing when there is no tokenizer', async () => {
    const input = await torchCheckpoint('no-tokenizer');
    rmSync(join(input, 'tokenizer.model'));
    await expectFailure(input, /tokenizer\.model is missing/);
  });

  it('keeps an existing artifact untouched when a new conversion into it fails', async () => {
    const out = join(dir.path, 'keep');
    await convertHf(safetensorsCheckpoint('good'), 'q0f32', out);
    const before = readFileSync(join(out, 'tensor-cache.json'), 'utf8');
    const broken = safetensorsCheckpoint('broken', 'I32');
    await expect(convertHf(broken, 'q0f32', out)).rejects.toThrow(/dtype I32/);
    expect(readFileSync(join(out, 'tensor-cache.json'), 'utf8')).toBe(before);
  });
});
