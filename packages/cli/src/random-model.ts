/** Writes deterministic random models (tests, and the demo's default model) as artifacts. */
import { BAICHUAN_7B, type ModelConfig } from '../../sdk/src/model/config.js';
import type { Quantization } from '../../sdk/src/model/quant.js';
import { randomParams } from '../../sdk/src/model/random.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeIfInterrupted } from './interrupt.js';
import { tinyTokenizerModel } from './tiny-tokenizer.js';
import { paramSpecs } from '../../sdk/src/model/params.js';
import { memoryParam, writeArtifact } from './write-model.js';
import { MAX_RANDOM_MODEL_BYTES } from './disk-space.js';

/** A tiny model in Baichuan-7B's exact layout: fused W_pack, untied lm_head, its 64,000-token vocabulary. */
export function tinyBaichuanConfig(overrides: Partial<ModelConfig> = {}): ModelConfig {
  return {
    ...BAICHUAN_7B,
    hiddenSize: 64,
    intermediateSize: 172, // not a multiple of 32: exercises the padded last quantization group
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 4,
    headDim: 16,
    contextWindow: 256,
    ...overrides,
  };
}

export async function writeRandomModel(
  outDir: string,
  config: ModelConfig,
  quantization: Quantization,
  seed: number,
  /** A SentencePiece model file to include, or 'tiny' for the generated one (tiny-tokenizer.ts). */
  tokenizerModel?: string,
  shardBytes?: number,
): Promise<void> {
  let tokenizerFile = tokenizerModel;
  let scratch: string | undefined;
  let untrack: () => void = () => {};
  if (tokenizerModel === 'tiny') {
    // A private folder (mode 0700, an unpredictable name): a fixed name in /tmp could be a planted symlink.
    scratch = await mkdtemp(join(tmpdir(), 'webchuan-tokenizer-'));
    untrack = removeIfInterrupted(scratch); // Ctrl-C leaves no temporary folder either
    tokenizerFile = join(scratch, 'tokenizer.model');
    await writeFile(tokenizerFile, tinyTokenizerModel(), { flag: 'wx' });
  }
  const cols = new Map(paramSpecs(config).map((s) => [s.name, s.shape.at(-1)!]));
  const params = (function* () {
    for (const p of randomParams(config, seed)) yield memoryParam(p.name, p.values, cols.get(p.name)!);
  })();
  try {
    await writeArtifact(outDir, config, quantization, params, { tokenizerModel: tokenizerFile, shardBytes, maxBytes: MAX_RANDOM_MODEL_BYTES });
  } finally {
    if (scratch) await rm(scratch, { recursive: true, force: true });
    untrack();
  }
}
