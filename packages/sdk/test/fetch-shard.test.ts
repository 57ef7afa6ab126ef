/**
 * One shard's download loop (store/fetch-shard.ts) against the misbehaving artifact server of the
 * browser tests, served by Node's own HTTP server on localhost: what the error says when a server
 * keeps sending something other than the shard. (The loop itself — resume, retries, IndexedDB — is
 * covered in Chromium by store.browser.test.ts; here only its messages, with no browser to start.)
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IntegrityError } from '../src/errors.js';
import { fetchShard, type PartialStore } from '../src/store/fetch-shard.js';
import { faultyArtifactServer } from './browser/fault-server.js';
import { tempDir } from './helpers.js';

const SHARD_BYTES = 36_000;

/** Partial bytes kept in memory between attempts, as IndexedDB keeps them in a browser. */
function memoryPartial(): PartialStore {
  let kept: Uint8Array | undefined;
  return { load: async () => kept, save: async (b) => void (kept = b), drop: async () => void (kept = undefined) };
}

describe('a shard the server keeps sending wrong', () => {
  const dir = tempDir();
  const artifacts = faultyArtifactServer(dir.path);
  let server: Server;
  let origin: string;
  const bytes = new Uint8Array(SHARD_BYTES).map((_, i) => (i * 31) & 0xff);
  const shard = { dataPath: 'params_shard_0.bin', nbytes: SHARD_BYTES, sha256: createHash('sha256').update(bytes).digest('hex') };

  beforeAll(async () => {
    mkdirSync(join(dir.path, 'm'));
    writeFileSync(join(dir.path, 'm', 'params_shard_0.bin'), bytes);
    server = createServer((req, res) => artifacts.middleware(req, res, () => ((res.statusCode = 404), res.end())));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => {
    server.close();
    dir.remove();
  });

  const fetchIt = () => fetchShard(`${origin}/artifacts/m/params_shard_0.bin`, shard, memoryPartial(), { maxIntegrityFailures: 3 }, () => undefined);

  it('20 times the shard\'s size (70 MB for a 3.6 MB shard, scaled down): says what it sent, not "a corrupt copy"', async () => {
    artifacts.faults.pad.set('m/params_shard_0.bin', 19 * SHARD_BYTES);
    try {
      const error = await fetchIt().then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(IntegrityError);
      const message = (error as Error).message;
      expect(message).toContain(`the server sent ${20 * SHARD_BYTES} bytes (its Content-Length) for a shard of ${SHARD_BYTES} bytes`);
      expect(message).toMatch(/another file at this URL, or the artifact's tensor-cache\.json is out of date/);
      expect(message).not.toMatch(/corrupt copy/);
    } finally {
      artifacts.faults.pad.clear();
    }
    // It stopped reading each response just past the shard's size, and tried a bounded number of times.
    expect(artifacts.log.filter((r) => r.file === 'm/params_shard_0.bin')).toHaveLength(3);
  });

  it('the right size with other bytes: names the hash it got and the one tensor-cache.json gives', async () => {
    artifacts.faults.corrupt.set('m/params_shard_0.bin', 10);
    try {
      const error = await fetchIt().then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(IntegrityError);
      expect((error as Error).message).toMatch(new RegExp(`the ${SHARD_BYTES} bytes it sent have the sha256 [0-9a-f]{64}, but tensor-cache\\.json says ${shard.sha256}`));
    } finally {
      artifacts.faults.corrupt.clear();
    }
  });

  it('and the shard itself, served as it is, downloads', async () => {
    expect(await fetchIt()).toEqual(bytes);
  });
});
