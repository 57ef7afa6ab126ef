/**
 * Fetches one shard: resumes after cuts with HTTP Range, re-fetches after a failed hash, and gives up
 * after a bounded number of requests with an error that says what the server sent.
 *
 * Progress means holding more bytes of the shard than before the request. A 200 reply to a Range
 * request restarts from byte 0 (the server ignored the Range): it is progress only if it gets further
 * than the bytes already kept, which are kept otherwise. Requests per shard are counted in total too,
 * so a host that keeps sending the same truncated file, or a little more each time, cannot keep the
 * loop (and its IndexedDB writes) going.
 */
import { concatBytes } from '../model/arrays.js';
import { AbortError, IntegrityError, ModelNotFoundError, NetworkError } from '../errors.js';
import { checkedResponse } from './responses.js';
import { checkShard, type ShardHashes } from './verify.js';

export interface ShardFetchOptions {
  signal?: AbortSignal;
  /** Requests in a row that bring no new byte before giving up. Default 5. */
  maxRetries?: number;
  /** Requests for one shard in all before giving up, whatever they bring. Default 24. */
  maxAttempts?: number;
  /** Times a shard may fail its hash before IntegrityError. Default 3. */
  maxIntegrityFailures?: number;
  fetch?: typeof fetch;
}

export interface ShardToFetch extends ShardHashes {
  nbytes: number;
}

/** Where the shard's partial bytes are kept between attempts (and visits); writes may be refused. */
export interface PartialStore {
  load(): Promise<Uint8Array | undefined>;
  /** Keeps `bytes` as the shard's partial download. */
  save(bytes: Uint8Array): Promise<void>;
  drop(): Promise<void>;
}

export async function fetchShard(url: string, shard: ShardToFetch, partial: PartialStore, options: ShardFetchOptions, onBytes: (received: number) => void): Promise<Uint8Array> {
  const fetchImpl = options.fetch ?? fetch.bind(globalThis);
  const { signal } = options;
  const maxRetries = options.maxRetries ?? 5;
  const maxAttempts = options.maxAttempts ?? 24;
  const maxIntegrity = options.maxIntegrityFailures ?? 3;
  let have = (await partial.load()) ?? new Uint8Array(0);
  if (have.byteLength >= shard.nbytes) have = new Uint8Array(0); // a partial is never whole: stale
  let attempts = 0;
  let stalls = 0;
  let integrityFailures = 0;
  /** What the server did last, for the error that ends the loop. */
  let lastProblem = '';
  let lastError: unknown;
  for (;;) {
    if (signal?.aborted) throw new AbortError();
    if (attempts >= maxAttempts || stalls > maxRetries) {
      const why = attempts >= maxAttempts ? `${attempts} requests` : `${stalls} requests in a row without a new byte`;
      throw new NetworkError(`Gave up downloading ${url} after ${why}: ${lastProblem}`, { cause: lastError });
    }
    attempts++;
    const before = have.byteLength;
    const chunks: Uint8Array[] = [];
    let received = 0;
    let resumed = false;
    let status = 0;
    /** The body's length as the server declared it (Content-Length), when it did. */
    let declared: number | undefined;
    lastError = undefined;
    try {
      const headers: Record<string, string> = before > 0 ? { Range: `bytes=${before}-` } : {};
      let response: Response;
      try {
        response = await fetchImpl(url, { headers, signal, cache: 'no-store' });
      } catch (error) {
        throw new NetworkError(`Could not fetch ${url}: ${(error as Error).message}`, { cause: error });
      }
      response = checkedResponse(url, response);
      status = response.status;
      resumed = before > 0 && status === 206 && !!response.headers.get('Content-Range')?.startsWith(`bytes ${before}-`);
      const length = Number(response.headers.get('Content-Length') ?? NaN);
      declared = Number.isSafeInteger(length) && length >= 0 ? length : undefined;
      if (resumed) chunks.push(have);
      received = resumed ? before : 0;
      onBytes(Math.max(received, before));
      const reader = response.body!.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        received += value.byteLength;
        if (received > shard.nbytes) break; // more bytes than the shard has: the check below rejects them
        onBytes(Math.max(received, before));
      }
    } catch (error) {
      if (signal?.aborted) throw new AbortError();
      if (error instanceof ModelNotFoundError) throw error;
      lastError = error;
    }
    const sent = resumed ? received - before : received;
    const how = status === 0 ? '' : `HTTP ${status}${before > 0 && !resumed ? ', ignoring the Range request' : ''}: `;
    if (received < shard.nbytes) {
      // Cut off. Keep the longer of what we had and what arrived (both are the shard's first bytes).
      lastProblem = `${how}${sent} bytes${resumed ? ` after the ${before} already kept` : ''}, then the response ended, ${received} of ${shard.nbytes} bytes in all${lastError ? ` (${(lastError as Error).message})` : ''}`;
      if (received > before) {
        have = concatBytes(chunks);
        stalls = 0;
        await partial.save(have);
      } else {
        stalls++;
      }
      if (stalls <= maxRetries) await backoff(stalls, signal); // no wait before giving up
      continue;
    }
    const bytes = concatBytes(chunks);
    if (received === shard.nbytes) {
      const check = await checkShard(bytes, shard);
      if (check.ok) return bytes;
      lastProblem = `the ${shard.nbytes} bytes it sent have the ${check.algorithm} ${check.actual}, but tensor-cache.json says ${check.expected}: the server holds a copy that differs from the one the artifact describes (a corrupt or replaced file)`;
    } else {
      // Reading stopped one chunk past the shard's size: say how much the server meant to send.
      const total = declared === undefined ? undefined : (resumed ? before : 0) + declared;
      const sentText = total !== undefined && total >= received ? `${total} bytes (its Content-Length)` : `at least ${received} bytes`;
      lastProblem = `${how}the server sent ${sentText} for a shard of ${shard.nbytes} bytes: it serves another file at this URL, or the artifact's tensor-cache.json is out of date`;
    }
    integrityFailures++;
    have = new Uint8Array(0);
    await partial.drop();
    if (integrityFailures >= maxIntegrity) throw new IntegrityError(url, integrityFailures, `${url} failed its integrity check ${integrityFailures} times: ${lastProblem}.`);
    await backoff(1, signal);
  }
}

/** Waits before a retry: nothing after progress, then 100 ms doubling to 5 s for requests in a row that failed. */
async function backoff(failures: number, signal?: AbortSignal): Promise<void> {
  if (failures === 0) return;
  const ms = Math.min(5000, 100 * 2 ** (failures - 1));
  await new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AbortError());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
