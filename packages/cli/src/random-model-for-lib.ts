/**
 * A random-weight artifact that fits an MLC model library exactly: every parameter the library
 * declares (its embedded metadata, model/model-lib.ts), with that name, shape and dtype, plus an
 * mlc-chat-config.json and a synthetic Hugging Face `tokenizer.json` with one word per token id.
 * It lets WebLLM's real compiled kernels run in tests and benchmarks without downloading weights;
 * its text is noise. When the library is a LLaMA one, webchuan's own engine runs the same files.
 *
 * Values: 4-bit codes are random, their group scales small, norms 1, biases 0, other floats
 * uniform in ±0.02, so activations stay finite through the layers. Bytes are streamed from a few
 * pools of random values at random offsets, so a multi-gigabyte model is written in seconds.
 */
import { formatBytes } from '../../sdk/src/errors.js';
import type { ChatConfigJson, ConvTemplateJson } from '../../sdk/src/model/artifact.js';
import { f32ToBf16Bits, f32ToF16Bits } from '../../sdk/src/model/half.js';
import type { ModelLibMetadata, ModelLibParam } from '../../sdk/src/model/model-lib.js';
import { mulberry32 } from '../../sdk/src/model/random.js';
import { ArtifactWriter, DEFAULT_SHARD_BYTES, type TensorMeta } from './artifact-writer.js';
import { checkRoom, MAX_RANDOM_MODEL_BYTES } from './disk-space.js';
import { checkOutput } from './output-dir.js';

export interface RandomForLibOptions {
  /** The vocabulary size, where the library leaves it symbolic (`"vocab_size"`); else read from it. */
  vocabSize?: number;
  seed?: number;
  /** Store float32 tensors as bfloat16 (MLC's 'f32-to-bf16', as `mlc_llm convert_weight` does): half the bytes. */
  bf16?: boolean;
  shardBytes?: number;
  /** Files the output may never be or hold (the library itself). */
  inputs?: string[];
}

/** Special tokens of the synthetic vocabulary, at the top of it: its ChatML template's markers and end. */
export const SPECIAL_TOKENS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'] as const;

type Kind = 'weight' | 'scale' | 'ones' | 'zeros' | 'bits';
type StoredDtype = TensorMeta['dtype'];

const POOL_BYTES = 8 * 1024 * 1024;

function kindOf(p: ModelLibParam): Kind {
  if (p.dtype === 'uint32') return 'bits';
  if (p.name.endsWith('.q_scale')) return 'scale';
  if (/norm\.weight$/.test(p.name)) return 'ones';
  if (p.name.endsWith('.bias')) return 'zeros';
  return 'weight';
}

/** Pools of bytes per (kind, stored encoding), made once. */
function pools(seed: number) {
  const made = new Map<string, Uint8Array>();
  return (kind: Kind, encoding: 'f32' | 'f16' | 'bf16' | 'u32'): Uint8Array => {
    const key = `${kind}:${encoding}`;
    let pool = made.get(key);
    if (pool) return pool;
    const next = mulberry32(seed + made.size * 7919);
    const value = () => (kind === 'weight' ? (next() * 2 - 1) * 0.02 : kind === 'scale' ? 0.001 + next() * 0.002 : kind === 'ones' ? 1 : 0);
    if (encoding === 'u32') {
      const words = new Uint32Array(POOL_BYTES / 4);
      for (let i = 0; i < words.length; i++) words[i] = Math.floor(next() * 2 ** 32);
      pool = new Uint8Array(words.buffer);
    } else if (encoding === 'f32') {
      const values = new Float32Array(POOL_BYTES / 4);
      for (let i = 0; i < values.length; i++) values[i] = value();
      pool = new Uint8Array(values.buffer);
    } else {
      const halves = new Uint16Array(POOL_BYTES / 2);
      for (let i = 0; i < halves.length; i++) halves[i] = encoding === 'f16' ? f32ToF16Bits(value()) : f32ToBf16Bits(value());
      pool = new Uint8Array(halves.buffer);
    }
    made.set(key, pool);
    return pool;
  };
}

/** `nbytes` bytes drawn from `pool`, a slice at a time from random offsets aligned to 4 bytes. */
function* draw(pool: Uint8Array, nbytes: number, next: () => number): Generator<Uint8Array> {
  let left = nbytes;
  while (left > 0) {
    const offset = Math.floor(next() * (pool.length / 4)) * 4;
    const n = Math.min(left, pool.length - offset);
    yield pool.subarray(offset, offset + n);
    left -= n;
  }
}

