/**
 * `webchuan gguf <artifact dir> --out <dir>`: the artifact as llama.cpp GGUF file(s), the same
 * bytes the browser's CPU path builds in the tab (packages/sdk/src/model/gguf-artifact.ts), for
 * llama.cpp's own tools (llama-cli, llama-server) or to check what the tab runs. Written as every
 * output of the CLI is: checked, sized against the free space, staged and renamed into place.
 */
import { once } from 'node:events';
import { closeSync, constants, createWriteStream, fstatSync, lstatSync, openSync, readdirSync, readSync, renameSync, rmSync, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { openArtifact } from '../../sdk/src/model/artifact.js';
import { planGguf, writeGguf, type GgufWeightType } from '../../sdk/src/model/gguf-artifact.js';
import { readSentencePieceVocab } from '../../sdk/src/model/sentencepiece-vocab.js';
import { OutputPathError } from '../../sdk/src/errors.js';
import { checkRoom } from './disk-space.js';
import { directorySource } from './fs-source.js';
import { readRegularFile } from './input-file.js';
import { removeIfInterrupted } from './interrupt.js';
import { makeStagingFolder, realPath } from './output-dir.js';

export interface GgufResult {
  files: string[];
  totalBytes: number;
  weightType: string;
}

/** GGUF files begin with these four bytes: how an earlier output of ours is recognised. */
const GGUF_MAGIC = 'GGUF';

/** True when `path` is a regular file that starts as a GGUF file does. */
function isGgufFile(path: string): boolean {
  try {
    const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const head = Buffer.alloc(4);
      return fstatSync(fd).isFile() && readSync(fd, head, 0, 4, 0) === 4 && head.toString('latin1') === GGUF_MAGIC;
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
}

/**
 * Throws OutputPathError unless `target` may receive a GGUF file: a new path, or one of our GGUF
 * files (or, with `force`, any regular file) — never a symlink, a folder, a FIFO, or what is read.
 */
function checkGgufTarget(target: string, inputs: readonly string[], force: boolean): void {
  const real = realPath(target);
  for (const input of inputs) if (realPath(input) === real) throw new OutputPathError(target, `is ${input}, which this command reads: choose another --out`);
  let st;
  try {
    st = lstatSync(target);
  } catch {
    return; // nothing there yet
  }
  if (st.isSymbolicLink()) throw new OutputPathError(target, 'is a symbolic link: refusing to write through it');
  if (!st.isFile()) throw new OutputPathError(target, 'exists and is not a regular file: refusing to replace it');
  if (!force && !isGgufFile(target)) throw new OutputPathError(target, 'exists and is not a GGUF file: refusing to replace it; choose another --out, or pass --force to replace it');
}

/**
 * Writes the artifact's GGUF file(s) into `outDir`, with the protection of every output of the CLI
 * (output-dir.ts, output-file.ts): each target is checked first (a user's file is replaced only with
 * `force`), the free space too; the files are written in a marked staging folder beside `outDir` (so
 * an artifact folder never holds a half-written or hidden file, even after SIGKILL) and renamed into
 * place once all are whole; any terminating signal removes the staging folder.
 */
export async function writeGgufFiles(artifactDir: string, outDir: string, options: { weightType?: GgufWeightType; maxFileBytes?: number; name?: string; force?: boolean } = {}): Promise<GgufResult> {
  const source = directorySource(artifactDir);
  const opened = await openArtifact(source);
  const tokenizerFile = opened.info.tokenizerFiles.find((f) => f.endsWith('.model'));
  if (!tokenizerFile) throw new Error(`${artifactDir}: GGUF needs a SentencePiece tokenizer.model; this artifact has ${opened.info.tokenizerFiles.join(', ') || 'none'}`);
  const vocab = readSentencePieceVocab(await readRegularFile(join(artifactDir, tokenizerFile)));
  const plan = planGguf(opened, vocab, { ...options, name: options.name ?? opened.info.config.modelType });
  const inputs = [artifactDir, ...readdirSync(artifactDir).filter((f) => !/\.gguf$/.test(f)).map((f) => join(artifactDir, f))];
  const targets = plan.files.map((f) => join(outDir, f.name));
  for (const target of targets) checkGgufTarget(target, inputs, options.force === true);
  await mkdir(outDir, { recursive: true });
  await checkRoom(outDir, plan.totalBytes);
  const staging = makeStagingFolder(outDir);
  const untrack = removeIfInterrupted(staging);
  try {
    const streams: WriteStream[] = plan.files.map((f) => createWriteStream(join(staging, f.name), { flags: 'wx' }));
    try {
      await writeGguf(source, opened, plan, async (file, piece) => {
        if (!streams[file]!.write(piece)) await once(streams[file]!, 'drain');
      });
    } finally {
      await Promise.all(streams.map((s) => new Promise((resolve) => s.end(resolve))));
    }
    for (const target of targets) checkGgufTarget(target, inputs, options.force === true); // again: the write took a while
    plan.files.forEach((f, i) => renameSync(join(staging, f.name), targets[i]!));
  } finally {
    rmSync(staging, { recursive: true, force: true });
    untrack();
  }
  return { files: targets, totalBytes: plan.totalBytes, weightType: plan.weightType };
}
