/**
 * A whole forward pass on the CPU, built from the kernel twins: the reference the GPU engine is
 * tested against (on the very same dequantized weights), and a readable statement of the model.
 */
import { qkvSize, type ModelConfig } from '../model/config.js';
import { classifierName, EMBED_NAME, FINAL_NORM_NAME, layerParamNames } from '../model/params.js';
import { ropeTables, type RopeTables } from '../model/rope.js';
import { addInPlace, attention, embedding, matmul, rmsNorm, ropeAndCache, swiglu } from './kernels.js';

/** Float32 weights by logical name (`….weight`); quantized matrices already dequantized. */
export type ReferenceWeights = Map<string, Float32Array>;

export class ReferenceModel {
  private readonly kCache: Float32Array[];
  private readonly vCache: Float32Array[];
  private readonly rope: RopeTables;

  constructor(
    readonly config: ModelConfig,
    private readonly weights: ReferenceWeights,
    readonly contextWindow = Math.min(config.contextWindow, 1024),
    /** KV cache precision to emulate (the GPU's: see defaultKvDtype). */
    readonly kvDtype: 'f32' | 'f16' = 'f32',
  ) {
    const kvWidth = config.numKvHeads * config.headDim;
    this.kCache = Array.from({ length: config.numLayers }, () => new Float32Array(contextWindow * kvWidth));
    this.vCache = Array.from({ length: config.numLayers }, () => new Float32Array(contextWindow * kvWidth));
    this.rope = ropeTables(config.headDim, config.ropeTheta, contextWindow);
  }

  private w(name: string): Float32Array {
    const w = this.weights.get(name);
    if (!w) throw new Error(`reference: no weight ${name}`);
    return w;
  }

  /** Runs `tokens` at positions startPos… and returns the logits of every position ([T, vocab]). */
  forward(tokens: readonly number[], startPos: number): Float32Array {
    const c = this.config;
    const H = c.hiddenSize;
    const I = c.intermediateSize;
    const attnWidth = c.numHeads * c.headDim;
    if (startPos + tokens.length > this.contextWindow) throw new RangeError('reference: past the context window');
    const x = embedding(this.w(EMBED_NAME), H, tokens);
    for (let l = 0; l < c.numLayers; l++) {
      const n = layerParamNames(c, l);
      const qkv = matmul(rmsNorm(x, this.w(n.inputNorm), c.rmsNormEps), this.w(n.qkv), qkvSize(c), H);
      const q = ropeAndCache(qkv, c, startPos, this.rope.cos, this.rope.sin, this.kCache[l]!, this.vCache[l]!, this.kvDtype);
      const a = attention(q, c, startPos, this.kCache[l]!, this.vCache[l]!);
      addInPlace(x, matmul(a, this.w(n.o), H, attnWidth));
      const gateUp = matmul(rmsNorm(x, this.w(n.postNorm), c.rmsNormEps), this.w(n.gateUp), 2 * I, H);
      addInPlace(x, matmul(swiglu(gateUp, I), this.w(n.down), H, I));
    }
    return matmul(rmsNorm(x, this.w(FINAL_NORM_NAME), c.rmsNormEps), this.w(classifierName(c)), c.vocabSize, H);
  }
}
