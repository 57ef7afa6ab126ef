/**
 * What a server's answer means for an artifact file. A 404/410 means the model is not there; so does
 * an HTML page, which is what single-page-app hosts (their index.html for every path) and captive
 * portals send for a file they do not have — it must not be taken for a shard or a config. Anything
 * else that is not a success is a network failure, worth retrying.
 */
import { AbortError, ModelNotFoundError, NetworkError } from '../errors.js';

/** The name of an artifact file within its URL, for messages. */
const fileName = (url: string) => decodeURIComponent(new URL(url).pathname.split('/').filter(Boolean).at(-1) ?? url);

function htmlPage(url: string, status: number): ModelNotFoundError {
  return new ModelNotFoundError(
    url,
    status,
    `the server answered with an HTML page (text/html), not ${fileName(url)}: check the model URL, or the host's fallback page for unknown paths (a single-page app's index.html, a captive portal)`,
  );
}

/** The response if it is a success with a body that may be the file; throws the typed error otherwise. */
export function checkedResponse(url: string, response: Response): Response {
  if (response.status === 404 || response.status === 410) throw new ModelNotFoundError(url, response.status);
  if (!response.ok) throw new NetworkError(`${url}: HTTP ${response.status}`);
  if (/^\s*text\/html\b/i.test(response.headers.get('Content-Type') ?? '')) throw htmlPage(url, response.status);
  return response;
}

export async function fetchOk(fetchImpl: typeof fetch, url: string, signal?: AbortSignal, init: RequestInit = {}): Promise<Response> {
  let response: Response;
  try {
    response = await fetchImpl(url, { ...init, signal, cache: 'no-store' });
  } catch (error) {
    if (signal?.aborted) throw new AbortError();
    throw new NetworkError(`Could not fetch ${url}: ${(error as Error).message}`, { cause: error });
  }
  return checkedResponse(url, response);
}

/**
 * The text of a JSON file of the artifact. A body that is markup, not JSON, is a fallback page served
 * under the wrong Content-Type: the file is not there (it is not a broken artifact).
 */
export async function fetchJsonText(fetchImpl: typeof fetch, url: string, signal?: AbortSignal): Promise<string> {
  const response = await fetchOk(fetchImpl, url, signal);
  let text: string;
  try {
    text = await response.text();
  } catch (error) {
    if (signal?.aborted) throw new AbortError();
    throw new NetworkError(`Could not read ${url}: ${(error as Error).message}`, { cause: error });
  }
  if (/^\s*</.test(text)) throw htmlPage(url, response.status);
  return text;
}
