/** Loads an artifact directory onto a Node GPU: the path shared by the CLI, benchmarks and tests. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openArtifact } from '../model/artifact.js';
import { requestModelDevice } from '../gpu/device.js';
import { loadModel, type LoadedModel } from '../engine/model.js';
import type { ForwardOptions } from '../engine/forward.js';
import { TextTokenizer } from '../tokenizer/tokenizer.js';
import { directorySource } from './fs-source.js';
import { nodeAdapter } from './gpu.js';
import { loadTokenizerLibrary } from './web-tokenizers.js';

export interface NodeModel extends LoadedModel {
  device: GPUDevice;
  tokenizer: TextTokenizer;
}

/** A SentencePiece tokenizer from a `tokenizer.model` file or an artifact directory holding one. */
export async function loadNodeTokenizer(pathOrDir: string): Promise<TextTokenizer> {
  const file = pathOrDir.endsWith('.model') ? pathOrDir : join(pathOrDir, 'tokenizer.model');
  return TextTokenizer.fromSentencePiece(new Uint8Array(await readFile(file)), loadTokenizerLibrary());
}

export async function loadNodeModel(dir: string, options: ForwardOptions = {}): Promise<NodeModel> {
  const source = directorySource(dir);
  const { cache } = await openArtifact(source);
  const largest = Math.max(...cache.records.flatMap((s) => s.records.map((r) => r.nbytes * (r.format === 'f32-to-bf16' ? 2 : 1))));
  const device = await requestModelDevice(await nodeAdapter(), largest);
  const model = await loadModel(device, source, options);
  const tokenizer = await loadNodeTokenizer(dir);
  return {
    ...model,
    device,
    tokenizer,
    dispose() {
      model.dispose();
      tokenizer.dispose();
      device.destroy();
    },
  };
}
