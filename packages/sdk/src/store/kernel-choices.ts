/**
 * Where a tab keeps what `kernels: 'auto'` measured: IndexedDB (through idb-keyval, as the model
 * cache), in a database of its own so the model cache's keys and deletions never touch it. One record
 * per adapter, model shape and engine (engine/kernel-tuning.ts's key); records are small (well under
 * a kilobyte) and deleting them only means measuring again on the next load.
 */
import { createStore, get, set, type UseStore } from 'idb-keyval';
import type { KernelChoiceStore, KernelTuningRecord } from '../engine/kernel-tuning.js';

let choices: UseStore | undefined;
function choiceDb(): UseStore {
  choices ??= createStore('webchuan-kernels', 'choices');
  return choices;
}

/** The tab's store of kernel choices. IndexedDB failures (a private window) read as "no record". */
export function indexedDbChoiceStore(): KernelChoiceStore {
  return {
    get: (key) => get<KernelTuningRecord>(key, choiceDb()).catch(() => undefined),
    put: (record) => set(record.key, record, choiceDb()),
  };
}

