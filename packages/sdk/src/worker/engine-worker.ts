/**
 * The worker entry, for both kinds of worker: as a SharedWorker, one hub (one copy of each model on
 * the GPU) serves every tab of the origin, each tab through its own port and session; as a dedicated
 * Worker, it serves the page that started it.
 */
import { expose } from 'comlink';
import { loadTokenizerRuntime } from '../store/assets.js';
import type { TokenizerRuntime } from '../tokenizer/runtime.js';
import { installErrorTransfer } from './comlink-errors.js';
import { EngineHub } from './engine-hub.js';

installErrorTransfer();

let runtime: Promise<TokenizerRuntime> | undefined;
const hub = new EngineHub({
  gpu: () => (self.navigator as Navigator & { gpu?: GPU }).gpu,
  tokenizerRuntime: () => {
    runtime ??= loadTokenizerRuntime();
    runtime.catch(() => (runtime = undefined)); // a failed fetch is retried by the next load
    return runtime;
  },
});

const scope = self as unknown as { onconnect?: unknown };
if ('onconnect' in scope) {
  scope.onconnect = (event: MessageEvent) => expose(hub.session(), event.ports[0]!);
} else {
  expose(hub.session());
}
