/**
 * Where the CLI keeps what `kernels: 'auto'` measured: one JSON file per record in a cache folder
 * ($WEBCHUAN_CACHE_DIR, else $XDG_CACHE_HOME/webchuan, else ~/.cache/webchuan; records in `kernels/`).
 * A record is written to a temporary file and renamed over its name, so a reader never sees half a
 * file and two processes measuring at once both leave a whole one. Deleting the folder only means
 * measuring again.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { KernelChoiceStore, KernelTuningRecord } from '../../sdk/src/engine/kernel-tuning.js';

export function kernelChoiceDir(env: NodeJS.ProcessEnv = process.env): string {
  const cache = env['WEBCHUAN_CACHE_DIR'] || join(env['XDG_CACHE_HOME'] || join(homedir(), '.cache'), 'webchuan');
  return join(cache, 'kernels');
}

export function fileChoiceStore(dir = kernelChoiceDir()): KernelChoiceStore {
  const file = (key: string) => {
    if (!/^[0-9a-f]{32}$/.test(key)) throw new Error(`kernel choice: bad key ${JSON.stringify(key)}`);
    return join(dir, `${key}.json`);
  };
  return {
    async get(key) {
      let text: string;
      try {
        text = await readFile(file(key), 'utf8');
      } catch {
        return undefined; // none yet, or unreadable: measure
      }
      try {
        const record = JSON.parse(text) as KernelTuningRecord;
        return record.key === key ? record : undefined;
      } catch {
        return undefined;
      }
    },
    async put(record) {
      await mkdir(dir, { recursive: true });
      const target = file(record.key);
      const temporary = `${target}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
      try {
        await writeFile(temporary, `${JSON.stringify(record, null, 1)}\n`);
        await rename(temporary, target);
      } catch (error) {
        await rm(temporary, { force: true });
        throw error;
      }
    },
  };
}
