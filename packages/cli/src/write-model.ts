/**
 * Writes a model as an artifact under a quantization scheme, streaming: each parameter is read,
 * encoded and written a block of rows at a time, so memory holds one block (plus one matrix's
 * scales), whatever the model's size.
 */
import { concatFloat32 } from '../../sdk/src/model/arrays.js';
import { buildChatConfig } from '../../sdk/src/model/artifact.js';
import { validateConfig, type ModelConfig } from '../../sdk/src/model/config.js';
import { paramLayout } from '../../sdk/src/model/encode.js';
import { paramSpecs, type ParamSpec } from '../../sdk/src/model/params.js';
import type { Quantization } from '../../sdk/src/model/quant.js';
import { ArtifactWriter } from './artifact-writer.js';
import { checkRoom } from './disk-space.js';
import { checkOutput } from './output-dir.js';
import { formatBytes, OutputPathError } from '../../sdk/src/errors.js';

/** One parameter's values, readable a block of rows at a time (rows of a matrix, or the whole vector). */
export interface ParamSource {
  name: string;
  readRows(start: number, count: number): Promise<Float32Array> | Float32Array;
}

export interface WriteArtifactOptions {
  /** SentencePiece model copied in as `tokenizer.model`. */
  tokenizerModel?: string;
  shardBytes?: number;
  /** Called after each block with (parameter values done, total parameter values). */
  onProgress?: (done: number, total: number) => void;
  /** Float32 values per block read (default 4 Mi = 16 MB). */
  blockValues?: number;
  /** The files and folders being converted: the output may never be, or hold, any of them. */
  inputs?: string[];
  /** Refuse before writing when the artifact's weights would take more than this many bytes. */
  maxBytes?: number;
}

/** Bytes of an artifact's weights under a quantization, from its config alone (what the shards will hold). */
export function artifactBytesOf(config: ModelConfig, quantization: Quantization): number {
  let bytes = 0;
  for (const spec of paramSpecs(config)) {
    const layout = paramLayout(spec, quantization);
    bytes += layout.main.nbytes + (layout.scales?.nbytes ?? 0);
  }
  return bytes;
}

/** A parameter held in memory as a source. */
export function memoryParam(name: string, values: Float32Array, cols: number): ParamSource {
  return { name, readRows: (start, count) => values.subarray(start * cols, (start + count) * cols) };
}

async function* blocks(spec: ParamSpec, source: ParamSource, blockValues: number, onBlock: (values: number) => void) {
  const [rows, cols] = spec.shape.length === 2 ? (spec.shape as [number, number]) : [1, spec.shape[0]!];
  const step = Math.max(1, Math.floor(blockValues / cols));
  for (let start = 0; start < rows; start += step) {
    const count = Math.min(step, rows - start);
    const values = await source.readRows(start, count);
    if (values.length !== count * cols) throw new Error(`${spec.name}: read ${values.length} values for ${count} rows of ${cols}`);
    onBlock(values.length);
    yield values;
  }
}

/** `params` may come in any order, but must hold exactly the config's parameters. */
export async function writeArtifact(
  outDir: string,
  config: ModelConfig,
  quantization: Quantization,
  params: Iterable<ParamSource> | AsyncIterable<ParamSource>,
  options: WriteArtifactOptions = {},
): Promise<void> {
  validateConfig(config);
  const specs = new Map(paramSpecs(config).map((s) => [s.name, s]));
  const totalValues = [...specs.values()].reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
  const inputs = [...(options.inputs ?? []), ...(options.tokenizerModel ? [options.tokenizerModel] : [])];
  checkOutput(outDir, inputs); // a refused --out is named before the size is
  const bytes = artifactBytesOf(config, quantization);
  if (options.maxBytes !== undefined && bytes > options.maxBytes) {
    throw new OutputPathError(outDir, `the model would take ${formatBytes(bytes)}, over the ${formatBytes(options.maxBytes)} allowed: nothing was written`);
  }
  await checkRoom(outDir, bytes);
  const writer = await ArtifactWriter.create(outDir, options.shardBytes, inputs);
  try {
    const seen = new Set<string>();
    let doneValues = 0;
    for await (const source of params) {
      const spec = specs.get(source.name);
      if (!spec) throw new Error(`unexpected parameter ${source.name} for a ${config.modelType} model`);
      if (seen.has(source.name)) throw new Error(`parameter ${source.name} given twice`);
      seen.add(source.name);
      const layout = paramLayout(spec, quantization);
      const scales: Float32Array[] = [];
      const encoded = (async function* () {
        for await (const block of blocks(spec, source, options.blockValues ?? 4 * 1024 * 1024, (n) => {
          doneValues += n;
          options.onProgress?.(doneValues, totalValues);
        })) {
          const { bytes, scales: s } = layout.encode(block);
          if (s) scales.push(s);
          yield bytes;
        }
      })();
      const count = spec.shape.reduce((a, b) => a * b, 1);
      await writer.addTensor(layout.main, encoded, count);
      if (layout.scales) {
        await writer.addTensor(layout.scales, [layout.scaleBytes(concatFloat32(scales))]);
      }
    }
    const missing = [...specs.keys()].filter((n) => !seen.has(n));
    if (missing.length) throw new Error(`missing parameters: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? '…' : ''}`);
    const tokenizerFiles: string[] = [];
    if (options.tokenizerModel) {
      await writer.copyFile(options.tokenizerModel, 'tokenizer.model');
      tokenizerFiles.push('tokenizer.model');
    }
    await writer.finish(buildChatConfig(config, quantization, { tokenizerFiles }));
  } catch (error) {
    await writer.abort();
    throw error;
  }
}
