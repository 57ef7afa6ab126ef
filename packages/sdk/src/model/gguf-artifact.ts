/**
 * An MLC-layout artifact (ours: Baichuan or LLaMA, q0f32 / q4f32_1 / q4f16_1) as a llama.cpp GGUF
 * model, tensor by tensor, without holding more than one shard in memory. The facts that silently
 * change llama.cpp's output when wrong:
 *
 * - Baichuan's `W_pack` (MLC's fused q|k|v) splits into `attn_q`, `attn_k`, `attn_v`; MLC's
 *   `gate_up_proj` into `ffn_gate` and `ffn_up`.
 * - Our artifacts keep Hugging Face's rotate-half RoPE layout (dimension j paired with j + d/2);
 *   llama.cpp's `llama` architecture rotates adjacent pairs, so the rows of q and k are permuted within
 *   each head exactly as llama.cpp's own converter does (`permute` in convert_hf_to_gguf.py).
 * - The architecture is written as `llama` whatever the depth: llama.cpp's `baichuan` applies RoPE
 *   only to 32-layer models (it takes other depths for an unknown size), and `llama` computes the
 *   same thing for every depth (RMSNorm, rotary attention, SwiGLU, untied classifier).
 * - The vocabulary comes from `tokenizer.model` (pieces, scores, types), with `add_space_prefix`
 *   equal to the model's `add_dummy_prefix`, and no BOS or EOS added to prompts.
 *
 * 4-bit groups repack into Q4_0 bit for bit: MLC's groups are 32 consecutive inputs with one scale,
 * stored codes q ∈ [0, 14] mean (q − 7)·scale; a Q4_0 block is 32 values with an f16 scale d and
 * nibbles n meaning (n − 8)·d, so n = q + 1 and d = scale. q4f16_1's scales are f16 already (exact);
 * q4f32_1's are rounded to f16 (a relative change of at most 2⁻¹¹ per group).
 */
import type { ModelConfig } from './config.js';
import { alignUp, ggmlTensorBytes, ggufFileNames, ggufLayout, splitMetadata, type GgmlType, type GgufLayout, type GgufTensorInfo, type GgufValue } from './gguf.js';
import { asFloat32, decodeTensor, type ArtifactSource, type OpenedArtifact, type TensorData, type TensorRecord } from './artifact.js';
import { f16BitsToF32, f32ToF16Bits } from './half.js';
import { layerParamNames, paramSpecs, quantizedNames, type ParamSpec } from './params.js';
import { GROUP_SIZE, groupsPerRow, isQuantized, MAX_INT, wordsPerRow, type Quantization } from './quant.js';
import { PIECE_TYPE, type SentencePieceVocab } from './sentencepiece-vocab.js';

/** What the GGUF's matrices are stored as. 'auto': losslessly (q0f32 → F32, 4-bit → Q4_0). */
export type GgufWeightType = 'auto' | GgmlType;
export const GGUF_WEIGHT_TYPES: readonly GgufWeightType[] = ['auto', 'F32', 'F16', 'Q8_0', 'Q4_0'];

export interface GgufOptions {
  weightType?: GgufWeightType;
  /** Largest file; a bigger model is split into several (llama.cpp's gguf-split layout). Default 512 MiB. */
  maxFileBytes?: number;
  /** `general.name`. */
  name?: string;
  /** File name prefix (`model` → model.gguf, or model-00001-of-00003.gguf…). */
  filePrefix?: string;
  /**
   * 'text': the 256 byte pieces (`<0x00>`…`<0xFF>`) are written as normal pieces, so llama.cpp
   * prints them as their names instead of raw bytes (it still finds them by name for byte fallback
   * when it tokenizes a prompt). The CPU path uses this: llama-server's JSON writer throws on a lone
   * UTF-8 byte, which a model can emit; the worker turns the names back into bytes (cpu/byte-escapes.ts).
   * Default 'bytes': llama.cpp's own meaning, for other llama.cpp tools.
   */
  bytePieces?: 'bytes' | 'text';
}

/** One GGUF tensor and where its values come from in the artifact. */
interface PlannedTensor extends GgufTensorInfo {
  /** The artifact parameter (MLC's logical `.weight` name) it is cut from. */
  param: string;
  /** Its rows within the parameter, [start, end). */
  rows: [number, number];
  /** Heads for the rotate-half → adjacent-pairs row permutation (q and k), else 0. */
  permuteHeads: number;
}

