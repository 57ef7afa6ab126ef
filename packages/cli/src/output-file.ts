/**
 * Where a command may write a file of its own (`eval --out`, a script's `--out`): the same rules as
 * an artifact's `--out` (output-dir.ts). Never over, or inside, what the command reads (the model,
 * the dataset); never into a model artifact's folder; never over a symlink or anything but a regular
 * file; and over an existing file only if it is recognisably one of ours (an earlier result of the
 * same command), unless the user passes `--force`. The file is written beside its place in a hidden
 * staging folder (with our marker, see output-dir.ts) and renamed over it: at every instant the path
 * holds the old file or the new one, whole, and an interrupted run leaves nothing.
 */
import { lstatSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { OutputPathError } from '../../sdk/src/errors.js';
import { readRegularTextSync } from './input-file.js';
import { removeIfInterrupted } from './interrupt.js';
import { isArtifactFolder, isWithin, makeStagingFolder, realPath } from './output-dir.js';

export interface OutputFileOptions {
  /** The files and folders the command reads: the output may never be, or lie inside, any of them. */
  inputs: readonly string[];
  /** True when an existing file's text is one of ours (an earlier result), which may be replaced. */
  isOurs: (text: string) => boolean;
  /** What an existing file of ours is, for messages ("a webchuan eval summary"). */
  ours: string;
  /** Replace an existing regular file that is not ours (`--force`). Never a model, an input or a non-file. */
  force?: boolean;
}

/** Existing files larger than this are not read to see whether they are ours: they are not. */
const MAX_OURS_BYTES = 64 * 1024 * 1024;

/** Throws OutputPathError unless `out` may receive the file. */
export function checkOutputFile(out: string, options: OutputFileOptions): void {
  const target = realPath(out);
  for (const input of options.inputs) {
    const real = realPath(input);
    if (target === real) throw new OutputPathError(out, `is ${input}, which this command reads: choose another path`);
    if (isWithin(target, real)) throw new OutputPathError(out, `is inside ${input}, which this command reads: choose a path outside it`);
  }
  if (isArtifactFolder(dirname(target))) {
    throw new OutputPathError(out, `is inside the model artifact ${dirname(target)}: writing there would change the model; choose a path outside it`);
  }
  let st;
  try {
    st = lstatSync(out);
  } catch {
    return; // nothing there yet
  }
  if (st.isSymbolicLink()) throw new OutputPathError(out, 'is a symbolic link: refusing to write through it; give the path of the file itself, or a new one');
  if (!st.isFile()) throw new OutputPathError(out, `exists and is not a regular file: refusing to replace it; choose a new path`);
  let text: string | undefined;
  try {
    text = st.size <= MAX_OURS_BYTES ? readRegularTextSync(out) : undefined;
  } catch {
    text = undefined;
  }
  if (text !== undefined && options.isOurs(text)) return;
  if (options.force) return;
  throw new OutputPathError(out, `exists and is not ${options.ours}: refusing to replace it; choose a new path, or pass --force to replace it`);
}

/** Writes `data` to `out` atomically, after checkOutputFile (again just before the rename). */
export function writeOutputFile(out: string, data: string | Uint8Array, options: OutputFileOptions): void {
  checkOutputFile(out, options);
  const staging = makeStagingFolder(out);
  const untrack = removeIfInterrupted(staging);
  try {
    const file = join(staging, basename(resolve(out)));
    writeFileSync(file, data, { flag: 'wx' });
    checkOutputFile(out, options); // the path may have changed while the file was written
    renameSync(file, out);
  } finally {
    rmSync(staging, { recursive: true, force: true });
    untrack();
  }
}

/** Whether `text` is JSON holding an object with every one of `keys`: how a result file of ours is recognised. */
export function jsonObjectWith(text: string, keys: readonly string[]): boolean {
  try {
    const json: unknown = JSON.parse(text);
    return !!json && typeof json === 'object' && !Array.isArray(json) && keys.every((k) => k in json);
  } catch {
    return false;
  }
}
