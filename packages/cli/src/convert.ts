/**
 * Converts a Hugging Face checkpoint directory (Baichuan-7B or any LLaMA-family model of that shape)
 * into our MLC-layout artifact, in Node, without Python. Weights may be `pytorch_model.bin`
 * (torch.save zip), sharded `pytorch_model-0000N-of-0000M.bin` with an index, or `*.safetensors`.
 * Parameters are read, fused (W_pack / q|k|v, gate|up), quantized and written one at a time.
 */
import { existsSync, readdirSync } from 'node:fs';
import { basename, isAbsolute, join } from 'node:path';
import { BadCheckpointError } from '../../sdk/src/errors.js';
import { validateConfig, type ModelConfig } from '../../sdk/src/model/config.js';
import { EMBED_NAME, FINAL_NORM_NAME, LM_HEAD_NAME, layerParamNames, paramSpecs } from '../../sdk/src/model/params.js';
import type { Quantization } from '../../sdk/src/model/quant.js';
import { PyTorchReader } from './checkpoint/pytorch.js';
import { SafetensorsReader } from './checkpoint/safetensors.js';
import type { CheckpointReader, TensorEntry } from './checkpoint/tensor-file.js';
import { openRegularFile, readRegularText } from './input-file.js';
import { checkOutput } from './output-dir.js';
import { writeArtifact, type ParamSource, type WriteArtifactOptions } from './write-model.js';

interface HfConfig {
  model_type?: string;
  hidden_size?: number;
  intermediate_size?: number;
  num_hidden_layers?: number;
  num_attention_heads?: number;
  num_key_value_heads?: number;
  head_dim?: number;
  vocab_size?: number;
  max_position_embeddings?: number;
  rms_norm_eps?: number;
  rope_theta?: number;
  tie_word_embeddings?: boolean;
  bos_token_id?: number;
  eos_token_id?: number | number[];
  hidden_act?: string;
  rope_scaling?: unknown;
}

/** Fields whose value, when present, must be a number (null counts as absent, as in transformers). */
const NUMBER_FIELDS = [
  'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'head_dim',
  'vocab_size', 'max_position_embeddings', 'rms_norm_eps', 'rope_theta', 'bos_token_id',
] as const;

/**
 * Refuses what the engine would run differently from the checkpoint's own code: a field of the wrong
 * type (`"rms_norm_eps": "1e-6"`, `"tie_word_embeddings": "false"`), an activation other than SiLU,
 * RoPE scaling, and BOS/EOS ids outside the vocabulary. Each would convert, and then generate
 * something other than the model.
 */
function checkHfFields(hf: Record<string, unknown>, file: string): void {
  const fail = (problem: string): never => {
    throw new BadCheckpointError(file, problem);
  };
  for (const key of NUMBER_FIELDS) {
    const v = hf[key];
    if (v != null && (typeof v !== 'number' || !Number.isFinite(v))) fail(`${key} must be a number, got ${JSON.stringify(v)}`);
  }
  if (hf['tie_word_embeddings'] != null && typeof hf['tie_word_embeddings'] !== 'boolean') {
    fail(`tie_word_embeddings must be true or false, got ${JSON.stringify(hf['tie_word_embeddings'])}`);
  }
  // Baichuan-7B and LLaMA use SiLU in their gated MLP; the engine's kernels compute SwiGLU and nothing else.
  const act = hf['hidden_act'];
  if (act != null && act !== 'silu') fail(`hidden_act ${JSON.stringify(act)} is not supported: the engine computes SiLU (SwiGLU) only`);
  if (hf['rope_scaling'] != null) fail(`rope_scaling ${JSON.stringify(hf['rope_scaling'])} is not supported: the engine applies plain RoPE, and would run this model with other positions than it was trained on`);
  const vocab = hf['vocab_size'];
  const inVocab = (id: unknown) => typeof id === 'number' && Number.isInteger(id) && id >= 0 && (typeof vocab !== 'number' || id < vocab);
  const range = typeof vocab === 'number' ? `0…${vocab - 1}` : 'non-negative integers';
  if (hf['bos_token_id'] != null && !inVocab(hf['bos_token_id'])) fail(`bos_token_id ${JSON.stringify(hf['bos_token_id'])} is not a token of the ${vocab}-token vocabulary (${range})`);
  const eos = hf['eos_token_id'];
  if (eos != null) {
    const ids = Array.isArray(eos) ? eos : [eos];
    if (ids.length === 0) fail('eos_token_id is an empty list');
    const bad = ids.find((id) => !inVocab(id));
    if (bad !== undefined) fail(`eos_token_id ${JSON.stringify(eos)}: ${JSON.stringify(bad)} is not a token of the ${vocab}-token vocabulary (${range})`);
  }
}

