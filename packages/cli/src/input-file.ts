/**
 * Opening the files a command reads (checkpoints, configs, tokenizers, libraries, datasets). Only
 * regular files are read: a FIFO would block the open (or the first read) until some other process
 * writes to it — forever, for a planted one — and a device (`/dev/zero`, `/dev/urandom`) never ends.
 * The file is opened non-blocking, so even a FIFO returns at once, then checked with fstat on the
 * descriptor itself: what is checked is what is read, with no window for a swap in between.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

/** A path the CLI was asked to read is not a regular file (or cannot be opened). */
export class InputFileError extends Error {
  override name = 'InputFileError';
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(`${path}: ${problem}`);
  }
}

function kindOf(stats: { isDirectory(): boolean; isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }): string {
  if (stats.isDirectory()) return 'a folder';
  if (stats.isFIFO()) return 'a FIFO (named pipe)';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/**
 * Opens `path` for reading if it is a regular file (a symlink to one is fine); anything else is
 * refused with `fail(problem)` (an InputFileError by default), without blocking.
 */
export async function openRegularFile(path: string, fail: (problem: string) => Error = (problem) => new InputFileError(path, problem)): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw fail(code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'cannot be read (permission denied)' : `cannot be opened (${(error as Error).message})`);
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw fail(`is ${kindOf(stats)}, not a regular file: refusing to read it`);
    return handle;
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** The bytes of the regular file at `path`; `maxBytes` refuses a larger file before reading it. */
export async function readRegularFile(path: string, options: { maxBytes?: number; fail?: (problem: string) => Error } = {}): Promise<Uint8Array> {
  const handle = await openRegularFile(path, options.fail);
  try {
    if (options.maxBytes !== undefined) {
      const { size } = await handle.stat();
      if (size > options.maxBytes) throw (options.fail ?? ((p: string) => new InputFileError(path, p)))(`is ${size} bytes, more than the ${options.maxBytes} such a file may have`);
    }
    return new Uint8Array(await handle.readFile());
  } finally {
    await handle.close();
  }
}

/** The UTF-8 text of the regular file at `path`. */
export async function readRegularText(path: string, options: { maxBytes?: number; fail?: (problem: string) => Error } = {}): Promise<string> {
  return new TextDecoder().decode(await readRegularFile(path, options));
}

/** readRegularText for synchronous callers (dataset loading). */
export function readRegularTextSync(path: string, options: { maxBytes?: number; fail?: (problem: string) => Error } = {}): string {
  const fail = options.fail ?? ((problem: string) => new InputFileError(path, problem));
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw fail(code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'cannot be read (permission denied)' : `cannot be opened (${(error as Error).message})`);
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw fail(`is ${kindOf(stats)}, not a regular file: refusing to read it`);
    if (options.maxBytes !== undefined && stats.size > options.maxBytes) throw fail(`is ${stats.size} bytes, more than the ${options.maxBytes} such a file may have`);
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}
