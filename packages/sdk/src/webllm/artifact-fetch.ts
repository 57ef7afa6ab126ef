/**
 * WebLLM fetches an artifact's files itself, with the worker's global `fetch` (we give it its
 * IndexedDB cache, which fetches that way; its Cache API one would fetch natively, out of reach).
 * Between WebLLM 0.2.79 and an artifact hosted anywhere but Hugging Face, three things are mended
 * here, in our worker only:
 * - WebLLM appends `resolve/main/` to every model URL that lacks `/resolve/` (Hugging Face's layout):
 *   for artifacts we register that are elsewhere, `<model>resolve/main/<file>` is fetched as `<model><file>`;
 * - it asks for `ndarray-cache.json`, which MLC has since renamed `tensor-cache.json` (the name our
 *   converter writes): when the old name is missing, the new one answers;
 * - a model library the engine already fetched for its metadata check is handed over, not fetched twice.
 */

import { artifactFileUrl as fileUrl } from '../model/identity.js';

const RESOLVE = 'resolve/main/';

/** True when the model URL is a Hugging Face repository WebLLM should address as `<repo>/resolve/main/`. */
function isHuggingFaceRepo(id: string): boolean {
  return new URL(id).hostname === 'huggingface.co' && !new URL(id).pathname.includes('/resolve/');
}

/**
 * The URL of one file of the artifact `id` (an absolute URL ending in '/', perhaps with a query),
 * where WebLLM will find it too: identity.ts's artifactFileUrl (the query kept, never appended to),
 * under `resolve/main/` for a Hugging Face repository.
 */
export function artifactFileUrl(id: string, file: string): string {
  return fileUrl(id, isHuggingFaceRepo(id) ? `${RESOLVE}${file}` : file);
}

/** An artifact WebLLM loads from elsewhere than Hugging Face: its directory (no query) and query. */
interface DirectArtifact {
  directory: string;
  search: string;
}

export class ArtifactFetch {
  /** Artifacts (not on Hugging Face) whose URLs WebLLM builds itself and we mend, by id. */
  private readonly direct = new Map<string, DirectArtifact>();
  /** Bytes fetched already, served once to the next request for their URL. */
  private readonly lent = new Map<string, Uint8Array>();

  constructor(
    /** The real fetch, bound to the worker. */
    readonly base: typeof fetch,
  ) {}

  /** Makes this the worker's global fetch, which WebLLM calls. */
  install(scope: { fetch: typeof fetch }): void {
    scope.fetch = (input, init) => this.fetch(input, init);
  }

  /** Tells the shim about an artifact WebLLM is about to load. */
  register(id: string): void {
    if (isHuggingFaceRepo(id) || new URL(id).pathname.includes('/resolve/')) return;
    const url = new URL(id);
    const search = url.search;
    url.search = '';
    this.direct.set(id, { directory: url.href, search });
  }

  /** Serves `bytes` to the next request for `url` (then forgets them). */
  lend(url: string, bytes: Uint8Array): void {
    this.lent.set(url, bytes);
  }

  /**
   * The URL a request for `url` really goes to. WebLLM resolves file names against the model URL
   * with `new URL(file, model)`, which drops the model's query string, and adds `resolve/main/`: for
   * a file of a registered artifact, `resolve/main/` is taken off and the artifact's query put back.
   */
  resolve(url: string): string {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return url;
    }
    if (parsed.search !== '') return url;
    parsed.hash = '';
    for (const { directory, search } of this.direct.values()) {
      if (!parsed.href.startsWith(directory)) continue;
      let rest = parsed.href.slice(directory.length);
      if (rest.startsWith(RESOLVE)) rest = rest.slice(RESOLVE.length);
      return `${directory}${rest}${search}`;
    }
    return url;
  }

  async fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
    if (method !== 'GET') return this.base(input, init);
    const bytes = this.lent.get(url);
    if (bytes) {
      this.lent.delete(url);
      return new Response(bytes.slice().buffer, { status: 200, headers: { 'Content-Type': 'application/wasm' } });
    }
    const target = this.resolve(url);
    const response = await this.base(target === url ? input : target, init);
    const renamed = response.status === 404 ? currentIndexName(target) : undefined;
    if (renamed) {
      const answer = await this.base(renamed, init);
      if (answer.ok) return answer;
    }
    return response;
  }
}

/** `…/ndarray-cache.json[?query]` under the name MLC uses now, `tensor-cache.json` (the query kept); else undefined. */
function currentIndexName(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (!parsed.pathname.endsWith('/ndarray-cache.json')) return undefined;
  parsed.pathname = parsed.pathname.replace(/ndarray-cache\.json$/, 'tensor-cache.json');
  return parsed.href;
}