/** Our config from Hugging Face's `config.json` (+ `tokenizer_config.json`'s BOS policy). */
export function configFromHf(hf: HfConfig, addBos: boolean, file = 'config.json'): ModelConfig {
  if (hf.model_type !== 'baichuan' && hf.model_type !== 'llama') {
    throw new BadCheckpointError(file, `model_type "${hf.model_type}" is not supported (baichuan or llama)`);
  }
  checkHfFields(hf as Record<string, unknown>, file);
  const heads = hf.num_attention_heads ?? 0;
  const eos = hf.eos_token_id ?? 2;
  const config: ModelConfig = {
    modelType: hf.model_type,
    hiddenSize: hf.hidden_size ?? 0,
    intermediateSize: hf.intermediate_size ?? 0,
    numLayers: hf.num_hidden_layers ?? 0,
    numHeads: heads,
    numKvHeads: hf.num_key_value_heads ?? heads,
    headDim: hf.head_dim ?? (heads ? (hf.hidden_size ?? 0) / heads : 0),
    vocabSize: hf.vocab_size ?? 0,
    contextWindow: hf.max_position_embeddings ?? 4096,
    rmsNormEps: hf.rms_norm_eps ?? 1e-6,
    ropeTheta: hf.rope_theta ?? 10000,
    tieWordEmbeddings: hf.tie_word_embeddings ?? false,
    bosTokenId: hf.bos_token_id ?? 1,
    promptPrefixTokenIds: addBos ? [hf.bos_token_id ?? 1] : [],
    stopTokenIds: Array.isArray(eos) ? eos : [eos],
  };
  try {
    validateConfig(config);
  } catch (error) {
    throw new BadCheckpointError(file, (error as Error).message);
  }
  // The defaults (BOS 1, EOS 2) must be tokens too: a one-token vocabulary has neither.
  for (const id of [config.bosTokenId, ...config.stopTokenIds]) {
    if (id >= config.vocabSize) throw new BadCheckpointError(file, `token id ${id} (BOS/EOS, by default 1 and 2) is outside the ${config.vocabSize}-token vocabulary`);
  }
  return config;
}

/** The JSON object in a small file of the checkpoint (configs, indexes), or a BadCheckpointError. */
async function readJsonObject(path: string): Promise<Record<string, unknown>> {
  // Config files are a few KB; a huge one is not a config, and reading it would only cost memory.
  const text = await readRegularText(path, { maxBytes: 16 * 1024 * 1024, fail: (problem) => new BadCheckpointError(path, problem) });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new BadCheckpointError(path, `is not JSON (${(error as Error).message})`);
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new BadCheckpointError(path, 'is not a JSON object');
  return json as Record<string, unknown>;
}

/**
 * The shard files an index (`*.index.json`) names. Each must be a plain file name in `dir`: a path
 * (`../x`, `/x`, `a/b`) would read files outside the model folder.
 */
async function indexedFiles(dir: string, index: string): Promise<string[]> {
  const path = join(dir, index);
  const weightMap = (await readJsonObject(path))['weight_map'];
  if (!weightMap || typeof weightMap !== 'object' || Array.isArray(weightMap)) throw new BadCheckpointError(path, 'has no "weight_map" object');
  const names = new Set<string>();
  for (const [tensor, file] of Object.entries(weightMap)) {
    if (typeof file !== 'string' || file === '' || file === '.' || file === '..' || file !== basename(file) || file.includes('\\') || isAbsolute(file)) {
      throw new BadCheckpointError(path, `weight_map sends ${tensor} to ${JSON.stringify(file)}, outside the model folder: shard names must be plain file names`);
    }
    names.add(file);
  }
  for (const file of names) if (!existsSync(join(dir, file))) throw new BadCheckpointError(path, `weight_map names ${file}, which is not in ${dir}`);
  return [...names].map((f) => join(dir, f));
}

