/** An artifact served over HTTP (a static host, a CDN, or the demo's own server) as an ArtifactSource. */
import type { ArtifactSource } from '../model/artifact.js';
import { fetchJsonText, fetchOk } from './responses.js';

export function httpSource(baseUrl: string, fetchImpl: typeof fetch = fetch): ArtifactSource {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  // Same answers, same typed errors as the cache's downloads (404 or an HTML page: not found).
  const url = (file: string) => new URL(file, new URL(base, globalThis.location?.href ?? 'http://localhost/')).href;
  return {
    text: (file) => fetchJsonText(fetchImpl, url(file)),
    bytes: async (file) => new Uint8Array(await (await fetchOk(fetchImpl, url(file))).arrayBuffer()),
  };
}