/** One word per id, the special tokens at the top: a tokenizer.json of exactly `vocabSize` tokens. */
export function syntheticTokenizer(vocabSize: number): object {
  const vocab: Record<string, number> = { '<unk>': 0 };
  const firstSpecial = vocabSize - SPECIAL_TOKENS.length;
  for (let id = 1; id < firstSpecial; id++) vocab[`w${id}`] = id;
  SPECIAL_TOKENS.forEach((t, i) => (vocab[t] = firstSpecial + i));
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL_TOKENS.map((content, i) => ({ id: firstSpecial + i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null,
    pre_tokenizer: { type: 'WhitespaceSplit' },
    post_processor: null,
    decoder: null, // decoding joins words with spaces
    model: { type: 'WordLevel', vocab, unk_token: '<unk>' },
  };
}

/** A ChatML template over the synthetic vocabulary's special tokens. */
function chatmlTemplate(vocabSize: number): ConvTemplateJson {
  const end = vocabSize - SPECIAL_TOKENS.length;
  return {
    name: 'chatml',
    system_template: '<|im_start|>system {system_message}<|im_end|> ',
    system_message: 'You are a random model.',
    roles: { user: '<|im_start|>user', assistant: '<|im_start|>assistant' },
    role_templates: { user: '{user_message}', assistant: '{assistant_message}', tool: '{tool_message}' },
    messages: [],
    seps: ['<|im_end|> '],
    role_content_sep: ' ',
    role_empty_sep: ' ',
    stop_str: ['<|im_end|>'],
    stop_token_ids: [end, end + 2],
    add_role_after_system_message: true,
  };
}

/** The model's shape as mlc-chat-config.json's model_config, from the library's parameters and KV-cache description. */
function modelConfigOf(lib: ModelLibMetadata, vocabSize: number): Record<string, unknown> {
  const kv = (lib['kv_cache'] ?? {}) as Record<string, number>;
  const param = (suffix: string) => lib.params.find((p) => p.name.endsWith(suffix));
  const hidden = Number(param('model.norm.weight')?.shape[0]);
  const down = param('layers.0.mlp.down_proj.weight') ?? param('layers.0.mlp.down_proj.q_weight');
  // down_proj is [hidden, intermediate]; quantized, its columns are 4-bit words (8 values each).
  const intermediate = down ? Number(down.shape[1]) * (down.dtype === 'uint32' ? 8 : 1) : undefined;
  return {
    vocab_size: vocabSize,
    hidden_size: hidden,
    intermediate_size: intermediate,
    num_hidden_layers: kv['num_hidden_layers'],
    num_attention_heads: kv['num_attention_heads'],
    num_key_value_heads: kv['num_key_value_heads'],
    head_dim: kv['head_dim'],
    rms_norm_eps: 1e-6,
    context_window_size: lib.context_window_size,
    prefill_chunk_size: lib.prefill_chunk_size,
    tie_word_embeddings: !lib.params.some((p) => p.name.startsWith('lm_head.')),
    tensor_parallel_shards: 1,
    max_batch_size: 1,
  };
}

/** The largest vocabulary of the synthetic tokenizer (real ones reach 256k): its tokenizer.json is built in memory. */
export const MAX_SYNTHETIC_VOCAB = 1_000_000;

/** One tensor to write, fully sized before anything is written. */
interface PlannedTensor {
  param: ModelLibParam;
  meta: TensorMeta;
  count: number;
  encoding: 'f32' | 'f16' | 'bf16' | 'u32';
}

/**
 * Every tensor the library declares with its concrete shape and stored bytes, checked before any
 * byte is written: dimensions must be non-negative integers, dtypes ones this generator writes, and
 * the total must stay under MAX_RANDOM_MODEL_BYTES and fit the free space of the output's disk.
 */
function planTensors(lib: ModelLibMetadata, vocabSize: number, bf16: boolean): { tensors: PlannedTensor[]; totalBytes: number } {
  let totalBytes = 0;
  const tensors = lib.params.map((p): PlannedTensor => {
    const shape = p.shape.map((d) => (d === 'vocab_size' ? vocabSize : d));
    for (const d of shape) {
      if (typeof d !== 'number') throw new Error(`${p.name}: symbolic dimension "${d}" in ${JSON.stringify(p.shape)}`);
      if (!Number.isSafeInteger(d) || d < 0) throw new Error(`${p.name}: dimension ${d} in ${JSON.stringify(p.shape)} is not a size`);
    }
    if (p.dtype !== 'float32' && p.dtype !== 'float16' && p.dtype !== 'uint32') throw new Error(`${p.name}: dtype ${p.dtype} is not written by this generator`);
    const dtype: StoredDtype = p.dtype;
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    const asBf16 = dtype === 'float32' && bf16;
    const encoding = dtype === 'uint32' ? 'u32' : dtype === 'float16' ? 'f16' : asBf16 ? 'bf16' : 'f32';
    const nbytes = count * (encoding === 'f32' || encoding === 'u32' ? 4 : 2);
    totalBytes += nbytes;
    // Checked as the sum grows: a [1e9, 1e9] tensor must not overflow into a small-looking number.
    if (!Number.isSafeInteger(totalBytes) || totalBytes > MAX_RANDOM_MODEL_BYTES) {
      throw new Error(`the library declares ${formatBytes(totalBytes)} of parameters or more (${p.name} alone is ${JSON.stringify(shape)} ${dtype}), over the ${formatBytes(MAX_RANDOM_MODEL_BYTES)} a random model may take: nothing was written`);
    }
    return { param: p, meta: { name: p.name, shape: shape as number[], dtype, nbytes, ...(asBf16 ? { format: 'f32-to-bf16' as const } : {}) }, count, encoding };
  });
  return { tensors, totalBytes };
}

export async function writeRandomModelForLib(outDir: string, lib: ModelLibMetadata, options: RandomForLibOptions = {}): Promise<ChatConfigJson> {
  const seed = options.seed ?? 1;
  const concrete = lib.params.find((p) => p.name.startsWith('model.embed_tokens.'))?.shape[0];
  const vocabSize = typeof concrete === 'number' ? concrete : options.vocabSize;
  if (!vocabSize) throw new Error('the library leaves vocab_size symbolic: give vocabSize');
  if (!Number.isSafeInteger(vocabSize) || vocabSize <= SPECIAL_TOKENS.length || vocabSize > MAX_SYNTHETIC_VOCAB) {
    throw new Error(`a vocabulary of ${vocabSize} tokens: the synthetic tokenizer needs between ${SPECIAL_TOKENS.length + 1} and ${MAX_SYNTHETIC_VOCAB}`);
  }
  const { tensors, totalBytes } = planTensors(lib, vocabSize, options.bf16 === true);
  checkOutput(outDir, options.inputs ?? []); // a refused --out is named before the size is
  await checkRoom(outDir, totalBytes + vocabSize * 32); // the tensors, and the tokenizer (about 20 bytes a token)
  const pool = pools(seed);
  const next = mulberry32(seed ^ 0x5eed);
  const writer = await ArtifactWriter.create(outDir, options.shardBytes ?? DEFAULT_SHARD_BYTES, options.inputs ?? []);
  try {
    for (const t of tensors) await writer.addTensor(t.meta, draw(pool(kindOf(t.param), t.encoding), t.meta.nbytes, next), t.count);
    const chatConfig: ChatConfigJson = {
      version: '0.1.0',
      model_type: lib.model_type,
      quantization: lib.quantization,
      model_config: modelConfigOf(lib, vocabSize),
      vocab_size: vocabSize,
      context_window_size: lib.context_window_size,
      sliding_window_size: -1,
      prefill_chunk_size: lib.prefill_chunk_size,
      attention_sink_size: -1,
      tensor_parallel_shards: 1,
      temperature: 1,
      top_p: 1,
      repetition_penalty: 1,
      presence_penalty: 0,
      frequency_penalty: 0,
      tokenizer_files: ['tokenizer.json'],
      tokenizer_info: { token_postproc_method: 'raw', prepend_space_in_encode: false, strip_space_in_decode: false },
      conv_template: chatmlTemplate(vocabSize),
      pad_token_id: 0,
      bos_token_id: vocabSize - SPECIAL_TOKENS.length,
      eos_token_id: vocabSize - 1,
    };
    // Inside the artifact before it moves into place: the folder appears whole, tokenizer included.
    await writer.writeFile('tokenizer.json', JSON.stringify(syntheticTokenizer(vocabSize)));
    await writer.finish(chatConfig);
    return chatConfig;
  } catch (error) {
    await writer.abort();
    throw error;
  }
}
