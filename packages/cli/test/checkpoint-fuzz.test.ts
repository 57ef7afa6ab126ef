/**
 * Fuzzing the checkpoint readers (zip, pickle, safetensors) with a fixed seed: every truncation of
 * small checkpoints, and random byte flips, of our own torch.save/safetensors files and of the real
 * PyTorch-made checkpoint in ../shared. Every input must end in a BadCheckpointError or a reader whose
 * tensors can all be read, within a time bound; nothing may hang, crash or throw anything untyped.
 */
import { closeSync, ftruncateSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BadCheckpointError } from '../../sdk/src/errors.js';
import { mulberry32 } from '../../sdk/src/model/random.js';
import { sharedFile, tempDir } from '../../sdk/test/helpers.js';
import { readPickle } from '../src/checkpoint/pickle.js';
import { PyTorchReader } from '../src/checkpoint/pytorch.js';
import { SafetensorsReader } from '../src/checkpoint/safetensors.js';
import { rowCount, type CheckpointReader } from '../src/checkpoint/tensor-file.js';
import { entryDataOffset, readZipDirectory } from '../src/checkpoint/zip.js';
import { safetensorsBytes, writeTorchFile, type TensorShapes } from './checkpoints.js';

const dir = tempDir();
afterAll(() => dir.remove());

/** Most any one input may take (they take about a millisecond). */
const BOUND_MS = 2_000;
const SEED = 20240611;
const TENSORS: TensorShapes = [['a', [3, 4]], ['b', [4]], ['c', [2, 2, 2]], ['d', [0, 5]]];

interface Tally {
  inputs: number;
  rejected: number;
  accepted: number;
  maxMs: number;
  /** Inputs that ended badly: an untyped error, or too slow. */
  bad: string[];
}

const tallies = new Map<string, Tally>();

async function attempt(suite: string, label: string, run: () => Promise<unknown> | unknown): Promise<void> {
  let t = tallies.get(suite);
  if (!t) tallies.set(suite, (t = { inputs: 0, rejected: 0, accepted: 0, maxMs: 0, bad: [] }));
  t.inputs++;
  const start = performance.now();
  try {
    await run();
    t.accepted++;
  } catch (error) {
    if (error instanceof BadCheckpointError) t.rejected++;
    else t.bad.push(`${label}: ${(error as Error)?.name}: ${(error as Error)?.message}`);
  }
  const ms = performance.now() - start;
  t.maxMs = Math.max(t.maxMs, ms);
  if (ms > BOUND_MS) t.bad.push(`${label}: took ${ms.toFixed(0)} ms`);
}

/** Opens, reads every tensor (all rows, or the first and last for big files), closes. */
async function readAll(reader: CheckpointReader, allRows: boolean): Promise<void> {
  try {
    for (const t of reader.tensors()) {
      const rows = rowCount(t.shape);
      if (allRows || rows <= 2) await reader.readRows(t.name, 0, rows);
      else {
        await reader.readRows(t.name, 0, 1);
        await reader.readRows(t.name, rows - 1, 1);
      }
    }
  } finally {
    await reader.close();
  }
}

/** Random flips: 1–4 bytes at positions drawn by `position`, each XORed with a non-zero byte. */
function* flips(count: number, position: (next: () => number) => number): Generator<{ label: string; changes: [number, number][] }> {
  const next = mulberry32(SEED);
  for (let i = 0; i < count; i++) {
    const changes: [number, number][] = [];
    const n = 1 + Math.floor(next() * 4);
    for (let k = 0; k < n; k++) changes.push([position(next), 1 + Math.floor(next() * 255)]);
    yield { label: `flip@${changes.map(([p]) => p).join(',')}`, changes };
  }
}

/** A copy of `bytes` with the flips applied. */
function flipped(bytes: Uint8Array, changes: [number, number][]): Uint8Array {
  const out = new Uint8Array(bytes); // a copy (a Buffer's own slice() would be a view)
  for (const [p, x] of changes) out[p] = out[p]! ^ x;
  return out;
}

/** Applies (or, applied again, undoes) flips in place in an open file whose bytes are `original`. */
function flipInFile(fd: number, original: Uint8Array, changes: [number, number][], undo: boolean): void {
  const list = undo ? [...changes].reverse() : changes;
  const current = new Map<number, number>();
  for (const [p, x] of changes) current.set(p, (current.get(p) ?? original[p]!) ^ x);
  for (const [p] of list) writeSync(fd, Uint8Array.of(undo ? original[p]! : current.get(p)!), 0, 1, p);
}

function report(suite: string): void {
  const t = tallies.get(suite)!;
  console.log(`[fuzz] ${suite}: ${t.inputs} inputs, ${t.rejected} rejected with BadCheckpointError, ${t.accepted} read whole, max ${t.maxMs.toFixed(1)} ms`);
  expect(t.bad.slice(0, 10)).toEqual([]);
  expect(t.maxMs).toBeLessThan(BOUND_MS);
}