export interface GgufFilePlan {
  name: string;
  layout: GgufLayout;
  tensors: PlannedTensor[];
}

export interface GgufPlan {
  files: GgufFilePlan[];
  /** Bytes of all files. */
  totalBytes: number;
  /** The type matrices were written as ('mixed' never: norms are always F32). */
  weightType: GgmlType;
}

/** Default split size: wllama advises ≤ 512 MB per file (parallel reads, less memory at once); 2 GB is a hard limit. */
export const DEFAULT_GGUF_FILE_BYTES = 512 * 1024 * 1024;

/** llama.cpp's LLAMA_FTYPE for a file whose matrices are `type`. */
const FILE_TYPE: Record<GgmlType, number> = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 7 };

function matrixType(requested: GgufWeightType, quantization: Quantization): GgmlType {
  if (requested !== 'auto') return requested;
  return isQuantized(quantization) ? 'Q4_0' : 'F32';
}

/** The GGUF tensors cut from one artifact parameter, in order. */
function tensorsOf(c: ModelConfig, spec: ParamSpec, type: GgmlType, layer: number | undefined): PlannedTensor[] {
  const [rows, cols] = spec.shape.length === 2 ? (spec.shape as [number, number]) : [spec.shape[0]!, 1];
  if (spec.shape.length === 1) {
    const name = spec.name === 'model.norm.weight' ? 'output_norm.weight' : `blk.${layer}.${spec.name.includes('input_layernorm') ? 'attn_norm' : 'ffn_norm'}.weight`;
    return [{ name, dims: [rows], type: 'F32', param: spec.name, rows: [0, rows], permuteHeads: 0 }];
  }
  // A row length that is not whole blocks cannot be Q4_0/Q8_0 (llama.cpp's converter keeps such tensors as floats too).
  const t: GgmlType = (type === 'Q4_0' || type === 'Q8_0') && cols % 32 !== 0 ? 'F32' : type;
  const one = (name: string, r0: number, r1: number, permuteHeads = 0): PlannedTensor => ({ name, dims: [cols, r1 - r0], type: t, param: spec.name, rows: [r0, r1], permuteHeads });
  if (layer === undefined) return [one(spec.name === 'lm_head.weight' ? 'output.weight' : 'token_embd.weight', 0, rows)];
  const n = layerParamNames(c, layer);
  const blk = `blk.${layer}`;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  switch (spec.name) {
    case n.qkv:
      return [one(`${blk}.attn_q.weight`, 0, q, c.numHeads), one(`${blk}.attn_k.weight`, q, q + kv, c.numKvHeads), one(`${blk}.attn_v.weight`, q + kv, q + 2 * kv)];
    case n.o:
      return [one(`${blk}.attn_output.weight`, 0, rows)];
    case n.gateUp:
      return [one(`${blk}.ffn_gate.weight`, 0, c.intermediateSize), one(`${blk}.ffn_up.weight`, c.intermediateSize, rows)];
    case n.down:
      return [one(`${blk}.ffn_down.weight`, 0, rows)];
    default:
      throw new Error(`GGUF: no llama.cpp tensor for ${spec.name}`);
  }
}

