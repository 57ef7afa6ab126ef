/**
 * A static file server for the built demo that records every request and can trickle model shards
 * (so a screenshot can catch the download in progress).
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
};

export interface StaticServer {
  origin: string;
  /** Paths requested, in order. */
  log: string[];
  /** Bytes per 50 ms for `.bin` files; 0 = full speed. */
  trickle: number;
  close(): Promise<void>;
}

/**
 * Serves each of `roots` (URL prefix → directory), the longest matching prefix first. `cors`: answer
 * any origin (a CDN does), so pages elsewhere may load scripts, workers and wasm from here.
 */
export async function serveStatic(roots: Record<string, string>, options: { cors?: boolean } = {}): Promise<StaticServer> {
  const prefixes = Object.keys(roots).sort((a, b) => b.length - a.length);
  const state = { log: [] as string[], trickle: 0 };
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    state.log.push(path);
    const prefix = prefixes.find((p) => path.startsWith(p));
    let file = prefix === undefined ? undefined : join(roots[prefix]!, normalize(path.slice(prefix.length)));
    if (file && existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!file || !existsSync(file)) {
      res.statusCode = 404;
      res.end('not found');
      return;
    }
    if (options.cors) res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Content-Type', TYPES[extname(file)] ?? 'application/octet-stream');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Content-Length', String(statSync(file).size));
    const stream = createReadStream(file, { highWaterMark: file.endsWith('.bin') && state.trickle ? state.trickle : 64 * 1024 });
    if (file.endsWith('.bin') && state.trickle) {
      stream.on('data', () => {
        if (!state.trickle) return; // trickling stopped mid-file: the rest at full speed
        stream.pause();
        setTimeout(() => stream.resume(), 50);
      });
    }
    stream.pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, 'localhost', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return Object.assign(state, {
    origin: `http://localhost:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }) as StaticServer;
}
