/**
 * `webchuan convert --out`: the output may only ever replace one of our own artifacts, never the
 * user's files, the checkpoint being read, or a folder above it; an artifact is replaced whole; a
 * run killed by any terminating signal it can handle leaves no hidden `.partial` folder behind, and
 * one killed by SIGKILL has its partial removed by the next run (only ours). All through the real CLI.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { constants, hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../sdk/test/helpers.js';
import { runCli, snapshot, startCli, type CliResult } from './cli-run.js';
import { safetensorsCheckpoint, TINY, torchCheckpoint } from './checkpoints.js';

const dir = tempDir();
afterAll(() => dir.remove());

let n = 0;
/** A fresh folder to hold one test's output, so its hidden siblings can be listed. */
function parent(): string {
  const p = join(dir.path, `case-${n++}`);
  mkdirSync(p);
  return p;
}

const hidden = (folder: string) => readdirSync(folder).filter((f) => f.startsWith('.'));

/** Runs a conversion that must be refused: exit 1, a message naming `out`, nothing changed. */
async function expectRefused(source: string, out: string, message: RegExp, watch: string[] = [out, source]): Promise<void> {
  const before = watch.map(snapshot);
  const result = await runCli('convert', source, '--quant', 'q0f32', '--out', out);
  expect(result.code, result.stderr).toBe(1);
  expect(result.stderr).toMatch(message);
  expect(watch.map(snapshot)).toEqual(before);
  expect(hidden(dirname(out))).toEqual([]);
}