function layerOf(name: string): number | undefined {
  const m = /^model\.layers\.(\d+)\./.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** The stored records a parameter needs: its `.weight`, or its `.q_weight` and `.q_scale`. */
function storedNames(spec: ParamSpec, quantization: Quantization): string[] {
  if (!spec.quantizable || !isQuantized(quantization)) return [spec.name];
  const q = quantizedNames(spec.name);
  return [q.qWeight, q.qScale];
}

/**
 * The parameters in the order their last record appears in the shards: the order a reader going
 * through the shards once completes them, and so the order the GGUF's tensors are written in.
 */
function paramOrder(opened: OpenedArtifact): ParamSpec[] {
  const { config } = opened.info;
  const specs = paramSpecs(config);
  const position = new Map<string, number>();
  let i = 0;
  for (const shard of opened.cache.records) for (const r of shard.records) position.set(r.name, i++);
  const done = specs.map((spec) => {
    const at = storedNames(spec, opened.info.quantization).map((n) => position.get(n));
    if (at.some((p) => p === undefined)) throw new Error(`GGUF: the artifact lacks ${spec.name} (tensor-cache.json has no ${storedNames(spec, opened.info.quantization).join(' / ')})`);
    return { spec, at: Math.max(...(at as number[])) };
  });
  return done.sort((a, b) => a.at - b.at).map((d) => d.spec);
}

/** The metadata llama.cpp reads to build a `llama` model with this vocabulary. */
export function ggufMetadata(c: ModelConfig, vocab: SentencePieceVocab, type: GgmlType, name: string, bytePieces: 'bytes' | 'text' = 'bytes'): Map<string, GgufValue> {
  if (vocab.pieces.length > c.vocabSize) throw new Error(`GGUF: tokenizer.model has ${vocab.pieces.length} pieces, more than the model's vocabulary of ${c.vocabSize}`);
  const tokens = [...vocab.pieces];
  const scores = Array.from(vocab.scores);
  const types = Array.from(vocab.types, (t) => (bytePieces === 'text' && t === PIECE_TYPE.BYTE ? PIECE_TYPE.NORMAL : t));
  // Rows of the embedding past the tokenizer's pieces get placeholder tokens, as llama.cpp's converter writes them.
  for (let id = tokens.length; id < c.vocabSize; id++) {
    tokens.push(`[PAD${id}]`);
    scores.push(-1000);
    types.push(PIECE_TYPE.UNUSED);
  }
  const m = new Map<string, GgufValue>([
    ['general.architecture', { type: 'string', value: 'llama' }],
    ['general.name', { type: 'string', value: name }],
    ['general.file_type', { type: 'u32', value: FILE_TYPE[type] }],
    ['llama.vocab_size', { type: 'u32', value: c.vocabSize }],
    ['llama.context_length', { type: 'u32', value: c.contextWindow }],
    ['llama.embedding_length', { type: 'u32', value: c.hiddenSize }],
    ['llama.block_count', { type: 'u32', value: c.numLayers }],
    ['llama.feed_forward_length', { type: 'u32', value: c.intermediateSize }],
    ['llama.rope.dimension_count', { type: 'u32', value: c.headDim }],
    ['llama.rope.freq_base', { type: 'f32', value: c.ropeTheta }],
    ['llama.attention.head_count', { type: 'u32', value: c.numHeads }],
    ['llama.attention.head_count_kv', { type: 'u32', value: c.numKvHeads }],
    ['llama.attention.key_length', { type: 'u32', value: c.headDim }],
    ['llama.attention.value_length', { type: 'u32', value: c.headDim }],
    ['llama.attention.layer_norm_rms_epsilon', { type: 'f32', value: c.rmsNormEps }],
    ['tokenizer.ggml.model', { type: 'string', value: 'llama' }],
    ['tokenizer.ggml.tokens', { type: 'string[]', value: tokens }],
    ['tokenizer.ggml.scores', { type: 'f32[]', value: scores }],
    ['tokenizer.ggml.token_type', { type: 'i32[]', value: types }],
    ['tokenizer.ggml.bos_token_id', { type: 'u32', value: c.bosTokenId }],
    ['tokenizer.ggml.eos_token_id', { type: 'u32', value: c.stopTokenIds[0] ?? vocab.eosId }],
    ['tokenizer.ggml.unknown_token_id', { type: 'u32', value: vocab.unkId }],
    ['tokenizer.ggml.add_bos_token', { type: 'bool', value: c.promptPrefixTokenIds.includes(c.bosTokenId) }],
    ['tokenizer.ggml.add_eos_token', { type: 'bool', value: false }],
    ['tokenizer.ggml.add_space_prefix', { type: 'bool', value: vocab.addDummyPrefix }],
  ]);
  if (vocab.padId >= 0) m.set('tokenizer.ggml.padding_token_id', { type: 'u32', value: vocab.padId });
  return m;
}

/** The GGUF files an artifact becomes: their names, headers and where every tensor goes. */
export function planGguf(opened: OpenedArtifact, vocab: SentencePieceVocab, options: GgufOptions = {}): GgufPlan {
  const { config, quantization } = opened.info;
  const type = matrixType(options.weightType ?? 'auto', quantization);
  const tensors = paramOrder(opened).flatMap((spec) => tensorsOf(config, spec, type, layerOf(spec.name)));
  const metadata = ggufMetadata(config, vocab, type, options.name ?? 'webchuan model', options.bytePieces);
  const maxBytes = options.maxFileBytes ?? DEFAULT_GGUF_FILE_BYTES;
  // Group the tensors, in order, into files of at most maxBytes (a tensor bigger than that gets a file of its own).
  const groups: PlannedTensor[][] = [[]];
  let size = 0;
  const headerAllowance = 1024 * 1024 + vocab.pieces.length * 64;
  for (const t of tensors) {
    const bytes = alignUp(ggmlSize(t));
    if (groups.at(-1)!.length > 0 && size + bytes + headerAllowance > maxBytes) {
      groups.push([]);
      size = 0;
    }
    groups.at(-1)!.push(t);
    size += bytes;
  }
  const names = ggufFileNames(options.filePrefix ?? 'model', groups.length);
  const files = groups.map((group, i) => {
    const meta = groups.length === 1 ? metadata : new Map([...(i === 0 ? metadata : []), ...splitMetadata(i, groups.length, tensors.length)]);
    return { name: names[i]!, layout: ggufLayout(meta, group), tensors: group };
  });
  return { files, totalBytes: files.reduce((n, f) => n + f.layout.totalBytes, 0), weightType: type };
}

function ggmlSize(t: GgufTensorInfo): number {
  return ggmlTensorBytes(t.type, t.dims);
}

/** Bytes of a model's tensors in GGUF, from its shape alone (before anything is downloaded). */
export function ggufWeightBytes(c: ModelConfig, quantization: Quantization, weightType: GgufWeightType = 'auto'): number {
  const type = matrixType(weightType, quantization);
  return paramSpecs(c)
    .flatMap((spec) => tensorsOf(c, spec, type, layerOf(spec.name)))
    .reduce((n, t) => n + ggmlSize(t), 0);
}

/** The stored form of one parameter, gathered from its records. */
type StoredParam =
  | { kind: 'float'; values: Float32Array; rows: number; cols: number }
  | { kind: 'q4'; qWeight: Uint32Array; scales: TensorData; rows: number; cols: number };

/** Source row of output row `i` after llama.cpp's q/k permutation (rows of one head interleaved: 0, d/2, 1, d/2+1, …). */
function sourceRow(i: number, heads: number, totalRows: number): number {
  if (heads === 0) return i;
  const d = totalRows / heads;
  const head = Math.floor(i / d);
  const j = i % d;
  return head * d + (j % 2 === 0 ? j / 2 : d / 2 + (j - 1) / 2);
}

/** f16 bits of a 4-bit group's scale (exact for q4f16_1, rounded for q4f32_1). */
function scaleBits(scales: TensorData, at: number): number {
  if (scales.dtype === 'float16') return scales.data[at]!;
  if (scales.dtype === 'float32') return f32ToF16Bits(scales.data[at]!);
  throw new Error('GGUF: 4-bit scales must be floats');
}

/** One row of a stored parameter as float32 values. */
function floatRow(p: StoredParam, row: number, out: Float32Array): void {
  if (p.kind === 'float') {
    out.set(p.values.subarray(row * p.cols, (row + 1) * p.cols));
    return;
  }
  const groups = groupsPerRow(p.cols);
  const words = wordsPerRow(p.cols);
  for (let k = 0; k < p.cols; k++) {
    const code = (p.qWeight[row * words + (k >>> 3)]! >>> ((k & 7) * 4)) & 0xf;
    const at = row * groups + (k >>> 5);
    const scale = p.scales.dtype === 'float16' ? f16BitsToF32(p.scales.data[at]!) : (p.scales.data as Float32Array)[at]!;
    out[k] = Math.fround((code - MAX_INT) * scale);
  }
}

/** ggml's quantize_row_q4_0_ref: d = (value of largest magnitude) / −8, n = min(15, trunc(x/d + 8.5)). */
function quantizeQ4_0Block(x: Float32Array, from: number, out: DataView, at: number): void {
  let amax = 0;
  let max = 0;
  for (let j = 0; j < 32; j++) {
    const v = x[from + j]!;
    if (Math.abs(v) > amax) {
      amax = Math.abs(v);
      max = v;
    }
  }
  const dBits = f32ToF16Bits(max / -8);
  out.setUint16(at, dBits, true);
  const d = Math.fround(max / -8);
  const id = d !== 0 ? Math.fround(1 / d) : 0;
  const nibble = (v: number) => Math.min(15, Math.trunc(Math.fround(Math.fround(v * id) + 8.5)));
  for (let j = 0; j < 16; j++) out.setUint8(at + 2 + j, nibble(x[from + j]!) | (nibble(x[from + j + 16]!) << 4));
}

/** ggml's quantize_row_q8_0_ref: d = max|x| / 127, q = round(x / d). */
function quantizeQ8_0Block(x: Float32Array, from: number, out: DataView, at: number): void {
  let amax = 0;
  for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[from + j]!));
  const d = Math.fround(amax / 127);
  const id = d !== 0 ? Math.fround(1 / d) : 0;
  out.setUint16(at, f32ToF16Bits(d), true);
  for (let j = 0; j < 32; j++) {
    const v = Math.fround(x[from + j]! * id);
    out.setInt8(at + 2 + j, Math.sign(v) * Math.round(Math.abs(v))); // roundf: halves away from zero
  }
}

