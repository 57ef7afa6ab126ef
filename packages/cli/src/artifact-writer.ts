/**
 * Writes an artifact in MLC's layout, streaming: tensor bytes go straight to the current shard file
 * (hashed as they pass, MD5 for MLC and SHA-256 for browsers), so memory never holds more than the
 * block being written. A shard is closed once it reaches the shard size; a tensor larger than a
 * shard gets one of its own. Everything is written into a hidden sibling directory that is renamed
 * into place only when complete: an interrupted run never leaves an artifact that looks whole, and
 * a signal removes the hidden directory (interrupt.ts). The output path is checked first
 * (output-dir.ts): only a new path, an empty folder or one of our artifacts is ever replaced.
 */
import { createHash, type Hash } from 'node:crypto';
import { open, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { CHAT_CONFIG_FILE, TENSOR_CACHE_FILE, type ChatConfigJson, type ShardRecord, type TensorCacheJson } from '../../sdk/src/model/artifact.js';
import { readRegularFile } from './input-file.js';
import { removeIfInterrupted } from './interrupt.js';
import { checkOutput, makeStagingFolder, moveIntoPlace } from './output-dir.js';

export const DEFAULT_SHARD_BYTES = 32 * 1024 * 1024;

export interface TensorMeta {
  name: string;
  shape: number[];
  dtype: 'float32' | 'float16' | 'uint32';
  nbytes: number;
  /** How the bytes hold the dtype: 'raw' (default), or MLC's 'f32-to-bf16' (float32 stored as bfloat16). */
  format?: 'raw' | 'f32-to-bf16';
}

interface OpenShard {
  record: ShardRecord;
  handle: FileHandle;
  md5: Hash;
  sha256: Hash;
}

export class ArtifactWriter {
  private readonly shards: ShardRecord[] = [];
  private current: OpenShard | undefined;
  private params = 0;
  private totalBytes = 0;
  private readonly untrack: () => void;

  private constructor(
    readonly outDir: string,
    private readonly shardBytes: number,
    private readonly inputs: readonly string[],
    readonly tmpDir: string,
  ) {
    this.untrack = removeIfInterrupted(tmpDir);
  }

  /** `inputs`: the files and folders being converted, which the output must never replace. */
  static async create(outDir: string, shardBytes = DEFAULT_SHARD_BYTES, inputs: readonly string[] = []): Promise<ArtifactWriter> {
    checkOutput(outDir, inputs);
    return new ArtifactWriter(outDir, shardBytes, inputs, makeStagingFolder(outDir));
  }

  /** Writes one tensor whose bytes arrive in `chunks` (which must add up to meta.nbytes). */
  async addTensor(meta: TensorMeta, chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, paramCount = 0): Promise<void> {
    if (this.current && this.current.record.nbytes > 0 && this.current.record.nbytes + meta.nbytes > this.shardBytes) await this.closeShard();
    const shard = this.current ?? (await this.openShard());
    const byteOffset = shard.record.nbytes;
    let written = 0;
    for await (const chunk of chunks) {
      await shard.handle.write(chunk);
      shard.md5.update(chunk);
      shard.sha256.update(chunk);
      written += chunk.byteLength;
    }
    if (written !== meta.nbytes) throw new Error(`${meta.name}: wrote ${written} bytes, expected ${meta.nbytes}`);
    shard.record.records.push({ name: meta.name, shape: meta.shape, dtype: meta.dtype, format: meta.format ?? 'raw', nbytes: meta.nbytes, byteOffset });
    shard.record.nbytes += meta.nbytes;
    this.params += paramCount;
  }

  private async openShard(): Promise<OpenShard> {
    const dataPath = `params_shard_${this.shards.length}.bin`;
    this.current = {
      record: { dataPath, format: 'raw-shard', nbytes: 0, records: [] },
      handle: await open(join(this.tmpDir, dataPath), 'w'),
      md5: createHash('md5'),
      sha256: createHash('sha256'),
    };
    return this.current;
  }

  private async closeShard(): Promise<void> {
    const shard = this.current;
    if (!shard) return;
    await shard.handle.close();
    shard.record.md5sum = shard.md5.digest('hex');
    shard.record.sha256 = shard.sha256.digest('hex');
    this.shards.push(shard.record);
    this.totalBytes += shard.record.nbytes;
    this.current = undefined;
  }

  /** Copies a file (the tokenizer) into the artifact; only a regular file is read (a FIFO would block). */
  async copyFile(from: string, name: string): Promise<void> {
    await this.writeFile(name, await readRegularFile(from));
  }

  /** Writes a small file (a tokenizer, a config) into the artifact. */
  async writeFile(name: string, data: Uint8Array | string): Promise<void> {
    await writeFile(join(this.tmpDir, name), data, { flag: 'wx' });
  }

  /** Writes the JSON files and moves the finished artifact into place (replacing an old one). */
  async finish(chatConfig: ChatConfigJson): Promise<TensorCacheJson> {
    await this.closeShard();
    const cache: TensorCacheJson = {
      metadata: { ParamSize: this.params, ParamBytes: this.totalBytes, BitsPerParam: this.params ? (8 * this.totalBytes) / this.params : 0 },
      records: this.shards,
    };
    await writeFile(join(this.tmpDir, TENSOR_CACHE_FILE), JSON.stringify(cache, null, 1));
    await writeFile(join(this.tmpDir, CHAT_CONFIG_FILE), JSON.stringify(chatConfig, null, 2));
    moveIntoPlace(this.tmpDir, this.outDir, this.inputs);
    this.untrack();
    return cache;
  }

  /** Removes the partial output after a failure. */
  async abort(): Promise<void> {
    await this.current?.handle.close().catch(() => undefined);
    this.current = undefined;
    await rm(this.tmpDir, { recursive: true, force: true });
    this.untrack();
  }
}
