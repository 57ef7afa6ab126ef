/**
 * Imports a llama2.c checkpoint (the legacy "version 0" export: a 7-int header, then float32
 * tensors) into our artifact layout.
 *
 * llama2.c rotates adjacent pairs (2i, 2i+1) of each head; our one RoPE kernel rotates the halves
 * (i, i + head_dim/2), as Hugging Face does. Like HF's LLaMA converter we permute the rows of wq and
 * wk so that the two conventions compute the same attention scores.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { concatFloat32 } from '../../sdk/src/model/arrays.js';
import type { ModelConfig } from '../../sdk/src/model/config.js';
import { paramSpecs } from '../../sdk/src/model/params.js';
import type { Quantization } from '../../sdk/src/model/quant.js';
import { withRemoveExtraWhitespaces } from './sentencepiece-model.js';
import { readRegularFile } from './input-file.js';
import { BadCheckpointError } from '../../sdk/src/errors.js';
import { removeIfInterrupted } from './interrupt.js';
import { checkOutput } from './output-dir.js';
import { memoryParam, writeArtifact, type WriteArtifactOptions } from './write-model.js';

export interface Llama2cCheckpoint {
  config: ModelConfig;
  /** Parameters by our logical names, in forward-pass order. */
  params: Map<string, Float32Array>;
}

const HEADER_INTS = 7;

/** Row permutation from adjacent-pair to rotate-half RoPE layout, per head. */
export function permuteRotaryRows(w: Float32Array, heads: number, headDim: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  const half = headDim / 2;
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      for (let two = 0; two < 2; two++) {
        const from = (h * headDim + 2 * i + two) * cols;
        const to = (h * headDim + two * half + i) * cols;
        out.set(w.subarray(from, from + cols), to);
      }
    }
  }
  return out;
}

export function parseLlama2c(bytes: Uint8Array, file = 'checkpoint'): Llama2cCheckpoint {
  if (bytes.byteLength < HEADER_INTS * 4) throw new Error(`${file}: too short for a llama2.c header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const header = Array.from({ length: HEADER_INTS }, (_, i) => view.getInt32(i * 4, true));
  const [dim, hiddenDim, layers, heads, kvHeads, signedVocab, seqLen] = header as [number, number, number, number, number, number, number];
  if (header.some((v, i) => i !== 5 && v <= 0) || signedVocab === 0 || dim % heads !== 0) {
    throw new Error(`${file}: not a llama2.c v0 checkpoint (header ${header.join(', ')})`);
  }
  const vocab = Math.abs(signedVocab);
  const shared = signedVocab > 0;
  const headDim = dim / heads;
  const kvDim = kvHeads * headDim;
  const floats = new Float32Array(bytes.slice(HEADER_INTS * 4).buffer);
  let offset = 0;
  const take = (count: number): Float32Array => {
    if (offset + count > floats.length) throw new Error(`${file}: truncated (needs more than ${floats.length} floats)`);
    const t = floats.subarray(offset, offset + count);
    offset += count;
    return t;
  };
  const perLayer = (count: number) => {
    const all = take(layers * count);
    return Array.from({ length: layers }, (_, l) => all.subarray(l * count, (l + 1) * count));
  };
  const embed = take(vocab * dim);
  const rmsAtt = perLayer(dim);
  const wq = perLayer(dim * dim);
  const wk = perLayer(kvDim * dim);
  const wv = perLayer(kvDim * dim);
  const wo = perLayer(dim * dim);
  const rmsFfn = perLayer(dim);
  const w1 = perLayer(hiddenDim * dim);
  const w2 = perLayer(dim * hiddenDim);
  const w3 = perLayer(hiddenDim * dim);
  const rmsFinal = take(dim);
  take(seqLen * (headDim / 2) * 2); // freq_cis_real/imag: RoPE tables we compute ourselves
  const cls = shared ? embed : take(vocab * dim);
  if (offset !== floats.length) throw new Error(`${file}: ${floats.length - offset} unexpected trailing floats`);

  const config: ModelConfig = {
    modelType: 'llama',
    hiddenSize: dim,
    intermediateSize: hiddenDim,
    numLayers: layers,
    numHeads: heads,
    numKvHeads: kvHeads,
    headDim,
    vocabSize: vocab,
    contextWindow: seqLen,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    tieWordEmbeddings: shared,
    bosTokenId: 1,
    promptPrefixTokenIds: [1], // llama2.c starts every sequence with BOS…
    stopTokenIds: [1], // …and, like run.c, stops where the next BOS would begin
  };
  const values: Float32Array[] = [embed];
  for (let l = 0; l < layers; l++) {
    values.push(
      rmsAtt[l]!,
      concatFloat32([permuteRotaryRows(wq[l]!, heads, headDim, dim), permuteRotaryRows(wk[l]!, kvHeads, headDim, dim), wv[l]!]),
      wo[l]!,
      rmsFfn[l]!,
      concatFloat32([w1[l]!, w3[l]!]), // gate rows, then up rows
      w2[l]!,
    );
  }
  values.push(rmsFinal);
  if (!shared) values.push(cls);
  const params = new Map(paramSpecs(config).map((spec, i) => [spec.name, values[i]!]));
  return { config, params };
}

/** Reads `checkpoint`, writes an artifact with `tokenizerModel` as its tokenizer. */
export async function importLlama2c(
  checkpoint: string,
  tokenizerModel: string,
  quantization: Quantization,
  outDir: string,
  options: WriteArtifactOptions = {},
): Promise<ModelConfig> {
  checkOutput(outDir, [checkpoint, tokenizerModel]); // before reading anything
  const { config, params } = parseLlama2c(await readRegularFile(checkpoint, { fail: (problem) => new BadCheckpointError(checkpoint, problem) }), checkpoint);
  const sources = paramSpecs(config).map((spec) => memoryParam(spec.name, params.get(spec.name)!, spec.shape.at(-1)!));
  // Tokenize as run.c does: keep runs of spaces (see withRemoveExtraWhitespaces).
  const tokenizerCopy = join(await mkdtemp(join(tmpdir(), 'webchuan-')), 'tokenizer.model');
  const untrack = removeIfInterrupted(dirname(tokenizerCopy)); // Ctrl-C leaves no temporary folder either
  try {
    await writeFile(tokenizerCopy, withRemoveExtraWhitespaces(await readRegularFile(tokenizerModel, { fail: (problem) => new BadCheckpointError(tokenizerModel, problem) }), false));
    await writeArtifact(outDir, config, quantization, sources, { tokenizerModel: tokenizerCopy, ...options, inputs: [checkpoint, tokenizerModel, ...(options.inputs ?? [])] });
  } finally {
    await rm(dirname(tokenizerCopy), { recursive: true, force: true });
    untrack();
  }
  return config;
}
