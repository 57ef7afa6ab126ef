/** The model catalog in models/ states sizes that the code that writes and loads models agrees with. */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BAICHUAN_7B } from '../../sdk/src/model/config.js';
import { artifactShardBytes } from '../../sdk/src/model/memory.js';
import { gpuMemoryBytes } from '../../sdk/src/gpu/limits.js';
import { tinyBaichuanConfig, writeRandomModel } from '../src/random-model.js';
import { tinyTokenizerPieces } from '../src/tiny-tokenizer.js';
import type { Quantization } from '../../sdk/src/model/quant.js';
import { REPO_ROOT, tempDir } from '../../sdk/test/helpers.js';

interface CatalogModel {
  id: string;
  url: string;
  quantization: Quantization;
  sizeBytes: number;
  contextWindow: number;
  gpuMemoryBytes: number;
  requiredFeatures: string[];
}

const catalog = JSON.parse(readFileSync(join(REPO_ROOT, 'models/catalog.json'), 'utf8')) as { models: CatalogModel[] };
const dir = tempDir();
afterAll(() => dir.remove());

describe('models/catalog.json', () => {
  it('lists Baichuan-7B first, with the shard bytes and GPU memory its q4f16_1 artifact needs', () => {
    const [first] = catalog.models;
    expect(first!.id).toBe('baichuan-7b-q4f16_1');
    expect(first!.sizeBytes).toBe(artifactShardBytes(BAICHUAN_7B, 'q4f16_1'));
    expect(first!.sizeBytes).toBeGreaterThan(3.9e9);
    expect(first!.gpuMemoryBytes).toBe(gpuMemoryBytes(BAICHUAN_7B, 'q4f16_1', first!.contextWindow));
    expect(first!.requiredFeatures).toEqual([]); // f16 scales are unpacked in the shader
  });

  it("states the tiny default model's size exactly as the generator writes it", async () => {
    const tiny = catalog.models.find((m) => m.id === 'tiny-random')!;
    const out = join(dir.path, 'tiny');
    await writeRandomModel(out, tinyBaichuanConfig({ vocabSize: tinyTokenizerPieces().length }), tiny.quantization, 7, 'tiny');
    const shards = readdirSync(out).filter((f) => f.endsWith('.bin')).reduce((n, f) => n + statSync(join(out, f)).size, 0);
    expect(tiny.sizeBytes).toBe(shards);
  });
});
