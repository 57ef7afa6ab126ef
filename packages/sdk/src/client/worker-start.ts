/**
 * Starts an engine's worker. In a build (any bundler that understands `new Worker(new URL(…,
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

/**
 * How to start one worker script. Each constructor call is written out with the script's URL as a
 * literal `new URL('./x.js', import.meta.url)` and static options, the only form bundlers (Vite,
 * webpack 5) recognise and copy; so each worker entry spells out its own.
 */
export interface WorkerScript {
  /** The worker's name (the browser's task manager shows it; the blob bootstrap reuses it). */
  name: string;
  /** Absent for engines that cannot run in a SharedWorker (the CPU path's wllama starts workers of its own). */
  shared?(): SharedWorker;
  dedicated(): Worker;
  /** The script's absolute URL, for the blob that starts it when the page is on another origin. */
  url(): string;
}

/** The worker file beside this module, held in a variable so bundlers do not take it for an asset. */
const WORKER_FILE = './engine-worker.js';

/** webchuan's own engine: dist/engine-worker.js. */
export const engineWorkerScript: WorkerScript = {
  name: 'webchuan',
  shared: () => new SharedWorker(new URL('./engine-worker.js', import.meta.url), { type: 'module', name: 'webchuan' }),
  dedicated: () => new Worker(new URL('./engine-worker.js', import.meta.url), { type: 'module', name: 'webchuan' }),
  url: () => new URL(WORKER_FILE, import.meta.url).href,
};

/** The CPU worker's file beside this module (for the blob bootstrap across origins). */
const CPU_WORKER_FILE = './cpu-worker.js';

/** The CPU path (llama.cpp through wllama): dist/cpu-worker.js, always a dedicated Worker. */
export const cpuWorkerScript: WorkerScript = {
  name: 'webchuan-cpu',
  dedicated: () => new Worker(new URL('./cpu-worker.js', import.meta.url), { type: 'module', name: 'webchuan-cpu' }),
  url: () => new URL(CPU_WORKER_FILE, import.meta.url).href,
};

const isSecurityError = (error: unknown) => (error as DOMException)?.name === 'SecurityError';

export function startWorker(shared: boolean, script: WorkerScript = engineWorkerScript): WorkerConnection {
  installErrorTransfer();
  if (shared && script.shared && typeof SharedWorker !== 'undefined') {
    try {
      const worker = script.shared();
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
    worker = script.dedicated();
  } catch (error) {
    if (!isSecurityError(error)) throw error;
    bootstrap = URL.createObjectURL(new Blob([`import ${JSON.stringify(script.url())};
`], { type: 'text/javascript' }));
    worker = new Worker(bootstrap, { type: 'module', name: script.name });
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
