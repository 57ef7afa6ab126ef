/**
 * How a shard is checked, in the browser and in Node alike. Policy: a shard is verified against its
 * SHA-256 (`sha256`, which webchuan's converter writes), else against its MD5 (`md5sum`, all that
 * MLC's own artifacts carry); an artifact with a shard that has neither is refused (BadArtifactError)
 * before any shard is downloaded or loaded, since its bytes could not be told from a corrupt copy.
 */
import type { ShardRecord } from '../model/artifact.js';
import { BadArtifactError } from '../errors.js';
import { md5Hex } from './md5.js';

/** The hash fields a shard record may carry. */
export type ShardHashes = Pick<ShardRecord, 'dataPath' | 'sha256' | 'md5sum'>;

export interface Digests {
  sha256(bytes: Uint8Array): Promise<string> | string;
  md5(bytes: Uint8Array): Promise<string> | string;
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** WebCrypto's SHA-256 (native) and our MD5 (WebCrypto has none). */
export const webDigests: Digests = { sha256: sha256Hex, md5: md5Hex };

const HEX = { sha256: /^[0-9a-f]{64}$/i, md5sum: /^[0-9a-f]{32}$/i };

/** Throws BadArtifactError naming the first shard that cannot be verified (no hash, or a malformed one). */
export function requireShardHashes(shards: readonly ShardHashes[], source: string): void {
  for (const s of shards) {
    if (s.sha256 !== undefined && !HEX.sha256.test(String(s.sha256))) throw new BadArtifactError(`${source}: ${s.dataPath} has a malformed sha256 (${String(s.sha256)})`);
    if (s.md5sum !== undefined && !HEX.md5sum.test(String(s.md5sum))) throw new BadArtifactError(`${source}: ${s.dataPath} has a malformed md5sum (${String(s.md5sum)})`);
    if (!s.sha256 && !s.md5sum) {
      throw new BadArtifactError(
        `${source}: ${s.dataPath} has neither sha256 nor md5sum, so a corrupt copy could not be detected; webchuan does not load unverifiable shards. Convert the model again (webchuan convert writes both).`,
      );
    }
  }
}

/** The algorithm and digest a shard is checked against (SHA-256 first). */
export function expectedDigest(s: ShardHashes): { algorithm: 'sha256' | 'md5'; hex: string } {
  if (s.sha256) return { algorithm: 'sha256', hex: s.sha256.toLowerCase() };
  if (s.md5sum) return { algorithm: 'md5', hex: s.md5sum.toLowerCase() };
  throw new BadArtifactError(`${s.dataPath} has neither sha256 nor md5sum`);
}

/** Whether `bytes` are the shard; with the algorithm and both digests for messages. */
export async function checkShard(bytes: Uint8Array, s: ShardHashes, digests: Digests = webDigests): Promise<{ ok: boolean; algorithm: string; expected: string; actual: string }> {
  const { algorithm, hex } = expectedDigest(s);
  const actual = await digests[algorithm](bytes);
  return { ok: actual === hex, algorithm, expected: hex, actual };
}