/** The bytes of one planned tensor, cut from its parameter. */
export function tensorBytes(t: PlannedTensor, p: StoredParam): Uint8Array {
  const [r0, r1] = t.rows;
  const rows = r1 - r0;
  const total = t.rows[1] - t.rows[0];
  const src = (i: number) => r0 + sourceRow(i, t.permuteHeads, total);
  const cols = p.cols;
  if (t.type === 'Q4_0' && p.kind === 'q4') {
    // Bit-exact repack: codes + 1 become the nibbles, low nibble element j, high nibble element j + 16.
    const blocks = cols / GROUP_SIZE;
    const out = new Uint8Array(rows * blocks * 18);
    const view = new DataView(out.buffer);
    const groups = groupsPerRow(cols);
    const words = wordsPerRow(cols);
    for (let i = 0; i < rows; i++) {
      const row = src(i);
      for (let g = 0; g < blocks; g++) {
        const at = (i * blocks + g) * 18;
        view.setUint16(at, scaleBits(p.scales, row * groups + g), true);
        const w = row * words + g * 4;
        for (let j = 0; j < 16; j++) {
          const lo = ((p.qWeight[w + (j >>> 3)]! >>> ((j & 7) * 4)) & 0xf) + 1;
          const hi = ((p.qWeight[w + 2 + (j >>> 3)]! >>> ((j & 7) * 4)) & 0xf) + 1;
          out[at + 2 + j] = lo | (hi << 4);
        }
      }
    }
    return out;
  }
  const row = new Float32Array(cols);
  switch (t.type) {
    case 'F32': {
      const out = new Float32Array(rows * cols);
      for (let i = 0; i < rows; i++) {
        floatRow(p, src(i), row);
        out.set(row, i * cols);
      }
      return new Uint8Array(out.buffer);
    }
    case 'F16': {
      const out = new Uint16Array(rows * cols);
      for (let i = 0; i < rows; i++) {
        floatRow(p, src(i), row);
        for (let k = 0; k < cols; k++) out[i * cols + k] = f32ToF16Bits(row[k]!);
      }
      return new Uint8Array(out.buffer);
    }
    case 'Q4_0':
    case 'Q8_0': {
      const blockBytes = t.type === 'Q4_0' ? 18 : 34;
      const quantize = t.type === 'Q4_0' ? quantizeQ4_0Block : quantizeQ8_0Block;
      const blocks = cols / 32;
      const out = new Uint8Array(rows * blocks * blockBytes);
      const view = new DataView(out.buffer);
      for (let i = 0; i < rows; i++) {
        floatRow(p, src(i), row);
        for (let g = 0; g < blocks; g++) quantize(row, g * 32, view, (i * blocks + g) * blockBytes);
      }
      return out;
    }
  }
}

