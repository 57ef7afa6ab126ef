/** An artifact served over HTTP (a static host, a CDN, or the demo's own server) as an ArtifactSource. */
import type { ArtifactSource } from '../model/artifact.js';
import { artifactFileUrl, modelId } from '../model/identity.js';
import { fetchJsonText, fetchOk } from './responses.js';

export function httpSource(baseUrl: string, fetchImpl: typeof fetch = fetch): ArtifactSource {
  const id = modelId(baseUrl, globalThis.location?.href ?? 'http://localhost/');
  // Same answers, same typed errors as the cache's downloads (404 or an HTML page: not found).
  const url = (file: string) => artifactFileUrl(id, file);
  return {
    text: (file) => fetchJsonText(fetchImpl, url(file)),
    bytes: async (file) => new Uint8Array(await (await fetchOk(fetchImpl, url(file))).arrayBuffer()),
  };
}
