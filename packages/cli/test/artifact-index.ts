/**
 * The index files of an artifact without its weights: mlc-chat-config.json and tensor-cache.json as
 * `webchuan convert` would write them for a config (the converter's parameter specs and storage
 * layout, shard by shard), but no shard files. Enough for what reads only the index: `compile-lib`
 * and `check-lib` at Baichuan-7B's real shapes, where writing 3.8 GB of weights would prove nothing more.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildChatConfig, CHAT_CONFIG_FILE, TENSOR_CACHE_FILE, type TensorCacheJson } from '../../sdk/src/model/artifact.js';
import type { ModelConfig } from '../../sdk/src/model/config.js';
import { paramLayout } from '../../sdk/src/model/encode.js';
import { paramSpecs } from '../../sdk/src/model/params.js';
import type { Quantization } from '../../sdk/src/model/quant.js';
import { DEFAULT_SHARD_BYTES } from '../src/artifact-writer.js';

export function writeArtifactIndex(dir: string, config: ModelConfig, quantization: Quantization): void {
  const shards: TensorCacheJson['records'] = [];
  let shard: TensorCacheJson['records'][number] | undefined;
  for (const spec of paramSpecs(config)) {
    const layout = paramLayout(spec, quantization);
    for (const t of [layout.main, layout.scales]) {
      if (!t) continue;
      if (!shard || shard.nbytes + t.nbytes > DEFAULT_SHARD_BYTES) {
        shard = { dataPath: `params_shard_${shards.length}.bin`, format: 'raw-shard', nbytes: 0, records: [] };
        shards.push(shard);
      }
      shard.records.push({ name: t.name, shape: [...t.shape], dtype: t.dtype, format: 'raw', nbytes: t.nbytes, byteOffset: shard.nbytes });
      shard.nbytes += t.nbytes;
    }
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, CHAT_CONFIG_FILE), JSON.stringify(buildChatConfig(config, quantization, { tokenizerFiles: [] }), null, 2));
  writeFileSync(join(dir, TENSOR_CACHE_FILE), JSON.stringify({ metadata: {}, records: shards }, null, 2));
}
