/**
 * WebLLM's load progress in our DownloadProgress shape. WebLLM reports a fraction and a sentence:
 * "Fetching param cache[i/n]…" while it downloads (the fraction is of the artifact's bytes, counted a
 * shard at a time), then "Loading model from cache[i/n]…" while it uploads to the GPU (the download
 * is over). The artifact's total comes from its tensor-cache.json, so the fraction becomes bytes.
 */
import type { InitProgressReport } from '@mlc-ai/web-llm';
import { ProgressTracker, type ProgressCallback } from '../store/progress.js';

export function webllmProgress(totalBytes: number, cachedBytes: number, callback: ProgressCallback | undefined): (report: InitProgressReport) => void {
  const tracker = new ProgressTracker(totalBytes, cachedBytes, callback);
  return (report) => {
    if (report.text.startsWith('Fetching param cache')) tracker.report(Math.round(report.progress * totalBytes), 'params_shard_*.bin');
    else if (report.text.startsWith('Loading model from cache') || report.text.startsWith('Finish loading')) tracker.report(totalBytes, undefined);
    else tracker.report(0, undefined); // "Start to fetch params": what the cache held already, nothing new yet
  };
}
