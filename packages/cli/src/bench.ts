/** Measures prefill and decode speed of an artifact on this machine's GPU. */
import { EMBED_NAME } from '../../sdk/src/model/params.js';
import { loadNodeModel } from './runtime.js';
import type { GpuWeights } from '../../sdk/src/gpu/weights.js';

export interface BenchResult {
  device: string;
  prompt_tokens: number;
  decode_tokens: number;
  prefill_tokens_per_s: number;
  decode_tokens_per_s: number;
  /** Bytes of weights each decoded token reads: every matrix and norm once, one embedding row. */
  weight_bytes_per_token: number;
}

/** Bytes one decode step reads from the weights. */
export function weightBytesPerToken(weights: GpuWeights, vocabSize: number, tied: boolean): number {
  let bytes = 0;
  for (const m of weights.matrices.values()) {
    const size = m.weights.size + (m.scales?.size ?? 0);
    // The embedding lookup reads one row, unless the classifier reads the whole (tied) table too.
    bytes += m.name === EMBED_NAME ? size / vocabSize + (tied ? size : 0) : size;
  }
  for (const v of weights.vectors.values()) bytes += v.size;
  return Math.round(bytes);
}

export async function benchmark(dir: string, promptTokens: number, decodeTokens: number): Promise<BenchResult> {
  const model = await loadNodeModel(dir);
  try {
    const { forward, info } = model;
    const prompt = Array.from({ length: Math.max(1, promptTokens) }, (_, i) => 3 + (i % Math.max(1, info.config.vocabSize - 3)));
    if (prompt.length + decodeTokens > forward.contextWindow) throw new Error(`prompt + decode tokens exceed the context window of ${forward.contextWindow}`);
    await forward.run([prompt[0]!], 0, 'argmax'); // compile pipelines outside the timings
    const t0 = performance.now();
    let next = await forward.run(prompt, 0, 'argmax');
    const prefillMs = performance.now() - t0;
    const t1 = performance.now();
    for (let i = 0; i < decodeTokens; i++) next = await forward.run([next], prompt.length + i, 'argmax');
    const decodeMs = performance.now() - t1;
    const adapterInfo = (model.device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
    return {
      device: adapterInfo ? `${adapterInfo.vendor} ${adapterInfo.description || adapterInfo.architecture}`.trim() : 'unknown',
      prompt_tokens: prompt.length,
      decode_tokens: decodeTokens,
      prefill_tokens_per_s: Number(((prompt.length / prefillMs) * 1000).toFixed(2)),
      decode_tokens_per_s: decodeTokens ? Number(((decodeTokens / decodeMs) * 1000).toFixed(2)) : 0,
      weight_bytes_per_token: weightBytesPerToken(model.weights, info.config.vocabSize, info.config.tieWordEmbeddings),
    };
  } finally {
    model.dispose();
  }
}
