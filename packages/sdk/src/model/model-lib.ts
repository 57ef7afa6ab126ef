/**
 * MLC model libraries (the `.wasm` that `mlc_llm compile --device webgpu` writes, and WebLLM runs):
 * reading the parameter list a library was compiled for, and comparing it with an artifact's
 * `tensor-cache.json`, so a library that cannot run an artifact is refused before any weight is
 * downloaded — with the first difference named, not a failure deep inside the runtime.
 *
 * mlc_llm embeds its metadata (model type, quantization, every parameter's name, shape and dtype)
 * as one JSON string in the library; its `_metadata` function returns that string. The string sits
 * in a data segment of the wasm, so it can be read without running the library.
 */
import { CHAT_CONFIG_FILE, LEGACY_TENSOR_CACHE_FILE, parseTensorCache, TENSOR_CACHE_FILE, type ArtifactSource, type ChatConfigJson, type TensorCacheJson } from './artifact.js';
import type { ModelConfig } from './config.js';
import { paramLayout } from './encode.js';
import { paramSpecs, type ParamSpec } from './params.js';
import type { Quantization } from './quant.js';
import { BadArtifactError } from '../errors.js';

/** One parameter as the library declares it. A dimension may be symbolic (`"vocab_size"`). */
export interface ModelLibParam {
  name: string;
  shape: (number | string)[];
  dtype: string;
  preprocs?: unknown[];
}

/** The metadata mlc_llm embeds in a model library (the fields webchuan reads; others are kept). */
export interface ModelLibMetadata {
  model_type: string;
  quantization: string;
  context_window_size?: number;
  prefill_chunk_size?: number;
  params: ModelLibParam[];
  [key: string]: unknown;
}

/**
 * The library is not a wasm module, carries no metadata we can read, or its metadata has a field of
 * the wrong type (named in the message, e.g. `params[3].shape[1]`). A BadArtifactError (code
 * 'bad-artifact'), like every other malformed file of a model.
 */
export class ModelLibFormatError extends BadArtifactError {
  override name = 'ModelLibFormatError';
}

const DATA_SECTION = 11;
const METADATA_START = new TextEncoder().encode('{"model_type"');

/** A cursor over wasm bytes, reading LEB128 integers as the binary format writes them. */
class Reader {
  constructor(
    readonly bytes: Uint8Array,
    public at = 0,
  ) {}

  byte(): number {
    if (this.at >= this.bytes.length) throw new ModelLibFormatError('the wasm ends in the middle of a section');
    return this.bytes[this.at++]!;
  }

  /** An unsigned LEB128 number (sizes, counts, indices). */
  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
      if (shift > 35) throw new ModelLibFormatError('a LEB128 number in the wasm is too long');
    }
  }

  /** Skips a signed LEB128 number (the constant of an offset expression). */
  skipSigned(): void {
    while (this.byte() & 0x80);
  }

  /** Skips a constant expression (a data segment's offset) up to its `end` opcode. */
  skipConstExpr(): void {
    for (;;) {
      const op = this.byte();
      if (op === 0x0b) return; // end
      if (op === 0x41 || op === 0x42) this.skipSigned(); // i32.const / i64.const
      else if (op === 0x23) this.u32(); // global.get
      else throw new ModelLibFormatError(`unexpected opcode 0x${op.toString(16)} in a data segment's offset`);
    }
  }
}

/** The contents of every data segment of a wasm module. */
function dataSegments(wasm: Uint8Array): Uint8Array[] {
  const header = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]; // "\0asm", version 1
  if (wasm.length < 8 || header.some((b, i) => wasm[i] !== b)) throw new ModelLibFormatError('not a WebAssembly module (no \\0asm header)');
  const r = new Reader(wasm, 8);
  const segments: Uint8Array[] = [];
  while (r.at < wasm.length) {
    const id = r.byte();
    const size = r.u32();
    const end = r.at + size;
    if (end > wasm.length) throw new ModelLibFormatError('a section runs past the end of the wasm');
    if (id === DATA_SECTION) {
      const count = r.u32();
      for (let i = 0; i < count; i++) {
        const flags = r.u32();
        if (flags === 2) r.u32(); // an explicit memory index
        if (flags !== 1) r.skipConstExpr(); // active segments have an offset; passive ones (1) do not
        const length = r.u32();
        segments.push(wasm.subarray(r.at, r.at + length));
        r.at += length;
      }
    }
    r.at = end;
  }
  return segments;
}

