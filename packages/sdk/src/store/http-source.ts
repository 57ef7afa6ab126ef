/** An artifact served over HTTP (a static host, a CDN, or the demo's own server) as an ArtifactSource. */
import type { ArtifactSource } from '../model/artifact.js';

export function httpSource(baseUrl: string, fetchImpl: typeof fetch = fetch): ArtifactSource {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const get = async (file: string) => {
    const url = new URL(file, new URL(base, globalThis.location?.href ?? 'http://localhost/'));
    const response = await fetchImpl(url);
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    return response;
  };
  return {
    text: async (file) => (await get(file)).text(),
    bytes: async (file) => new Uint8Array(await (await get(file)).arrayBuffer()),
  };
}
