/** One identity per model (model/identity.ts): how URLs are normalised, and which are refused. */
import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../src/errors.js';
import { createServer } from 'node:http';
import { artifactFileUrl, modelId } from '../src/model/identity.js';
import { ArtifactFetch, artifactFileUrl as webllmFileUrl } from '../src/webllm/artifact-fetch.js';

const PAGE = 'https://example.org/app/index.html';

describe('modelId', () => {
  it('/m, /m/, ./m (from /) and the absolute URL are one id', () => {
    const ids = [modelId('/m', PAGE), modelId('/m/', PAGE), modelId('./m', 'https://example.org/'), modelId('../m/', PAGE), modelId('https://example.org/m', PAGE), modelId('https://example.org/m/')];
    expect(new Set(ids)).toEqual(new Set(['https://example.org/m/']));
  });

  it('is relative to the page: ./m from /app/ is /app/m/', () => {
    expect(modelId('./m', PAGE)).toBe('https://example.org/app/m/');
  });

  it('drops the fragment and keeps the query', () => {
    expect(modelId('/m#x', PAGE)).toBe('https://example.org/m/');
    expect(modelId('/m?v=2', PAGE)).toBe('https://example.org/m/?v=2');
  });

  for (const url of ['', '   ', 'javascript:alert(1)', 'data:text/plain,hi', 'file:///etc/passwd', 'blob:https://example.org/1']) {
    it(`refuses ${JSON.stringify(url)} with InvalidRequestError (param "model")`, () => {
      let caught: unknown;
      try {
        modelId(url, PAGE);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(InvalidRequestError);
      expect((caught as InvalidRequestError).code).toBe('invalid-request');
      expect((caught as InvalidRequestError).param).toBe('model');
    });
  }

  it('needs a base for a relative URL (a worker is given absolute ones)', () => {
    expect(() => modelId('/m')).toThrow(InvalidRequestError);
  });

  it('files of the artifact live under its id', () => {
    expect(artifactFileUrl(modelId('/m', PAGE), 'tensor-cache.json')).toBe('https://example.org/m/tensor-cache.json');
  });
});

describe('files of an artifact whose URL has a query string', () => {
  it('resolve against the path and keep the query, never appended to it', () => {
    const id = modelId('/poetry/?v=1', PAGE);
    expect(id).toBe('https://example.org/poetry/?v=1');
    expect(artifactFileUrl(id, 'mlc-chat-config.json')).toBe('https://example.org/poetry/mlc-chat-config.json?v=1');
    expect(artifactFileUrl(modelId('/m/?a=1&b=2', PAGE), 'params_shard_0.bin')).toBe('https://example.org/m/params_shard_0.bin?a=1&b=2');
    expect(artifactFileUrl(modelId('/m', PAGE), 'tensor-cache.json')).toBe('https://example.org/m/tensor-cache.json'); // no query, none added
    // A name is a name: a ? or # in it is not a query or a fragment.
    expect(artifactFileUrl(modelId('/m/?v=1', PAGE), 'a?b#c.bin')).toBe('https://example.org/m/a%3Fb%23c.bin?v=1');
  });

  it("the WebLLM backend's URLs too: Hugging Face's resolve/main/ goes in the path, the query stays last", () => {
    expect(webllmFileUrl('https://huggingface.co/org/model/?rev=2', 'mlc-chat-config.json')).toBe('https://huggingface.co/org/model/resolve/main/mlc-chat-config.json?rev=2');
    expect(webllmFileUrl('https://cdn.example/m/?v=1', 'tensor-cache.json')).toBe('https://cdn.example/m/tensor-cache.json?v=1');
  });

  it('WebLLM drops the query when it resolves file names (new URL(file, model)); the worker puts it back, on the wire', async () => {
    const seen: string[] = [];
    const server = createServer((req, res) => {
      seen.push(req.url ?? '');
      const found = req.url === '/m/mlc-chat-config.json?v=1' || req.url === '/m/tensor-cache.json?v=1';
      res.statusCode = found ? 200 : 404;
      res.end(found ? '{}' : 'not found');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      const id = `http://127.0.0.1:${port}/m/?v=1`;
      const shim = new ArtifactFetch(fetch);
      shim.register(id);
      // What WebLLM 0.2.79 asks for: its model URL gains resolve/main/ after the query, and file names drop it.
      const webllmModelUrl = new URL(`${id}/resolve/main/`).href;
      expect((await shim.fetch(new URL('mlc-chat-config.json', webllmModelUrl).href)).status).toBe(200);
      // ndarray-cache.json (WebLLM's old name) is answered by tensor-cache.json, with the query kept.
      expect((await shim.fetch(new URL('ndarray-cache.json', webllmModelUrl).href)).status).toBe(200);
      // Without a query, as before: WebLLM's resolve/main/ is taken off.
      shim.register(`http://127.0.0.1:${port}/n/`);
      expect(shim.resolve(`http://127.0.0.1:${port}/n/resolve/main/params_shard_0.bin`)).toBe(`http://127.0.0.1:${port}/n/params_shard_0.bin`);
      // Another artifact's file, or a URL with its own query, is left alone.
      expect(shim.resolve(`http://127.0.0.1:${port}/other/x.json`)).toBe(`http://127.0.0.1:${port}/other/x.json`);
      expect(shim.resolve(`http://127.0.0.1:${port}/m/x.json?w=2`)).toBe(`http://127.0.0.1:${port}/m/x.json?w=2`);
      expect(seen).toEqual(['/m/mlc-chat-config.json?v=1', '/m/ndarray-cache.json?v=1', '/m/tensor-cache.json?v=1']);
    } finally {
      server.close();
    }
  });
});
