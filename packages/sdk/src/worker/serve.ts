/**
 * Exposes a hub to the pages that start the worker: as a SharedWorker, one hub (one copy of each
 * model on the GPU) serves every tab of the origin, each tab through its own port and session; as a
 * dedicated Worker, it serves the page that started it.
 */
import { expose } from 'comlink';
import type { EngineHub } from './engine-hub.js';

export function serve(hub: EngineHub): void {
  const scope = self as unknown as { onconnect?: unknown };
  if ('onconnect' in scope) {
    scope.onconnect = (event: MessageEvent) => expose(hub.session(), event.ports[0]!);
  } else {
    expose(hub.session());
  }
}
