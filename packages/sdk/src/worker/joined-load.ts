/**
 * One load at a time per engine, shared by every caller that asks for the same thing while it runs:
 * two elements naming one model, or two tabs on the SharedWorker, start it once and both see its
 * progress. A caller asking for something else (another context window, another library) starts its
 * own load, which the engine's request queue orders after the first.
 */
import type { DownloadProgress } from '../store/progress.js';

type Listener = (p: DownloadProgress) => void;

export class JoinedLoad<T> {
  private current?: { key: string; done: Promise<T>; listeners: Set<Listener> };

  /**
   * The load under way for `key`, joined (its later progress reported to `onProgress` too), or a new
   * one made by `start`, whose `report` reaches every caller that joins it.
   */
  run(key: string, onProgress: Listener | undefined, start: (report: Listener) => Promise<T>): Promise<T> {
    if (this.current?.key === key) {
      if (onProgress) this.current.listeners.add(onProgress);
      return this.current.done;
    }
    const listeners = new Set<Listener>(onProgress ? [onProgress] : []);
    const done = start((p) => listeners.forEach((listener) => listener(p)));
    const entry = { key, done, listeners };
    this.current = entry;
    const clear = () => {
      if (this.current === entry) this.current = undefined;
    };
    done.then(clear, clear);
    return done;
  }
}
