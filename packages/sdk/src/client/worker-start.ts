/**
 * Starts the engine's worker. In a build (any bundler that understands `new Worker(new URL(…,
 * import.meta.url))`), or when webchuan's files are served from the page's own origin, the worker is
 * started from its file directly, as a SharedWorker (one engine for every tab of the origin) where the
 * browser has SharedWorker. Browsers refuse a worker whose script is on another origin (webchuan loaded
 * from a CDN): then a same-origin module worker made from a one-line blob imports the script instead.
 * It serves this tab only, since a blob's URL is unique to the page that made it.
 */
import { releaseProxy, wrap, type Remote } from 'comlink';
import type { WorkerKind } from './protocol.js';
import type { Session } from '../worker/engine-hub.js';
import { installErrorTransfer } from '../worker/comlink-errors.js';

export interface WorkerConnection {
  service: Remote<Session>;
  /** How the engine runs for this page. */
  kind: WorkerKind;
  close(): void;
}

/** The worker file beside this module, held in a variable so bundlers do not take it for an asset. */
const WORKER_FILE = './engine-worker.js';

const isSecurityError = (error: unknown) => (error as DOMException)?.name === 'SecurityError';

export function startWorker(shared: boolean): WorkerConnection {
  installErrorTransfer();
  if (shared && typeof SharedWorker !== 'undefined') {
    try {
      const worker = new SharedWorker(new URL('./engine-worker.js', import.meta.url), { type: 'module', name: 'webchuan' });
      const service = wrap<Session>(worker.port);
      return { service, kind: 'shared', close: () => (service[releaseProxy](), worker.port.close()) };
    } catch (error) {
      if (!isSecurityError(error)) throw error;
    }
  }
  let worker: Worker;
  let kind: WorkerKind = 'dedicated';
  let bootstrap: string | undefined;
  try {
    worker = new Worker(new URL('./engine-worker.js', import.meta.url), { type: 'module', name: 'webchuan' });
  } catch (error) {
    if (!isSecurityError(error)) throw error;
    const script = new URL(WORKER_FILE, import.meta.url).href;
    bootstrap = URL.createObjectURL(new Blob([`import ${JSON.stringify(script)};\n`], { type: 'text/javascript' }));
    worker = new Worker(bootstrap, { type: 'module', name: 'webchuan' });
    kind = 'dedicated-cross-origin';
  }
  const service = wrap<Session>(worker);
  const close = () => {
    service[releaseProxy]();
    worker.terminate();
    if (bootstrap) URL.revokeObjectURL(bootstrap);
  };
  return { service, kind, close };
}