/** A parameter's stored form from its decoded records. */
function storedParam(spec: ParamSpec, quantization: Quantization, records: Map<string, { record: TensorRecord; tensor: TensorData }>): StoredParam {
  const rows = spec.shape[0]!;
  const cols = spec.shape[1] ?? 1;
  if (!spec.quantizable || !isQuantized(quantization)) {
    const t = records.get(spec.name)!;
    return { kind: 'float', values: asFloat32(t.tensor, spec.name), rows, cols };
  }
  const names = quantizedNames(spec.name);
  const qWeight = records.get(names.qWeight)!.tensor;
  if (qWeight.dtype !== 'uint32') throw new Error(`GGUF: ${names.qWeight} must be uint32, found ${qWeight.dtype}`);
  return { kind: 'q4', qWeight: qWeight.data, scales: records.get(names.qScale)!.tensor, rows, cols };
}

/**
 * Every tensor's bytes, in the plan's order (file by file), reading each shard of the artifact once.
 * Shards are held only until the parameters that start in them are written out.
 */
export async function* ggufTensorData(source: ArtifactSource, opened: OpenedArtifact, plan: GgufPlan): AsyncGenerator<{ file: number; tensor: GgufTensorInfo; bytes: Uint8Array }> {
  const { config, quantization } = opened.info;
  const specs = new Map(paramSpecs(config).map((s) => [s.name, s]));
  const ownerOf = new Map<string, string>();
  for (const spec of specs.values()) for (const n of storedNames(spec, quantization)) ownerOf.set(n, spec.name);
  const pending = new Map<string, Map<string, { record: TensorRecord; tensor: TensorData }>>();
  const queue = plan.files.flatMap((f, file) => f.tensors.map((tensor) => ({ file, tensor })));
  let next = 0;
  for (const shard of opened.cache.records) {
    const bytes = await source.bytes(shard.dataPath);
    if (bytes.byteLength !== shard.nbytes) throw new Error(`${shard.dataPath}: ${bytes.byteLength} bytes, tensor-cache.json says ${shard.nbytes}`);
    for (const record of shard.records) {
      const param = ownerOf.get(record.name);
      if (!param) continue;
      let parts = pending.get(param);
      if (!parts) pending.set(param, (parts = new Map()));
      parts.set(record.name, { record, tensor: decodeTensor(record, bytes) });
      const spec = specs.get(param)!;
      if (storedNames(spec, quantization).some((n) => !parts.has(n))) continue;
      pending.delete(param);
      const stored = storedParam(spec, quantization, parts);
      // The plan lists a parameter's tensors together and in completion order: they are next in the queue.
      while (next < queue.length && queue[next]!.tensor.param === param) {
        const { file, tensor } = queue[next++]!;
        yield { file, tensor, bytes: tensorBytes(tensor, stored) };
      }
    }
  }
  if (next < queue.length) throw new Error(`GGUF: the artifact ended before ${queue[next]!.tensor.param}`);
}

