/** The model catalog in models/ states sizes that the code that writes and loads models agrees with. */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BAICHUAN_7B } from '../../sdk/src/model/config.js';
import { artifactShardBytes } from '../../sdk/src/model/memory.js';
import { gpuMemoryBytes } from '../../sdk/src/gpu/limits.js';
import { artifactBytes, parseChatConfig, parseTensorCache, type ChatConfigJson } from '../../sdk/src/model/artifact.js';
import { engineFit } from '../../sdk/src/engine/requirements.js';
import type { Quantization } from '../../sdk/src/model/quant.js';
import { REPO_ROOT } from '../../sdk/test/helpers.js';

interface CatalogModel {
  id: string;
  url: string;
  quantization: Quantization;
  sizeBytes: number;
  contextWindow: number;
  gpuMemoryBytes: number;
  requiredFeatures: string[];
  default?: boolean;
  /** A folder of this repository holding the artifact, which the demo's build serves at `url`. */
  artifact?: string;
  license: string;
}

const catalog = JSON.parse(readFileSync(join(REPO_ROOT, 'models/catalog.json'), 'utf8')) as { models: CatalogModel[] };

describe('models/catalog.json', () => {
  it('lists Baichuan-7B first, with the shard bytes and GPU memory its q4f16_1 artifact needs', () => {
    const [first] = catalog.models;
    expect(first!.id).toBe('baichuan-7b-q4f16_1');
    expect(first!.sizeBytes).toBe(artifactShardBytes(BAICHUAN_7B, 'q4f16_1'));
    expect(first!.sizeBytes).toBeGreaterThan(3.9e9);
    expect(first!.gpuMemoryBytes).toBe(gpuMemoryBytes(BAICHUAN_7B, 'q4f16_1', first!.contextWindow));
    expect(first!.requiredFeatures).toEqual([]); // f16 scales are unpacked in the shader
  });

  it('has exactly one default model: the poetry model, whose size and GPU memory are its artifact\'s own', () => {
    expect(catalog.models.filter((m) => m.default).map((m) => m.id)).toEqual(['poetry-q4f32_1']);
    const poetry = catalog.models.find((m) => m.default)!;
    expect(poetry.artifact).toBe('models/poetry/q4f32_1');
    const dir = join(REPO_ROOT, poetry.artifact!);
    const chatConfig = JSON.parse(readFileSync(join(dir, 'mlc-chat-config.json'), 'utf8')) as ChatConfigJson;
    const info = parseChatConfig(chatConfig);
    expect(info.quantization).toBe(poetry.quantization);
    expect(poetry.contextWindow).toBe(info.config.contextWindow);
    const shards = readdirSync(dir).filter((f) => f.endsWith('.bin')).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
    expect(poetry.sizeBytes).toBe(shards);
    expect(poetry.sizeBytes).toBe(artifactBytes(parseTensorCache(JSON.parse(readFileSync(join(dir, 'tensor-cache.json'), 'utf8')))));
    expect(poetry.gpuMemoryBytes).toBe(gpuMemoryBytes(info.config, info.quantization, poetry.contextWindow));
    // The figure the demo's "can this device run it?" card shows comes from the engine's own check.
    expect(poetry.gpuMemoryBytes).toBe(engineFit(chatConfig, { limits: {}, features: [] }, poetry.contextWindow).needs.totalBytes);
    expect(poetry.license).toMatch(/Apache-2\.0/);
  });

  it('points every artifact at a folder that exists, and names no generated model', () => {
    for (const m of catalog.models.filter((m) => m.artifact)) {
      expect(statSync(join(REPO_ROOT, m.artifact!, 'mlc-chat-config.json')).isFile()).toBe(true);
      expect(m.url).toBe(`./models/${m.id}/`); // where the demo's build copies it
    }
    expect(catalog.models.map((m) => m.id)).not.toContain('tiny-random');
  });
});

describe('prebuiltAppConfig (WebLLM\'s name for the catalog)', () => {
  it('lists the catalog\'s models by id, with their URLs, context windows, GPU memory and features', async () => {
    const { prebuiltAppConfig } = await import('../../sdk/src/client/prebuilt.js');
    expect(prebuiltAppConfig.model_list).toEqual(
      catalog.models.map((m) => ({
        model: m.url,
        model_id: m.id,
        vram_required_MB: Math.round((m.gpuMemoryBytes / 2 ** 20) * 100) / 100,
        low_resource_required: m.gpuMemoryBytes < 2 ** 30,
        required_features: m.requiredFeatures,
        overrides: { context_window_size: m.contextWindow },
      })),
    );
  });
});
