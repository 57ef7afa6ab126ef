/**
 * MLC's artifact layout: `mlc-chat-config.json` (model shape, tokenizer, prompt conventions) and
 * `tensor-cache.json` (formerly `ndarray-cache.json`), which lists the `params_shard_N.bin` files and
 * where each tensor lies in them. Reading and decoding only; writers live in `node/`.
 */
import { validateConfig, type ModelConfig, type ModelType } from './config.js';
import { bf16ArrayToF32, f16ArrayToF32 } from './half.js';
import { isQuantization, type Quantization } from './quant.js';

export const CHAT_CONFIG_FILE = 'mlc-chat-config.json';
export const TENSOR_CACHE_FILE = 'tensor-cache.json';
/** What MLC called `tensor-cache.json` before it was renamed; still read. */
export const LEGACY_TENSOR_CACHE_FILE = 'ndarray-cache.json';

/** The parts of `mlc-chat-config.json` that webchuan reads and writes. */
export interface ChatConfigJson {
  version?: string;
  model_type: string;
  quantization: string;
  model_config: Record<string, unknown>;
  vocab_size?: number;
  context_window_size?: number;
  prefill_chunk_size?: number;
  sliding_window_size?: number;
  attention_sink_size?: number;
  tensor_parallel_shards?: number;
  temperature?: number;
  top_p?: number;
  repetition_penalty?: number;
  presence_penalty?: number;
  frequency_penalty?: number;
  tokenizer_files?: string[];
  tokenizer_info?: Record<string, unknown>;
  conv_template?: ConvTemplateJson;
  pad_token_id?: number;
  bos_token_id?: number;
  eos_token_id?: number | number[];
}

/** The subset of MLC's conversation template webchuan uses. */
export interface ConvTemplateJson {
  name?: string;
  system_prefix_token_ids?: number[];
  stop_token_ids?: number[];
  stop_str?: string[];
  [key: string]: unknown;
}

/** One tensor inside a shard. */
export interface TensorRecord {
  name: string;
  shape: number[];
  dtype: string;
  /** `raw`: bytes as the dtype says; `f32-to-bf16`: a float32 tensor stored as bf16. */
  format: 'raw' | 'f32-to-bf16';
  nbytes: number;
  byteOffset: number;
}

/** One `params_shard_N.bin`. */
export interface ShardRecord {
  dataPath: string;
  format: 'raw-shard';
  nbytes: number;
  records: TensorRecord[];
  /** MLC's integrity field (hex MD5). */
  md5sum?: string;
  /** webchuan's integrity field (hex SHA-256), checkable with WebCrypto in a browser. */
  sha256?: string;
}

export interface TensorCacheJson {
  metadata: Record<string, unknown>;
  records: ShardRecord[];
}

/** A model artifact's parsed metadata. */
export interface ArtifactInfo {
  config: ModelConfig;
  quantization: Quantization;
  tokenizerFiles: string[];
  prefillChunkSize: number;
  /** How the tokenizer's pieces become bytes (MLC's `tokenizer_info`), when the artifact says. */
  tokenizerInfo?: { tokenPostprocMethod: string; prependSpaceInEncode: boolean };
}

function num(source: Record<string, unknown>, key: string): number | undefined {
  const v = source[key];
  return typeof v === 'number' ? v : undefined;
}

/** Reads `mlc-chat-config.json` into our config; throws on anything we cannot run. */
export function parseChatConfig(json: ChatConfigJson): ArtifactInfo {
  if (!json || typeof json !== 'object') throw new Error(`${CHAT_CONFIG_FILE}: not a JSON object`);
  const modelType = json.model_type;
  if (modelType !== 'baichuan' && modelType !== 'llama') {
    throw new Error(`${CHAT_CONFIG_FILE}: model_type "${modelType}" is not supported (baichuan or llama)`);
  }
  if (!isQuantization(json.quantization)) {
    throw new Error(`${CHAT_CONFIG_FILE}: quantization "${json.quantization}" is not supported (q0f32, q4f32_1, q4f16_1)`);
  }
  const mc = json.model_config ?? {};
  const hiddenSize = num(mc, 'hidden_size') ?? 0;
  const numHeads = num(mc, 'num_attention_heads') ?? 0;
  const eos = json.eos_token_id ?? num(mc, 'eos_token_id') ?? 2;
  const stopTokenIds = json.conv_template?.stop_token_ids ?? (Array.isArray(eos) ? eos : [eos]);
  const config: ModelConfig = {
    modelType: modelType as ModelType,
    hiddenSize,
    intermediateSize: num(mc, 'intermediate_size') ?? 0,
    numLayers: num(mc, 'num_hidden_layers') ?? 0,
    numHeads,
    numKvHeads: num(mc, 'num_key_value_heads') ?? numHeads,
    headDim: num(mc, 'head_dim') ?? (numHeads ? hiddenSize / numHeads : 0),
    vocabSize: json.vocab_size ?? num(mc, 'vocab_size') ?? 0,
    contextWindow:
      json.context_window_size ?? num(mc, 'context_window_size') ?? num(mc, 'max_position_embeddings') ?? 0,
    rmsNormEps: num(mc, 'rms_norm_eps') ?? 1e-6,
    ropeTheta: num(mc, 'rope_theta') ?? num(mc, 'position_embedding_base') ?? 10000,
    tieWordEmbeddings: mc['tie_word_embeddings'] === true,
    bosTokenId: json.bos_token_id ?? num(mc, 'bos_token_id') ?? 1,
    promptPrefixTokenIds: json.conv_template?.system_prefix_token_ids ?? [],
    stopTokenIds,
  };
  validateConfig(config);
  return {
    config,
    quantization: json.quantization,
    tokenizerFiles: json.tokenizer_files ?? ['tokenizer.model'],
    prefillChunkSize: json.prefill_chunk_size ?? num(mc, 'prefill_chunk_size') ?? 2048,
    ...(typeof json.tokenizer_info?.['token_postproc_method'] === 'string'
      ? { tokenizerInfo: { tokenPostprocMethod: json.tokenizer_info['token_postproc_method'], prependSpaceInEncode: json.tokenizer_info['prepend_space_in_encode'] === true } }
      : {}),
  };
}

