/** Byte-accurate download progress with a smoothed rate and an ETA. */
import type { KernelProgress } from '../engine/kernel-preparation.js';

export interface DownloadProgress {
  /** Bytes of shards received and kept so far (never decreases). */
  loadedBytes: number;
  /** Bytes of all shards of the artifact. */
  totalBytes: number;
  /** Recent download rate in bytes per second (0 until measurable). */
  bytesPerSecond: number;
  /** Seconds left at the current rate, or undefined while unknown. */
  etaSeconds: number | undefined;
  /** The file being fetched, or undefined when done. */
  file: string | undefined;
  /** Bytes that were already in the cache when this download began. */
  cachedBytes: number;
  /**
   * Set once the weights are on the GPU while the load still prepares its kernels (a model load only,
   * not `cache.prefetch`): `stage` 'measuring' (the first load of this model on this GPU times the
   * kernel options), 'compiling' (`done` of `total` pipelines compiled and run once).
   * The engine resolves when they are done, and the first request then compiles nothing (the other
   * prompt sizes compile after, in the background).
   */
  kernels?: KernelProgress;
}

export type ProgressCallback = (progress: DownloadProgress) => void;

export class ProgressTracker {
  private loaded: number;
  private rate = 0;
  private lastTime: number;
  private lastLoaded: number;

  constructor(
    private readonly total: number,
    private readonly cached: number,
    private readonly callback: ProgressCallback | undefined,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.loaded = cached;
    this.lastLoaded = cached;
    this.lastTime = now();
  }

  /** Reports `loaded` bytes (ignored if less than already reported, so progress is monotonic). */
  report(loaded: number, file: string | undefined): void {
    this.loaded = Math.min(this.total, Math.max(this.loaded, loaded));
    const t = this.now();
    const dt = (t - this.lastTime) / 1000;
    if (dt >= 0.25) {
      const instant = (this.loaded - this.lastLoaded) / dt;
      this.rate = this.rate === 0 ? instant : 0.7 * this.rate + 0.3 * instant;
      this.lastTime = t;
      this.lastLoaded = this.loaded;
    }
    const left = this.total - this.loaded;
    this.callback?.({
      loadedBytes: this.loaded,
      totalBytes: this.total,
      bytesPerSecond: this.rate,
      etaSeconds: left === 0 ? 0 : this.rate > 0 ? left / this.rate : undefined,
      file,
      cachedBytes: this.cached,
    });
  }
}
