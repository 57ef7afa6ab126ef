import { describe, expect, it } from 'vitest';
import { JoinedLoad } from '../src/worker/joined-load.js';
import type { DownloadProgress } from '../src/store/progress.js';

const progress = (loadedBytes: number): DownloadProgress => ({ loadedBytes, totalBytes: 10, cachedBytes: 0, bytesPerSecond: 0, etaSeconds: undefined, file: 'params_shard_0.bin' });

describe('JoinedLoad', () => {
  it('starts one load for callers asking for the same thing while it runs, and reports its progress to each', async () => {
    const loads = new JoinedLoad<string>();
    let starts = 0;
    let finish!: (v: string) => void;
    let report!: (p: DownloadProgress) => void;
    const start = (r: (p: DownloadProgress) => void) => {
      starts++;
      report = r;
      return new Promise<string>((resolve) => (finish = resolve));
    };
    const seenA: number[] = [];
    const seenB: number[] = [];
    const a = loads.run('ctx 512', (p) => seenA.push(p.loadedBytes), start);
    report(progress(3));
    const b = loads.run('ctx 512', (p) => seenB.push(p.loadedBytes), start);
    report(progress(7));
    finish('loaded');
    expect(await a).toBe('loaded');
    expect(await b).toBe('loaded');
    expect(starts).toBe(1);
    expect(seenA).toEqual([3, 7]);
    expect(seenB).toEqual([7]); // joined after the first report
  });

  it('starts another load for other options, and a new one once the first has settled, failed or not', async () => {
    const loads = new JoinedLoad<number>();
    let starts = 0;
    const failing = () => (starts++, Promise.reject(new Error('no space')));
    await expect(loads.run('a', undefined, failing)).rejects.toThrow('no space');
    expect(await loads.run('a', undefined, async () => ++starts)).toBe(2);
    const pending = loads.run('a', undefined, () => new Promise<number>(() => undefined));
    expect(await loads.run('b', undefined, async () => ++starts)).toBe(3);
    void pending;
  });
});