function indexOf(haystack: Uint8Array, needle: Uint8Array, from = 0): number {
  outer: for (let i = from; i <= haystack.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** End (exclusive) of the JSON object that starts at `start`, by matching braces outside strings. */
function jsonObjectEnd(bytes: Uint8Array, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (inString) {
      if (c === 0x5c) i++; // a backslash escapes the next byte
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b) depth++;
    else if (c === 0x7d && --depth === 0) return i + 1;
  }
  return -1;
}

const describe = (value: unknown) => (value === undefined ? 'nothing' : JSON.stringify(value) ?? String(value));

/**
 * Checks every field webchuan reads from the metadata has the type mlc_llm writes, so a malformed or
 * hostile library is refused with the field named, instead of failing later with a bare TypeError
 * (or writing a config of strings).
 */
function checkMetadata(meta: unknown, prefix: string): ModelLibMetadata {
  const fail = (field: string, expected: string, value: unknown): never => {
    throw new ModelLibFormatError(`${prefix}the embedded metadata's ${field} must be ${expected}, got ${describe(value)}`);
  };
  if (!meta || typeof meta !== 'object' || Array.isArray(meta)) fail('root', 'a JSON object', meta);
  const m = meta as Record<string, unknown>;
  if (typeof m['model_type'] !== 'string') fail('model_type', 'a string', m['model_type']);
  if (typeof m['quantization'] !== 'string') fail('quantization', 'a string', m['quantization']);
  for (const key of ['context_window_size', 'prefill_chunk_size'] as const) {
    if (m[key] !== undefined && !(Number.isSafeInteger(m[key]) && (m[key] as number) >= -1)) fail(key, 'an integer', m[key]);
  }
  const kv = m['kv_cache'];
  if (kv !== undefined) {
    if (!kv || typeof kv !== 'object' || Array.isArray(kv)) fail('kv_cache', 'an object', kv);
    for (const [key, value] of Object.entries(kv as Record<string, unknown>)) {
      if (typeof value !== 'number' && typeof value !== 'string' && typeof value !== 'boolean') fail(`kv_cache.${key}`, 'a number', value);
      if (key.startsWith('num_') || key === 'head_dim') if (!(Number.isSafeInteger(value) && (value as number) >= 0)) fail(`kv_cache.${key}`, 'a non-negative integer', value);
    }
  }
  if (!Array.isArray(m['params'])) fail('params', 'a list', m['params']);
  (m['params'] as unknown[]).forEach((p, i) => {
    if (!p || typeof p !== 'object' || Array.isArray(p)) fail(`params[${i}]`, 'an object', p);
    const param = p as Record<string, unknown>;
    if (typeof param['name'] !== 'string' || param['name'] === '') fail(`params[${i}].name`, 'a non-empty string', param['name']);
    if (typeof param['dtype'] !== 'string') fail(`params[${i}].dtype`, 'a string', param['dtype']);
    if (!Array.isArray(param['shape'])) fail(`params[${i}].shape`, 'a list', param['shape']);
    (param['shape'] as unknown[]).forEach((d, j) => {
      const size = typeof d === 'number' && Number.isSafeInteger(d) && d >= 0;
      if (!size && !(typeof d === 'string' && d !== '')) fail(`params[${i}].shape[${j}] (${param['name']})`, 'a size (a non-negative integer) or a symbolic name', d);
    });
    if (param['preprocs'] !== undefined && !Array.isArray(param['preprocs'])) fail(`params[${i}].preprocs`, 'a list', param['preprocs']);
  });
  return m as ModelLibMetadata;
}

/**
 * The metadata a model library was compiled with, read from its data segments without running it.
 * `source` (its path or URL) prefixes the messages of the ModelLibFormatError it throws.
 */
export function readModelLibMetadata(wasm: Uint8Array, source?: string): ModelLibMetadata {
  const prefix = source ? `${source}: ` : '';
  let segments: Uint8Array[];
  try {
    segments = dataSegments(wasm);
  } catch (error) {
    throw new ModelLibFormatError(`${prefix}${(error as Error).message}`);
  }
  for (const segment of segments) {
    const start = indexOf(segment, METADATA_START);
    if (start < 0) continue;
    const end = jsonObjectEnd(segment, start);
    if (end < 0) throw new ModelLibFormatError(`${prefix}the embedded metadata JSON is cut off`);
    let meta: unknown;
    try {
      meta = JSON.parse(new TextDecoder().decode(segment.subarray(start, end)));
    } catch (error) {
      throw new ModelLibFormatError(`${prefix}the embedded metadata is not JSON (${(error as Error).message})`);
    }
    return checkMetadata(meta, prefix);
  }
  throw new ModelLibFormatError(`${prefix}no embedded mlc_llm metadata ({"model_type": …}) in any data segment: not an MLC model library?`);
}

const shapeText = (shape: readonly (number | string)[]) => `[${shape.join(', ')}]`;

/**
 * Every way `lib` and the artifact differ, the most telling first: model type and quantization (from
 * `mlc-chat-config.json`, when given), then parameters in the library's order (missing, another
 * dtype, another shape), then tensors the library does not know. Empty when the library fits.
 * A symbolic dimension matches any size, but the same size everywhere it appears.
 */
export function modelLibDifferences(lib: ModelLibMetadata, cache: TensorCacheJson, chatConfig?: Pick<ChatConfigJson, 'model_type' | 'quantization'>): string[] {
  const differences: string[] = [];
  if (chatConfig && chatConfig.model_type !== lib.model_type) {
    differences.push(`model type: the library is compiled for "${lib.model_type}", the artifact's mlc-chat-config.json says "${chatConfig.model_type}"`);
  }
  if (chatConfig && chatConfig.quantization !== lib.quantization) {
    differences.push(`quantization: the library is compiled for ${lib.quantization}, the artifact is ${chatConfig.quantization}`);
  }
  const tensors = new Map(cache.records.flatMap((shard) => shard.records.map((r) => [r.name, r] as const)));
  const bound = new Map<string, number>();
  const known = new Set<string>();
  for (const p of lib.params) {
    known.add(p.name);
    const t = tensors.get(p.name);
    if (!t) {
      differences.push(`parameter ${p.name} ${shapeText(p.shape)} ${p.dtype}: the library needs it, the artifact has no such tensor`);
      continue;
    }
    if (t.dtype !== p.dtype) {
      differences.push(`parameter ${p.name}: the library expects ${p.dtype}, the artifact stores ${t.dtype}`);
      continue;
    }
    const sameRank = t.shape.length === p.shape.length;
    const sameDims =
      sameRank &&
      p.shape.every((dim, i) => {
        const size = t.shape[i]!;
        if (typeof dim === 'number') return dim === size;
        const earlier = bound.get(dim);
        if (earlier === undefined) bound.set(dim, size);
        return earlier === undefined || earlier === size;
      });
    if (!sameDims) differences.push(`parameter ${p.name}: the library expects shape ${shapeText(p.shape)}, the artifact has ${shapeText(t.shape)}`);
  }
  for (const name of tensors.keys()) {
    if (!known.has(name)) differences.push(`tensor ${name} of the artifact is not a parameter of the library`);
  }
  return differences;
}

/**
 * The parameter list `mlc_llm compile` embeds for one of our configs (Baichuan or LLaMA) under a
 * quantization: MLC's names, shapes and dtypes, in MLC's order (a layer's attention, then its MLP,
 * then its two norms). Built from the same parameter specs and storage layout our converter writes,
 * so it is what a library must declare to run our artifacts.
 */
export function expectedModelLibMetadata(config: ModelConfig, quantization: Quantization, prefillChunkSize = Math.min(2048, config.contextWindow)): ModelLibMetadata {
  const specs = paramSpecs(config);
  const rank = (s: ParamSpec) => {
    // MLC declares a decoder layer's modules in the order self_attn, mlp, input_layernorm,
    // post_attention_layernorm; ours lists them in the order the forward pass uses them.
    const order = ['self_attn.', 'mlp.', 'input_layernorm', 'post_attention_layernorm'];
    const i = order.findIndex((part) => s.name.includes(`.${part}`));
    return i < 0 ? 0 : i;
  };
  const layerOf = (s: ParamSpec) => /^model\.layers\.(\d+)\./.exec(s.name)?.[1];
  const ordered = specs
    .map((s, index) => ({ s, index }))
    .sort((a, b) => {
      const la = layerOf(a.s);
      const lb = layerOf(b.s);
      if (la === undefined || lb === undefined || la !== lb) return a.index - b.index;
      return rank(a.s) - rank(b.s) || a.index - b.index;
    })
    .map(({ s }) => s);
  const params: ModelLibParam[] = [];
  for (const spec of ordered) {
    const layout = paramLayout(spec, quantization);
    for (const t of [layout.main, layout.scales]) if (t) params.push({ name: t.name, shape: [...t.shape], dtype: t.dtype, preprocs: [] });
  }
  return {
    model_type: config.modelType,
    quantization,
    context_window_size: config.contextWindow,
    prefill_chunk_size: prefillChunkSize,
    params,
  };
}

/** A JSON file of the artifact, parsed, or a BadArtifactError naming it. */
function parseArtifactJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new BadArtifactError(`${file} is not JSON (${(error as Error).message})`, { cause: error });
  }
}

