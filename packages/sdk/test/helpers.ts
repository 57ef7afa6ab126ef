/**
 * Test helpers: where the third-party files in ../shared are, and a GPU device (Dawn on the driver
 * the test lane names in WEBCHUAN_GPU — SwiftShader, lavapipe — else the machine's GPU or
 * SwiftShader). Tests needing ../shared skip with a notice when it is absent, except under CI=true,
 * where its absence is a failure.
 */
import { existsSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requestModelDevice } from '../src/gpu/device.js';
import { announceDevice, nodeAdapter } from '../../cli/src/gpu.js';

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

/** One GPU device per test file; its adapter line is printed once, so every run says what it ran on. */
export function gpuDevice(): Promise<GPUDevice> {
  device ??= nodeAdapter()
    .then((adapter) => requestModelDevice(adapter))
    .then((d) => {
      announceDevice(d);
      return d;
    });
  return device;
}

/**
 * Features the test lane promises (WEBCHUAN_GPU_FEATURES, set by the lane in vite.config.ts: the
 * lavapipe lane promises shader-f16 and subgroups), so that a test needing them fails there instead
 * of skipping.
 */
export function laneFeatures(): string[] {
  return (process.env['WEBCHUAN_GPU_FEATURES'] ?? '').split(',').filter(Boolean);
}

/**
 * True when `device` has every one of `features`. Otherwise false with a notice (the caller skips),
 * or an error when the lane promised them.
 */
export function hasFeatures(device: GPUDevice, features: GPUFeatureName[]): boolean {
  const missing = features.filter((f) => !device.features.has(f));
  if (missing.length === 0) return true;
  const promised = missing.filter((f) => laneFeatures().includes(f));
  if (promised.length > 0) throw new Error(`this lane (WEBCHUAN_GPU=${process.env['WEBCHUAN_GPU']}) promises ${promised.join(', ')}, but the device lacks it`);
  console.warn(`[skip] the device lacks ${missing.join(', ')}: the tests that need it are skipped on this lane`);
  return false;
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
