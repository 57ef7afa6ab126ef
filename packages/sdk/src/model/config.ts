/**
 * The hyper-parameters of the Baichuan/LLaMA family: everything the forward pass needs to know
 * about a model's shape, read from (or written to) MLC's `mlc-chat-config.json`.
 */

/** Which MLC model definition a checkpoint follows; it decides the fused projection names. */
export type ModelType = 'baichuan' | 'llama';

/** Shape and conventions of one decoder-only model of the Baichuan/LLaMA family. */
export interface ModelConfig {
  modelType: ModelType;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  /** Equal to `numHeads` for multi-head attention (Baichuan-7B), fewer for grouped-query. */
  numKvHeads: number;
  headDim: number;
  vocabSize: number;
  /** Longest sequence (prompt + output) the model was trained for. */
  contextWindow: number;
  rmsNormEps: number;
  ropeTheta: number;
  /** True when the classifier reuses the embedding matrix (llama2.c), false for Baichuan's `lm_head`. */
  tieWordEmbeddings: boolean;
  bosTokenId: number;
  /** Tokens put before every prompt: `[]` for Baichuan-7B, `[1]` (BOS) for llama2.c models. */
  promptPrefixTokenIds: number[];
  /** Generation stops at any of these. */
  stopTokenIds: number[];
}

/** The seed model: Baichuan-7B (v1), from `configuration_baichuan.py` and llama.cpp's GGUF metadata. */
export const BAICHUAN_7B: ModelConfig = {
  modelType: 'baichuan',
  hiddenSize: 4096,
  intermediateSize: 11008,
  numLayers: 32,
  numHeads: 32,
  numKvHeads: 32,
  headDim: 128,
  vocabSize: 64000,
  contextWindow: 4096,
  rmsNormEps: 1e-6,
  ropeTheta: 10000,
  tieWordEmbeddings: false,
  bosTokenId: 1,
  promptPrefixTokenIds: [],
  stopTokenIds: [2],
};

/** Output width of the fused q|k|v projection. */
export function qkvSize(c: ModelConfig): number {
  return (c.numHeads + 2 * c.numKvHeads) * c.headDim;
}

/** Throws a descriptive error when a config cannot describe a runnable model. */
export function validateConfig(c: ModelConfig): void {
  const positive: (keyof ModelConfig)[] = [
    'hiddenSize', 'intermediateSize', 'numLayers', 'numHeads', 'numKvHeads', 'headDim', 'vocabSize', 'contextWindow',
  ];
  for (const key of positive) {
    const v = c[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
      throw new Error(`model config: ${key} must be a positive integer, got ${String(v)}`);
    }
  }
  if (c.numHeads % c.numKvHeads !== 0) {
    throw new Error(`model config: ${c.numHeads} attention heads cannot share ${c.numKvHeads} KV heads evenly`);
  }
  if (c.headDim % 2 !== 0) throw new Error(`model config: rotary embedding needs an even head_dim, got ${c.headDim}`);
  if (!(c.rmsNormEps > 0)) throw new Error(`model config: rms_norm_eps must be positive, got ${c.rmsNormEps}`);
  if (!(c.ropeTheta > 0)) throw new Error(`model config: RoPE theta must be positive, got ${c.ropeTheta}`);
}