/** Writes our config as `mlc-chat-config.json`, in the shape `mlc_llm gen_config` produces. */
export function buildChatConfig(
  c: ModelConfig,
  quantization: Quantization,
  opts: { tokenizerFiles: string[]; prefillChunkSize?: number },
): ChatConfigJson {
  const prefill = opts.prefillChunkSize ?? Math.min(2048, c.contextWindow);
  const modelConfig: Record<string, unknown> = {
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKvHeads,
    head_dim: c.headDim,
    rms_norm_eps: c.rmsNormEps,
    position_embedding_base: c.ropeTheta,
    context_window_size: c.contextWindow,
    prefill_chunk_size: prefill,
    tie_word_embeddings: c.tieWordEmbeddings,
    tensor_parallel_shards: 1,
    max_batch_size: 1,
  };
  return {
    version: '0.1.0',
    model_type: c.modelType,
    quantization,
    model_config: modelConfig,
    vocab_size: c.vocabSize,
    context_window_size: c.contextWindow,
    sliding_window_size: -1,
    prefill_chunk_size: prefill,
    attention_sink_size: -1,
    tensor_parallel_shards: 1,
    temperature: 1.0,
    top_p: 1.0,
    repetition_penalty: 1.0,
    presence_penalty: 0.0,
    frequency_penalty: 0.0,
    tokenizer_files: opts.tokenizerFiles,
    tokenizer_info: { token_postproc_method: 'byte_fallback', prepend_space_in_encode: false, strip_space_in_decode: false },
    // A plain language-model template: Baichuan-7B is a base model, prompts go in as they are.
    conv_template: {
      name: 'LM',
      system_template: '{system_message}',
      system_message: '',
      roles: { user: '', assistant: '' },
      role_templates: { user: '{user_message}', assistant: '{assistant_message}', tool: '{tool_message}' },
      messages: [],
      seps: [''],
      role_content_sep: '',
      role_empty_sep: '',
      stop_str: [],
      system_prefix_token_ids: c.promptPrefixTokenIds,
      stop_token_ids: c.stopTokenIds,
      add_role_after_system_message: true,
    },
    pad_token_id: 0,
    bos_token_id: c.bosTokenId,
    eos_token_id: c.stopTokenIds.length === 1 ? c.stopTokenIds[0]! : c.stopTokenIds,
  };
}

/** Checks the structure of `tensor-cache.json`; throws naming the first problem. */
export function parseTensorCache(json: unknown, file = TENSOR_CACHE_FILE): TensorCacheJson {
  const j = json as TensorCacheJson;
  if (!j || typeof j !== 'object' || !Array.isArray(j.records)) throw new Error(`${file}: no "records" array`);
  const size = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  for (const [i, shard] of (j.records as unknown[] as ShardRecord[]).entries()) {
    if (!shard || typeof shard !== 'object' || typeof shard.dataPath !== 'string' || !Array.isArray(shard.records) || !size(shard.nbytes)) {
      throw new Error(`${file}: shard record ${i} lacks dataPath, nbytes or records`);
    }
    for (const [k, r] of (shard.records as unknown[] as ShardRecord['records']).entries()) {
      // Every field the loader and the library check read, with its type: a malformed index is refused here, named.
      const at = `${file}: ${shard.dataPath} record ${k}`;
      if (!r || typeof r !== 'object') throw new Error(`${at} is not an object`);
      if (typeof r.name !== 'string') throw new Error(`${at}: name must be a string, got ${JSON.stringify(r.name)}`);
      if (typeof r.dtype !== 'string') throw new Error(`${at} (${r.name}): dtype must be a string, got ${JSON.stringify(r.dtype)}`);
      if (!Array.isArray(r.shape) || !r.shape.every(size)) throw new Error(`${at} (${r.name}): shape must be a list of sizes, got ${JSON.stringify(r.shape)}`);
      if (!size(r.byteOffset) || !size(r.nbytes)) throw new Error(`${at} (${r.name}): byteOffset and nbytes must be sizes`);
      if (r.byteOffset + r.nbytes > shard.nbytes) {
        throw new Error(`${file}: tensor ${r.name} runs past the end of ${shard.dataPath}`);
      }
    }
  }
  return { metadata: j.metadata ?? {}, records: j.records };
}