/** An artifact's two index files, raw (any model type: a library for another architecture must still be comparable). */
export async function readArtifactIndex(source: ArtifactSource): Promise<{ chatConfig: ChatConfigJson; cache: TensorCacheJson; cacheFile: string }> {
  const chatConfig = parseArtifactJson(await source.text(CHAT_CONFIG_FILE), CHAT_CONFIG_FILE) as ChatConfigJson;
  if (!chatConfig || typeof chatConfig !== 'object' || Array.isArray(chatConfig)) throw new BadArtifactError(`${CHAT_CONFIG_FILE} is not a JSON object`);
  for (const field of ['model_type', 'quantization'] as const) {
    if (typeof chatConfig[field] !== 'string') throw new BadArtifactError(`${CHAT_CONFIG_FILE}: ${field} must be a string, got ${describe(chatConfig[field])}`);
  }
  for (const cacheFile of [TENSOR_CACHE_FILE, LEGACY_TENSOR_CACHE_FILE]) {
    let text: string;
    try {
      text = await source.text(cacheFile);
    } catch {
      continue;
    }
    try {
      return { chatConfig, cache: parseTensorCache(parseArtifactJson(text, cacheFile), cacheFile), cacheFile };
    } catch (error) {
      if (error instanceof BadArtifactError) throw error;
      throw new BadArtifactError((error as Error).message, { cause: error });
    }
  }
  throw new BadArtifactError(`neither ${TENSOR_CACHE_FILE} nor ${LEGACY_TENSOR_CACHE_FILE} is in the artifact`);
}

/** One sentence naming the first difference (and how many more there are), for errors and the CLI. */
export function describeModelLibMismatch(differences: readonly string[], lib: string, artifact: string): string {
  const more = differences.length > 1 ? ` (and ${differences.length - 1} more difference${differences.length > 2 ? 's' : ''})` : '';
  return `The model library ${lib} does not fit the artifact ${artifact}: ${differences[0]}${more}.`;
}