/** Checkpoint tensors per layer: Baichuan fuses q|k|v into W_pack, LLaMA keeps three. */
const TENSORS_PER_LAYER = { baichuan: 7, llama: 9 } as const;

/**
 * Checks config.json against the weights actually present before anything is sized by it: a config
 * can claim 10 million layers, but the checkpoint's tensors bound what it may describe. (Every other
 * dimension is then checked tensor by tensor against the shapes in the checkpoint before any read.)
 */
function checkConfigAgainstCheckpoint(config: ModelConfig, tensors: readonly TensorEntry[], file: string): void {
  const perLayer = TENSORS_PER_LAYER[config.modelType];
  if (config.numLayers * perLayer > tensors.length) {
    throw new BadCheckpointError(file, `num_hidden_layers ${config.numLayers} needs ${config.numLayers * perLayer} tensors (${perLayer} per layer), but the checkpoint holds ${tensors.length}`);
  }
}

/** Opens whichever weight files the directory has. */
export async function openCheckpoint(dir: string): Promise<CheckpointReader> {
  const files = readdirSync(dir);
  const indexed = (index: string) => indexedFiles(dir, index);
  if (files.includes('model.safetensors.index.json')) return SafetensorsReader.open(await indexed('model.safetensors.index.json'));
  const safetensors = files.filter((f) => f.endsWith('.safetensors')).sort();
  if (safetensors.length) return SafetensorsReader.open(safetensors.map((f) => join(dir, f)));
  if (files.includes('pytorch_model.bin.index.json')) return PyTorchReader.open(await indexed('pytorch_model.bin.index.json'));
  if (files.includes('pytorch_model.bin')) return PyTorchReader.open([join(dir, 'pytorch_model.bin')]);
  throw new BadCheckpointError(dir, 'no weights found (model.safetensors, pytorch_model.bin, or an index of shards)');
}

/** The checkpoint tensors each of our parameters is made of (rows concatenated in this order). */
export function sourcesOf(config: ModelConfig): Map<string, string[]> {
  const map = new Map<string, string[]>([[EMBED_NAME, ['model.embed_tokens.weight']]]);
  for (let l = 0; l < config.numLayers; l++) {
    const n = layerParamNames(config, l);
    const p = `model.layers.${l}`;
    map.set(n.inputNorm, [`${p}.input_layernorm.weight`]);
    map.set(
      n.qkv,
      config.modelType === 'baichuan'
        ? [`${p}.self_attn.W_pack.weight`]
        : [`${p}.self_attn.q_proj.weight`, `${p}.self_attn.k_proj.weight`, `${p}.self_attn.v_proj.weight`],
    );
    map.set(n.o, [`${p}.self_attn.o_proj.weight`]);
    map.set(n.postNorm, [`${p}.post_attention_layernorm.weight`]);
    map.set(n.gateUp, [`${p}.mlp.gate_proj.weight`, `${p}.mlp.up_proj.weight`]);
    map.set(n.down, [`${p}.mlp.down_proj.weight`]);
  }
  map.set(FINAL_NORM_NAME, ['model.norm.weight']);
  if (!config.tieWordEmbeddings) map.set(LM_HEAD_NAME, ['lm_head.weight']);
  return map;
}

/** Tensors a checkpoint may hold that the forward pass does not need. */
const SKIPPABLE = /(rotary_emb\.inv_freq|\.masked_bias|\.attn\.bias)$/;

export interface ConvertOptions extends WriteArtifactOptions {
  /** Called with human-readable notes (skipped tensors). */
  onNote?: (note: string) => void;
}