describe('convert --out', () => {
  const source = safetensorsCheckpoint(dir.path, 'source');

  it('refuses a folder of the user’s own files, leaving every one of them byte-identical', async () => {
    const out = join(parent(), 'my-stuff');
    mkdirSync(join(out, 'photos'), { recursive: true });
    writeFileSync(join(out, 'notes.txt'), 'mine');
    writeFileSync(join(out, 'photos', 'a.jpg'), Buffer.from([1, 2, 3]));
    await expectRefused(source, out, /my-stuff.*not a webchuan artifact.*notes\.txt/s);
  });

  it('refuses an existing regular file', async () => {
    const out = join(parent(), 'report.pdf');
    writeFileSync(out, 'a document');
    await expectRefused(source, out, /report\.pdf.*not a folder/);
  });

  it('refuses the checkpoint folder itself, the folder above it, and a symlink to the checkpoint', async () => {
    const model = safetensorsCheckpoint(parent(), 'model');
    await expectRefused(model, model, /is the checkpoint|holds the checkpoint/, [dirname(model)]);
    await expectRefused(model, dirname(model), /holds the checkpoint/, [dirname(model)]);
    const link = join(parent(), 'link');
    symlinkSync(model, link);
    await expectRefused(model, link, /is the checkpoint|symbolic link/, [dirname(model), link]);
    await expectRefused(model, join(model, 'model.safetensors'), /is the checkpoint|not a folder/, [dirname(model)]);
  });

  it('refuses an artifact folder that also holds a file of the user’s', async () => {
    const out = join(parent(), 'artifact');
    expect((await runCli('convert', source, '--quant', 'q0f32', '--out', out)).code).toBe(0);
    writeFileSync(join(out, 'README.md'), 'my notes about this model');
    await expectRefused(source, out, /not a webchuan artifact.*README\.md/s);
  });

  it('replaces an existing artifact with the new one whole, leaving no hidden folder beside it', async () => {
    const home = parent();
    const out = join(home, 'artifact');
    const other = await torchCheckpoint(dir.path, 'other', undefined, { ...TINY, layers: 2 });
    expect((await runCli('convert', source, '--quant', 'q0f32', '--out', out)).code).toBe(0);
    const result = await runCli('convert', other, '--quant', 'q4f16_1', '--out', out);
    expect(result.code, result.stderr).toBe(0);
    const fresh = join(parent(), 'fresh');
    expect((await runCli('convert', other, '--quant', 'q4f16_1', '--out', fresh)).code).toBe(0);
    expect(snapshot(out)).toEqual(snapshot(fresh));
    expect(readdirSync(home)).toEqual(['artifact']);
  });

  it('writes into an empty existing folder', async () => {
    const out = join(parent(), 'empty');
    mkdirSync(out);
    expect((await runCli('convert', source, '--quant', 'q0f32', '--out', out)).code).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['mlc-chat-config.json', 'params_shard_0.bin', 'tensor-cache.json', 'tokenizer.model']);
  });

  /** A checkpoint big enough that a conversion is still writing when the first progress line appears. */
  let big: string | undefined;
  const bigCheckpoint = () => (big ??= safetensorsCheckpoint(dir.path, 'big', 'F32', { hidden: 256, intermediate: 688, vocab: 4096, layers: 12 }));

  /** Starts converting the big checkpoint to `out` and sends `signal` once parameters are being written. */
  async function convertAndSignal(out: string, signal: NodeJS.Signals): Promise<{ result: CliResult; partialSeen: boolean }> {
    let sent = false;
    let partialSeen = false;
    const result = await startCli(['convert', bigCheckpoint(), '--quant', 'q4f16_1', '--out', out], (stderr, child) => {
      // The first progress line: parameters are being written into the hidden folder.
      if (!sent && /converting\s+[1-9]\d?\.\d%/.test(stderr)) {
        sent = true;
        partialSeen = hidden(dirname(out)).some((f) => f.includes('.partial'));
        child.kill(signal);
      }
    });
    expect(sent, result.stderr).toBe(true);
    return { result, partialSeen };
  }

  // Every terminating signal a process can handle (interrupt.ts lists them all; these are the usual ones).
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR2'] as const) {
    it(`killed by ${signal} mid-conversion, exits 128 + ${constants.signals[signal]}, removes its hidden .partial folder and keeps the old artifact`, async () => {
      const home = parent();
      const out = join(home, 'artifact');
      expect((await runCli('convert', source, '--quant', 'q0f32', '--out', out)).code).toBe(0);
      const before = snapshot(out);
      const { result, partialSeen } = await convertAndSignal(out, signal);
      expect(partialSeen).toBe(true);
      expect(result.signal, result.stderr).toBeNull();
      expect(result.code).toBe(128 + constants.signals[signal]);
      expect(result.stderr).toMatch(/interrupted/);
      expect(readdirSync(home)).toEqual(['artifact']);
      expect(snapshot(out)).toEqual(before);
    });
  }

  it('after SIGKILL (which no process can handle), the next run removes the partial it left — ours only, by its marker', async () => {
    const home = parent();
    const out = join(home, 'artifact');
    expect((await runCli('convert', source, '--quant', 'q0f32', '--out', out)).code).toBe(0);
    const { result } = await convertAndSignal(out, 'SIGKILL');
    expect(result.signal).toBe('SIGKILL');
    const left = hidden(home).filter((f) => f.startsWith('.artifact.partial-'));
    expect(left).toHaveLength(1);
    // Folders with our names that are not ours to delete: no marker, a marker of a process that still
    // runs (this one), a marker from another machine, and a set-aside folder holding a user's file.
    const gone = spawnSync(process.execPath, ['-e', '']).pid!; // a process that has ended
    const keep: Record<string, Record<string, string>> = {
      '.artifact.partial-nomark': { 'notes.txt': 'mine' },
      '.artifact.partial-alive1': { '.webchuan-partial': JSON.stringify({ writer: 'webchuan', pid: process.pid, host: hostname(), started: '' }), 'x.bin': 'x' },
      '.artifact.partial-other1': { '.webchuan-partial': JSON.stringify({ writer: 'webchuan', pid: gone, host: 'another-machine', started: '' }) },
      [`.artifact.old-${gone}-7`]: { 'params_shard_0.bin': 'x', 'my-notes.txt': 'mine' },
    };
    for (const [name, files] of Object.entries(keep)) {
      mkdirSync(join(home, name));
      for (const [file, text] of Object.entries(files)) writeFileSync(join(home, name, file), text);
    }
    // A set-aside old artifact of a run killed while deleting it (the swap was done: `out` is whole).
    mkdirSync(join(home, `.artifact.old-${gone}-0`));
    writeFileSync(join(home, `.artifact.old-${gone}-0`, 'params_shard_3.bin'), 'x');
    const kept = Object.keys(keep).map((name) => snapshot(join(home, name)));
    const again = await runCli('convert', source, '--quant', 'q0f32', '--out', out);
    expect(again.code, again.stderr).toBe(0);
    expect(hidden(home).sort()).toEqual(Object.keys(keep).sort());
    expect(Object.keys(keep).map((name) => snapshot(join(home, name)))).toEqual(kept);
  });
});
