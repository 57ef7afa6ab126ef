/**
 * The worker of the CPU path (dist/cpu-worker.js): the same hub, sessions and protocol as the WebGPU
 * engine's worker, with each model run by llama.cpp (wllama), from the same model cache. Always a
 * dedicated Worker: wllama runs llama.cpp in a worker of its own (and its threads in more), and
 * browsers do not let a SharedWorker start workers.
 */
import { artifactStore } from '../store/model-store.js';
import { EngineHub } from '../worker/engine-hub.js';
import { installErrorTransfer } from '../worker/comlink-errors.js';
import { serve } from '../worker/serve.js';
import { tokenizerRuntime } from '../worker/tokenizer-runtime.js';
import { LlamaCppEngine } from './llama-engine.js';

installErrorTransfer();
serve(new EngineHub({ engine: (id) => new LlamaCppEngine(id, { tokenizerRuntime }), store: artifactStore }));
