/**
 * The worker of the 'webllm' backend (dist/webllm-worker.js): the same hub, sessions and protocol as
 * webchuan's own worker, with each model run by WebLLM. Only this file and the modules it imports
 * reference `@mlc-ai/web-llm`; nothing reachable from `webchuan` or `webchuan/elements` does.
 */
import { EngineHub } from '../worker/engine-hub.js';
import { installErrorTransfer } from '../worker/comlink-errors.js';
import { serve } from '../worker/serve.js';
import { tokenizerRuntime } from '../worker/tokenizer-runtime.js';
import { ArtifactFetch } from './artifact-fetch.js';
import { WebLLMModels } from './models.js';
import { WebLLMEngine, type WebLLMHost } from './webllm-engine.js';

installErrorTransfer();

const fetcher = new ArtifactFetch(self.fetch.bind(self));
fetcher.install(self);
const models = new WebLLMModels();
const host: WebLLMHost = {
  gpu: () => (self.navigator as Navigator & { gpu?: GPU }).gpu,
  tokenizerRuntime,
  fetch: fetcher,
  models,
};
serve(new EngineHub({ engine: (id) => new WebLLMEngine(id, host), store: models }));
