/**
 * Writes an artifact in MLC's layout, streaming: tensors are appended to the current shard and each
 * shard goes to disk (with its MD5 for MLC and SHA-256 for browsers) once it reaches the shard size,
 * so memory holds at most one shard. Everything is written into a hidden sibling directory that is
 * renamed into place only when complete: an interrupted run never leaves an artifact that looks whole.
 */
import { createHash } from 'node:crypto';
import { mkdir, rename, rm, writeFile, copyFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CHAT_CONFIG_FILE, TENSOR_CACHE_FILE, type ChatConfigJson, type ShardRecord, type TensorCacheJson } from '../model/artifact.js';
import type { EncodedTensor } from '../model/encode.js';

export const DEFAULT_SHARD_BYTES = 32 * 1024 * 1024;

export class ArtifactWriter {
  private readonly shards: ShardRecord[] = [];
  private pending: EncodedTensor[] = [];
  private pendingBytes = 0;
  private params = 0;
  private totalBytes = 0;
  readonly tmpDir: string;

  private constructor(
    readonly outDir: string,
    private readonly shardBytes: number,
  ) {
    this.tmpDir = join(dirname(outDir), `.${basename(outDir)}.partial-${process.pid}`);
  }

  static async create(outDir: string, shardBytes = DEFAULT_SHARD_BYTES): Promise<ArtifactWriter> {
    const writer = new ArtifactWriter(outDir, shardBytes);
    await rm(writer.tmpDir, { recursive: true, force: true });
    await mkdir(writer.tmpDir, { recursive: true });
    return writer;
  }

  async add(tensor: EncodedTensor, paramCount = 0): Promise<void> {
    if (this.pendingBytes > 0 && this.pendingBytes + tensor.bytes.byteLength > this.shardBytes) await this.flush();
    this.pending.push(tensor);
    this.pendingBytes += tensor.bytes.byteLength;
    this.params += paramCount;
  }

  /** Copies a file (the tokenizer) into the artifact. */
  async copyFile(from: string, name: string): Promise<void> {
    await copyFile(from, join(this.tmpDir, name));
  }

  async writeText(name: string, text: string): Promise<void> {
    await writeFile(join(this.tmpDir, name), text);
  }

  private async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const dataPath = `params_shard_${this.shards.length}.bin`;
    const data = new Uint8Array(this.pendingBytes);
    const record: ShardRecord = { dataPath, format: 'raw-shard', nbytes: this.pendingBytes, records: [] };
    let offset = 0;
    for (const t of this.pending) {
      data.set(t.bytes, offset);
      record.records.push({ name: t.name, shape: t.shape, dtype: t.dtype, format: 'raw', nbytes: t.bytes.byteLength, byteOffset: offset });
      offset += t.bytes.byteLength;
    }
    record.md5sum = createHash('md5').update(data).digest('hex');
    record.sha256 = createHash('sha256').update(data).digest('hex');
    await writeFile(join(this.tmpDir, dataPath), data);
    this.shards.push(record);
    this.totalBytes += this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
  }

  /** Writes the JSON files and moves the finished artifact into place (replacing an old one). */
  async finish(chatConfig: ChatConfigJson): Promise<TensorCacheJson> {
    await this.flush();
    const cache: TensorCacheJson = {
      metadata: { ParamSize: this.params, ParamBytes: this.totalBytes, BitsPerParam: this.params ? (8 * this.totalBytes) / this.params : 0 },
      records: this.shards,
    };
    await this.writeText(TENSOR_CACHE_FILE, JSON.stringify(cache, null, 1));
    await this.writeText(CHAT_CONFIG_FILE, JSON.stringify(chatConfig, null, 2));
    const exists = await stat(this.outDir).then(() => true, () => false);
    if (exists) await rm(this.outDir, { recursive: true, force: true });
    await mkdir(dirname(this.outDir), { recursive: true });
    await rename(this.tmpDir, this.outDir);
    return cache;
  }

  /** Removes the partial output after a failure. */
  async abort(): Promise<void> {
    await rm(this.tmpDir, { recursive: true, force: true });
  }
}
