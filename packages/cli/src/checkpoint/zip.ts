/**
 * Just enough of ZIP to read PyTorch checkpoints: the central directory (ZIP64 included, since a 7B
 * checkpoint passes 4 GB) and the offsets of stored (uncompressed) entries, read lazily from disk.
 */
import type { FileHandle } from 'node:fs/promises';

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await handle.read(buffer, 0, length, position);
  return buffer.subarray(0, bytesRead);
}

function u64(b: Buffer, at: number): number {
  const v = b.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('ZIP64 value too large');
  return Number(v);
}

/** Lists the entries of the ZIP archive open as `handle`; throws a message naming `file`. */
export async function readZipDirectory(handle: FileHandle, file: string): Promise<Map<string, ZipEntry>> {
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
  if (eocd < 0) throw new Error(`${file}: not a ZIP archive, or truncated (no end-of-central-directory record)`);
  let count = tail.readUInt16LE(eocd + 10);
  let cdSize = tail.readUInt32LE(eocd + 12);
  let cdOffset = tail.readUInt32LE(eocd + 16);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const locatorAt = eocd - 20;
    if (locatorAt < 0 || tail.readUInt32LE(locatorAt) !== ZIP64_LOCATOR) throw new Error(`${file}: ZIP64 locator missing`);
    const zip64At = u64(tail, locatorAt + 8);
    const record = await readAt(handle, zip64At, 56);
    if (record.length < 56 || record.readUInt32LE(0) !== ZIP64_EOCD) throw new Error(`${file}: ZIP64 end record missing`);
    count = u64(record, 32);
    cdSize = u64(record, 40);
    cdOffset = u64(record, 48);
  }
  if (cdOffset + cdSize > size) throw new Error(`${file}: truncated (the central directory lies past the end of the file)`);
  const cd = await readAt(handle, cdOffset, cdSize);
  const entries = new Map<string, ZipEntry>();
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + 46 > cd.length || cd.readUInt32LE(at) !== CENTRAL) throw new Error(`${file}: corrupt central directory`);
    const method = cd.readUInt16LE(at + 10);
    let compressedSize = cd.readUInt32LE(at + 20);
    let uncompressedSize = cd.readUInt32LE(at + 24);
    const nameLength = cd.readUInt16LE(at + 28);
    const extraLength = cd.readUInt16LE(at + 30);
    const commentLength = cd.readUInt16LE(at + 32);
    let localHeaderOffset = cd.readUInt32LE(at + 42);
    const name = cd.toString('utf8', at + 46, at + 46 + nameLength);
    // ZIP64 extended information: 64-bit values for exactly the fields saturated above, in order.
    let extra = at + 46 + nameLength;
    const extraEnd = extra + extraLength;
    while (extra + 4 <= extraEnd) {
      const id = cd.readUInt16LE(extra);
      const length = cd.readUInt16LE(extra + 2);
      if (id === 0x0001) {
        let p = extra + 4;
        if (uncompressedSize === 0xffffffff) (uncompressedSize = u64(cd, p)), (p += 8);
        if (compressedSize === 0xffffffff) (compressedSize = u64(cd, p)), (p += 8);
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = u64(cd, p);
      }
      extra += 4 + length;
    }
    entries.set(name, { name, method, compressedSize, size: uncompressedSize, localHeaderOffset });
    at = extraEnd + commentLength;
  }
  return entries;
}

/** The file offset where an entry's data begins (after its local header). */
export async function entryDataOffset(handle: FileHandle, entry: ZipEntry, file: string): Promise<number> {
  const header = await readAt(handle, entry.localHeaderOffset, 30);
  if (header.length < 30 || header.readUInt32LE(0) !== LOCAL) throw new Error(`${file}: corrupt local header for ${entry.name}`);
  return entry.localHeaderOffset + 30 + header.readUInt16LE(26) + header.readUInt16LE(28);
}
