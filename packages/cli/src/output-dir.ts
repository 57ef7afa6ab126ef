/**
 * Where the CLI may write an artifact. `--out` may be a new path, an empty folder, or one of our
 * own artifacts (a folder holding only artifact files), and never the input or a folder above it:
 * nothing a user owns is ever replaced. Paths are compared after resolving symlinks, so a link (or
 * `..`) to the checkpoint is recognised as the checkpoint.
 *
 * An artifact is written into a hidden sibling folder and moved into place with renames, so at every
 * instant `--out` holds the old artifact or the new one, whole. That staging folder carries a marker
 * file naming the process that writes it; one left behind by a process that no longer runs (killed
 * with SIGKILL, a power cut) is removed by the next run that writes to the same place. A folder
 * without our marker is never touched, whatever its name.
 */
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { CHAT_CONFIG_FILE, LEGACY_TENSOR_CACHE_FILE, TENSOR_CACHE_FILE } from '../../sdk/src/model/artifact.js';
import { OutputPathError } from '../../sdk/src/errors.js';

/** The files an artifact folder may hold (ours or MLC's): configs, weight shards, tokenizer files, and the GGUF `convert --gguf` adds. */
const ARTIFACT_FILE =
  /^(mlc-chat-config\.json|tensor-cache\.json|ndarray-cache\.json|params_shard_\d+\.bin|tokenizer\.model|tokenizer\.json|tokenizer_config\.json|vocab\.json|merges\.txt|added_tokens\.json|special_tokens_map\.json|model(-\d{5}-of-\d{5})?\.gguf)$/;

/** `path` made absolute with every symlink resolved, also when its last parts do not exist yet. */
export function realPath(path: string): string {
  const missing: string[] = [];
  let at = resolve(path);
  for (;;) {
    try {
      return join(realpathSync(at), ...missing);
    } catch {
      const parent = dirname(at);
      if (parent === at) return resolve(path);
      missing.unshift(basename(at));
      at = parent;
    }
  }
}

/** True when `folder` holds a model artifact (ours or MLC's): its config and its tensor index. */
export function isArtifactFolder(folder: string): boolean {
  return existsSync(join(folder, CHAT_CONFIG_FILE)) && (existsSync(join(folder, TENSOR_CACHE_FILE)) || existsSync(join(folder, LEGACY_TENSOR_CACHE_FILE)));
}

export function isWithin(path: string, folder: string): boolean {
  return path === folder || path.startsWith(folder.endsWith(sep) ? folder : folder + sep);
}

/** Why `folder` is not one of our artifacts, or undefined when it is (or is empty). */
function notAnArtifact(folder: string): string | undefined {
  const entries = readdirSync(folder, { withFileTypes: true });
  if (entries.length === 0) return undefined;
  const foreign = entries.filter((e) => !e.isFile() || !ARTIFACT_FILE.test(e.name)).map((e) => (e.isDirectory() ? `${e.name}/` : e.name));
  if (foreign.length) return `it holds ${foreign.slice(0, 5).join(', ')}${foreign.length > 5 ? ` and ${foreign.length - 5} more` : ''}`;
  const names = new Set(entries.map((e) => e.name));
  if (!names.has(CHAT_CONFIG_FILE) || !(names.has(TENSOR_CACHE_FILE) || names.has(LEGACY_TENSOR_CACHE_FILE))) {
    return `it has no ${CHAT_CONFIG_FILE} and ${TENSOR_CACHE_FILE}`;
  }
  return undefined;
}

/**
 * Throws OutputPathError unless `out` may receive an artifact: it must not be, or hold, any of
 * `inputs`, and if it exists it must be an empty folder or one of our artifacts.
 */
export function checkOutput(out: string, inputs: readonly string[]): void {
  const target = realPath(out);
  for (const input of inputs) {
    const real = realPath(input);
    if (real === target) throw new OutputPathError(out, `is the checkpoint being converted (${input}): choose another --out`);
    if (isWithin(real, target)) {
      throw new OutputPathError(out, `holds the checkpoint being converted (${input}); replacing it would delete the input: choose another --out`);
    }
  }
  let isLink: boolean;
  let isFolder: boolean;
  try {
    const st = lstatSync(out);
    isLink = st.isSymbolicLink();
    isFolder = st.isDirectory();
  } catch {
    return; // nothing there yet
  }
  if (isLink) throw new OutputPathError(out, 'is a symbolic link: refusing to replace it; give a new path or the folder it points to');
  if (!isFolder) throw new OutputPathError(out, 'exists and is not a folder: refusing to replace it; choose a new path');
  const why = notAnArtifact(out);
  if (why) {
    throw new OutputPathError(out, `exists and is not a webchuan artifact (${why}): refusing to replace it; choose a new folder, or empty this one yourself`);
  }
}

