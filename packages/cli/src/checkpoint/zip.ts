/**
 * Just enough of ZIP to read PyTorch checkpoints: the central directory (ZIP64 included, since a 7B
 * checkpoint passes 4 GB) and the offsets of stored (uncompressed) entries, read lazily from disk.
 *
 * The directory may lie. Every size and offset is checked against the file before it is used: the
 * directory must lie inside the file, each entry's data must end before the next entry (or the
 * directory) begins, and a stored entry's two sizes must agree. So no allocation is larger than the
 * file, and no entry's bytes can be read as another's.
 */
import type { FileHandle } from 'node:fs/promises';
import { BadCheckpointError } from '../../../sdk/src/errors.js';

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  crc32: number;
  localHeaderOffset: number;
  /** Where the next entry (or the central directory) begins: this entry's data must end before it. */
  limit: number;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

/** A state dict's directory holds ~100 bytes per tensor; this is far beyond any real checkpoint's. */
const MAX_DIRECTORY_BYTES = 64 * 1024 * 1024;

async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await handle.read(buffer, 0, length, position);
  return buffer.subarray(0, bytesRead);
}

/** Lists the entries of the ZIP archive open as `handle`; throws BadCheckpointError naming `file`. */
export async function readZipDirectory(handle: FileHandle, file: string): Promise<Map<string, ZipEntry>> {
  const fail = (problem: string): never => {
    throw new BadCheckpointError(file, problem);
  };
  const u64 = (b: Buffer, at: number, what: string): number => {
    if (at + 8 > b.length) fail(`corrupt ZIP64 field (${what})`);
    const v = b.readBigUInt64LE(at);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`ZIP64 ${what} ${v} is larger than any file`);
    return Number(v);
  };
  const { size } = await handle.stat();
  const tailLength = Math.min(size, 65536 + 22);
  const tail = await readAt(handle, size - tailLength, tailLength);
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) fail('not a ZIP archive, or truncated (no end-of-central-directory record)');
  const eocdAt = size - tailLength + eocd;
  let count = tail.readUInt16LE(eocd + 10);
  let cdSize = tail.readUInt32LE(eocd + 12);
  let cdOffset = tail.readUInt32LE(eocd + 16);
  let cdEnd = eocdAt;
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const locatorAt = eocd - 20;
    if (locatorAt < 0 || tail.readUInt32LE(locatorAt) !== ZIP64_LOCATOR) fail('ZIP64 locator missing');
    const zip64At = u64(tail, locatorAt + 8, 'end record offset');
    if (zip64At + 56 > eocdAt - 20) fail('ZIP64 end record lies past the end of the file (truncated?)');
    const record = await readAt(handle, zip64At, 56);
    if (record.length < 56 || record.readUInt32LE(0) !== ZIP64_EOCD) fail('ZIP64 end record missing');
    count = u64(record, 32, 'entry count');
    cdSize = u64(record, 40, 'directory size');
    cdOffset = u64(record, 48, 'directory offset');
    cdEnd = zip64At;
  }
  if (cdOffset + cdSize > cdEnd) fail('truncated (the central directory lies past the end of the file)');
  if (cdSize > MAX_DIRECTORY_BYTES) fail(`the central directory claims ${cdSize} bytes, more than any checkpoint's`);
  if (count * 46 > cdSize) fail(`the central directory claims ${count} entries in ${cdSize} bytes`);
  const cd = await readAt(handle, cdOffset, cdSize);
  if (cd.length !== cdSize) fail('truncated (the central directory is cut short)');
  const entries = new Map<string, ZipEntry>();
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + 46 > cd.length || cd.readUInt32LE(at) !== CENTRAL) fail('corrupt central directory');
    const method = cd.readUInt16LE(at + 10);
    const crc32 = cd.readUInt32LE(at + 16);
    let compressedSize = cd.readUInt32LE(at + 20);
    let uncompressedSize = cd.readUInt32LE(at + 24);
    const nameLength = cd.readUInt16LE(at + 28);
    const extraLength = cd.readUInt16LE(at + 30);
    const commentLength = cd.readUInt16LE(at + 32);
    let localHeaderOffset = cd.readUInt32LE(at + 42);
    let extra = at + 46 + nameLength;
    const extraEnd = extra + extraLength;
    if (extraEnd + commentLength > cd.length) fail('corrupt central directory (a record runs past its end)');
    const name = cd.toString('utf8', at + 46, at + 46 + nameLength);
    // ZIP64 extended information: 64-bit values for exactly the fields saturated above, in order.
    while (extra + 4 <= extraEnd) {
      const id = cd.readUInt16LE(extra);
      const length = cd.readUInt16LE(extra + 2);
      const fieldEnd = extra + 4 + length;
      if (fieldEnd > extraEnd) fail(`corrupt extra field of ${name}`);
      if (id === 0x0001) {
        const field = cd.subarray(extra + 4, fieldEnd);
        let p = 0;
        if (uncompressedSize === 0xffffffff) (uncompressedSize = u64(field, p, `size of ${name}`)), (p += 8);
        if (compressedSize === 0xffffffff) (compressedSize = u64(field, p, `compressed size of ${name}`)), (p += 8);
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = u64(field, p, `offset of ${name}`);
      }
      extra = fieldEnd;
    }
    if (entries.has(name)) fail(`${name} appears twice in the zip directory`);
    if (method === 0 && compressedSize !== uncompressedSize) fail(`${name}: the zip directory gives two sizes (${compressedSize} and ${uncompressedSize}) for a stored entry`);
    if (localHeaderOffset + 30 + compressedSize > cdOffset) fail(`${name}: the zip directory puts its ${compressedSize} bytes past the end of the data`);
    entries.set(name, { name, method, compressedSize, size: uncompressedSize, crc32, localHeaderOffset, limit: cdOffset });
    at = extraEnd + commentLength;
  }
  // Each entry ends before the next one's local header: a size that says otherwise is a lie.
  const byOffset = [...entries.values()].sort((a, b) => a.localHeaderOffset - b.localHeaderOffset);
  for (let i = 0; i + 1 < byOffset.length; i++) byOffset[i]!.limit = byOffset[i + 1]!.localHeaderOffset;
  return entries;
}

/** The file offset where an entry's data begins (after its local header), checked against its neighbours. */
export async function entryDataOffset(handle: FileHandle, entry: ZipEntry, file: string): Promise<number> {
  const header = await readAt(handle, entry.localHeaderOffset, 30);
  if (header.length < 30 || header.readUInt32LE(0) !== LOCAL) throw new BadCheckpointError(file, `corrupt local header for ${entry.name}`);
  const nameLength = header.readUInt16LE(26);
  const start = entry.localHeaderOffset + 30 + nameLength + header.readUInt16LE(28);
  const localName = await readAt(handle, entry.localHeaderOffset + 30, nameLength);
  if (localName.toString('utf8') !== entry.name) throw new BadCheckpointError(file, `the zip directory's offset for ${entry.name} points at another entry`);
  if (start + entry.compressedSize > entry.limit) {
    throw new BadCheckpointError(file, `${entry.name}: the zip directory says ${entry.compressedSize} bytes, which run into the next entry (a wrong size or a truncated file)`);
  }
  return start;
}
