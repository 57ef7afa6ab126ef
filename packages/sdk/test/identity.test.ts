/** One identity per model (model/identity.ts): how URLs are normalised, and which are refused. */
import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../src/errors.js';
import { artifactFileUrl, modelId } from '../src/model/identity.js';

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
