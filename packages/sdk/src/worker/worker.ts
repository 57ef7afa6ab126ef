/** Dedicated-worker entry: one engine for the page that created it. */
import { expose } from 'comlink';
import { loadWebTokenizers } from '../tokenizer/web-library.js';
import { installErrorTransfer } from './comlink-errors.js';
import { EngineService } from './service.js';

installErrorTransfer();
expose(new EngineService(loadWebTokenizers));
