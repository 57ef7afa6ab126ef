/**
 * Test helpers: where the third-party files in ../shared are, and a GPU device (Dawn on SwiftShader
 * here, a real GPU elsewhere). Tests needing ../shared skip with a notice when it is absent,
 * except under CI=true, where its absence is a failure.
 */
import { existsSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requestModelDevice } from '../src/gpu/device.js';
import { nodeAdapter } from '../../cli/src/gpu.js';

export const REPO_ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
export const SHARED = resolve(REPO_ROOT, '../shared');

/** Absolute path of a file under ../shared, or undefined (with a printed notice) when it is absent. */
export function sharedFile(relative: string): string | undefined {
  const path = join(SHARED, relative);
  if (existsSync(path)) return path;
  if (process.env['CI'] === 'true') throw new Error(`CI=true but ${path} is missing: the tests need ../shared`);
  console.warn(`[skip] ${path} is absent: tests that need it are skipped`);
  return undefined;
}

/**
 * Load options for tests about something else than kernel choice or readiness: the fast kernels,
 * each pipeline compiled at its first dispatch (as before `auto` and compile-before-ready), so a test
 * compiles only what it runs. kernel-choice.test.ts covers `auto` and the warmed load.
 */
export const LAZY_FAST = { kernels: 'fast', warm: false } as const;

let device: Promise<GPUDevice> | undefined;

/** One GPU device per test file. */
export function gpuDevice(): Promise<GPUDevice> {
  device ??= nodeAdapter().then((adapter) => requestModelDevice(adapter));
  return device;
}

export function tempDir(prefix = 'webchuan-test-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Largest absolute difference between two arrays of equal length. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

/** One prompt of a PyTorch reference.json (shared/reference/baichuan-tiny, models/poetry/reference/pytorch.json). */
export interface PytorchReferenceCase {
  prompt: string;
  ids: number[];
  greedy_continuation_ids: number[];
  last_position_top20: [number, number][];
  argmax_per_position: number[];
}
