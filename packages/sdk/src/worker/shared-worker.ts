/**
 * SharedWorker entry: one engine (one copy of the model on the GPU) for every tab of the origin.
 * Each tab connects through its own port; the service queues their requests.
 */
import { expose } from 'comlink';
import { loadWebTokenizers } from '../tokenizer/web-library.js';
import { installErrorTransfer } from './comlink-errors.js';
import { EngineService } from './service.js';

installErrorTransfer();
const service = new EngineService(loadWebTokenizers);
(self as unknown as { onconnect: (event: MessageEvent) => void }).onconnect = (event) => {
  expose(service, event.ports[0]!);
};
