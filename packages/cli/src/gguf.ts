/**
 * `webchuan gguf <artifact dir> --out <dir>`: the artifact as llama.cpp GGUF file(s), the same
 * bytes the browser's CPU path builds in the tab (packages/sdk/src/model/gguf-artifact.ts), for
 * llama.cpp's own tools (llama-cli, llama-server) or to check what the tab runs.
 */
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openArtifact } from '../../sdk/src/model/artifact.js';
import { planGguf, writeGguf, type GgufWeightType } from '../../sdk/src/model/gguf-artifact.js';
import { readSentencePieceVocab } from '../../sdk/src/model/sentencepiece-vocab.js';
import { directorySource } from './fs-source.js';

export interface GgufResult {
  files: string[];
  totalBytes: number;
  weightType: string;
}

export async function writeGgufFiles(artifactDir: string, outDir: string, options: { weightType?: GgufWeightType; maxFileBytes?: number; name?: string } = {}): Promise<GgufResult> {
  const source = directorySource(artifactDir);
  const opened = await openArtifact(source);
  const tokenizerFile = opened.info.tokenizerFiles.find((f) => f.endsWith('.model'));
  if (!tokenizerFile) throw new Error(`${artifactDir}: GGUF needs a SentencePiece tokenizer.model; this artifact has ${opened.info.tokenizerFiles.join(', ') || 'none'}`);
  const vocab = readSentencePieceVocab(new Uint8Array(await readFile(join(artifactDir, tokenizerFile))));
  const plan = planGguf(opened, vocab, { ...options, name: options.name ?? opened.info.config.modelType });
  await mkdir(outDir, { recursive: true });
  const streams: WriteStream[] = plan.files.map((f) => createWriteStream(join(outDir, f.name)));
  try {
    await writeGguf(source, opened, plan, async (file, piece) => {
      if (!streams[file]!.write(piece)) await once(streams[file]!, 'drain');
    });
  } finally {
    await Promise.all(streams.map((s) => new Promise((resolve) => s.end(resolve))));
  }
  return { files: plan.files.map((f) => join(outDir, f.name)), totalBytes: plan.totalBytes, weightType: plan.weightType };
}
