/** Loads an artifact directory onto a Node GPU: the path shared by the CLI, benchmarks and tests. */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openArtifact } from '../../sdk/src/model/artifact.js';
import { requestModelDevice, type DeviceOptions } from '../../sdk/src/gpu/device.js';
import { modelGpuRequirements } from '../../sdk/src/gpu/limits.js';
import { loadModel, type LoadedModel, type LoadModelOptions } from '../../sdk/src/engine/model.js';
import { startGrammarRuntime } from '../../sdk/src/grammar/runtime.js';
import { TokenizerRuntime } from '../../sdk/src/tokenizer/runtime.js';
import { TextTokenizer, tokenizerFormat } from '../../sdk/src/tokenizer/tokenizer.js';
import { directorySource, shardRecords } from './fs-source.js';
import { fileChoiceStore } from './kernel-choice-file.js';
import { readRegularFile } from './input-file.js';
import { announceDevice, nodeAdapter } from './gpu.js';

export interface NodeModel extends LoadedModel {
  device: GPUDevice;
  tokenizer: TextTokenizer;
}

/** The SDK's tokenizer wasm (generated from @mlc-ai/web-tokenizers by wasm-build/sentencepiece.mjs). */
const SENTENCEPIECE_WASM = new URL('../../sdk/src/tokenizer/sentencepiece.wasm', import.meta.url);

let runtime: Promise<TokenizerRuntime> | undefined;
export function nodeTokenizerRuntime(): Promise<TokenizerRuntime> {
  runtime ??= readFile(SENTENCEPIECE_WASM).then(
    (bytes) => TokenizerRuntime.compile(new Uint8Array(bytes)),
    () => {
      throw new Error(`${SENTENCEPIECE_WASM.pathname} is missing: run \`npm install\` (or \`node wasm-build/sentencepiece.mjs\`)`);
    },
  );
  return runtime;
}

/**
 * A tokenizer from a file (`tokenizer.model`, or Hugging Face's `tokenizer.json`) or from an artifact
 * directory holding one of them.
 */
export async function loadNodeTokenizer(pathOrDir: string): Promise<TextTokenizer> {
  let file = pathOrDir;
  if (!/\.(model|json)$/.test(pathOrDir)) {
    file = join(pathOrDir, 'tokenizer.model');
    if (!existsSync(file) && existsSync(join(pathOrDir, 'tokenizer.json'))) file = join(pathOrDir, 'tokenizer.json');
  }
  return TextTokenizer.load(await nodeTokenizerRuntime(), { format: tokenizerFormat(file), bytes: await readRegularFile(file) });
}

/**
 * Loads an artifact on this machine's GPU, on a device with exactly the limits the model needs
 * (including the buffers for reading back every position's logits, which tests and scoring use).
 * Kernels: `auto` unless said otherwise, its measurement kept in the CLI's cache folder
 * (kernel-choice-file.ts) and reused by later runs on this GPU. Pipelines compile at their first
 * dispatch (`warm: false`) unless asked: a one-shot command compiles only what it runs; asked, they
 * compile blocking (Dawn's asynchronous pipeline creation is slower in Node, see KernelCache).
 */
export async function loadNodeModel(dir: string, options: LoadModelOptions & DeviceOptions = {}): Promise<NodeModel> {
  const source = directorySource(dir);
  const { info } = await openArtifact(source);
  await shardRecords(dir); // an artifact that cannot be verified fails here, before a GPU is asked for
  const needs = modelGpuRequirements(info.config, info.quantization, {
    contextWindow: options.contextWindow,
    maxBatchTokens: Math.min(options.maxBatchTokens ?? 512, info.prefillChunkSize),
    kvDtype: options.kvDtype,
    allLogits: true,
  });
  const device = await requestModelDevice(await nodeAdapter(), needs, { ...options, optionalFeatures: ['timestamp-query', ...(options.optionalFeatures ?? [])] });
  announceDevice(device);
  let model: LoadedModel;
  try {
    model = await loadModel(device, source, { kernelStore: fileChoiceStore(), warm: false, compileAhead: 'blocking', ...options });
  } catch (error) {
    device.destroy();
    throw error;
  }
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

/** XGrammar's wasm (generated from @mlc-ai/web-xgrammar by wasm-build/xgrammar.mjs), started once. */
const XGRAMMAR_WASM = new URL('../../sdk/src/grammar/xgrammar.wasm', import.meta.url);

export function nodeGrammarRuntime(): Promise<void> {
  return startGrammarRuntime(() =>
    readFile(XGRAMMAR_WASM).then(
      (bytes) => new Uint8Array(bytes),
      () => {
        throw new Error(`${XGRAMMAR_WASM.pathname} is missing: run \`npm install\` (or \`node wasm-build/xgrammar.mjs\`)`);
      },
    ),
  );
}
