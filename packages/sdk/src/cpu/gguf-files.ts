/**
 * The GGUF files llama.cpp loads, built in the tab from the artifact already in the cache: one
 * download and one cache entry serve both paths. Each tensor becomes a Blob as soon as it is made
 * (the browser may keep Blobs out of the JS heap), and each file is a Blob of those parts, so the
 * model is not held twice in JS memory.
 */
import type { ArtifactSource, OpenedArtifact } from '../model/artifact.js';
import { planGguf, writeGguf, type GgufPlan } from '../model/gguf-artifact.js';
import { readSentencePieceVocab } from '../model/sentencepiece-vocab.js';

export interface BuiltGguf {
  files: File[];
  plan: GgufPlan;
  /** Time the build took. */
  ms: number;
}

/** The artifact's SentencePiece model, which GGUF's vocabulary is read from. */
export function sentencePieceFile(opened: OpenedArtifact): string | undefined {
  return opened.info.tokenizerFiles.find((f) => f.endsWith('.model'));
}

export async function buildGgufFiles(source: ArtifactSource, opened: OpenedArtifact, name: string): Promise<BuiltGguf> {
  const t0 = performance.now();
  const tokenizer = sentencePieceFile(opened);
  if (!tokenizer) throw new Error(`the CPU path needs a SentencePiece tokenizer.model, and this artifact lists ${opened.info.tokenizerFiles.join(', ') || 'no tokenizer'}`);
  const vocab = readSentencePieceVocab(await source.bytes(tokenizer));
  // Byte pieces as text: llama-server cannot write a lone UTF-8 byte into its JSON (cpu/byte-escapes.ts).
  const plan = planGguf(opened, vocab, { name, bytePieces: 'text' });
  const parts: Blob[][] = plan.files.map(() => []);
  await writeGguf(source, opened, plan, (file, piece) => void parts[file]!.push(new Blob([piece as Uint8Array<ArrayBuffer>])));
  const files = plan.files.map((f, i) => new File(parts[i]!, f.name));
  return { files, plan, ms: performance.now() - t0 };
}
