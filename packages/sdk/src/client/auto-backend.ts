/**
 * `backend: 'auto'`: which of webchuan's engines runs a model on this device. A hardware GPU gets
 * the WebGPU engine (and when it turns out too small for the model, the engine says so before any
 * shard is downloaded and the CPU path takes over: see createEngine); no WebGPU, no adapter, or a
 * software adapter (SwiftShader, llvmpipe, WARP: the CPU emulating a GPU, where llama.cpp on the
 * same CPU is several times faster) gets the CPU path.
 */
import { isSoftwareAdapter } from '../engine/device-fit.js';

export type AutoChoice = { backend: 'webchuan' | 'cpu'; reason: string };

export async function chooseBackend(): Promise<AutoChoice> {
  const gpu = (globalThis.navigator as (Navigator & { gpu?: GPU }) | undefined)?.gpu;
  if (!gpu) return { backend: 'cpu', reason: 'this browser has no WebGPU' };
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' }).catch(() => null);
  if (!adapter) return { backend: 'cpu', reason: 'WebGPU offers no adapter' };
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  if (isSoftwareAdapter({ limits: {}, features: [], vendor: info.vendor, architecture: info.architecture, description: info.description, isFallbackAdapter: info.isFallbackAdapter })) {
    return { backend: 'cpu', reason: `the only WebGPU adapter is a software one (${[info.vendor, info.architecture, info.description].filter(Boolean).join(' ')})` };
  }
  return { backend: 'webchuan', reason: 'a hardware GPU' };
}