describe('checkpoint readers under fuzzing (seed 20240611)', () => {
  it('our torch.save file: every truncation and 3,000 random flips', async () => {
    const whole = join(dir.path, 'whole.bin');
    await writeTorchFile(whole, TENSORS);
    const bytes = new Uint8Array(readFileSync(whole));
    const file = join(dir.path, 'fuzz.bin');
    const suite = `torch.save (${bytes.length} bytes)`;
    for (let cut = 0; cut < bytes.length; cut++) {
      writeFileSync(file, bytes.subarray(0, cut));
      await attempt(suite, `cut@${cut}`, async () => readAll(await PyTorchReader.open([file]), true));
    }
    for (const { label, changes } of flips(3000, (next) => Math.floor(next() * bytes.length))) {
      writeFileSync(file, flipped(bytes, changes));
      await attempt(suite, label, async () => readAll(await PyTorchReader.open([file]), true));
    }
    report(suite);
  });

  it('our safetensors file: every truncation and 3,000 random flips', async () => {
    const bytes = new Uint8Array(safetensorsBytes(TENSORS));
    const file = join(dir.path, 'fuzz.safetensors');
    const suite = `safetensors (${bytes.length} bytes)`;
    for (let cut = 0; cut < bytes.length; cut++) {
      writeFileSync(file, bytes.subarray(0, cut));
      await attempt(suite, `cut@${cut}`, async () => readAll(await SafetensorsReader.open([file]), true));
    }
    for (const { label, changes } of flips(3000, (next) => Math.floor(next() * bytes.length))) {
      writeFileSync(file, flipped(bytes, changes));
      await attempt(suite, label, async () => readAll(await SafetensorsReader.open([file]), true));
    }
    report(suite);
  });

  const realTorch = sharedFile('reference/baichuan-tiny/pytorch_model.bin');
  const realSafetensors = sharedFile('reference/baichuan-tiny/model.safetensors');

  it.skipIf(!realTorch)("PyTorch's own data.pkl: every truncation and 5,000 random flips", async () => {
    const handle = await open(realTorch!, 'r');
    const zip = await readZipDirectory(handle, realTorch!);
    const entry = [...zip.values()].find((e) => e.name.endsWith('data.pkl'))!;
    const pkl = Buffer.alloc(entry.size);
    await handle.read(pkl, 0, pkl.length, await entryDataOffset(handle, entry, realTorch!));
    await handle.close();
    const suite = `PyTorch data.pkl (${pkl.length} bytes)`;
    expect(readPickle(pkl)).toBeInstanceOf(Map);
    for (let cut = 0; cut < pkl.length; cut++) await attempt(suite, `cut@${cut}`, () => readPickle(pkl.subarray(0, cut)));
    for (const { label, changes } of flips(5000, (next) => Math.floor(next() * pkl.length))) {
      const mutated = flipped(pkl, changes);
      await attempt(suite, label, () => readPickle(mutated));
    }
    report(suite);
  });

  it.skipIf(!realTorch)("PyTorch's own checkpoint: every truncation inside its zip directory, 2,000 flips in its metadata", async () => {
    const original = readFileSync(realTorch!);
    const size = original.length;
    const file = join(dir.path, 'real.bin');
    writeFileSync(file, original);
    const handle = await open(file, 'r');
    const zip = await readZipDirectory(handle, file);
    await handle.close();
    const pkl = [...zip.values()].find((e) => e.name.endsWith('data.pkl'))!;
    const firstStorage = Math.min(...[...zip.values()].filter((e) => e !== pkl).map((e) => e.localHeaderOffset));
    const directoryStart = Math.max(...[...zip.values()].map((e) => e.limit));
    const suite = `PyTorch checkpoint (${size} bytes; directory ${size - directoryStart} bytes, data.pkl region ${firstStorage} bytes)`;
    const fd = openSync(file, 'r+');
    try {
      for (let cut = directoryStart; cut < size; cut++) {
        ftruncateSync(fd, cut);
        await attempt(suite, `cut@${cut}`, async () => readAll(await PyTorchReader.open([file]), false));
        writeSync(fd, original, cut, size - cut, cut);
      }
      // Flips where the metadata is: data.pkl and its header, and the directory at the end.
      const metadata = firstStorage + (size - directoryStart);
      const where = (next: () => number) => {
        const p = Math.floor(next() * metadata);
        return p < firstStorage ? p : directoryStart + (p - firstStorage);
      };
      for (const { label, changes } of flips(2000, where)) {
        flipInFile(fd, original, changes, false);
        await attempt(suite, label, async () => readAll(await PyTorchReader.open([file]), false));
        flipInFile(fd, original, changes, true);
      }
    } finally {
      closeSync(fd);
    }
    expect(readFileSync(file).equals(original)).toBe(true); // every flip and cut was undone
    report(suite);
  });

  it.skipIf(!realSafetensors)('the real safetensors file: every truncation inside its header, 2,000 flips in its header', async () => {
    const original = readFileSync(realSafetensors!);
    const headerEnd = 8 + Number(original.readBigUInt64LE(0));
    const file = join(dir.path, 'real.safetensors');
    const suite = `real safetensors (${original.length} bytes; header ${headerEnd} bytes)`;
    for (let cut = 0; cut <= headerEnd; cut++) {
      writeFileSync(file, original.subarray(0, cut));
      await attempt(suite, `cut@${cut}`, async () => readAll(await SafetensorsReader.open([file]), false));
    }
    writeFileSync(file, original);
    const fd = openSync(file, 'r+');
    try {
      for (const { label, changes } of flips(2000, (next) => Math.floor(next() * headerEnd))) {
        flipInFile(fd, original, changes, false);
        await attempt(suite, label, async () => readAll(await SafetensorsReader.open([file]), false));
        flipInFile(fd, original, changes, true);
      }
    } finally {
      closeSync(fd);
    }
    expect(readFileSync(file).equals(original)).toBe(true); // every flip and cut was undone
    report(suite);
  });
});