/**
 * Pieces of each GGUF file in order — header, tensor, zero padding, tensor… — handed to `sink` as
 * they are made, so a caller can write them to disk or into Blobs without holding the model twice.
 */
export async function writeGguf(source: ArtifactSource, opened: OpenedArtifact, plan: GgufPlan, sink: (file: number, piece: Uint8Array) => void | Promise<void>): Promise<void> {
  const written = plan.files.map(() => 0);
  const put = async (file: number, piece: Uint8Array) => {
    await sink(file, piece);
    written[file]! += piece.byteLength;
  };
  for (const [i, f] of plan.files.entries()) await put(i, f.layout.header);
  for await (const { file, tensor, bytes } of ggufTensorData(source, opened, plan)) {
    const layout = plan.files[file]!.layout;
    const at = layout.offsets.get(tensor.name)!;
    if (at > written[file]!) await put(file, new Uint8Array(at - written[file]!));
    if (bytes.byteLength !== layout.sizes.get(tensor.name)) throw new Error(`GGUF: ${tensor.name} came out ${bytes.byteLength} bytes, its header says ${layout.sizes.get(tensor.name)}`);
    await put(file, bytes);
  }
  for (const [i, f] of plan.files.entries()) if (written[i] !== f.layout.totalBytes) throw new Error(`GGUF: ${f.name} has ${written[i]} bytes, its layout ${f.layout.totalBytes}`);
}
