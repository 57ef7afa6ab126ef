/**
 * The parameters of a Baichuan/LLaMA model by MLC's names, and their shapes.
 *
 * MLC fuses projections: Baichuan's `self_attn.W_pack` and LLaMA's `self_attn.qkv_proj` hold q, k and
 * v rows in that order; `mlp.gate_up_proj` holds the gate rows, then the up rows.
 */
import { qkvSize, type ModelConfig } from './config.js';

/** A parameter before quantization: a float matrix or vector. */
export interface ParamSpec {
  /** Logical name ending in `.weight`; quantized artifacts store it as `.q_weight` + `.q_scale`. */
  name: string;
  /** [rows, cols] for matrices (out, in), [n] for norm vectors. */
  shape: number[];
  /** Linear and embedding matrices are 4-bit quantized; norm vectors never are. */
  quantizable: boolean;
}

export function qkvProjName(c: ModelConfig): string {
  return c.modelType === 'baichuan' ? 'W_pack' : 'qkv_proj';
}

export const layerPrefix = (layer: number): string => `model.layers.${layer}`;

/** Names of one layer's parameters, for the forward pass. */
export function layerParamNames(c: ModelConfig, layer: number) {
  const p = layerPrefix(layer);
  return {
    inputNorm: `${p}.input_layernorm.weight`,
    qkv: `${p}.self_attn.${qkvProjName(c)}.weight`,
    o: `${p}.self_attn.o_proj.weight`,
    postNorm: `${p}.post_attention_layernorm.weight`,
    gateUp: `${p}.mlp.gate_up_proj.weight`,
    down: `${p}.mlp.down_proj.weight`,
  };
}

export const EMBED_NAME = 'model.embed_tokens.weight';
export const FINAL_NORM_NAME = 'model.norm.weight';
export const LM_HEAD_NAME = 'lm_head.weight';

/** Name of the classifier matrix: the embedding when tied. */
export function classifierName(c: ModelConfig): string {
  return c.tieWordEmbeddings ? EMBED_NAME : LM_HEAD_NAME;
}

/** Every parameter of the model, in the order the forward pass uses them. */
export function paramSpecs(c: ModelConfig): ParamSpec[] {
  const H = c.hiddenSize;
  const specs: ParamSpec[] = [{ name: EMBED_NAME, shape: [c.vocabSize, H], quantizable: true }];
  for (let l = 0; l < c.numLayers; l++) {
    const n = layerParamNames(c, l);
    specs.push(
      { name: n.inputNorm, shape: [H], quantizable: false },
      { name: n.qkv, shape: [qkvSize(c), H], quantizable: true },
      { name: n.o, shape: [H, c.numHeads * c.headDim], quantizable: true },
      { name: n.postNorm, shape: [H], quantizable: false },
      { name: n.gateUp, shape: [2 * c.intermediateSize, H], quantizable: true },
      { name: n.down, shape: [H, c.intermediateSize], quantizable: true },
    );
  }
  specs.push({ name: FINAL_NORM_NAME, shape: [H], quantizable: false });
  if (!c.tieWordEmbeddings) specs.push({ name: LM_HEAD_NAME, shape: [c.vocabSize, H], quantizable: true });
  return specs;
}

/** `x.weight` → `x.q_weight` / `x.q_scale`. */
export function quantizedNames(weightName: string): { qWeight: string; qScale: string } {
  const base = weightName.replace(/\.weight$/, '');
  return { qWeight: `${base}.q_weight`, qScale: `${base}.q_scale` };
}
