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

const RESOLVE = 'resolve/main/';

/** True when the model URL is a Hugging Face repository WebLLM should address as `<repo>/resolve/main/`. */
function isHuggingFaceRepo(id: string): boolean {
  return new URL(id).hostname === 'huggingface.co' && !id.includes('/resolve/');
}

/** The URL of one file of the artifact `id` (an absolute URL ending in '/'), where WebLLM will find it too. */
export function artifactFileUrl(id: string, file: string): string {
  return isHuggingFaceRepo(id) ? `${id}${RESOLVE}${file}` : `${id}${file}`;
}

export class ArtifactFetch {
  /** Artifacts (not on Hugging Face) whose `resolve/main/` WebLLM adds and we take off. */
  private readonly direct = new Set<string>();
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
    if (!isHuggingFaceRepo(id) && !id.includes('/resolve/')) this.direct.add(id);
  }

  /** Serves `bytes` to the next request for `url` (then forgets them). */
  lend(url: string, bytes: Uint8Array): void {
    this.lent.set(url, bytes);
  }

  /** The URL a request for `url` really goes to. */
  resolve(url: string): string {
    for (const id of this.direct) if (url.startsWith(`${id}${RESOLVE}`)) return id + url.slice(id.length + RESOLVE.length);
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
    if (response.status === 404 && target.endsWith('/ndarray-cache.json')) {
      const renamed = await this.base(target.replace(/ndarray-cache\.json$/, 'tensor-cache.json'), init);
      if (renamed.ok) return renamed;
    }
    return response;
  }
}