export async function convertHf(dir: string, quantization: Quantization, outDir: string, options: ConvertOptions = {}): Promise<ModelConfig> {
  checkOutput(outDir, [dir]); // before reading anything: a refused --out costs nothing
  const need = (file: string) => {
    const path = join(dir, file);
    if (!existsSync(path)) throw new BadCheckpointError(dir, `${file} is missing`);
    return path;
  };
  const configPath = need('config.json');
  const hf = (await readJsonObject(configPath)) as HfConfig;
  const tokenizerModel = need('tokenizer.model');
  await (await openRegularFile(tokenizerModel, (problem) => new BadCheckpointError(tokenizerModel, problem))).close(); // before any weight is read
  const tokConfigPath = join(dir, 'tokenizer_config.json');
  const tokConfig = existsSync(tokConfigPath) ? ((await readJsonObject(tokConfigPath)) as { add_bos_token?: boolean }) : {};
  // Baichuan-7B's tokenizer class defaults to add_bos_token=True, but its tokenizer_config sets false.
  if (tokConfig.add_bos_token != null && typeof tokConfig.add_bos_token !== 'boolean') {
    throw new BadCheckpointError(tokConfigPath, `add_bos_token must be true or false, got ${JSON.stringify(tokConfig.add_bos_token)}`);
  }
  const config = configFromHf(hf, tokConfig.add_bos_token ?? hf.model_type === 'llama', configPath);
  const reader = await openCheckpoint(dir);
  try {
    checkConfigAgainstCheckpoint(config, reader.tensors(), configPath);
    const entries = new Map(reader.tensors().map((t) => [t.name, t]));
    const sources = sourcesOf(config);
    const used = new Set([...sources.values()].flat());
    for (const name of entries.keys()) {
      if (used.has(name)) continue;
      if (SKIPPABLE.test(name) || (config.tieWordEmbeddings && name === 'lm_head.weight')) options.onNote?.(`skipped ${name} (not needed for inference)`);
      else throw new BadCheckpointError(entries.get(name)!.file, `unexpected tensor ${name} for a ${config.modelType} model`);
    }
    const params: ParamSource[] = paramSpecs(config).map((spec) => {
      const parts = sources.get(spec.name)!;
      const cols = spec.shape.length === 2 ? spec.shape[1]! : spec.shape[0]!;
      const partRows: number[] = [];
      for (const part of parts) {
        const entry = entries.get(part);
        if (!entry) throw new BadCheckpointError(dir, `tensor ${part} is missing`);
        if (entry.shape.length !== spec.shape.length || entry.shape[entry.shape.length - 1] !== cols) {
          throw new BadCheckpointError(
            entry.file,
            `${part} has shape [${entry.shape}], which does not match config.json (expected ${spec.shape.length === 2 ? `[*, ${cols}]` : `[${cols}]`})`,
          );
        }
        partRows.push(entry.shape.length === 2 ? entry.shape[0]! : 1);
      }
      const rows = partRows.reduce((a, b) => a + b, 0);
      if (spec.shape.length === 2 && rows !== spec.shape[0]) {
        throw new BadCheckpointError(dir, `${parts.join(' + ')} give ${rows} rows, config.json implies ${spec.shape[0]} for ${spec.name}`);
      }
      return { name: spec.name, readRows: (start, count) => readFusedRows(reader, parts, partRows, cols, start, count) };
    });
    // The weight files too: a sharded checkpoint's files may be links to blobs outside `dir`.
    const inputs = [dir, ...new Set(reader.tensors().map((t) => t.file))];
    await writeArtifact(outDir, config, quantization, params, { tokenizerModel, ...options, inputs });
    return config;
  } finally {
    await reader.close();
  }
}

/** Rows [start, start + count) of parts stacked on top of each other (W_pack = q|k|v, gate|up). */
async function readFusedRows(reader: CheckpointReader, parts: string[], partRows: number[], cols: number, start: number, count: number): Promise<Float32Array> {
  if (parts.length === 1) return reader.readRows(parts[0]!, start, count);
  const out = new Float32Array(count * cols);
  let partStart = 0;
  let at = 0;
  for (const [i, part] of parts.entries()) {
    const rows = partRows[i]!;
    const from = Math.max(start, partStart);
    const to = Math.min(start + count, partStart + rows);
    if (from < to) {
      out.set(await reader.readRows(part, from - partStart, to - from), at);
      at += (to - from) * cols;
    }
    partStart += rows;
  }
  return out;
}
