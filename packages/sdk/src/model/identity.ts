/**
 * One identity per model: the absolute URL of its artifact directory, ending in '/'. `/m`, `/m/`,
 * `./m/` and `http://host/m/` name the same model, the same engine and the same cache entry. Every
 * place that keys anything by model goes through modelId(), and nowhere else normalises URLs.
 */
import { InvalidRequestError } from '../errors.js';

/**
 * The identity of the model at `url`, resolved against `base` (the page's URL; a worker must be given
 * absolute URLs, since its own location is not the page's). Query strings are kept (they may select a
 * version on a CDN), fragments dropped. Only http(s) URLs can hold an artifact.
 */
export function modelId(url: string, base?: string): string {
  if (typeof url !== 'string' || url.trim() === '') throw new InvalidRequestError('model', 'The model URL is empty: give the URL of a model artifact directory.');
  let parsed: URL;
  try {
    parsed = new URL(url, base);
  } catch {
    throw new InvalidRequestError('model', `"${url}" is not a URL${base ? '' : ' (a worker needs absolute model URLs)'}.`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new InvalidRequestError('model', `The model URL must be http(s); "${parsed.protocol}" cannot hold a model artifact.`);
  }
  parsed.hash = '';
  if (!parsed.pathname.endsWith('/')) parsed.pathname += '/';
  return parsed.href;
}

/**
 * The URL of a file inside a model's artifact directory: the file name is resolved against the
 * directory's path and the directory's query string is kept (`/poetry/?v=1` → `/poetry/tensor-cache.json?v=1`),
 * never appended to it. Each part of the name is a name, percent-encoded (a `?` or `#` in it is not a
 * query or a fragment). Every place that fetches a file of an artifact builds its URL here.
 */
export function artifactFileUrl(id: string, file: string): string {
  const directory = new URL(id);
  const url = new URL(file.split('/').map(encodeURIComponent).join('/'), directory);
  url.search = directory.search;
  url.hash = '';
  return url.href;
}
