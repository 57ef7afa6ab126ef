/**
 * An artifact directory on disk as an ArtifactSource. Every shard is checked against its hash in
 * `tensor-cache.json` as it is read (SHA-256, else MLC's md5sum: the policy of store/verify.ts), so a
 * corrupt or half-copied file fails with an IntegrityError naming it instead of loading as weights.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { LEGACY_TENSOR_CACHE_FILE, parseTensorCache, TENSOR_CACHE_FILE, type ArtifactSource, type ShardRecord } from '../../sdk/src/model/artifact.js';
import { IntegrityError } from '../../sdk/src/errors.js';
import { checkShard, requireShardHashes, type Digests } from '../../sdk/src/store/verify.js';
import { readRegularFile, readRegularText } from './input-file.js';

/** OpenSSL's digests: several times faster than the browser's MD5 in TypeScript. */
const nodeDigests: Digests = {
  sha256: (bytes) => createHash('sha256').update(bytes).digest('hex'),
  md5: (bytes) => createHash('md5').update(bytes).digest('hex'),
};

/** The shard records of the artifact in `dir`, by file name; throws if any shard cannot be verified. */
export async function shardRecords(dir: string): Promise<Map<string, ShardRecord>> {
  // The legacy name only where the current one is absent: a current one that cannot be read is the error.
  const file = existsSync(join(dir, TENSOR_CACHE_FILE)) || !existsSync(join(dir, LEGACY_TENSOR_CACHE_FILE)) ? TENSOR_CACHE_FILE : LEGACY_TENSOR_CACHE_FILE;
  const text = await readRegularText(join(dir, file));
  const cache = parseTensorCache(JSON.parse(text), join(dir, file));
  requireShardHashes(cache.records, join(dir, file));
  return new Map(cache.records.map((s) => [s.dataPath, s]));
}

export function directorySource(dir: string): ArtifactSource {
  let records: Promise<Map<string, ShardRecord>> | undefined;
  return {
    text: (file) => readRegularText(join(dir, file)),
    bytes: async (file) => {
      const path = join(dir, file);
      const bytes = await readRegularFile(path);
      const record = (await (records ??= shardRecords(dir))).get(file);
      if (record) {
        const check = await checkShard(bytes, record, nodeDigests);
        if (!check.ok) {
          throw new IntegrityError(path, 1, `${path}: its ${check.algorithm} is ${check.actual}, but tensor-cache.json says ${check.expected}: the file is corrupt or was changed; convert the model again`);
        }
      }
      return bytes;
    },
  };
}
