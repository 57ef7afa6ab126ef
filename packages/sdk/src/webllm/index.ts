/**
 * `webchuan/webllm`: importing it lets `createEngine({ backend: 'webllm', modelLib })` and the
 * elements' `backend="webllm"` run models compiled by MLC through `@mlc-ai/web-llm` (an optional peer
 * dependency), in a worker of their own (dist/webllm-worker.js) with the same API as webchuan's engine.
 * Also here: the model-library check, for a page that wants to know before loading anything.
 */
import { registerBackend } from '../client/backends.js';
import { startWorker, type WorkerScript } from '../client/worker-start.js';
import { InvalidRequestError, ModelNotFoundError, NetworkError } from '../errors.js';
import { modelId } from '../model/identity.js';
import { modelLibDifferences, readArtifactIndex, readModelLibMetadata } from '../model/model-lib.js';
import { artifactFileUrl } from './artifact-fetch.js';

export { describeModelLibMismatch, expectedModelLibMetadata, modelLibDifferences, readModelLibMetadata, ModelLibFormatError, type ModelLibMetadata, type ModelLibParam } from '../model/model-lib.js';

/** The worker file beside this module, held in a variable so bundlers do not take it for an asset. */
const WORKER_FILE = './webllm-worker.js';

const webllmWorkerScript: WorkerScript = {
  name: 'webchuan-webllm',
  shared: () => new SharedWorker(new URL('./webllm-worker.js', import.meta.url), { type: 'module', name: 'webchuan-webllm' }),
  dedicated: () => new Worker(new URL('./webllm-worker.js', import.meta.url), { type: 'module', name: 'webchuan-webllm' }),
  url: () => new URL(WORKER_FILE, import.meta.url).href,
};

registerBackend({
  name: 'webllm',
  start: (shared) => startWorker(shared, webllmWorkerScript),
  checkOptions: (options) => {
    if (typeof options.modelLib !== 'string' || options.modelLib === '') {
      throw new InvalidRequestError('modelLib', "modelLib: the 'webllm' backend needs the URL of the model library (.wasm) MLC compiled for this model.");
    }
  },
});

/**
 * Every difference between a model library and an artifact (empty when the library fits), from the
 * library and the artifact's two small index files only: no weights are downloaded. The engine runs
 * the same check itself before loading; this is for a page that wants to ask first.
 */
export async function checkModelLib(modelLib: string, model: string, fetchImpl: typeof fetch = fetch.bind(globalThis)): Promise<string[]> {
  const base = globalThis.location?.href;
  const id = modelId(model, base);
  const get = async (url: string) => {
    const response = await fetchImpl(url).catch((error: unknown) => {
      throw new NetworkError(`Could not fetch ${url}: ${(error as Error).message}`, { cause: error });
    });
    if (response.status === 404 || response.status === 410) throw new ModelNotFoundError(url, response.status);
    if (!response.ok) throw new NetworkError(`Fetching ${url} failed: HTTP ${response.status}`);
    return response;
  };
  const index = await readArtifactIndex({
    text: async (file) => (await get(artifactFileUrl(id, file))).text(),
    bytes: async (file) => new Uint8Array(await (await get(artifactFileUrl(id, file))).arrayBuffer()),
  });
  const libUrl = new URL(modelLib, base).href;
  const lib = readModelLibMetadata(new Uint8Array(await (await get(libUrl)).arrayBuffer()), libUrl);
  return modelLibDifferences(lib, index.cache, index.chatConfig);
}