/** Total bytes of all shards. */
export function artifactBytes(cache: TensorCacheJson): number {
  return cache.records.reduce((sum, s) => sum + s.nbytes, 0);
}

/** A decoded tensor: float tensors as float32, f16 scales kept as raw bits for the GPU. */
export type TensorData =
  | { dtype: 'float32'; data: Float32Array }
  | { dtype: 'float16'; data: Uint16Array }
  | { dtype: 'uint32'; data: Uint32Array };

/**
 * Decodes one record from its shard's bytes. Raw tensors are views into the shard when their offset
 * is aligned for their element size (no copy: loading a model never holds a tensor twice in JS),
 * copies otherwise; bf16 records become new float32 arrays.
 */
export function decodeTensor(record: TensorRecord, shard: Uint8Array): TensorData {
  const start = shard.byteOffset + record.byteOffset;
  const aligned = start % (record.dtype === 'float16' || record.format === 'f32-to-bf16' || record.dtype === 'bfloat16' ? 2 : 4) === 0;
  const bytes = aligned
    ? new Uint8Array(shard.buffer as ArrayBuffer, start, record.nbytes)
    : shard.slice(record.byteOffset, record.byteOffset + record.nbytes);
  const count = record.shape.reduce((a, b) => a * b, 1);
  const expect = (bytesPerElement: number) => {
    if (bytes.byteLength !== count * bytesPerElement) {
      throw new Error(`tensor ${record.name}: ${bytes.byteLength} bytes do not hold ${count} ${record.dtype} values`);
    }
  };
  if (record.dtype === 'float32' && record.format === 'f32-to-bf16') {
    expect(2);
    return { dtype: 'float32', data: bf16ArrayToF32(new Uint16Array(bytes.buffer, bytes.byteOffset, count)) };
  }
  switch (record.dtype) {
    case 'float32':
      expect(4);
      return { dtype: 'float32', data: new Float32Array(bytes.buffer, bytes.byteOffset, count) };
    case 'float16':
      expect(2);
      return { dtype: 'float16', data: new Uint16Array(bytes.buffer, bytes.byteOffset, count) };
    case 'bfloat16':
      expect(2);
      return { dtype: 'float32', data: bf16ArrayToF32(new Uint16Array(bytes.buffer, bytes.byteOffset, count)) };
    case 'uint32':
      expect(4);
      return { dtype: 'uint32', data: new Uint32Array(bytes.buffer, bytes.byteOffset, count) };
    default:
      throw new Error(`tensor ${record.name}: dtype ${record.dtype} is not supported`);
  }
}

/** float32 values of a float tensor, whatever its stored dtype. */
export function asFloat32(t: TensorData, name: string): Float32Array {
  if (t.dtype === 'float32') return t.data;
  if (t.dtype === 'float16') return f16ArrayToF32(t.data);
  throw new Error(`tensor ${name}: expected floats, found ${t.dtype}`);
}

/** One decoded tensor from an artifact, as a loader yields it. */
export interface NamedTensor {
  record: TensorRecord;
  tensor: TensorData;
}

/** Where an artifact's files come from: a directory in Node, a URL or IndexedDB in a browser. */
export interface ArtifactSource {
  /** The text of a small file (configs); rejects when it does not exist. */
  text(file: string): Promise<string>;
  /** The bytes of a shard. */
  bytes(file: string): Promise<Uint8Array>;
}

/** An artifact's metadata, read from its two JSON files. */
export interface OpenedArtifact {
  info: ArtifactInfo;
  chatConfig: ChatConfigJson;
  cache: TensorCacheJson;
}

export async function openArtifact(source: ArtifactSource): Promise<OpenedArtifact> {
  const chatConfig = JSON.parse(await source.text(CHAT_CONFIG_FILE)) as ChatConfigJson;
  const info = parseChatConfig(chatConfig);
  let cacheText: string;
  let cacheFile = TENSOR_CACHE_FILE;
  try {
    cacheText = await source.text(TENSOR_CACHE_FILE);
  } catch {
    cacheFile = LEGACY_TENSOR_CACHE_FILE;
    cacheText = await source.text(LEGACY_TENSOR_CACHE_FILE);
  }
  return { info, chatConfig, cache: parseTensorCache(JSON.parse(cacheText), cacheFile) };
}

/** Every tensor of the artifact, decoded, one shard in memory at a time. */
export async function* readTensors(source: ArtifactSource, cache: TensorCacheJson): AsyncGenerator<NamedTensor> {
  for (const shard of cache.records) {
    const bytes = await source.bytes(shard.dataPath);
    if (bytes.byteLength !== shard.nbytes) {
      throw new Error(`${shard.dataPath}: ${bytes.byteLength} bytes, tensor-cache.json says ${shard.nbytes}`);
    }
    for (const record of shard.records) yield { record, tensor: decodeTensor(record, bytes) };
  }
}
