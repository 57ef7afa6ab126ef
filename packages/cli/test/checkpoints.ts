/**
 * Small Hugging Face checkpoints for converter tests, written by our own torch.save and safetensors
 * writers: a config, a tokenizer and weights in Baichuan-7B's layout, at any size.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mulberry32 } from '../../sdk/src/model/random.js';
import { tinyTokenizerModel, tinyTokenizerPieces } from '../src/tiny-tokenizer.js';
import { torchSave, type TensorToSave } from '../scripts/torch-save.js';

export interface Dims {
  hidden: number;
  intermediate: number;
  vocab: number;
  layers: number;
}

export const TINY: Dims = { hidden: 64, intermediate: 172, vocab: tinyTokenizerPieces().length, layers: 1 };

export type TensorShapes = [string, number[]][];

/** Every tensor of a Baichuan checkpoint with these dimensions (and the inv_freq buffers real ones have). */
export function shapes(d: Dims = TINY): TensorShapes {
  const { hidden: H, intermediate: I, vocab: V } = d;
  const list: TensorShapes = [['model.embed_tokens.weight', [V, H]]];
  for (let l = 0; l < d.layers; l++) {
    const p = `model.layers.${l}`;
    list.push(
      [`${p}.self_attn.W_pack.weight`, [3 * H, H]],
      [`${p}.self_attn.o_proj.weight`, [H, H]],
      [`${p}.mlp.gate_proj.weight`, [I, H]],
      [`${p}.mlp.up_proj.weight`, [I, H]],
      [`${p}.mlp.down_proj.weight`, [H, I]],
      [`${p}.input_layernorm.weight`, [H]],
      [`${p}.post_attention_layernorm.weight`, [H]],
      [`${p}.self_attn.rotary_emb.inv_freq`, [8]],
    );
  }
  list.push(['model.norm.weight', [H]], ['lm_head.weight', [V, H]]);
  return list;
}

export function values(shape: number[], seed: number): Float32Array {
  const next = mulberry32(seed);
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => next() - 0.5);
}

/** A model folder with config.json, tokenizer.model and tokenizer_config.json, but no weights yet. */
export function hfDir(root: string, name: string, overrides: Record<string, unknown> = {}, d: Dims = TINY): string {
  const out = join(root, name);
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'config.json'), JSON.stringify({
    model_type: 'baichuan', vocab_size: d.vocab, hidden_size: d.hidden, intermediate_size: d.intermediate, num_hidden_layers: d.layers,
    num_attention_heads: 4, max_position_embeddings: 128, rms_norm_eps: 1e-6, tie_word_embeddings: false, ...overrides,
  }));
  writeFileSync(join(out, 'tokenizer.model'), tinyTokenizerModel());
  writeFileSync(join(out, 'tokenizer_config.json'), JSON.stringify({ add_bos_token: false }));
  return out;
}

/** Writes `tensors` as torch.save does, into `file`. */
export async function writeTorchFile(file: string, tensors: TensorShapes): Promise<void> {
  await torchSave(file, tensors.map(([n, shape], i): TensorToSave => ({
    name: n,
    shape,
    dtype: 'float32',
    chunks: () => [new Uint8Array(values(shape, i).buffer)],
  })));
}

export async function torchCheckpoint(root: string, name: string, tensors?: TensorShapes, d: Dims = TINY): Promise<string> {
  const out = hfDir(root, name, {}, d);
  await writeTorchFile(join(out, 'pytorch_model.bin'), tensors ?? shapes(d));
  return out;
}

/** The bytes of a safetensors file holding `tensors` (data_offsets may be overridden per tensor). */
export function safetensorsBytes(tensors: TensorShapes, dtype = 'F32', edit?: (header: Record<string, { dtype: string; shape: number[]; data_offsets: number[] }>) => void): Buffer {
  const header: Record<string, { dtype: string; shape: number[]; data_offsets: number[] }> = {};
  const blobs: Uint8Array[] = [];
  let offset = 0;
  tensors.forEach(([n, shape], i) => {
    const bytes = new Uint8Array(values(shape, i).buffer);
    header[n] = { dtype, shape, data_offsets: [offset, offset + bytes.byteLength] };
    blobs.push(bytes);
    offset += bytes.byteLength;
  });
  edit?.(header);
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, json, ...blobs]);
}

export function safetensorsCheckpoint(root: string, name: string, dtype = 'F32', d: Dims = TINY): string {
  const out = hfDir(root, name, {}, d);
  writeFileSync(join(out, 'model.safetensors'), safetensorsBytes(shapes(d), dtype));
  return out;
}
