/**
 * Room on disk for an output, checked before anything is written: an artifact that cannot fit (a
 * converted model larger than the free space, a random model of a library's absurd shapes) is
 * refused with the numbers at once, instead of filling the disk and failing at the end.
 */
import { statfs } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { formatBytes, OutputPathError } from '../../sdk/src/errors.js';

/** Free bytes (for this user) on the disk that holds, or would hold, `path`: its nearest existing folder's. */
export async function freeBytesFor(path: string): Promise<number> {
  let at = resolve(path);
  for (;;) {
    try {
      const fs = await statfs(at);
      return Number(fs.bavail) * Number(fs.bsize);
    } catch {
      const parent = dirname(at);
      if (parent === at) return Infinity; // nothing to ask: the write itself will tell
      at = parent;
    }
  }
}

/** The most a generated (random) model may take: more than any model a browser can run, far less than a disk. */
export const MAX_RANDOM_MODEL_BYTES = 64 * 1024 ** 3;

/** Room kept free beyond the output's own bytes: its JSON files, and the rest of the system. */
export const DISK_MARGIN_BYTES = 64 * 1024 * 1024;

/** Throws OutputPathError unless `bytes` (plus a margin) fit the free space where `out` would be written. */
export async function checkRoom(out: string, bytes: number): Promise<void> {
  const free = await freeBytesFor(out);
  const needed = bytes + DISK_MARGIN_BYTES;
  if (needed > free) throw new OutputPathError(out, `needs ${formatBytes(needed)} on disk, and ${formatBytes(free)} is free there: nothing was written`);
}
