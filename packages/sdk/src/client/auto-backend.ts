/**
 * `backend: 'auto'`: which of webchuan's engines runs a model on this device. A hardware GPU gets
 * the WebGPU engine (and when it turns out too small for the model, the engine says so before any
 * shard is downloaded and the CPU path takes over: see createEngine); no WebGPU, no adapter, or a
 * software adapter (SwiftShader, llvmpipe, WARP: the CPU emulating a GPU, where llama.cpp on the
 * same CPU is several times faster) gets the CPU path.
 */
import { isSoftwareAdapter } from '../engine/device-fit.js';

export type AutoChoice = { backend: 'webchuan' | 'cpu'; reason: string };

/** This browser's WebGPU adapter, or why there is none. */
async function webgpuAdapter(): Promise<GPUAdapter | string> {
  const gpu = (globalThis.navigator as (Navigator & { gpu?: GPU }) | undefined)?.gpu;
  if (!gpu) return 'this browser has no WebGPU';
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' }).catch(() => null);
  return adapter ?? 'WebGPU offers no adapter';
}

/**
 * `CreateMLCEngine`'s choice: the WebGPU engine wherever WebGPU offers an adapter, software or not —
 * where WebLLM itself runs, so do its programs, logprobs and structured output included — and the CPU
 * path only where WebLLM would have failed for want of one.
 */
export async function chooseWebLLMLikeBackend(): Promise<AutoChoice> {
  const adapter = await webgpuAdapter();
  return typeof adapter === 'string' ? { backend: 'cpu', reason: adapter } : { backend: 'webchuan', reason: 'WebGPU offers an adapter' };
}

export async function chooseBackend(): Promise<AutoChoice> {
  const adapter = await webgpuAdapter();
  if (typeof adapter === 'string') return { backend: 'cpu', reason: adapter };
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  if (isSoftwareAdapter({ limits: {}, features: [], vendor: info.vendor, architecture: info.architecture, description: info.description, isFallbackAdapter: info.isFallbackAdapter })) {
    return { backend: 'cpu', reason: `the only WebGPU adapter is a software one (${[info.vendor, info.architecture, info.description].filter(Boolean).join(' ')})` };
  }
  return { backend: 'webchuan', reason: 'a hardware GPU' };
}
