/**
 * A static file server for artifacts that misbehaves on request, as real networks and hosts do: it
 * can cut a connection after K bytes, flip one byte of a file, ignore Range requests, serve a file
 * truncated or padded with bytes that are not the file's, answer with an HTML page instead of the
 * file (a single-page app's fallback, a captive portal), or answer slowly. It is a Connect-style middleware, mounted in the Vite server that serves
 * the test page (same origin, no CORS).
 */
import { createReadStream, statSync } from 'node:fs';
import { join, normalize } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface Faults {
  /** For each of the next shard responses, cut the connection after this many body bytes. */
  cutAfter: number[];
  /** Files to serve with one byte flipped, with how many more times to do it. */
  corrupt: Map<string, number>;
  /** Answer Range requests with the whole file (200), as some servers do. */
  ignoreRange: boolean;
  /** Files served cut to this many bytes, as if the host's copy were truncated. */
  truncate: Map<string, number>;
  /** Files served with this many zero bytes after their own (with a Content-Length that says so), as if another file were there. */
  pad: Map<string, number>;
  /** Files answered with an HTML page (200, text/html) instead of their bytes. */
  html: Set<string>;
  /** Answer every missing file with an HTML page (200, text/html), as an SPA host's fallback does. */
  htmlForMissing: boolean;
  /** Milliseconds to wait before answering a shard request. */
  shardDelayMs: number;
}

export interface RequestLog {
  file: string;
  /** The query string of the request ('' when none). */
  query: string;
  range?: string;
  status: number;
  /** Date.now() when the request arrived. */
  at: number;
}

const INDEX_HTML = '<!doctype html>\n<html><head><title>My app</title></head><body><div id="app"></div><script src="/main.js"></script></body></html>\n';

export function faultyArtifactServer(root: string, mount = '/artifacts/') {
  const faults: Faults = { cutAfter: [], corrupt: new Map(), ignoreRange: false, truncate: new Map(), pad: new Map(), html: new Set(), htmlForMissing: false, shardDelayMs: 0 };
  const log: RequestLog[] = [];
  const middleware = (req: IncomingMessage, res: ServerResponse, next: () => void) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (!url.pathname.startsWith(mount)) return next();
    const file = normalize(decodeURIComponent(url.pathname.slice(mount.length)));
    if (file.startsWith('..')) return next();
    const path = join(root, file);
    const at = Date.now();
    const range = req.headers.range;
    let size: number;
    try {
      size = statSync(path).size;
    } catch {
      size = -1;
    }
    if (faults.html.has(file) || (size < 0 && faults.htmlForMissing)) {
      log.push({ file, query: url.search, range, status: 200, at });
      res.statusCode = 200;
      res.setHeader('Content-Type', 'text/html; charset=utf-8');
      res.setHeader('Cache-Control', 'no-store');
      res.end(INDEX_HTML);
      return;
    }
    if (size < 0) {
      log.push({ file, query: url.search, status: 404, at });
      res.statusCode = 404;
      res.end('not found');
      return;
    }
    size = Math.min(size, faults.truncate.get(file) ?? size);
    let start = 0;
    const match = range && !faults.ignoreRange ? /^bytes=(\d+)-$/.exec(range) : null;
    if (match) start = Number(match[1]);
    const padding = faults.pad.get(file) ?? 0;
    const status = match ? 206 : 200;
    log.push({ file, query: url.search, range, status, at });
    res.statusCode = status;
    res.setHeader('Content-Type', 'application/octet-stream');
    res.setHeader('Accept-Ranges', faults.ignoreRange ? 'none' : 'bytes');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Content-Length', String(size - start + padding));
    if (match) res.setHeader('Content-Range', `bytes ${start}-${size - 1}/${size}`);
    const isShard = file.endsWith('.bin');
    const cut = isShard ? faults.cutAfter.shift() : undefined;
    const corruptLeft = faults.corrupt.get(file) ?? 0;
    if (corruptLeft > 0) faults.corrupt.set(file, corruptLeft - 1);
    const send = () => {
      let sent = 0;
      if (size - start <= 0) {
        res.end(padding > 0 ? Buffer.alloc(padding) : undefined);
        return;
      }
      const stream = createReadStream(path, { start, end: size - 1 });
      stream.on('data', (chunk: Buffer | string) => {
        let data = Buffer.from(chunk);
        if (corruptLeft > 0 && sent <= (size - start) / 2 && (size - start) / 2 < sent + data.length) {
          data = Buffer.from(data);
          const at = Math.floor((size - start) / 2) - sent;
          data[at] = data[at]! ^ 0xff;
        }
        if (cut !== undefined && sent + data.length >= cut) {
          stream.destroy();
          // Let the bytes reach the client, then drop the connection mid-body, as a flaky network does.
          res.write(data.subarray(0, cut - sent), () => setTimeout(() => res.socket?.destroy(), 50));
          sent = cut;
          return;
        }
        sent += data.length;
        res.write(data);
      });
      stream.on('end', () => res.end(padding > 0 ? Buffer.alloc(padding) : undefined));
    };
    if (isShard && faults.shardDelayMs > 0) setTimeout(send, faults.shardDelayMs);
    else send();
  };
  return { middleware, faults, log };
}
