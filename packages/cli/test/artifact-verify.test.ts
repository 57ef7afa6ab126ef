/**
 * Loading an artifact directory in Node checks every shard against its hash (SHA-256, else MLC's
 * md5sum), as the browser cache does, and refuses artifacts whose shards have neither.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BadArtifactError, IntegrityError } from '../../sdk/src/errors.js';
import { openArtifact, readTensors, type TensorCacheJson } from '../../sdk/src/model/artifact.js';
import { tempDir } from '../../sdk/test/helpers.js';
import { directorySource } from '../src/fs-source.js';
import { tinyBaichuanConfig, writeRandomModel } from '../src/random-model.js';
import { loadNodeModel } from '../src/runtime.js';
import { tinyTokenizerPieces } from '../src/tiny-tokenizer.js';
import { runCli } from './cli-run.js';

const dir = tempDir();
afterAll(() => dir.remove());

async function model(name: string, edit?: (cache: TensorCacheJson) => TensorCacheJson): Promise<string> {
  const out = join(dir.path, name);
  await writeRandomModel(out, tinyBaichuanConfig({ vocabSize: tinyTokenizerPieces().length }), 'q0f32', 3, 'tiny', 64 * 1024);
  if (edit) {
    const file = join(out, 'tensor-cache.json');
    writeFileSync(file, JSON.stringify(edit(JSON.parse(readFileSync(file, 'utf8')) as TensorCacheJson)));
  }
  return out;
}

function flipByte(file: string, at: number): void {
  const bytes = readFileSync(file);
  bytes[at] = bytes[at]! ^ 0x01;
  writeFileSync(file, bytes);
}

async function readAll(folder: string): Promise<number> {
  const source = directorySource(folder);
  const { cache } = await openArtifact(source);
  let n = 0;
  for await (const _ of readTensors(source, cache)) n++;
  return n;
}

describe('artifact directories in Node', () => {
  it('reads an intact artifact', async () => {
    expect(await readAll(await model('intact'))).toBeGreaterThan(10);
  });

  it('rejects a shard that fails its SHA-256, naming it', async () => {
    const folder = await model('corrupt');
    flipByte(join(folder, 'params_shard_1.bin'), 100);
    const error = await readAll(folder).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IntegrityError);
    expect((error as Error).message).toMatch(/params_shard_1\.bin: its sha256 is [0-9a-f]{64}, but tensor-cache\.json says [0-9a-f]{64}/);
  });

  it('checks md5sum when that is all the artifact has (as MLC writes them)', async () => {
    const folder = await model('md5only', (c) => ({ ...c, records: c.records.map(({ sha256: _, ...r }) => r) }));
    expect(await readAll(folder)).toBeGreaterThan(10);
    flipByte(join(folder, 'params_shard_0.bin'), 7);
    await expect(readAll(folder)).rejects.toThrow(/params_shard_0\.bin: its md5 is [0-9a-f]{32}, but tensor-cache\.json says/);
  });

  it('refuses an artifact whose shards have neither hash, before asking for a GPU', async () => {
    const folder = await model('nohash', (c) => ({ ...c, records: c.records.map(({ sha256: _s, md5sum: _m, ...r }) => r) }));
    const error = await loadNodeModel(folder).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadArtifactError);
    expect((error as Error).message).toMatch(/params_shard_0\.bin has neither sha256 nor md5sum/);
  });

  it('`webchuan generate` on a corrupt shard exits 1 naming the shard', async () => {
    const folder = await model('cli-corrupt');
    flipByte(join(folder, 'params_shard_0.bin'), 3);
    const result = await runCli('generate', '--model', folder, '--prompt', 'hi', '--max-tokens', '2');
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toMatch(/params_shard_0\.bin: its sha256 is/);
    expect(result.stdout).toBe('');
  });
});
