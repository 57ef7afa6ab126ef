/** Writes a model's float parameters as an artifact under a quantization scheme. */
import { buildChatConfig } from '../model/artifact.js';
import { validateConfig, type ModelConfig } from '../model/config.js';
import { encodeParam } from '../model/encode.js';
import { paramSpecs } from '../model/params.js';
import type { Quantization } from '../model/quant.js';
import { ArtifactWriter } from './artifact-writer.js';

export interface WriteArtifactOptions {
  /** SentencePiece model copied in as `tokenizer.model`. */
  tokenizerModel?: string;
  shardBytes?: number;
  /** Called after each parameter with (done, total). */
  onProgress?: (done: number, total: number) => void;
}

/** `params` may be any iterable in any order, but must hold exactly the config's parameters. */
export async function writeArtifact(
  outDir: string,
  config: ModelConfig,
  quantization: Quantization,
  params: Iterable<[string, Float32Array]> | AsyncIterable<[string, Float32Array]>,
  options: WriteArtifactOptions = {},
): Promise<void> {
  validateConfig(config);
  const specs = new Map(paramSpecs(config).map((s) => [s.name, s]));
  const writer = await ArtifactWriter.create(outDir, options.shardBytes);
  try {
    const seen = new Set<string>();
    for await (const [name, values] of params) {
      const spec = specs.get(name);
      if (!spec) throw new Error(`unexpected parameter ${name} for a ${config.modelType} model`);
      if (seen.has(name)) throw new Error(`parameter ${name} given twice`);
      seen.add(name);
      const encoded = encodeParam(spec, values, quantization);
      for (const [i, tensor] of encoded.entries()) await writer.add(tensor, i === 0 ? values.length : 0);
      options.onProgress?.(seen.size, specs.size);
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