/** The marker file inside every staging folder: which process, on which machine, writes it. */
export const PARTIAL_MARKER = '.webchuan-partial';

interface PartialMarker {
  writer: 'webchuan';
  pid: number;
  host: string;
  started: string;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // it runs, as another user
  }
}

/** True when `folder` is a staging folder of ours whose writer no longer runs on this machine. */
function isStalePartial(folder: string): boolean {
  const st = lstatSync(folder);
  if (!st.isDirectory()) return false;
  let marker: PartialMarker;
  try {
    const markerPath = join(folder, PARTIAL_MARKER);
    if (!lstatSync(markerPath).isFile() || lstatSync(markerPath).size > 4096) return false;
    marker = JSON.parse(readFileSync(markerPath, 'utf8')) as PartialMarker;
  } catch {
    return false; // no marker (or not ours): never touched
  }
  if (marker?.writer !== 'webchuan' || !Number.isSafeInteger(marker.pid) || marker.pid <= 0) return false;
  // Another machine's process (a shared disk) cannot be checked from here: left alone.
  return marker.host === hostname() && marker.pid !== process.pid && !processRuns(marker.pid);
}

/** True when every entry of `folder` is a file an artifact holds (a half-deleted artifact included). */
function onlyArtifactFiles(folder: string): boolean {
  return readdirSync(folder, { withFileTypes: true }).every((e) => e.isFile() && ARTIFACT_FILE.test(e.name));
}

/**
 * Removes what earlier runs writing to `out` left beside it when they were killed: staging folders
 * carrying our marker whose process is gone, and the previous artifact set aside during a swap that
 * completed (`out` exists again) but was cut off while deleting it. Returns the paths removed.
 */
export function removeStalePartials(out: string): string[] {
  const parent = dirname(resolve(out));
  const base = escapeRegExp(basename(resolve(out)));
  const partial = new RegExp(`^\\.${base}\\.partial-[A-Za-z0-9]{6}$`);
  const aside = new RegExp(`^\\.${base}\\.old-(\\d+)-\\d+$`);
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const path = join(parent, name);
    try {
      let stale = false;
      if (partial.test(name)) stale = isStalePartial(path);
      else {
        const pid = Number(aside.exec(name)?.[1]);
        stale = pid > 0 && pid !== process.pid && !processRuns(pid) && existsSync(out) && lstatSync(path).isDirectory() && onlyArtifactFiles(path);
      }
      if (stale) {
        rmSync(path, { recursive: true, force: true });
        removed.push(path);
      }
    } catch {
      // It changed while we looked: leave it.
    }
  }
  return removed;
}

/**
 * A new hidden folder beside `out`, where the output is written until it is whole, with our marker
 * in it; stale ones of earlier killed runs are removed first.
 */
export function makeStagingFolder(out: string): string {
  mkdirSync(dirname(resolve(out)), { recursive: true });
  removeStalePartials(out);
  const folder = mkdtempSync(join(dirname(resolve(out)), `.${basename(resolve(out))}.partial-`));
  const marker: PartialMarker = { writer: 'webchuan', pid: process.pid, host: hostname(), started: new Date().toISOString() };
  writeFileSync(join(folder, PARTIAL_MARKER), JSON.stringify(marker), { flag: 'wx' });
  return folder;
}

/**
 * Moves the finished artifact in `staging` to `out`: the old artifact (if any) is renamed aside, the
 * new one renamed into place, then the old one deleted. The two renames are synchronous, so no signal
 * handler runs between them; `out` is checked again first, since the conversion took a while.
 */
export function moveIntoPlace(staging: string, out: string, inputs: readonly string[]): void {
  checkOutput(out, inputs);
  rmSync(join(staging, PARTIAL_MARKER), { force: true }); // the artifact holds artifact files only
  let aside: string | undefined;
  if (existsSync(out)) {
    let i = 0;
    do aside = join(dirname(resolve(out)), `.${basename(resolve(out))}.old-${process.pid}-${i++}`);
    while (existsSync(aside));
    renameSync(out, aside);
    // Something may have been put there between the check and the rename: then put it all back.
    const why = notAnArtifact(aside);
    if (why) {
      renameSync(aside, out);
      throw new OutputPathError(out, `changed during the conversion and is no longer a webchuan artifact (${why}): left as it is`);
    }
  }
  try {
    renameSync(staging, out);
  } catch (error) {
    if (aside) renameSync(aside, out);
    throw error;
  }
  if (aside) rmSync(aside, { recursive: true, force: true });
}
