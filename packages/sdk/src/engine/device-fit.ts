/**
 * "Can this device run it?", before anything is downloaded: the engine's own requirements for the
 * model (engineFit, the check the worker applies before fetching a shard), against this adapter's
 * limits, whether the adapter is a software emulation, and the site's free storage.
 */
import { DEFAULT_LIMITS, type AdapterCapabilities, type SplitMatrix } from '../gpu/limits.js';
import type { ChatConfigJson } from '../model/artifact.js';
import { formatBytes } from '../errors.js';
import { engineFit } from './requirements.js';

/** An adapter as a page sees it: limits, features and what GPUAdapterInfo says. */
export interface AdapterFacts extends AdapterCapabilities {
  vendor?: string;
  architecture?: string;
  description?: string;
  /** GPUAdapterInfo.isFallbackAdapter: the browser's own software implementation. */
  isFallbackAdapter?: boolean;
}

export interface DeviceFacts {
  /** undefined: the browser has no WebGPU; null: it has, but offers no adapter. */
  adapter: AdapterFacts | null | undefined;
  /** navigator.storage.estimate(), where the browser has it. */
  storage?: { quota: number; usage: number };
}

export interface ModelFacts {
  /** The artifact's `mlc-chat-config.json` (or the part of it naming type, quantization and shape). */
  chatConfig: ChatConfigJson;
  /** Bytes of all its shards. */
  downloadBytes: number;
  /** Bytes of it already in this browser's cache. */
  cachedBytes?: number;
  contextWindow?: number;
}

interface Figures {
  /** GPU memory the loaded model takes (weights, KV cache, activations). */
  gpuBytes: number;
  downloadBytes: number;
  /**
   * Weight matrices larger than this GPU binds at once, which the engine holds as bands of rows (a
   * float32 Baichuan-7B's 1 GB embedding on a phone's 128 MiB bindings); empty when none is.
   */
  split: SplitMatrix[];
}

export type DeviceVerdict =
  | (Figures & { kind: 'runs'; summary: string })
  | (Figures & { kind: 'software'; summary: string; secondsPerToken: number })
  | (Figures & { kind: 'does-not-fit'; summary: string; reasons: string[] })
  | (Figures & { kind: 'no-webgpu'; summary: string });

const SOFTWARE = /swiftshader|llvmpipe|lavapipe|softpipe|software|microsoft basic render|\bwarp\b/i;

/** True for a GPU emulated on the CPU (SwiftShader, llvmpipe, WARP…), whatever the browser calls it. */
export function isSoftwareAdapter(a: AdapterFacts): boolean {
  return a.isFallbackAdapter === true || SOFTWARE.test(`${a.vendor ?? ''} ${a.architecture ?? ''} ${a.description ?? ''}`);
}

/**
 * A software GPU's decode speed, measured with this engine on SwiftShader in Chromium on a 2-core
 * machine: a fixed cost per token (some hundred dispatches, each costing far more than on a GPU) plus
 * streaming the weights at the rate the Baichuan-7B-shaped benchmark reached there.
 */
const SOFTWARE_SECONDS_PER_TOKEN = 0.05;
const SOFTWARE_WEIGHT_BYTES_PER_SECOND = 25e6;

/** Seconds per decoded token to expect on a software GPU for `weightBytes` of weights. */
export function softwareSecondsPerToken(weightBytes: number): number {
  return SOFTWARE_SECONDS_PER_TOKEN + weightBytes / SOFTWARE_WEIGHT_BYTES_PER_SECOND;
}

const seconds = (s: number) => (s < 1 ? `${s.toFixed(1)} s` : s < 100 ? `${Math.round(s)} s` : `${Math.round(s / 60)} min`);

export function deviceVerdict(model: ModelFacts, device: DeviceFacts): DeviceVerdict {
  const adapter = device.adapter;
  // Limits that no adapter is below (WebGPU's defaults) stand in where there is none, for the figures.
  const { needs, fit } = engineFit(model.chatConfig, adapter ?? { limits: {}, features: [] }, model.contextWindow);
  const figures: Figures = { gpuBytes: needs.totalBytes, downloadBytes: model.downloadBytes, split: fit.ok ? fit.split : [] };
  const bindingLimit = adapter?.limits.maxStorageBufferBindingSize ?? DEFAULT_LIMITS.maxStorageBufferBindingSize!;
  const splitNote =
    figures.split.length === 0 ? '' : ` (${figures.split.length} of its weight tensors are split into bands to fit this GPU's ${Math.floor(bindingLimit / 2 ** 20)} MiB buffer bindings)`;
  if (adapter === undefined) return { ...figures, kind: 'no-webgpu', summary: 'This browser has no WebGPU: use a recent Chrome, Edge or Safari with hardware acceleration on.' };
  if (adapter === null) return { ...figures, kind: 'no-webgpu', summary: 'WebGPU is here, but the browser offers no GPU adapter (a blocklisted GPU or driver).' };
  const reasons = fit.ok ? [] : fit.problems.map((p) => p.message);
  const toStore = model.downloadBytes - (model.cachedBytes ?? 0);
  if (device.storage && toStore > 0) {
    const free = Math.max(0, device.storage.quota - device.storage.usage);
    if (toStore > free) reasons.push(`needs ${formatBytes(toStore)} of storage, this site may use ${formatBytes(free)} more`);
  }
  if (reasons.length > 0) return { ...figures, kind: 'does-not-fit', summary: `Does not fit: ${reasons.join('; ')}.`, reasons };
  if (isSoftwareAdapter(adapter)) {
    const weights = needs.buffers.filter((b) => b.scales === 'weights').reduce((n, b) => n + b.bytes * b.count, 0);
    const secondsPerToken = softwareSecondsPerToken(weights);
    return { ...figures, kind: 'software', secondsPerToken, summary: `Runs${splitNote}, but on a software GPU (the CPU emulating one): expect about ${seconds(secondsPerToken)} per token.` };
  }
  return { ...figures, kind: 'runs', summary: `Runs here${splitNote}.` };
}

/** This browser's adapter and storage, as deviceVerdict() reads them. */
export async function describeDevice(): Promise<DeviceFacts> {
  const nav = globalThis.navigator as (Navigator & { gpu?: GPU }) | undefined;
  const storage = await nav?.storage?.estimate?.().then((e) => ({ quota: e.quota ?? Infinity, usage: e.usage ?? 0 }), () => undefined);
  if (!nav?.gpu) return { adapter: undefined, storage };
  const adapter = await nav.gpu.requestAdapter({ powerPreference: 'high-performance' }).catch(() => null);
  if (!adapter) return { adapter: null, storage };
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const limits: Record<string, number> = {};
  for (const key in adapter.limits) limits[key] = (adapter.limits as unknown as Record<string, number>)[key]!;
  return {
    adapter: { limits, features: [...adapter.features], vendor: info.vendor, architecture: info.architecture, description: info.description, isFallbackAdapter: info.isFallbackAdapter },
    storage,
  };
}
