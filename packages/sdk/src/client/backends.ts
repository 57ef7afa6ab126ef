/**
 * The engines a page can pick with `createEngine({ backend })`. webchuan's two are built in: its
 * WebGPU engine and the CPU path (llama.cpp), whose worker and wasm a browser fetches only when it
 * starts. WebLLM's registers itself when the page imports `webchuan/webllm`, so the main entry never
 * references WebLLM or its worker and an app without `@mlc-ai/web-llm` builds and loads nothing of it.
 */
import { InvalidRequestError } from '../errors.js';
import type { BackendName, LoadOptions } from './protocol.js';
import { cpuWorkerScript, engineWorkerScript, startWorker, type WorkerConnection } from './worker-start.js';

export interface Backend {
  name: BackendName;
  /** Starts (or joins, when shared) this backend's worker. */
  start(shared: boolean): WorkerConnection;
  /** Throws an InvalidRequestError for options the backend cannot load with, before a worker starts. */
  checkOptions?(options: LoadOptions): void;
}

const webchuan: Backend = {
  name: 'webchuan',
  start: (shared) => startWorker(shared, engineWorkerScript),
  checkOptions: (options) => {
    if (options.modelLib !== undefined) throw new InvalidRequestError('modelLib', "modelLib: only the 'webllm' backend runs model libraries; webchuan's engine needs none.");
  },
};

const cpu: Backend = {
  name: 'cpu',
  // Always a dedicated Worker: wllama starts workers of its own, which a SharedWorker cannot.
  start: () => startWorker(false, cpuWorkerScript),
  checkOptions: (options) => {
    if (options.modelLib !== undefined) throw new InvalidRequestError('modelLib', "modelLib: only the 'webllm' backend runs model libraries; the CPU path needs none.");
    if (options.threads !== undefined && !(Number.isSafeInteger(options.threads) && options.threads >= 1)) throw new InvalidRequestError('threads', `threads: must be a positive integer, got ${String(options.threads)}`);
  },
};

/**
 * Registered backends live on globalThis, not in this module: a page may hold two copies of webchuan
 * (the CDN's elements.js beside a bundled webchuan/webllm) and both must see one registry.
 */
const KEY = Symbol.for('webchuan.backends');
function registry(): Map<string, Backend> {
  const holder = globalThis as { [KEY]?: Map<string, Backend> };
  return (holder[KEY] ??= new Map<string, Backend>([['webchuan', webchuan], ['cpu', cpu]]));
}

/** The event on globalThis that announces a newly registered backend (`detail`: its name). */
const REGISTERED = 'webchuan-backend-registered';

/** Makes a backend available to `createEngine({ backend })` and the elements' `backend` attribute. */
export function registerBackend(backend: Backend): void {
  registry().set(backend.name, backend);
  globalThis.dispatchEvent?.(new CustomEvent(REGISTERED, { detail: backend.name }));
}

/**
 * Resolves once `name` is registered. Two `<script type="module">` tags run in separate tasks, so
 * elements.js may start an element's engine before webllm.js has registered its backend: the
 * elements wait for it rather than depend on the order of the tags.
 */
export function whenRegistered(name: string): Promise<void> {
  if (registry().has(name)) return Promise.resolve();
  return new Promise((resolve) => {
    const listener = (event: Event) => {
      if ((event as CustomEvent<string>).detail !== name) return;
      globalThis.removeEventListener?.(REGISTERED, listener);
      resolve();
    };
    globalThis.addEventListener?.(REGISTERED, listener);
  });
}

/** True for the error `createEngine` raises when a backend is not registered (yet). */
export function isBackendMissing(error: unknown): boolean {
  return error instanceof InvalidRequestError && error.param === 'backend';
}

const HOW_TO_ENABLE: Record<string, string> = {
  webllm: "import 'webchuan/webllm' once on the page (it needs the optional peer dependency: npm install @mlc-ai/web-llm; from a CDN, load dist/webllm.js)",
};

/** The backend called `name`, or an InvalidRequestError that says how to enable it. */
export function backendFor(name: string): Backend {
  const backend = registry().get(name);
  if (backend) return backend;
  const how = HOW_TO_ENABLE[name];
  throw new InvalidRequestError('backend', how ? `backend: '${name}' is not enabled on this page: ${how}.` : `backend: '${name}' is not a webchuan backend ('auto', 'webchuan', 'cpu' or 'webllm').`);
}
